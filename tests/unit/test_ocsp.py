"""OCSP: request/response checks against the test responder, and OCSP as a per-CA source."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from test_verify_support import PROVIDER, TERMINAL, make_proof

from kiosk.demo.ocsp_responder import OcspResponder, answer, for_test_pki
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.pki.authority import init_pki, make_ca
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.ocsp import OcspChecker, build_request, check_response
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef, LinkStatus, Reason, Refused
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory, world):
    """A private PKI (this module revokes), issuing cards with the session card's keys."""
    pki = init_pki(tmp_path_factory.mktemp("ocsp") / "pki")
    card = pki.issue_card(keys=(world.auth_key, world.sign_key), now=world.now)
    pki.revoke(
        serial_of(pki.issue_card(keys=(world.auth_key, world.sign_key), now=world.now).auth), "auth"
    )
    return pki, card


def serial_of(slot) -> int:
    return x509.load_der_x509_certificate(slot.certificate).serial_number


class Loopback:
    """An OcspTransport that hands the request straight to a responder."""

    def __init__(self, responder: OcspResponder, now) -> None:
        self.responder, self.now, self.urls = responder, now, []

    def post(self, url: str, request_der: bytes) -> bytes:
        self.urls.append(url)
        return answer(request_der, self.responder, self.now)


def query(responder, serial, now, *, at=None):
    checker = OcspChecker("http://ocsp.test/", Loopback(responder, now))
    return checker.query(responder.issuer, serial, at or now)


def refused(fn) -> Reason:
    with pytest.raises(Refused) as e:
        fn()
    return e.value.reason


def test_good(pki, world):
    pki, card = pki
    result = query(for_test_pki(pki, "auth"), serial_of(card.auth), world.now)
    assert result.status is ocsp.OCSPCertStatus.GOOD
    assert result.next_update == result.this_update + timedelta(hours=1)


def test_revoked_and_unknown(pki, world):
    pki, _ = pki
    responder = for_test_pki(pki, "auth")
    revoked = pki.revocations("auth")[0]
    result = query(responder, revoked.serial, world.now)
    assert result.status is ocsp.OCSPCertStatus.REVOKED
    assert result.revoked_at == revoked.revoked_at.replace(microsecond=0)
    assert query(responder, 12345, world.now).status is ocsp.OCSPCertStatus.UNKNOWN


def test_verifier_uses_ocsp_for_that_ca(pki, world):
    pki, card = pki
    trust = TrustStore.from_dir(pki.trust_dir)
    auth_ca = pki.ca_certificate("auth")
    transport = Loopback(for_test_pki(pki, "auth"), world.now)
    sources = {trust_key(trust, "auth"): OcspChecker("http://ocsp.test/", transport)}
    challenges = ChallengeService()
    # no CRL at all: OCSP alone decides for the auth CA
    verifier = Verifier(trust, MemoryVerificationStore(), challenges, sources=sources)
    good = make_proof(
        world, challenges.issue(PROVIDER, TERMINAL, world.now), cert=card.auth.certificate
    )
    assert verifier.verify_user_proof(good, world.now).ok
    assert transport.urls == ["http://ocsp.test/"]

    revoked_cert = world.odd_cert(
        issuer_cert=auth_ca, issuer_key=pki.ca_key("auth"), serial=pki.revocations("auth")[0].serial
    )
    bad = make_proof(world, challenges.issue(PROVIDER, TERMINAL, world.now), cert=revoked_cert)
    assert verifier.verify_user_proof(bad, world.now).reason is Reason.REVOKED

    stranger = world.odd_cert(issuer_cert=auth_ca, issuer_key=pki.ca_key("auth"))
    unknown = make_proof(world, challenges.issue(PROVIDER, TERMINAL, world.now), cert=stranger)
    assert verifier.verify_user_proof(unknown, world.now).reason is Reason.OCSP_UNKNOWN

    # the sign CA still uses its (missing) CRL, so a link cannot be checked
    store = MemoryVerificationStore()
    auth = CertRef(serial_of(card.auth), trust_key(trust, "auth"))
    store.add_link(
        PROVIDER, "patient-42", auth, CertRef(serial_of(card.sign), trust_key(trust, "sign"))
    )
    verifier = Verifier(trust, store, challenges, sources=sources)
    linked = make_proof(
        world, challenges.issue(PROVIDER, TERMINAL, world.now), cert=card.auth.certificate
    )
    verdict = verifier.verify_user_proof(linked, world.now)
    assert verdict.ok and verdict.link_status is LinkStatus.UNCHECKED


def trust_key(trust, which):
    return next(a.key_id for a in trust if a.purpose == which)


def test_bad_signature(pki, world):
    pki, card = pki
    responder = for_test_pki(pki, "auth")
    request = build_request(responder.issuer, serial_of(card.auth), b"N" * 32)
    response = bytearray(answer(request, responder, world.now))
    response[-1] ^= 1  # the last byte of the signature (no certificates follow it)
    reason = refused(
        lambda: check_response(
            bytes(response), responder.issuer, serial_of(card.auth), b"N" * 32, world.now
        )
    )
    assert reason is Reason.OCSP_BAD_SIGNATURE


def test_signed_by_an_impostor_ca_with_the_same_name(pki, world):
    pki, card = pki
    impostor = make_ca(
        "auth",
        world.other_key,
        not_before=world.now - timedelta(days=1),
        not_after=world.now + timedelta(days=1),
    )
    forged = replace(
        for_test_pki(pki, "auth"), signer_certificate=impostor, signer_key=world.other_key
    )
    assert refused(lambda: query(forged, serial_of(card.auth), world.now)) is (
        Reason.OCSP_BAD_SIGNATURE
    )


def responder_cert(pki, world, *, eku=True, issuer_key=None, days=30):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP responder")]))
        .issuer_name(pki.ca_certificate("auth").subject)
        .public_key(world.other_key.public_key())
        .serial_number(99)
        .not_valid_before(world.now - timedelta(days=1))
        .not_valid_after(world.now + timedelta(days=days))
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    return builder.sign(issuer_key or pki.ca_key("auth"), hashes.SHA256())


def test_delegated_responder(pki, world):
    pki, card = pki
    delegated = replace(
        for_test_pki(pki, "auth"),
        signer_certificate=responder_cert(pki, world),
        signer_key=world.other_key,
    )
    assert query(delegated, serial_of(card.auth), world.now).status is ocsp.OCSPCertStatus.GOOD


@pytest.mark.parametrize(
    "odd",
    [
        {"eku": False},  # not authorised for OCSP signing
        {"issuer_key": "other"},  # claims the CA as issuer but the CA did not sign it
        {"days": -0.5},  # expired
    ],
)
def test_unfit_delegated_responder(pki, world, odd):
    pki, card = pki
    if odd.get("issuer_key") == "other":
        odd = {"issuer_key": world.other_key}
    delegated = replace(
        for_test_pki(pki, "auth"),
        signer_certificate=responder_cert(pki, world, **odd),
        signer_key=world.other_key,
    )
    assert refused(lambda: query(delegated, serial_of(card.auth), world.now)) is (
        Reason.OCSP_BAD_SIGNATURE
    )


def test_stale_and_future_responses(pki, world):
    pki, card = pki
    responder = for_test_pki(pki, "auth")
    late = world.now + timedelta(hours=1, minutes=2)  # past nextUpdate + 60 s skew
    early = world.now - timedelta(minutes=2)  # thisUpdate is 2 min ahead of our clock
    for at in (late, early):
        reason = refused(lambda at=at: query(responder, serial_of(card.auth), world.now, at=at))
        assert reason is Reason.OCSP_STALE


def test_nonce_mismatch(pki, world):
    pki, card = pki
    responder = for_test_pki(pki, "auth")
    request = build_request(responder.issuer, serial_of(card.auth), b"A" * 32)
    response = answer(request, responder, world.now)
    assert check_response(response, responder.issuer, serial_of(card.auth), b"A" * 32, world.now)
    reason = refused(
        lambda: check_response(
            response, responder.issuer, serial_of(card.auth), b"B" * 32, world.now
        )
    )
    assert reason is Reason.OCSP_NONCE_MISMATCH


def test_answer_about_another_serial(pki, world):
    pki, card = pki
    responder = for_test_pki(pki, "auth")
    request = build_request(responder.issuer, serial_of(card.auth), b"N" * 32)
    response = answer(request, responder, world.now)
    reason = refused(lambda: check_response(response, responder.issuer, 7, b"N" * 32, world.now))
    assert reason is Reason.OCSP_UNAVAILABLE


def test_error_statuses_and_transport_failure(pki, world):
    pki, card = pki
    responder = for_test_pki(pki, "auth")
    malformed = answer(b"junk", responder, world.now)
    assert ocsp.load_der_ocsp_response(malformed).response_status is (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    foreign = answer(build_request(pki.ca_certificate("sign"), 1, b"N" * 32), responder, world.now)
    for body in (malformed, foreign, b"junk"):
        reason = refused(
            lambda body=body: check_response(body, responder.issuer, 1, b"N" * 32, world.now)
        )
        assert reason is Reason.OCSP_UNAVAILABLE

    class Down:
        def post(self, url, request_der):
            raise ConnectionRefusedError("down")

    checker = OcspChecker("http://ocsp.test/", Down())
    assert refused(lambda: checker.check(responder.issuer, 1, world.now)) is (
        Reason.OCSP_UNAVAILABLE
    )


def test_over_http_with_the_standard_library_transport(pki, world):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kiosk.verify.ocsp import UrllibTransport

    pki, card = pki
    responder = for_test_pki(pki, "auth")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != "/ocsp":
                self.send_error(404)
                return
            data = answer(body, responder, world.now)
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        checker = OcspChecker(f"{base}/ocsp", UrllibTransport(timeout_s=5))
        checker.check(responder.issuer, serial_of(card.auth), world.now)  # good: no exception
        missing = OcspChecker(f"{base}/nowhere", UrllibTransport(timeout_s=5))
        assert refused(lambda: missing.check(responder.issuer, 1, world.now)) is (
            Reason.OCSP_UNAVAILABLE
        )
        ftp = OcspChecker("ftp://127.0.0.1/ocsp", UrllibTransport())
        assert refused(lambda: ftp.check(responder.issuer, 1, world.now)) is (
            Reason.OCSP_UNAVAILABLE
        )
    finally:
        server.shutdown()
        server.server_close()

"""The DER boundary: certificates that `cryptography` loads and then rejects on access are
typed refusals everywhere — recorded like any refusal — and RFC 5280's rules for card
certificates (critical extensions, EKU, serials, signature hashes)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from cryptography import x509
from der_support import (
    SHA1_RSA,
    UNKNOWN_ALG,
    cert_with,
    extension,
    oid,
    tlv,
)
from enrolment_support import bound_application
from test_verify_support import PROVIDER, TERMINAL, make_proof

from kiosk.card.reader import InProcessReader
from kiosk.demo.audit import MemoryAudit
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.services.identity import IdentityService
from kiosk.services.visit import Visit
from kiosk.simcard.applet import VirtualCard
from kiosk.ui.problems import problem_for
from kiosk.verify.certcheck import CertificateValidator
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.enrolment import EnrolmentApplication
from kiosk.verify.profile import ProfileError, parse_basic_four
from kiosk.verify.trust import KeyPurpose, TrustError, TrustStore
from kiosk.verify.verdict import Reason, Refused
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]

SERVER_AUTH, CLIENT_AUTH = "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"
ANY_EKU, EMAIL = "2.5.29.37.0", "1.3.6.1.5.5.7.3.4"

#: Certificates cryptography loads, then refuses when a field is read (or that RFC 5280
#: forbids): each is `malformed`, whatever cryptography raises for it.
UNDECODABLE = {
    "duplicated extension": {"duplicate_extension": True},
    "version 6 (no such X.509 version)": {"version": 5},
    "subject UTF8String that is not UTF-8": {"subject_cn": (0x0C, b"\xff\xfe")},
    "subject PrintableString with '@'": {"subject_cn": (0x13, b"a@b")},
    "BMPString of odd length": {"subject_cn": (0x1E, b"\x00a\x00")},
    "unknown signature algorithm": {"algorithm": UNKNOWN_ALG},
    "negative serial": {"serial": -7},
    "zero serial": {"serial": 0},
}


def eku(*purposes: str) -> bytes:
    return extension("2.5.29.37", tlv(0x30, b"".join(oid(p) for p in purposes)))


def hostile(world, kind: str, **changes) -> bytes:
    """The card's certificate of that kind with one change, signed again by its real CA."""
    base = world.auth_cert if kind == "auth" else world.sign_cert
    return cert_with(base, world.pki.ca_key(kind), **changes)


def refusal(fn) -> Reason:
    with pytest.raises(Refused) as e:
        fn()
    return e.value.reason


@pytest.fixture
def validator(world, index) -> CertificateValidator:
    return CertificateValidator(world.trust, index)


@pytest.mark.parametrize("kind", ["auth", "sign"])
@pytest.mark.parametrize("changes", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_undecodable_certificates_are_malformed(world, validator, kind, changes):
    der = hostile(world, kind, **changes)
    assert refusal(lambda: validator.static_checks(der, KeyPurpose(kind))) is Reason.MALFORMED


@pytest.mark.parametrize("changes", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_a_proof_with_an_undecodable_certificate_is_a_recorded_refusal(
    world, verifier, challenges, index, changes
):
    challenge = challenges.issue(PROVIDER, TERMINAL, world.now)
    proof = make_proof(world, challenge, cert=hostile(world, "auth", **changes))
    verdict = verifier.verify_user_proof(proof, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.MALFORMED)
    recorded = index.entries[-1]
    assert (recorded.ok, recorded.reason) == (False, "malformed")
    assert recorded.challenge is not None  # the challenge is used up with the refusal
    again = verifier.verify_user_proof(proof, world.now)
    assert again.reason is Reason.CHALLENGE_REPLAYED


def enrolment(world, challenges, sign_cert: bytes) -> EnrolmentApplication:
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    return dataclasses.replace(
        bound_application(PROVIDER, TERMINAL, c.nonce, sign_card=world),
        sign_certificate=sign_cert,
    )


@pytest.mark.parametrize("changes", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_an_enrolment_with_an_undecodable_sign_certificate_is_a_recorded_refusal(
    world, verifier, challenges, index, changes
):
    application = enrolment(world, challenges, hostile(world, "sign", **changes))
    verdict = verifier.verify_enrolment(application, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.MALFORMED)
    recorded = index.entries[-1]
    assert (recorded.action, recorded.reason, recorded.challenge is not None) == (
        "enrol",
        "malformed",
        True,
    )
    assert verifier.verify_enrolment(application, world.now).reason is Reason.CHALLENGE_REPLAYED


def test_the_4_info_of_a_certificate_with_a_duplicated_extension_is_a_profile_error(world):
    cert = x509.load_der_x509_certificate(hostile(world, "sign", duplicate_extension=True))
    with pytest.raises(ProfileError):
        parse_basic_four(cert)


def test_a_card_with_an_undecodable_sign_certificate_is_a_bad_certificate(world, card_file):
    bad = hostile(world, "sign", duplicate_extension=True)
    card = dataclasses.replace(card_file, sign=dataclasses.replace(card_file.sign, certificate=bad))
    reader = InProcessReader()
    reader.insert(VirtualCard(card))
    challenges = ChallengeService()
    from kiosk.demo.verification import MemoryVerificationStore
    from kiosk.verify.crl import verify_crl_in

    store = MemoryVerificationStore()
    for which in ("auth", "sign"):
        store.import_crl(verify_crl_in(world.crl(which), world.trust, world.now))
    backend = Visit(
        reader.connect,
        Verifier(world.trust, store, challenges),
        challenges,
        MemoryAudit(),
        {"identity": IdentityService()},
        TERMINAL,
        lambda: datetime.now(UTC),
    )
    backend.read_card()
    authenticated = backend.authenticate("1234", "identity", PROVIDER)
    with pytest.raises(KioskError) as e:
        backend.read_signer("ABC123", authenticated)
    assert problem_for(e.value).code is ProblemCode.BAD_CERTIFICATE
    backend.close_card()


def test_a_trust_anchor_that_does_not_decode_is_a_trust_error(world, tmp_path):
    ca = world.ca("auth")
    from cryptography.hazmat.primitives import serialization

    der = ca.public_bytes(serialization.Encoding.DER)
    (tmp_path / "ca.der").write_bytes(cert_with(der, world.pki.ca_key("auth"), version=5))
    with pytest.raises(TrustError, match="not a certificate"):
        TrustStore.from_dir(tmp_path)


# --- RFC 5280 rules for card certificates ------------------------------------------------


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_an_unknown_critical_extension_is_refused(world, validator, kind):
    der = hostile(world, kind, add_extension=extension("1.2.3.4", b"\x05\x00", critical=True))
    assert refusal(lambda: validator.static_checks(der, KeyPurpose(kind))) is Reason.MALFORMED


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_an_unknown_extension_that_is_not_critical_is_ignored(world, validator, kind):
    der = hostile(world, kind, add_extension=extension("1.2.3.4", b"\x05\x00"))
    assert validator.static_checks(der, KeyPurpose(kind)).purpose is KeyPurpose(kind)


@pytest.mark.parametrize(
    ("kind", "purposes"),
    [("auth", [SERVER_AUTH]), ("sign", [SERVER_AUTH]), ("sign", [CLIENT_AUTH])],
)
def test_a_foreign_extended_key_usage_is_the_wrong_purpose(world, validator, kind, purposes):
    der = hostile(world, kind, add_extension=eku(*purposes))
    assert refusal(lambda: validator.static_checks(der, KeyPurpose(kind))) is (
        Reason.WRONG_KEY_PURPOSE
    )


@pytest.mark.parametrize(
    ("kind", "purposes"),
    [
        ("auth", [CLIENT_AUTH]),
        ("auth", [SERVER_AUTH, CLIENT_AUTH]),
        ("auth", [ANY_EKU]),
        ("sign", [EMAIL]),
        ("sign", [ANY_EKU]),
    ],
)
def test_an_extended_key_usage_that_allows_the_purpose_is_accepted(
    world, validator, kind, purposes
):
    der = hostile(world, kind, add_extension=eku(*purposes))
    assert validator.static_checks(der, KeyPurpose(kind)).purpose is KeyPurpose(kind)


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_a_certificate_signed_with_sha1_is_refused(world, validator, kind):
    der = hostile(world, kind, algorithm=SHA1_RSA)
    assert refusal(lambda: validator.static_checks(der, KeyPurpose(kind))) is Reason.BAD_CHAIN


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_the_test_cas_real_profile_passes(world, validator, kind):
    der = world.auth_cert if kind == "auth" else world.sign_cert
    checked = validator.static_checks(der, KeyPurpose(kind))
    assert checked.ref.serial == x509.load_der_x509_certificate(der).serial_number > 0


# --- the platform: an undecodable certificate is a refused verdict, never a 500 -------------


def test_the_platform_answers_an_undecodable_certificate_with_a_recorded_refusal(world, tmp_path):
    import base64
    import hashlib
    import secrets
    from types import SimpleNamespace

    from fastapi.testclient import TestClient

    from kiosk import config
    from kiosk.platform.service import app_from_config

    crls = tmp_path / "crl"
    crls.mkdir()
    for which in ("auth", "sign"):
        (crls / f"{which}.crl").write_bytes(world.crl(which))
    token = secrets.token_urlsafe(32)
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(crls),
            "platform_tokens": {PROVIDER: hashlib.sha256(token.encode()).hexdigest()},
        }
    )
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app_from_config(cfg)) as http:

        def challenge() -> SimpleNamespace:
            body = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
            nonce = http.post("/v1/challenges", json=body, headers=headers).json()["nonce"]
            return SimpleNamespace(
                provider_id=PROVIDER, terminal_id=TERMINAL, nonce=base64.b64decode(nonce)
            )

        bad_auth = hostile(world, "auth", duplicate_extension=True)
        proof = make_proof(world, challenge(), cert=bad_auth).to_json()
        answers = [http.post("/v1/proofs", json=proof, headers=headers) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        assert [a.json()["reason"] for a in answers] == ["malformed", "challenge_replayed"]

        application = dataclasses.replace(
            bound_application(PROVIDER, TERMINAL, challenge().nonce, sign_card=world),
            sign_certificate=hostile(world, "sign", version=5),
        ).to_json()
        answers = [http.post("/v1/enrolments", json=application, headers=headers) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        assert [a.json()["reason"] for a in answers] == ["malformed", "challenge_replayed"]


# --- OCSP responses pass the same boundary -----------------------------------------------


def with_duplicated_response_extension(der: bytes, key) -> bytes:
    """An OCSP response with its nonce extension twice, signed again by key."""
    from der_support import OCTET_STRING, SEQUENCE, children, content, tlv
    from der_support import sign as sign_tbs

    status, wrapper = children(der)
    (response_bytes,) = children(wrapper)
    kind, octets = children(response_bytes)
    tbs, algorithm = children(content(octets))[:2]
    fields = children(tbs)
    extensions = children(content(fields[-1]))
    fields[-1] = tlv(0xA1, tlv(SEQUENCE, b"".join([*extensions, extensions[0]])))
    basic = sign_tbs(tlv(SEQUENCE, b"".join(fields)), key, algorithm)
    return tlv(SEQUENCE, status + tlv(0xA0, tlv(SEQUENCE, kind + tlv(OCTET_STRING, basic))))


def test_an_ocsp_response_that_does_not_decode_is_unavailable(world):
    from kiosk.demo.ocsp_responder import answer, for_test_pki
    from kiosk.verify.ocsp import OcspChecker

    responder = for_test_pki(world.pki, "auth")

    class Tampered:
        def post(self, url: str, request_der: bytes) -> bytes:
            good = answer(request_der, responder, world.now)
            return with_duplicated_response_extension(good, world.pki.ca_key("auth"))

    checker = OcspChecker("http://ocsp.test/", Tampered())
    serial = x509.load_der_x509_certificate(world.auth_cert).serial_number
    assert refusal(lambda: checker.check(responder.issuer, serial, world.now)) is (
        Reason.OCSP_UNAVAILABLE
    )

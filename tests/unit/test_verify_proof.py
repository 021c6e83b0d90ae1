"""User proofs: the happy path and every refusal reason, each with its own certificate or CRL."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from test_verify_support import PROVIDER, TERMINAL, der, make_proof, other_dn_ca

from kiosk.pki.authority import generate_key, make_ca, make_end_entity
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.proof import UserProof, proof_digest_info, signed_message
from kiosk.verify.verdict import CertRef, LinkStatus, Reason
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]


@pytest.fixture
def challenge(challenges, world):
    return challenges.issue(PROVIDER, TERMINAL, world.now - timedelta(seconds=5))


def test_signed_message_binds_provider_terminal_and_nonce():
    nonce = bytes(range(32))
    m = signed_message("clinic", "kiosk-1", nonce)
    assert m == hashlib.sha256(b"clinic\x00kiosk-1").digest() + hashlib.sha256(nonce).digest()
    assert m != signed_message("clinic", "kiosk-2", nonce)
    assert (
        proof_digest_info("clinic", "kiosk-1", nonce)
        == bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(m).digest()
    )


@pytest.mark.parametrize("provider", ["a\x00b", "", "Yamada Taro", "x" * 65, "-clinic"])
def test_ids_that_are_not_identifiers_are_malformed_and_recorded_as_invalid(
    verifier, challenges, world, index, provider
):
    with pytest.raises(ValueError, match="identifiers"):
        challenges.issue(provider, TERMINAL, world.now)
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    proof = UserProof(provider, TERMINAL, c.nonce, world.auth_cert, b"\x00" * 256)
    assert verifier.verify_user_proof(proof, world.now).reason is Reason.MALFORMED
    entry = index.entries[-1]
    assert (entry.provider_id, entry.terminal_id, entry.reason) == (
        "invalid",
        "invalid",
        "malformed",
    )
    assert entry.challenge is None  # the challenge is not used up by a malformed proof


def test_happy_path(verifier, challenge, world):
    verdict = verifier.verify_user_proof(make_proof(world, challenge), world.now)
    assert verdict.ok and verdict.reason is Reason.OK
    auth = x509.load_der_x509_certificate(world.auth_cert)
    assert verdict.auth_serial == auth.serial_number
    assert verdict.issuer_key_id == world.key_id("auth")
    assert verdict.time == world.now and verdict.link_status is None


def test_proof_json_round_trip(challenge, world):
    proof = make_proof(world, challenge)
    assert UserProof.from_json(proof.to_json()) == proof


def reason(verifier, proof, world, now=None) -> Reason:
    verdict = verifier.verify_user_proof(proof, now or world.now)
    assert not verdict.ok
    return verdict.reason


def test_expired(verifier, challenge, world):
    cert = world.odd_cert(
        not_before=world.now - timedelta(days=400), not_after=world.now - timedelta(seconds=1)
    )
    assert reason(verifier, make_proof(world, challenge, cert=cert), world) is Reason.EXPIRED


def test_not_yet_valid(verifier, challenge, world):
    cert = world.odd_cert(not_before=world.now + timedelta(minutes=1))
    assert reason(verifier, make_proof(world, challenge, cert=cert), world) is (
        Reason.NOT_YET_VALID
    )


def test_wrong_ca(verifier, challenge, world):
    ca = other_dn_ca(world.other_key, world.now)
    cert = world.odd_cert(issuer_cert=ca, issuer_key=world.other_key)
    assert reason(verifier, make_proof(world, challenge, cert=cert), world) is (
        Reason.UNKNOWN_ISSUER
    )


def test_ca_with_same_dn_but_other_key(verifier, challenge, world):
    impostor = make_ca(
        "auth",
        world.other_key,
        not_before=world.now - timedelta(days=1),
        not_after=world.now + timedelta(days=10),
    )
    assert impostor.subject == world.ca("auth").subject
    cert = world.odd_cert(issuer_cert=impostor, issuer_key=world.other_key)
    assert reason(verifier, make_proof(world, challenge, cert=cert), world) is Reason.BAD_CHAIN


def test_forged_aki_pointing_at_the_real_ca(verifier, challenge, world):
    # issuer_cert gives the real CA's DN and AKI, but the impostor key signs
    cert = make_end_entity(
        "auth",
        world.ca("auth"),
        world.other_key,
        world.auth_key,
        not_before=world.now - timedelta(days=1),
        not_after=world.now + timedelta(days=10),
    )
    proof = make_proof(world, challenge, cert=der(cert))
    assert reason(verifier, proof, world) is Reason.BAD_CHAIN


def test_sign_cert_offered_as_proof(verifier, challenge, world):
    proof = make_proof(world, challenge, cert=world.sign_cert, key=world.sign_key)
    assert reason(verifier, proof, world) is Reason.WRONG_KEY_PURPOSE


def test_rsa_1024(verifier, challenge, world):
    weak = generate_key(1024)
    cert = world.odd_cert(subject_key=weak)
    proof = make_proof(world, challenge, cert=cert, key=weak)
    assert reason(verifier, proof, world) is Reason.WEAK_KEY


def test_revoked(world, challenges, challenge, index):
    serial = x509.load_der_x509_certificate(world.auth_cert).serial_number
    index.import_crl(verify_crl_in(world.crl("auth", [serial]), world.trust, world.now))
    verdict = Verifier(world.trust, index, challenges).verify_user_proof(
        make_proof(world, challenge), world.now
    )
    assert (verdict.ok, verdict.reason, verdict.auth_serial) == (False, Reason.REVOKED, serial)


def test_crl_missing(world, challenges, challenge):
    from kiosk.demo.verification import MemoryVerificationStore

    verifier = Verifier(world.trust, MemoryVerificationStore(), challenges)
    assert reason(verifier, make_proof(world, challenge), world) is Reason.CRL_MISSING


def test_crl_stale_past_grace(world, challenges, index):
    # the CRL in force ends at now+1d-1h; check 1 h past it, with and without grace
    late = world.now + timedelta(days=1)
    strict = Verifier(world.trust, index, challenges, crl_grace_s=0)
    c = challenges.issue(PROVIDER, TERMINAL, late)
    assert reason(strict, make_proof(world, c), world, now=late) is Reason.CRL_STALE
    lenient = Verifier(world.trust, index, challenges, crl_grace_s=2 * 3600)
    c = challenges.issue(PROVIDER, TERMINAL, late)
    assert lenient.verify_user_proof(make_proof(world, c), late).ok


def test_replayed_challenge(verifier, challenge, world, index):
    proof = make_proof(world, challenge)
    assert verifier.verify_user_proof(proof, world.now).ok
    assert reason(verifier, proof, world) is Reason.CHALLENGE_REPLAYED
    first, second = index.entries[-2:]
    assert (first.ok, first.reason, first.challenge is not None) == (True, "ok", True)
    assert (second.ok, second.reason, second.challenge) == (False, "challenge_replayed", None)


def test_a_refused_proof_uses_its_challenge_up(verifier, challenge, world):
    proof = make_proof(world, challenge)
    bad = replace(proof, signature=proof.signature[:-1] + bytes([proof.signature[-1] ^ 1]))
    assert reason(verifier, bad, world) is Reason.BAD_SIGNATURE
    assert reason(verifier, proof, world) is Reason.CHALLENGE_REPLAYED


def test_a_foreign_attempt_does_not_spoil_the_challenge(verifier, challenge, world):
    assert reason(verifier, make_proof(world, challenge, terminal="kiosk-2"), world) is (
        Reason.CHALLENGE_FOREIGN
    )
    assert verifier.verify_user_proof(make_proof(world, challenge), world.now).ok


def test_every_verdict_is_recorded_with_codes_only(verifier, challenge, world, index):
    verdict = verifier.verify_user_proof(make_proof(world, challenge), world.now)
    (entry,) = index.entries
    assert entry.at == world.now and entry.action == "user_proof"
    assert (entry.provider_id, entry.terminal_id) == (PROVIDER, TERMINAL)
    assert (entry.ok, entry.reason) == (True, "ok")
    assert (entry.issuer_key_id, entry.serial) == (verdict.issuer_key_id, verdict.auth_serial)
    # what a record can hold at all: codes, ids and certificate references, no free text
    assert entry._fields == (
        "at", "provider_id", "terminal_id", "action", "ok", "reason", "issuer_key_id", "serial",
        "challenge", "link_id", "flag_link", "link_to",
    )  # fmt: skip


def test_expired_challenge(verifier, challenge, world):
    late = challenge.expires_at
    assert reason(verifier, make_proof(world, challenge), world, now=late) is (
        Reason.CHALLENGE_EXPIRED
    )


def test_foreign_challenge(verifier, challenge, world):
    proof = make_proof(world, challenge, terminal="kiosk-2")
    assert reason(verifier, proof, world) is Reason.CHALLENGE_FOREIGN


def test_unknown_challenge(verifier, challenge, world):
    proof = replace(make_proof(world, challenge), nonce=bytes(32))
    assert reason(verifier, proof, world) is Reason.CHALLENGE_UNKNOWN


def test_bad_signature(verifier, challenge, world):
    proof = make_proof(world, challenge)
    bad = replace(proof, signature=proof.signature[:-1] + bytes([proof.signature[-1] ^ 1]))
    assert reason(verifier, bad, world) is Reason.BAD_SIGNATURE


def test_signature_by_another_key(verifier, challenge, world):
    proof = make_proof(world, challenge, key=world.other_key)
    assert reason(verifier, proof, world) is Reason.BAD_SIGNATURE


def test_proof_for_another_terminal_does_not_verify_here(verifier, challenges, world):
    # a proof made for kiosk-2's origin, presented with kiosk-1's challenge binding
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    stolen = make_proof(world, c, terminal="kiosk-2")
    replayed_here = replace(stolen, terminal_id=TERMINAL)
    assert reason(verifier, replayed_here, world) is Reason.BAD_SIGNATURE


def test_malformed_certificate(verifier, challenge, world):
    proof = make_proof(world, challenge, cert=b"\x30\x03\x02\x01\x00")
    assert reason(verifier, proof, world) is Reason.MALFORMED


def test_cached_results_are_repeated(verifier, challenges, world):
    other = world.odd_cert(subject_key=world.other_key)
    for _ in range(2):  # the second round is served from the certificate cache
        c = challenges.issue(PROVIDER, TERMINAL, world.now)
        proof = make_proof(world, c, cert=world.sign_cert, key=world.sign_key)
        assert reason(verifier, proof, world) is Reason.WRONG_KEY_PURPOSE
        c = challenges.issue(PROVIDER, TERMINAL, world.now)
        proof = make_proof(world, c, cert=other, key=world.other_key)
        assert verifier.verify_user_proof(proof, world.now).ok
        c = challenges.issue(PROVIDER, TERMINAL, world.now)
        proof = make_proof(world, c, cert=other, key=world.auth_key)
        assert reason(verifier, proof, world) is Reason.BAD_SIGNATURE


def test_link_status_in_verdict(world, challenges, index):
    auth = CertRef(
        x509.load_der_x509_certificate(world.auth_cert).serial_number, world.key_id("auth")
    )
    sign_serial = x509.load_der_x509_certificate(world.sign_cert).serial_number
    sign = CertRef(sign_serial, world.key_id("sign"))
    verifier = Verifier(world.trust, index, challenges)
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    verdict = verifier.verify_user_proof(make_proof(world, c), world.now)
    assert verdict.ok and (verdict.link_status, verdict.account_ref) == (None, None)

    since = world.now - timedelta(days=30)
    link_id = index.add_link(PROVIDER, "patient-42", auth, sign, at=since)
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    verdict = verifier.verify_user_proof(make_proof(world, c), world.now)
    assert verdict.ok and verdict.link_status is LinkStatus.ACTIVE
    assert (verdict.account_ref, verdict.linked_at) == ("patient-42", since)
    assert verdict.to_json()["account_ref"] == "patient-42"

    c = challenges.issue("other-clinic", TERMINAL, world.now)  # the link is this provider's
    verdict = verifier.verify_user_proof(make_proof(world, c, provider="other-clinic"), world.now)
    assert verdict.ok and (verdict.link_status, verdict.account_ref) == (None, None)

    # the signature certificate is revoked (moved house): the link is flagged with the verdict
    index.import_crl(verify_crl_in(world.crl("sign", [sign_serial]), world.trust, world.now))
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    verdict = verifier.verify_user_proof(make_proof(world, c), world.now)
    assert verdict.ok and verdict.link_status is LinkStatus.NEEDS_REENROLMENT
    assert index.link_status(link_id) == "needs_reenrolment"
    entry = index.entries[-1]
    assert (entry.link_id, entry.flag_link) == (link_id, True)

    # once flagged it stays so, even when the signature CRL cannot be checked
    late = world.now + timedelta(days=3)
    c = challenges.issue(PROVIDER, TERMINAL, late)
    stale = Verifier(world.trust, index, challenges, crl_grace_s=10 * 86400)
    verdict = stale.verify_user_proof(make_proof(world, c), late)
    assert verdict.link_status is LinkStatus.NEEDS_REENROLMENT and not index.entries[-1].flag_link


def test_unchecked_link_when_the_sign_crl_is_stale_or_missing(world, challenges):
    from kiosk.demo.verification import MemoryVerificationStore

    auth = CertRef(
        x509.load_der_x509_certificate(world.auth_cert).serial_number, world.key_id("auth")
    )
    sign = CertRef(
        x509.load_der_x509_certificate(world.sign_cert).serial_number, world.key_id("sign")
    )
    store = MemoryVerificationStore()
    store.import_crl(verify_crl_in(world.crl("auth"), world.trust, world.now))
    link_id = store.add_link(PROVIDER, "patient-42", auth, sign)
    verifier = Verifier(world.trust, store, challenges)
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    verdict = verifier.verify_user_proof(make_proof(world, c), world.now)
    assert verdict.ok and verdict.link_status is LinkStatus.UNCHECKED  # no sign CRL
    assert store.link_status(link_id) == "active"


def test_worked_example_of_the_docs():
    import hashlib
    from datetime import UTC, datetime

    from kiosk.verify.challenge import ChallengeService

    r = bytes(range(32))
    service = ChallengeService(keys=[r], random=lambda n: r)
    nonce = service.issue("demo-clinic", "kiosk-1", datetime(2026, 1, 5, 9, tzinfo=UTC)).nonce
    assert nonce == bytes.fromhex(
        "02" + r.hex() + "000647a04fd59200"
        "e4a6335c46b5f10b45962dbab9745abf"
        "4b0c09af65087ea774e5b935572f0ae3"
    )
    assert hashlib.sha256(nonce).hexdigest() == (
        "b9454a9a0eb0946dfb139f16fe13610ecc83ef42a2a716b909e5b4400e4844e0"
    )
    assert proof_digest_info("demo-clinic", "kiosk-1", nonce).hex() == (
        "3031300d060960864801650304020105000420"
        "563a6096b60fd0210ca7b8266d866955a5c6438e91318823e52f2cc066f101a9"
    )
    # §2's example (the enrolment application) is checked in test_enrolment_binding.py


def test_ec_key_off_p384_is_wrong_curve(verifier, challenge, world):
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    cert = world.odd_cert(subject_key=ec_key.public_key())
    proof = make_proof(world, challenge, cert=cert)
    assert reason(verifier, proof, world) is Reason.WRONG_CURVE


def test_tiny_cache_keeps_results_right(world, index, challenges):
    verifier = Verifier(world.trust, index, challenges, cache_size=1)
    expired = world.odd_cert(
        not_after=world.now - timedelta(seconds=1), not_before=world.now - timedelta(days=9)
    )
    for _ in range(3):  # each call evicts the other certificate's entry
        c = challenges.issue(PROVIDER, TERMINAL, world.now)
        assert verifier.verify_user_proof(make_proof(world, c), world.now).ok
        c = challenges.issue(PROVIDER, TERMINAL, world.now)
        assert reason(verifier, make_proof(world, c, cert=expired), world) is Reason.EXPIRED


def test_crl_state_is_read_with_every_proof(world, challenges):
    from dataclasses import replace as with_

    from kiosk.demo.verification import MemoryVerificationStore

    index = MemoryVerificationStore()
    verifier = Verifier(world.trust, index, challenges)

    def verdict_at(seconds):
        at = world.now + timedelta(seconds=seconds)
        c = challenges.issue(PROVIDER, TERMINAL, at)
        return verifier.verify_user_proof(make_proof(world, c), at).reason

    assert verdict_at(0) is Reason.CRL_MISSING
    crl = verify_crl_in(world.crl("auth"), world.trust, world.now)
    index.import_crl(crl)
    assert verdict_at(0) is Reason.OK
    stale = with_(crl.info, next_update=world.now - timedelta(hours=1))
    index.replace_crl(stale, [])
    assert verdict_at(1) is Reason.CRL_STALE  # at once: nothing about the CRL is cached


def test_verdicts_round_trip_through_json(verifier, challenge, world):
    from kiosk.verify.verdict import EnrolmentVerdict, Verdict

    verdict = verifier.verify_user_proof(make_proof(world, challenge), world.now)
    assert Verdict.from_json(verdict.to_json()) == verdict
    refused = Verdict(False, Reason.REVOKED, "This certificate has been revoked.", world.now)
    assert Verdict.from_json(refused.to_json()) == refused
    enrolled = EnrolmentVerdict(True, Reason.OK, "Enrolled.", world.now, 5, "ab", 7, "cd")
    assert EnrolmentVerdict.from_json(enrolled.to_json()) == enrolled
    for bad in ({}, [], {**verdict.to_json(), "reason": "nope"}, {**verdict.to_json(), "ok": 1},
                {**verdict.to_json(), "time": "2026-01-01T00:00:00"},
                {**verdict.to_json(), "auth_serial": "xyz"}):  # fmt: skip
        with pytest.raises(ValueError):
            Verdict.from_json(bad)

"""Enrolment binds the certificates of ONE card: each half of the application names the other's
certificate, so a signature certificate from card A cannot be linked with an authentication
key from card B; where the issuer's serial service is configured it confirms the pair."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from cryptography import x509
from enrolment_support import (
    CardKeys,
    MemorySerialService,
    UnreachableSerialService,
    bound_application,
    signer,
)
from test_verify_support import PROVIDER, TERMINAL, make_proof

from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.verify.enrolment import (
    APPLICATION_FORMAT,
    EnrolmentApplication,
    application_document,
    auth_binding_message,
    certificate_digest,
)
from kiosk.verify.profile import BasicFourInfo
from kiosk.verify.proof import signed_message
from kiosk.verify.verdict import CertRef, Reason, Refused
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]


@pytest.fixture(scope="module")
def card_a(card_file) -> CardKeys:
    return CardKeys.of(card_file)


#: The holder of card B, another fictitious person.
PERSON_B = BasicFourInfo("試験　花子", "テスト県テスト市試験町4-5-6", date(1985, 7, 1), "female")


@pytest.fixture(scope="module")
def card_b(test_pki, world) -> CardKeys:
    """A second card from the same CAs, another person's, valid at the tests' `now`."""
    return CardKeys.of(test_pki.issue_card(PERSON_B, now=world.now - timedelta(days=1)))


def ref(der: bytes, world, which: str) -> CertRef:
    return CertRef(x509.load_der_x509_certificate(der).serial_number, world.key_id(which))


def nonce(challenges, world) -> bytes:
    return challenges.issue(PROVIDER, TERMINAL, world.now).nonce


def refused(verifier, app, world) -> Reason:
    """The verdict's reason, after checking that the refusal linked nothing."""
    verdict = verifier.verify_enrolment(app, world.now)
    assert not verdict.ok
    assert verifier._store.entries[-1].link_to is None
    return verdict.reason


def linked_account(verifier, challenges, world, card: CardKeys) -> str | None:
    """The account a later user proof of that card's authentication key finds, if any."""
    c = challenges.issue(PROVIDER, TERMINAL, world.now)
    proof = make_proof(world, c, cert=card.auth_cert, key=card.auth_key)
    verdict = verifier.verify_user_proof(proof, world.now)
    assert verdict.ok
    return verdict.account_ref


# --- one card: accepted and linked --------------------------------------------------------


def test_one_cards_pair_is_accepted_and_linked(verifier, challenges, world, card_a):
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    verdict = verifier.verify_enrolment(app, world.now)
    assert (verdict.ok, verdict.reason) == (True, Reason.OK)
    assert CertRef(verdict.sign_serial, verdict.sign_issuer_key_id) == ref(
        card_a.sign_cert, world, "sign"
    )
    assert CertRef(verdict.auth_serial, verdict.auth_issuer_key_id) == ref(
        card_a.auth_cert, world, "auth"
    )
    assert linked_account(verifier, challenges, world, card_a) == "patient-42"


def test_each_half_names_the_others_certificate(challenges, world, card_a):
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    assert app.auth_certificate_sha256 == certificate_digest(card_a.auth_cert)
    assert app.document() == application_document(
        PROVIDER,
        TERMINAL,
        "patient-42",
        DEFAULT_PERSON,
        app.nonce,
        certificate_digest(card_a.auth_cert),
    )
    assert app.auth_proof is not None
    assert app.auth_message() == signed_message(PROVIDER, TERMINAL, app.nonce) + (
        certificate_digest(card_a.sign_cert)
    )
    assert len(app.auth_message()) == 96  # a user proof's M is 64: neither stands for the other


# --- two cards: refused, nothing linked ---------------------------------------------------


def test_card_a_signature_with_card_b_authentication_is_refused(
    verifier, challenges, world, card_a, card_b
):
    n = nonce(challenges, world)
    honest_a = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a)
    # card B's holder signs, with B's PIN, for card A's signature certificate and this nonce
    b_half = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a, auth_card=card_b)
    forged = replace(honest_a, auth_proof=b_half.auth_proof)
    assert refused(verifier, forged, world) is Reason.NOT_SAME_SESSION
    assert linked_account(verifier, challenges, world, card_a) is None
    assert linked_account(verifier, challenges, world, card_b) is None


def test_card_a_signature_naming_card_bs_certificate_with_bs_own_half_is_refused(
    verifier, challenges, world, card_a, card_b
):
    # card A's password holder signs for card B's auth certificate; card B's half is the one
    # B's holder made for their own signature certificate (e.g. in their own enrolment)
    n = nonce(challenges, world)
    a_naming_b = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a, auth_card=card_b)
    b_own = bound_application(PROVIDER, TERMINAL, n, sign_card=card_b)
    forged = replace(a_naming_b, auth_proof=b_own.auth_proof)
    assert refused(verifier, forged, world) is Reason.BAD_SIGNATURE
    assert linked_account(verifier, challenges, world, card_b) is None


def test_card_bs_user_proof_is_no_enrolment_half(verifier, challenges, world, card_a, card_b):
    # a login proof of card B for the same challenge: signed without any signature certificate
    n = nonce(challenges, world)
    a_naming_b = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a, auth_card=card_b)
    login = signer(card_b.auth_key)(signed_message(PROVIDER, TERMINAL, n))
    forged = replace(a_naming_b, auth_proof=replace(a_naming_b.auth_proof, signature=login))
    assert refused(verifier, forged, world) is Reason.BAD_SIGNATURE


def test_an_enrolment_half_is_no_user_proof(verifier, challenges, world, card_a):
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    verdict = verifier.verify_user_proof(app.auth_proof, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.BAD_SIGNATURE)


# --- each tampering of the binding --------------------------------------------------------


def _tamper(app: EnrolmentApplication, how: str, a: CardKeys, b: CardKeys):
    proof = app.auth_proof
    assert proof is not None
    match how:
        case "document names card B's auth certificate":
            return replace(app, auth_certificate_sha256=certificate_digest(b.auth_cert))
        case "document names no auth certificate":
            return replace(app, auth_certificate_sha256=None)
        case "proof carries card B's auth certificate":
            return replace(app, auth_proof=replace(proof, certificate=b.auth_cert))
        case "card B's sign certificate":
            return replace(app, sign_certificate=b.sign_cert)
        case "proof for another nonce":
            # its last byte flipped (set to 0 it was the same nonce once in 256 runs)
            other = proof.nonce[:-1] + bytes([proof.nonce[-1] ^ 1])
            return replace(app, auth_proof=replace(proof, nonce=other))
        case "proof for another terminal":
            return replace(app, auth_proof=replace(proof, terminal_id="kiosk-2"))
        case "auth signature altered":
            flipped = bytes([proof.signature[0] ^ 1]) + proof.signature[1:]
            return replace(app, auth_proof=replace(proof, signature=flipped))
        case "auth signature over another sign certificate":
            other = auth_binding_message(
                PROVIDER, TERMINAL, app.nonce, certificate_digest(b.sign_cert)
            )
            return replace(app, auth_proof=replace(proof, signature=signer(a.auth_key)(other)))
        case "document names an auth certificate, no proof":
            return replace(app, auth_proof=None)
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("document names card B's auth certificate", Reason.BAD_SIGNATURE),
        ("document names no auth certificate", Reason.BAD_SIGNATURE),
        ("proof carries card B's auth certificate", Reason.NOT_SAME_SESSION),
        ("card B's sign certificate", Reason.BAD_SIGNATURE),
        ("proof for another nonce", Reason.NOT_SAME_SESSION),
        ("proof for another terminal", Reason.NOT_SAME_SESSION),
        ("auth signature altered", Reason.BAD_SIGNATURE),
        ("auth signature over another sign certificate", Reason.BAD_SIGNATURE),
        ("document names an auth certificate, no proof", Reason.MALFORMED),
    ],
)
def test_each_tampering_of_the_binding_is_refused(
    verifier, challenges, world, card_a, card_b, how, reason
):
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    assert refused(verifier, _tamper(app, how, card_a, card_b), world) is reason
    assert linked_account(verifier, challenges, world, card_a) is None


def test_a_signature_half_naming_no_auth_certificate_does_not_pair(
    verifier, challenges, world, card_a
):
    # signed as an online-path document (no auth certificate named), sent with a card half
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    unbound = application_document(
        PROVIDER, TERMINAL, "patient-42", DEFAULT_PERSON, app.nonce, None
    )
    forged = replace(
        app, auth_certificate_sha256=None, sign_signature=signer(card_a.sign_key)(unbound)
    )
    assert refused(verifier, forged, world) is Reason.NOT_SAME_SESSION


# --- the format on the wire ---------------------------------------------------------------


def test_the_binding_survives_json(challenges, world, card_a):
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    wire = app.to_json()
    assert wire["document"]["format"] == APPLICATION_FORMAT == "jpki-kiosk/enrolment-2"
    assert EnrolmentApplication.from_json(wire) == app


def test_a_format_1_application_is_refused_with_its_reason(challenges, world, card_a):
    wire = bound_application(
        PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a
    ).to_json()
    del wire["document"]["auth_certificate_sha256"]
    wire["document"]["format"] = "jpki-kiosk/enrolment-1"
    with pytest.raises(Refused) as e:
        EnrolmentApplication.from_json(wire)
    assert e.value.reason is Reason.MALFORMED
    assert "format 1" in str(e.value) and APPLICATION_FORMAT in str(e.value)


def test_a_document_without_the_auth_digest_is_malformed(challenges, world, card_a):
    wire = bound_application(
        PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a
    ).to_json()
    del wire["document"]["auth_certificate_sha256"]
    with pytest.raises(Refused) as e:
        EnrolmentApplication.from_json(wire)
    assert e.value.reason is Reason.MALFORMED


# --- both cards' secrets, and the serial service ------------------------------------------


def test_two_cards_with_both_secrets_pair_unless_the_serial_service_says_no(
    world, index, challenges, card_a, card_b
):
    """The residual risk: one person with both cards and both secrets can sign each half for
    the other card. Only the issuer's serial service tells the pair is not one card's."""
    n = nonce(challenges, world)
    colluding = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a, auth_card=card_b)
    assert Verifier(world.trust, index, challenges).verify_enrolment(colluding, world.now).ok

    service = MemorySerialService.from_test_pki(world.pki)
    verifier = Verifier(world.trust, index, challenges, serial_service=service)
    n = nonce(challenges, world)
    colluding = bound_application(
        PROVIDER,
        TERMINAL,
        n,
        sign_card=card_b,
        auth_card=card_a,
        account_ref="patient-43",
        four_info=PERSON_B,
    )
    assert refused(verifier, colluding, world) is Reason.SERIAL_MISMATCH
    assert service.asked == [ref(card_b.sign_cert, world, "sign")]


def test_the_serial_service_confirms_one_cards_pair(world, index, challenges, card_a):
    service = MemorySerialService.from_test_pki(world.pki)
    verifier = Verifier(world.trust, index, challenges, serial_service=service)
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    verdict = verifier.verify_enrolment(app, world.now)
    assert (verdict.ok, verdict.reason) == (True, Reason.OK)
    assert service.asked == [ref(card_a.sign_cert, world, "sign")]
    assert linked_account(verifier, challenges, world, card_a) == "patient-42"


@pytest.mark.parametrize("named", ["another card's", "none"])
def test_a_pair_the_serial_service_does_not_confirm_is_refused(
    world, index, challenges, card_a, card_b, named
):
    pairs = {}
    if named == "another card's":
        pairs = {ref(card_a.sign_cert, world, "sign"): ref(card_b.auth_cert, world, "auth")}
    verifier = Verifier(world.trust, index, challenges, serial_service=MemorySerialService(pairs))
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    verdict = verifier.verify_enrolment(app, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.SERIAL_MISMATCH)
    # the verdict names the pair that was refused
    assert (verdict.sign_serial, verdict.auth_serial) == (
        ref(card_a.sign_cert, world, "sign").serial,
        ref(card_a.auth_cert, world, "auth").serial,
    )
    assert index.entries[-1].link_to is None
    assert linked_account(verifier, challenges, world, card_a) is None


def test_an_unreachable_serial_service_fails_closed(world, index, challenges, card_a):
    service = UnreachableSerialService()
    verifier = Verifier(world.trust, index, challenges, serial_service=service)
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    verdict = verifier.verify_enrolment(app, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.SERIAL_UNAVAILABLE)
    assert service.asked == [ref(card_a.sign_cert, world, "sign")]
    assert index.entries[-1].link_to is None and index.entries[-1].challenge is not None
    # the challenge is used up: the same application again is a replay
    assert verifier.verify_enrolment(app, world.now).reason is Reason.CHALLENGE_REPLAYED


def test_an_unreachable_serial_service_fails_the_online_path_closed(
    world, index, challenges, card_a
):
    verifier = Verifier(world.trust, index, challenges, serial_service=UnreachableSerialService())
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    online_doc = application_document(
        PROVIDER, TERMINAL, "patient-42", DEFAULT_PERSON, app.nonce, None
    )
    online = replace(
        app,
        auth_proof=None,
        auth_certificate_sha256=None,
        sign_signature=signer(card_a.sign_key)(online_doc),
    )
    assert refused(verifier, online, world) is Reason.SERIAL_UNAVAILABLE


def test_the_serial_service_is_not_asked_about_a_broken_binding(
    world, index, challenges, card_a, card_b
):
    service = MemorySerialService.from_test_pki(world.pki)
    verifier = Verifier(world.trust, index, challenges, serial_service=service)
    n = nonce(challenges, world)
    honest_a = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a)
    b_half = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a, auth_card=card_b)
    forged = replace(honest_a, auth_proof=b_half.auth_proof)
    assert refused(verifier, forged, world) is Reason.NOT_SAME_SESSION
    assert service.asked == []


# --- docs/proof-format.md §2 --------------------------------------------------------------


def test_worked_example_of_the_docs():
    import hashlib
    from datetime import UTC, datetime

    from kiosk.jpki_facts import sha256_digest_info
    from kiosk.verify.challenge import ChallengeService

    r = bytes(range(32))
    service = ChallengeService(keys=[r], random=lambda n: r)
    nonce = service.issue("demo-clinic", "kiosk-1", datetime(2026, 1, 5, 9, tzinfo=UTC)).nonce
    auth_digest, sign_digest = bytes(range(0x20, 0x40)), bytes(range(0x40, 0x60))
    document = application_document(
        "demo-clinic", "kiosk-1", "patient-42", DEFAULT_PERSON, nonce, auth_digest
    )
    assert document.decode() == (
        '{"account_ref":"patient-42",'
        '"auth_certificate_sha256":"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",'
        '"format":"jpki-kiosk/enrolment-2","four_info":{"address":"テスト県テスト市試験町1-2-3",'
        '"birth_date":"1980-02-17","name":"試験\u3000太郎","sex":"male"},'
        '"nonce":"AgABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fAAZHoE/VkgDkpjNcRrXxC0WWLbq5dFq/'
        'SwwJr2UIfqd05bk1Vy8K4w==","provider_id":"demo-clinic","terminal_id":"kiosk-1"}'
    )
    assert hashlib.sha256(document).hexdigest() == (
        "4039b98f0dfa18a4b01682d9411df35b564a6deec4fffd412db6b4754da43bb4"
    )
    message = auth_binding_message("demo-clinic", "kiosk-1", nonce, sign_digest)
    assert message.hex() == (
        "9c5f4b9848d5b690090ca63afa49cf9ea37fa8c5b8224f39f421f79de37664d7"
        "b9454a9a0eb0946dfb139f16fe13610ecc83ef42a2a716b909e5b4400e4844e0"
        "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    )
    assert sha256_digest_info(message).hex() == (
        "3031300d060960864801650304020105000420"
        "07207bdb553919932f8800ee94f9342e9e99a53d21de00b8595458da6e8cec79"
    )


# --- on the store (SQLite and PostgreSQL) -------------------------------------------------


@pytest.fixture
def sql_verifier(store_url, world, challenges):
    from kiosk.store.engine import Database
    from kiosk.store.verification import SqlVerificationStore
    from kiosk.verify.crl import check_crl

    db = Database(store_url)
    store = SqlVerificationStore(db)
    for which in ("auth", "sign"):
        store.replace(check_crl(world.crl(which), world.trust, world.now), world.now)
    yield Verifier(world.trust, store, challenges)
    db.dispose()


def test_on_the_store_two_cards_are_refused_and_one_cards_pair_is_linked(
    sql_verifier, challenges, world, card_a, card_b
):
    n = nonce(challenges, world)
    honest_a = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a)
    b_half = bound_application(PROVIDER, TERMINAL, n, sign_card=card_a, auth_card=card_b)
    forged = replace(honest_a, auth_proof=b_half.auth_proof)
    verdict = sql_verifier.verify_enrolment(forged, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.NOT_SAME_SESSION)
    assert linked_account(sql_verifier, challenges, world, card_b) is None
    assert linked_account(sql_verifier, challenges, world, card_a) is None

    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    assert sql_verifier.verify_enrolment(app, world.now).ok
    assert linked_account(sql_verifier, challenges, world, card_a) == "patient-42"
    assert linked_account(sql_verifier, challenges, world, card_b) is None


@pytest.mark.parametrize("field", ["account_ref", "name", "address"])
def test_a_lone_surrogate_in_the_application_is_a_recorded_malformed_refusal(
    verifier, challenges, world, card_a, field
):
    """Text that is not Unicode cannot have been signed: refused and recorded with its
    challenge used up, never an exception out of the verifier (the platform refuses such a
    body earlier, at its request boundary)."""
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    if field == "account_ref":
        bad = replace(app, account_ref="patient-\ud800")
    else:
        bad = replace(app, four_info=replace(app.four_info, **{field: "\ud800"}))
    assert refused(verifier, bad, world) is Reason.MALFORMED
    assert verifier.verify_enrolment(app, world.now).reason is Reason.CHALLENGE_REPLAYED


@pytest.mark.parametrize("field", ["provider_id", "terminal_id"])
def test_a_lone_surrogate_in_an_id_is_malformed_and_spoils_no_challenge(
    verifier, challenges, world, card_a, field
):
    """Ids that are not identifiers claim no challenge (a foreign attempt must not use up
    another terminal's): refused, and the genuine application still enrols."""
    app = bound_application(PROVIDER, TERMINAL, nonce(challenges, world), sign_card=card_a)
    bad = replace(app, **{field: getattr(app, field) + "\ud800"})
    assert refused(verifier, bad, world) is Reason.MALFORMED
    assert verifier.verify_enrolment(app, world.now).ok

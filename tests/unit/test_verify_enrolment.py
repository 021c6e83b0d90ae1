"""Enrolment: both keys from one card in one session, the 4 info as typed, the online path.

(The binding of the two halves to one card, and the serial service's confirmation of the
pair, are in test_enrolment_binding.py.)"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from cryptography import x509
from enrolment_support import MemorySerialService
from test_verify_support import PROVIDER, TERMINAL, make_proof, sign

from kiosk.demo.verification import MemoryVerificationStore
from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.enrolment import (
    EnrolmentApplication,
    application_document,
    four_info_matches,
    make_application,
    normalise_text,
)
from kiosk.verify.profile import BasicFourInfo
from kiosk.verify.verdict import CertRef, Reason
from kiosk.verify.verifier import Verifier

pytest_plugins = ["test_verify_support"]


def serial(der: bytes) -> int:
    return x509.load_der_x509_certificate(der).serial_number


def application(
    world,
    challenges,
    *,
    four_info=DEFAULT_PERSON,
    sign_cert=None,
    sign_key=None,
    auth_cert=None,
    auth_key=None,
    online=False,
    account_ref="patient-42",
    now=None,
):
    """A signed application as the kiosk would send it; online=True for the online path (the
    signature half alone, naming no authentication certificate)."""
    c = challenges.issue(PROVIDER, TERMINAL, now or world.now)
    sign_cert, sign_key = sign_cert or world.sign_cert, sign_key or world.sign_key
    if online:
        doc = application_document(PROVIDER, TERMINAL, account_ref, four_info, c.nonce, None)
        return EnrolmentApplication(
            PROVIDER,
            TERMINAL,
            account_ref,
            four_info,
            c.nonce,
            sign_cert,
            sign(sign_key, doc),
            None,
            None,
        )
    return make_application(
        PROVIDER,
        TERMINAL,
        account_ref,
        four_info,
        c.nonce,
        sign_cert,
        auth_cert or world.auth_cert,
        sign=lambda message: sign(sign_key, message),
        authenticate=lambda message: sign(auth_key or world.auth_key, message),
    )


def verdict_reason(verifier, app, world, now=None) -> Reason:
    verdict = verifier.verify_enrolment(app, now or world.now)
    assert not verdict.ok
    return verdict.reason


def test_happy_path(verifier, challenges, world):
    verdict = verifier.verify_enrolment(application(world, challenges), world.now)
    assert verdict.ok and verdict.reason is Reason.OK
    assert (verdict.sign_serial, verdict.sign_issuer_key_id) == (
        serial(world.sign_cert),
        world.key_id("sign"),
    )
    assert (verdict.auth_serial, verdict.auth_issuer_key_id) == (
        serial(world.auth_cert),
        world.key_id("auth"),
    )


def test_application_json_round_trip(challenges, world):
    app = application(world, challenges)
    assert EnrolmentApplication.from_json(app.to_json()) == app


def test_document_is_canonical_json():
    doc = application_document("p", "t", "acc", DEFAULT_PERSON, b"\x01\x02", bytes(32))
    assert (
        doc
        == (
            '{"account_ref":"acc","auth_certificate_sha256":'
            '"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","format":"jpki-kiosk/enrolment-2",'
            '"four_info":{"address":"テスト県テスト市試験町1-2-3","birth_date":"1980-02-17",'
            '"name":"試験\u3000太郎","sex":"male"},"nonce":"AQI=","provider_id":"p",'
            '"terminal_id":"t"}'
        ).encode()
    )


def test_online_document_names_no_authentication_certificate():
    doc = application_document("p", "t", "acc", DEFAULT_PERSON, b"\x01\x02", None)
    assert b'"auth_certificate_sha256":null' in doc


def test_typed_4_info_is_compared_up_to_width_spaces_and_dashes():
    typed = replace(DEFAULT_PERSON, name="試験 太郎", address="テスト県テスト市試験町１−２ー３")
    assert four_info_matches(typed, DEFAULT_PERSON)
    assert normalise_text("ｼｹﾝ　ﾀﾛｳ") == "シケンタロウ"
    assert not four_info_matches(replace(DEFAULT_PERSON, name="試験 次郎"), DEFAULT_PERSON)
    assert not four_info_matches(replace(DEFAULT_PERSON, sex="female"), DEFAULT_PERSON)
    assert not four_info_matches(
        replace(DEFAULT_PERSON, birth_date=date(1980, 2, 18)), DEFAULT_PERSON
    )


def test_four_info_mismatch(verifier, challenges, world):
    typed = BasicFourInfo("試験　花子", DEFAULT_PERSON.address, DEFAULT_PERSON.birth_date, "female")
    app = application(world, challenges, four_info=typed)
    assert verdict_reason(verifier, app, world) is Reason.FOUR_INFO_MISMATCH


def test_auth_cert_offered_as_application(verifier, challenges, world):
    app = application(world, challenges, sign_cert=world.auth_cert, sign_key=world.auth_key)
    assert verdict_reason(verifier, app, world) is Reason.WRONG_KEY_PURPOSE


def test_sign_cert_offered_as_the_auth_part(verifier, challenges, world):
    app = application(world, challenges, auth_cert=world.sign_cert, auth_key=world.sign_key)
    assert verdict_reason(verifier, app, world) is Reason.WRONG_KEY_PURPOSE


def test_auth_signature_from_another_session(verifier, challenges, world):
    app = application(world, challenges)
    other = challenges.issue(PROVIDER, TERMINAL, world.now)
    app = replace(app, auth_proof=make_proof(world, other))
    assert verdict_reason(verifier, app, world) is Reason.NOT_SAME_SESSION


def test_one_key_in_both_certificates(verifier, challenges, world):
    # an auth certificate for the signature key pair: not the card's two distinct keys
    twin = world.odd_cert("auth", subject_key=world.sign_key)
    app = application(world, challenges, auth_cert=twin, auth_key=world.sign_key)
    verdict = verifier.verify_enrolment(app, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.NOT_SAME_SESSION)
    assert verdict.message == "Both certificates carry the same key."


def test_document_altered_after_signing(verifier, challenges, world):
    app = replace(application(world, challenges), account_ref="patient-43")
    assert verdict_reason(verifier, app, world) is Reason.BAD_SIGNATURE


def test_bad_auth_signature(verifier, challenges, world):
    app = application(world, challenges, auth_key=world.other_key)
    assert verdict_reason(verifier, app, world) is Reason.BAD_SIGNATURE


def test_replayed_application(verifier, challenges, world):
    app = application(world, challenges)
    assert verifier.verify_enrolment(app, world.now).ok
    assert verdict_reason(verifier, app, world) is Reason.CHALLENGE_REPLAYED


def test_expired_sign_cert(verifier, challenges, world):
    old = world.odd_cert(
        "sign",
        not_before=world.now - timedelta(days=900),
        not_after=world.now - timedelta(days=1),
    )
    app = application(world, challenges, sign_cert=old)
    assert verdict_reason(verifier, app, world) is Reason.EXPIRED


def test_revoked_sign_cert(world, challenges, index):
    index.import_crl(
        verify_crl_in(world.crl("sign", [serial(world.sign_cert)]), world.trust, world.now)
    )
    verifier = Verifier(world.trust, index, challenges)
    assert verdict_reason(verifier, application(world, challenges), world) is Reason.REVOKED


def test_revoked_auth_cert(world, challenges, index):
    index.import_crl(
        verify_crl_in(world.crl("auth", [serial(world.auth_cert)]), world.trust, world.now)
    )
    verdict = Verifier(world.trust, index, challenges).verify_enrolment(
        application(world, challenges), world.now
    )
    assert (verdict.ok, verdict.reason) == (False, Reason.REVOKED)
    assert verdict.sign_serial == serial(world.sign_cert)  # the sign part had passed


def test_sign_crl_missing(world, challenges):
    verifier = Verifier(world.trust, MemoryVerificationStore(), challenges)
    assert verdict_reason(verifier, application(world, challenges), world) is Reason.CRL_MISSING


# --- the online path: only the signature certificate, the auth serial from the issuer ----


def online_verifier(world, index, challenges):
    service = MemorySerialService.from_test_pki(world.pki)
    return Verifier(world.trust, index, challenges, serial_service=service)


def test_online_path(world, challenges, index):
    verifier = online_verifier(world, index, challenges)
    verdict = verifier.verify_enrolment(application(world, challenges, online=True), world.now)
    assert verdict.ok
    assert verdict.auth_serial == serial(world.auth_cert)
    assert verdict.auth_issuer_key_id == world.key_id("auth")


def test_online_path_without_a_serial_service(verifier, challenges, world):
    app = application(world, challenges, online=True)
    assert verdict_reason(verifier, app, world) is Reason.SERIAL_UNAVAILABLE


def test_online_path_for_a_card_the_issuer_does_not_know(world, challenges, index):
    stranger = world.odd_cert("sign")  # issued by the CA but not recorded in its index
    app = application(world, challenges, sign_cert=stranger, online=True)
    assert verdict_reason(online_verifier(world, index, challenges), app, world) is (
        Reason.SERIAL_UNAVAILABLE
    )


def test_online_path_with_revoked_auth_cert(world, challenges, index):
    index.import_crl(
        verify_crl_in(world.crl("auth", [serial(world.auth_cert)]), world.trust, world.now)
    )
    app = application(world, challenges, online=True)
    assert verdict_reason(online_verifier(world, index, challenges), app, world) is (Reason.REVOKED)


def test_serial_service_pairs_each_card(world):
    service = MemorySerialService.from_test_pki(world.pki)
    sign_ref = CertRef(serial(world.sign_cert), world.key_id("sign"))
    assert service.auth_serial_for(sign_ref, world.now) == CertRef(
        serial(world.auth_cert), world.key_id("auth")
    )
    assert service.auth_serial_for(CertRef(1, world.key_id("sign")), world.now) is None


# --- the link an accepted enrolment makes, recorded with its verdict ----------------------


def test_an_accepted_enrolment_is_recorded_with_its_link(verifier, challenges, world, index):
    app = application(world, challenges)
    verdict = verifier.verify_enrolment(app, world.now)
    assert verdict.ok
    (entry,) = index.entries
    assert entry.link_to is not None and entry.link_to.account_ref == "patient-42"
    proof = make_proof(world, challenges.issue(PROVIDER, TERMINAL, world.now))
    linked = verifier.verify_user_proof(proof, world.now)
    assert (linked.account_ref, linked.linked_at) == ("patient-42", world.now)


def test_a_refused_enrolment_links_nothing(verifier, challenges, world, index):
    app = application(world, challenges, four_info=replace(DEFAULT_PERSON, name="試験　花子"))
    assert verdict_reason(verifier, app, world) is Reason.FOUR_INFO_MISMATCH
    assert index.entries[-1].link_to is None
    proof = make_proof(world, challenges.issue(PROVIDER, TERMINAL, world.now))
    assert verifier.verify_user_proof(proof, world.now).account_ref is None


def test_a_card_linked_to_another_account_here_is_refused(verifier, challenges, world, index):
    assert verifier.verify_enrolment(application(world, challenges), world.now).ok
    other = application_for(world, challenges, "patient-43")
    verdict = verifier.verify_enrolment(other, world.now)
    assert (verdict.ok, verdict.reason) == (False, Reason.LINK_EXISTS)
    assert index.entries[-1].challenge is not None  # the challenge is used up
    assert verdict_reason(verifier, other, world) is Reason.CHALLENGE_REPLAYED
    proof = make_proof(world, challenges.issue(PROVIDER, TERMINAL, world.now))
    assert verifier.verify_user_proof(proof, world.now).account_ref == "patient-42"


def test_re_enrolment_of_the_same_account_moves_its_link(verifier, challenges, world, index):
    assert verifier.verify_enrolment(application(world, challenges), world.now).ok
    later = world.now + timedelta(hours=1)
    assert verifier.verify_enrolment(application(world, challenges, now=later), later).ok
    proof = make_proof(world, challenges.issue(PROVIDER, TERMINAL, later))
    linked = verifier.verify_user_proof(proof, later)
    assert (linked.account_ref, linked.linked_at) == ("patient-42", world.now)  # since the first


def application_for(world, challenges, account_ref: str) -> EnrolmentApplication:
    return application(world, challenges, account_ref=account_ref)

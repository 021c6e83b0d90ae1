"""The algorithm seam: RSA (today's card) and ECDSA P-384 (the next-generation card) proofs are
accepted under their own anchor groups, and every mismatch is refused with its own reason."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from kiosk.demo.verification import MemoryVerificationStore
from kiosk.jpki_facts import sha256_digest_info
from kiosk.pki.authority import (
    Generation,
    TestPki,
    generate_ec_key,
    generate_key,
    init_pki,
    make_end_entity,
    validity_end,
)
from kiosk.pki.cardfile import CardFile
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.scheme import (
    P384_ORDER,
    SchemeName,
    ecdsa_der_to_raw,
    ecdsa_raw_to_der,
    scheme_for_key,
)
from kiosk.verify.trust import (
    CURRENT_CARD,
    NEXT_CARD,
    AnchorGroup,
    TokenClass,
    TrustError,
    TrustStore,
)
from kiosk.verify.verdict import Reason, Refused
from kiosk.verify.verifier import Verifier

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
NEXT = Generation.NEXT


class Cards:
    """A PKI with both generations, one card of each, and a verifier over all four CRLs."""

    def __init__(self, directory: Path) -> None:
        self.pki: TestPki = init_pki(directory)
        self.current: CardFile = self.pki.issue_card()
        self.next: CardFile = self.pki.issue_card(generation=NEXT)
        self.now = datetime.now(UTC)  # after the CRLs' thisUpdate
        self.trust = TrustStore.from_dir(self.pki.trust_dir)
        self.store = MemoryVerificationStore()
        for generation in Generation:
            for which in ("auth", "sign"):
                crl = self.pki.crl_der(which, generation)
                self.store.import_crl(verify_crl_in(crl, self.trust, self.now))
        self.challenges = ChallengeService()
        self.verifier = Verifier(self.trust, self.store, self.challenges)

    def odd_cert(self, generation: Generation, subject_key: object) -> bytes:
        cert = make_end_entity(
            "auth",
            self.pki.ca_certificate("auth", generation),
            self.pki.ca_key("auth", generation),
            subject_key,  # type: ignore[arg-type]
            not_before=self.now - timedelta(days=1),
            not_after=self.now + timedelta(days=365),
        )
        return cert.public_bytes(serialization.Encoding.DER)

    def proof(self, certificate: bytes, signer) -> UserProof:  # type: ignore[no-untyped-def]
        nonce = self.challenges.issue(PROVIDER, TERMINAL, self.now).nonce
        message = signed_message(PROVIDER, TERMINAL, nonce)
        return UserProof(PROVIDER, TERMINAL, nonce, certificate, signer(message))

    def reason(self, proof: UserProof) -> Reason:
        return self.verifier.verify_user_proof(proof, self.now).reason


def key_of(slot_pem: bytes):  # type: ignore[no-untyped-def]
    return serialization.load_pem_private_key(slot_pem, password=None)


def rsa_signer(key: rsa.RSAPrivateKey):  # type: ignore[no-untyped-def]
    return lambda m: key.sign(m, PKCS1v15(), hashes.SHA256())


def card_ecdsa_signer(key: ec.EllipticCurvePrivateKey):  # type: ignore[no-untyped-def]
    """What the next-generation card answers: r ‖ s, raw."""
    return lambda m: ecdsa_der_to_raw(key.sign(m, ec.ECDSA(hashes.SHA384())))


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> Cards:
    return Cards(tmp_path_factory.mktemp("ng") / "pki")


# --- acceptance ------------------------------------------------------------------------------


def test_today_card_is_accepted_with_rsa(cards: Cards) -> None:
    proof = cards.proof(
        cards.current.auth.certificate, rsa_signer(key_of(cards.current.auth.private_key_pem))
    )
    verdict = cards.verifier.verify_user_proof(proof, cards.now)
    assert verdict.ok, verdict.message


def test_next_generation_card_is_accepted_with_ecdsa_p384(cards: Cards) -> None:
    key = key_of(cards.next.auth.private_key_pem)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
    proof = cards.proof(cards.next.auth.certificate, card_ecdsa_signer(key))
    assert len(proof.signature) == 96
    verdict = cards.verifier.verify_user_proof(proof, cards.now)
    assert verdict.ok, verdict.message
    anchor = cards.trust.by_key_id(verdict.issuer_key_id or "")
    assert anchor is not None and anchor.group is NEXT_CARD


def test_trust_dir_groups_each_anchor_by_its_own_key(cards: Cards) -> None:
    groups = sorted((a.group.name, a.purpose) for a in cards.trust)
    assert groups == [
        ("card-ecdsa-p384", "auth"),
        ("card-ecdsa-p384", "sign"),
        ("card-rsa", "auth"),
        ("card-rsa", "sign"),
    ]


# --- the next-generation test PKI --------------------------------------------------------------


def test_next_generation_certificates_are_p384_sha384_and_run_to_the_tenth_birthday(
    cards: Cards,
) -> None:
    for slot in (cards.next.auth, cards.next.sign):
        cert = x509.load_der_x509_certificate(slot.certificate)
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA384)
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    auth = x509.load_der_x509_certificate(cards.next.auth.certificate)
    birth = date(1980, 2, 17)  # the default test person's
    assert auth.not_valid_after_utc == validity_end(birth, auth.not_valid_before_utc, 10)
    years = (auth.not_valid_after_utc - auth.not_valid_before_utc).days / 365.25
    assert 9 < years <= 10


def test_next_generation_crl_is_signed_by_its_own_ecdsa_root(cards: Cards) -> None:
    serial = x509.load_der_x509_certificate(cards.next.auth.certificate).serial_number
    der = cards.pki.revoke(
        serial, "auth", x509.ReasonFlags.superseded, generation=NEXT, now=cards.now
    )
    crl = x509.load_der_x509_crl(der)
    root = cards.pki.ca_certificate("auth", NEXT)
    assert isinstance(crl.signature_hash_algorithm, hashes.SHA384)
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    store = MemoryVerificationStore()
    store.import_crl(verify_crl_in(der, cards.trust, cards.now))
    verifier = Verifier(cards.trust, store, cards.challenges)
    proof = cards.proof(
        cards.next.auth.certificate, card_ecdsa_signer(key_of(cards.next.auth.private_key_pem))
    )
    assert verifier.verify_user_proof(proof, cards.now).reason is Reason.REVOKED


def test_revoking_under_the_wrong_generation_is_refused(cards: Cards) -> None:
    from kiosk.pki.authority import PkiError

    serial = x509.load_der_x509_certificate(cards.next.sign.certificate).serial_number
    with pytest.raises(PkiError, match="sign-next"):
        cards.pki.revoke(serial, "sign")


# --- every mismatch, its own reason ----------------------------------------------------------


def test_rsa_key_under_the_ecdsa_anchor_is_scheme_not_allowed(cards: Cards) -> None:
    key = generate_key()
    proof = cards.proof(cards.odd_cert(NEXT, key), rsa_signer(key))
    assert cards.reason(proof) is Reason.SCHEME_NOT_ALLOWED


def test_p384_key_under_the_rsa_anchor_is_scheme_not_allowed(cards: Cards) -> None:
    key = generate_ec_key()
    proof = cards.proof(cards.odd_cert(Generation.CURRENT, key), card_ecdsa_signer(key))
    assert cards.reason(proof) is Reason.SCHEME_NOT_ALLOWED


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP521R1(), ec.BrainpoolP384R1()])
def test_ec_key_on_another_curve_is_wrong_curve(cards: Cards, curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    proof = cards.proof(cards.odd_cert(NEXT, key), lambda m: key.sign(m, ec.ECDSA(hashes.SHA384())))
    assert cards.reason(proof) is Reason.WRONG_CURVE


def test_short_rsa_key_is_weak(cards: Cards) -> None:
    key = generate_key(1024)
    proof = cards.proof(cards.odd_cert(Generation.CURRENT, key), rsa_signer(key))
    assert cards.reason(proof) is Reason.WEAK_KEY


def test_key_type_of_no_scheme_is_weak(cards: Cards) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    proof = cards.proof(cards.odd_cert(NEXT, key.public_key()), key.sign)
    assert cards.reason(proof) is Reason.WEAK_KEY


def test_der_encoded_ecdsa_signature_is_not_the_cards_form(cards: Cards) -> None:
    key = key_of(cards.next.auth.private_key_pem)
    proof = cards.proof(
        cards.next.auth.certificate, lambda m: key.sign(m, ec.ECDSA(hashes.SHA384()))
    )
    assert cards.reason(proof) is Reason.BAD_SIGNATURE


def test_ecdsa_over_sha256_does_not_verify(cards: Cards) -> None:
    key = key_of(cards.next.auth.private_key_pem)
    proof = cards.proof(
        cards.next.auth.certificate,
        lambda m: ecdsa_der_to_raw(key.sign(m, ec.ECDSA(hashes.SHA256()))),
    )
    assert cards.reason(proof) is Reason.BAD_SIGNATURE


def test_rsa_signature_of_the_wrong_length_is_bad(cards: Cards) -> None:
    sign = rsa_signer(key_of(cards.current.auth.private_key_pem))
    proof = cards.proof(cards.current.auth.certificate, lambda m: b"\x00" + sign(m))
    assert cards.reason(proof) is Reason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "raw",
    [
        bytes(96),  # r = s = 0
        b"\x00" * 47 + b"\x01" + P384_ORDER.to_bytes(48, "big"),  # s = n
        b"\xff" * 96,  # both above n
        b"\x01" * 95,  # one byte short
        b"\x01" * 97,
        b"",
    ],
)
def test_raw_signatures_out_of_range_are_bad(cards: Cards, raw: bytes) -> None:
    with pytest.raises(InvalidSignature):
        ecdsa_raw_to_der(raw)
    proof = cards.proof(cards.next.auth.certificate, lambda m: raw)
    assert cards.reason(proof) is Reason.BAD_SIGNATURE


def test_enrolment_of_a_next_generation_card_checks_both_keys_in_their_scheme(
    cards: Cards,
) -> None:
    from kiosk.verify.enrolment import EnrolmentApplication, certificate_digest

    nonce = cards.challenges.issue(PROVIDER, TERMINAL, cards.now).nonce
    from kiosk.pki.authority import DEFAULT_PERSON

    sign_key = key_of(cards.next.sign.private_key_pem)
    auth_key = key_of(cards.next.auth.private_key_pem)
    app = EnrolmentApplication(
        provider_id=PROVIDER,
        terminal_id=TERMINAL,
        account_ref="acct-ng",
        four_info=DEFAULT_PERSON,
        nonce=nonce,
        sign_certificate=cards.next.sign.certificate,
        sign_signature=b"",
        auth_proof=None,
        auth_certificate_sha256=certificate_digest(cards.next.auth.certificate),
    )
    app = _signed(app, sign_key, auth_key, cards)
    verdict = cards.verifier.verify_enrolment(app, cards.now)
    assert verdict.ok, verdict.message


def _signed(app, sign_key, auth_key, cards):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    sign_signature = card_ecdsa_signer(sign_key)(app.document())
    proof = UserProof(
        PROVIDER,
        TERMINAL,
        app.nonce,
        cards.next.auth.certificate,
        card_ecdsa_signer(auth_key)(app.auth_message()),
    )
    return replace(app, sign_signature=sign_signature, auth_proof=proof)


# --- the seam's pieces ------------------------------------------------------------------------


def test_card_input_is_a_digest_info_for_rsa_and_a_bare_sha384_for_ecdsa() -> None:
    message = b"M" * 64
    rsa_scheme = scheme_for_key(generate_key().public_key(), CURRENT_CARD.schemes)
    ec_scheme = scheme_for_key(generate_ec_key().public_key(), NEXT_CARD.schemes)
    assert rsa_scheme.card_input(message) == sha256_digest_info(message)
    assert ec_scheme.card_input(message) == hashlib.sha384(message).digest()
    assert (rsa_scheme.signature_length, ec_scheme.signature_length) == (256, 96)


def test_raw_signature_round_trips_to_der() -> None:
    key = generate_ec_key()
    der_sig = key.sign(b"x", ec.ECDSA(hashes.SHA384()))
    assert decode_dss_signature(ecdsa_raw_to_der(ecdsa_der_to_raw(der_sig))) == (
        decode_dss_signature(der_sig)
    )


def test_a_further_group_is_data_a_phone_ca_for_instance(cards: Cards, tmp_path: Path) -> None:
    phone = AnchorGroup("phone", TokenClass.PHONE, frozenset({SchemeName.RSA_PKCS1V15_SHA256}))
    phone_dir = tmp_path / "phone"
    phone_dir.mkdir()
    other = init_pki(tmp_path / "phone-pki")
    (phone_dir / "auth.pem").write_bytes(
        other.ca_certificate("auth").public_bytes(serialization.Encoding.PEM)
    )
    trust = TrustStore.from_dirs(cards.pki.trust_dir, [(phone, phone_dir)])
    assert len(trust) == 5
    phone_anchor = [a for a in trust if a.group is phone]
    assert len(phone_anchor) == 1 and phone_anchor[0].group.token is TokenClass.PHONE
    ec_key = generate_ec_key()
    with pytest.raises(Refused) as refused:
        scheme_for_key(ec_key.public_key(), phone.schemes)
    assert refused.value.reason is Reason.SCHEME_NOT_ALLOWED


def test_trust_dir_refuses_an_anchor_of_no_card_group(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "odd CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    (tmp_path / "odd.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(TrustError, match="no card group"):
        TrustStore.from_dir(tmp_path)

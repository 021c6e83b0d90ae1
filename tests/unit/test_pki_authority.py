"""The test PKI: the two CA hierarchies, card certificates, CRLs and their persistence."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID

from kiosk.pki.authority import (
    CPS_URI,
    DEFAULT_PERSON,
    PkiError,
    TestPki,
    card_serials,
    generate_key,
    init_pki,
    load_pki,
    make_end_entity,
    validity_end,
)
from kiosk.pki.cardfile import CardFile, load_card, save_card
from kiosk.verify import profile
from kiosk.verify.profile import BasicFourInfo, classify, parse_basic_four

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def spare_keys():
    """Two card keys reused by tests that issue cards, to keep key generation out of them."""
    return generate_key(), generate_key()


@pytest.fixture(scope="module")
def ca_keys():
    return generate_key(), generate_key()


@pytest.fixture
def pki(tmp_path, ca_keys) -> TestPki:
    """A fresh PKI per test (fresh state), on CA keys made once per module."""
    return init_pki(tmp_path / "pki", now=NOW, ca_keys=ca_keys)


def _cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _verifies(cert, issuer) -> bool:
    try:
        issuer.public_key().verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


# --- The CAs ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["auth", "sign"])
def test_ca_is_a_self_signed_rsa2048_root_that_says_test(test_pki, which):
    ca = test_pki.ca_certificate(which)
    assert ca.subject == ca.issuer
    ca.verify_directly_issued_by(ca)
    assert ca.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    key = ca.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert key.public_numbers().e == 65537
    attrs = [(a.oid, a.value) for a in ca.subject]
    ou = (
        "JPKI for user authentication (TEST)"
        if which == "auth"
        else "JPKI for digital signature (TEST)"
    )
    assert attrs == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "jpki-kiosk test authority"),
    ]
    types = [a._type for a in ca.subject]
    assert types[0] == _ASN1Type.PrintableString
    assert types[1:] == [_ASN1Type.UTF8String] * 3
    assert "J-LIS" not in ca.subject.rfc4514_string()
    assert "Japan Agency for Local Authority" not in ca.subject.rfc4514_string()


@pytest.mark.parametrize("which", ["auth", "sign"])
def test_ca_extensions_are_the_real_set_in_the_real_order(test_pki, which):
    ca = test_pki.ca_certificate(which)
    assert [(e.oid, e.critical) for e in ca.extensions] == [
        (ExtensionOID.KEY_USAGE, True),
        (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, False),
        (ExtensionOID.BASIC_CONSTRAINTS, True),
        (ExtensionOID.CRL_DISTRIBUTION_POINTS, False),
        (ExtensionOID.SUBJECT_KEY_IDENTIFIER, False),
    ]
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length is None
    (dp,) = ca.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert dp.full_name == [x509.DirectoryName(ca.subject)]
    (alt,) = ca.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert isinstance(alt, x509.DirectoryName)
    assert "公的個人認証サービス" in alt.value.rfc4514_string()
    assert "TEST" in alt.value.rfc4514_string()


def test_the_two_hierarchies_are_separate(test_pki, card_file):
    auth_ca, sign_ca = test_pki.ca_certificate("auth"), test_pki.ca_certificate("sign")
    assert auth_ca.subject != sign_ca.subject
    assert auth_ca.public_key() != sign_ca.public_key()
    auth, sign = _cert(card_file.auth.certificate), _cert(card_file.sign.certificate)
    auth.verify_directly_issued_by(auth_ca)
    sign.verify_directly_issued_by(sign_ca)
    with pytest.raises(ValueError):
        auth.verify_directly_issued_by(sign_ca)
    with pytest.raises(ValueError):
        sign.verify_directly_issued_by(auth_ca)
    # Not only the names: the signatures do not verify under the other CA's key either.
    assert _verifies(auth, auth_ca) and not _verifies(auth, sign_ca)
    assert _verifies(sign, sign_ca) and not _verifies(sign, auth_ca)


# --- Card certificates ------------------------------------------------------------------


def test_auth_certificate_profile(test_pki, card_file):
    cert = _cert(card_file.auth.certificate)
    assert cert.issuer == test_pki.ca_certificate("auth").subject
    (cn,) = cert.subject
    assert cn.oid == NameOID.COMMON_NAME
    assert len(cn.value) == 23 and cn.value.isalnum() and cn.value == cn.value.upper()
    assert [(e.oid, e.critical) for e in cert.extensions] == [
        (ExtensionOID.KEY_USAGE, True),
        (ExtensionOID.CERTIFICATE_POLICIES, True),
        (ExtensionOID.ISSUER_ALTERNATIVE_NAME, False),
        (ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False),
    ]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.content_commitment and not ku.key_cert_sign
    (policy,) = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert policy.policy_identifier == profile.AUTH_POLICY
    assert classify(cert) == "auth"
    with pytest.raises(profile.ProfileError):
        parse_basic_four(cert)  # no personal data at all


def test_sign_certificate_profile(test_pki, card_file):
    cert = _cert(card_file.sign.certificate)
    assert cert.issuer == test_pki.ca_certificate("sign").subject
    attrs = [(a.oid, a.value) for a in cert.subject]
    assert attrs[:3] == [
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.LOCALITY_NAME, "Tesuto-ken"),
        (NameOID.LOCALITY_NAME, "Tesuto-shi"),
    ]
    assert attrs[3][0] == NameOID.COMMON_NAME and len(attrs[3][1]) == 23
    assert [(e.oid, e.critical) for e in cert.extensions] == [
        (ExtensionOID.KEY_USAGE, True),
        (ExtensionOID.CERTIFICATE_POLICIES, True),
        (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, False),
        (ExtensionOID.ISSUER_ALTERNATIVE_NAME, False),
        (ExtensionOID.AUTHORITY_KEY_IDENTIFIER, False),
    ]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    (policy,) = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert policy.policy_identifier == profile.SIGN_POLICY
    assert policy.policy_qualifiers == [CPS_URI]
    (ian,) = cert.extensions.get_extension_for_class(x509.IssuerAlternativeName).value
    assert ian.value.rfc4514_string().startswith("O=公的個人認証サービス(TEST)")
    assert classify(cert) == "sign"
    assert parse_basic_four(cert) == DEFAULT_PERSON


@pytest.mark.parametrize("which", ["auth", "sign"])
def test_card_keys_and_aki(test_pki, card_file, which):
    slot = getattr(card_file, which)
    cert = _cert(slot.certificate)
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    key = serialization.load_pem_private_key(slot.private_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048 and key.public_key().public_numbers().e == 65537
    assert key.public_key() == cert.public_key()
    ca = test_pki.ca_certificate(which)
    assert slot.ca_certificate == ca.public_bytes(serialization.Encoding.DER)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_card_file_pins_and_counters(card_file):
    assert (card_file.auth.pin, card_file.auth.max_retries, card_file.auth.retries_left) == (
        "1234",
        3,
        3,
    )
    assert (card_file.sign.pin, card_file.sign.max_retries, card_file.sign.retries_left) == (
        "ABC123",
        5,
        5,
    )
    assert card_file.token_label == "JPKIAPICCTOKEN2"
    assert card_file.auth.private_key_pem != card_file.sign.private_key_pem
    assert _cert(card_file.auth.certificate).subject != _cert(card_file.sign.certificate).subject


def test_issue_card_for_a_given_person(pki, spare_keys):
    person = BasicFourInfo("山田\u3000花子", "テスト県テスト市2-3-4", date(2001, 7, 7), "female")
    card = pki.issue_card(
        person,
        pin="0000",
        sign_password="PASSWORD2024",
        now=NOW,
        keys=spare_keys,
        locality=("Tokyo-to", "Kiyose-shi"),
    )
    sign = _cert(card.sign.certificate)
    assert parse_basic_four(sign) == person
    assert [a.value for a in sign.subject][:3] == ["JP", "Tokyo-to", "Kiyose-shi"]
    assert (card.auth.pin, card.sign.pin) == ("0000", "PASSWORD2024")
    for cert in (sign, _cert(card.auth.certificate)):
        assert cert.not_valid_before_utc == NOW
        # 5th birthday after 2026-04-01: 2026, 27, 28, 29, 2030-07-07, end of day JST.
        assert cert.not_valid_after_utc == datetime(2030, 7, 7, 14, 59, 59, tzinfo=UTC)


def test_issue_card_with_explicit_validity(pki, spare_keys):
    start, end = NOW - timedelta(days=400), NOW - timedelta(days=35)
    card = pki.issue_card(now=NOW, validity=(start, end), keys=spare_keys)
    for slot in (card.auth, card.sign):
        cert = _cert(slot.certificate)
        assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, end)
    with pytest.raises(PkiError):
        pki.issue_card(now=NOW, validity=(end, start), keys=spare_keys)


def test_issue_card_with_a_small_key(pki):
    card = pki.issue_card(now=NOW, key_size=1024)
    assert _cert(card.auth.certificate).public_key().key_size == 1024


@pytest.mark.parametrize(
    ("pin", "password"),
    [
        ("123", "ABC123"),
        ("12345", "ABC123"),
        ("12a4", "ABC123"),
        ("１２３４", "ABC123"),
        ("1234", "ABC12"),
        ("1234", "abc123"),
        ("1234", "A" * 17),
        ("1234", "ABC-123"),
    ],
)
def test_issue_card_refuses_bad_pin_formats(test_pki, spare_keys, pin, password):
    before = len(test_pki.issued())
    with pytest.raises(PkiError):
        test_pki.issue_card(pin=pin, sign_password=password, now=NOW, keys=spare_keys)
    assert len(test_pki.issued()) == before


def test_times_must_be_timezone_aware(test_pki, spare_keys):
    with pytest.raises(PkiError, match="timezone"):
        test_pki.issue_card(now=datetime(2026, 1, 1), keys=spare_keys)  # noqa: DTZ001


# --- Validity rule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "issued", "end"),
    [
        # The SOL fixture: issued 2025-10-27, valid to 2030-02-17.
        (date(1980, 2, 17), datetime(2025, 10, 27, 1, 0, tzinfo=UTC), date(2030, 2, 17)),
        # Issued on the birthday itself: that birthday does not count.
        (date(1980, 2, 17), datetime(2025, 2, 17, 1, 0, tzinfo=UTC), date(2030, 2, 17)),
        # The day before the birthday (in JST): it counts.
        (date(1980, 2, 17), datetime(2025, 2, 16, 14, 0, tzinfo=UTC), date(2029, 2, 17)),
        # 00:30 JST on the birthday is already the birthday.
        (date(1980, 2, 17), datetime(2025, 2, 16, 15, 30, tzinfo=UTC), date(2030, 2, 17)),
        # 29 February: 28 February in common years.
        (date(2000, 2, 29), datetime(2025, 1, 1, tzinfo=UTC), date(2029, 2, 28)),
        (date(2000, 2, 29), datetime(2023, 6, 1, tzinfo=UTC), date(2028, 2, 29)),
    ],
)
def test_validity_ends_on_the_fifth_birthday_after_issuance(birth, issued, end):
    expected = datetime(end.year, end.month, end.day, 14, 59, 59, tzinfo=UTC)  # 23:59:59 JST
    assert validity_end(birth, issued) == expected


# --- Odd certificates -------------------------------------------------------------------


def test_make_end_entity_for_odd_certificates(test_pki):
    small = generate_key(1024)
    expired = make_end_entity(
        "auth",
        test_pki.ca_certificate("auth"),
        test_pki.ca_key("auth"),
        small.public_key(),
        not_before=NOW - timedelta(days=10),
        not_after=NOW - timedelta(days=1),
        serial=4242,
        subject_id="A" * 23,
    )
    assert expired.serial_number == 4242
    assert expired.public_key().key_size == 1024
    assert expired.not_valid_after_utc < NOW
    assert expired.subject.rfc4514_string() == "CN=" + "A" * 23
    expired.verify_directly_issued_by(test_pki.ca_certificate("auth"))
    # A sign certificate under the auth CA: chains, but is not an auth certificate.
    wrong = make_end_entity(
        "sign",
        test_pki.ca_certificate("auth"),
        test_pki.ca_key("auth"),
        small,
        not_before=NOW,
        not_after=NOW + timedelta(days=1),
    )
    wrong.verify_directly_issued_by(test_pki.ca_certificate("auth"))
    assert classify(wrong) == "sign"
    with pytest.raises(PkiError):
        make_end_entity(
            "both",  # type: ignore[arg-type]
            wrong,
            small,
            small,
            not_before=NOW,
            not_after=NOW + timedelta(days=1),
        )


# --- CRLs -------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["auth", "sign"])
def test_initial_crls_are_empty_signed_and_fresh(pki, which):
    crl = x509.load_der_x509_crl(pki.crl_der(which))
    ca = pki.ca_certificate(which)
    assert crl.issuer == ca.subject
    assert crl.is_signature_valid(ca.public_key())
    assert len(crl) == 0
    assert crl.last_update_utc == NOW
    assert crl.next_update_utc == NOW + timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert crl.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert (pki.crl_dir / f"{which}.crl").read_bytes() == pki.crl_der(which)


def test_revoke_publishes_a_signed_crl_with_the_serial_and_reason(pki, spare_keys):
    card = pki.issue_card(now=NOW, keys=spare_keys)
    serials = card_serials(card)
    later = NOW + timedelta(hours=5)
    der = pki.revoke(serials["sign"], "sign", x509.ReasonFlags.affiliation_changed, now=later)
    assert der == pki.crl_der("sign")
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(pki.ca_certificate("sign").public_key())
    assert not crl.is_signature_valid(pki.ca_certificate("auth").public_key())
    entry = crl.get_revoked_certificate_by_serial_number(serials["sign"])
    assert entry is not None
    assert entry.revocation_date_utc == later
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.affiliation_changed
    assert crl.last_update_utc == later and crl.next_update_utc == later + timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    # The other CA's CRL is untouched, and the auth certificate is not on either list.
    auth_crl = x509.load_der_x509_crl(pki.crl_der("auth"))
    assert len(auth_crl) == 0
    assert crl.get_revoked_certificate_by_serial_number(serials["auth"]) is None


def test_revocations_accumulate_and_unspecified_has_no_reason_code(pki):
    first = pki.revoke(11, "auth", None, now=NOW)
    second = pki.revoke(12, "auth", x509.ReasonFlags.unspecified, now=NOW + timedelta(1))
    third = pki.revoke(13, "auth", x509.ReasonFlags.key_compromise, now=NOW + timedelta(2))
    assert len(x509.load_der_x509_crl(first)) == 1
    crl = x509.load_der_x509_crl(third)
    assert sorted(e.serial_number for e in crl) == [11, 12, 13]
    for serial in (11, 12):
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        assert len(entry.extensions) == 0
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 4
    assert x509.load_der_x509_crl(second) != crl


def test_revoke_refuses_twice_and_the_wrong_ca(pki, spare_keys):
    card = pki.issue_card(now=NOW, keys=spare_keys)
    serials = card_serials(card)
    pki.revoke(serials["auth"], "auth", now=NOW)
    with pytest.raises(PkiError, match="already revoked"):
        pki.revoke(serials["auth"], "auth", now=NOW)
    with pytest.raises(PkiError, match="sign CA"):
        pki.revoke(serials["sign"], "auth", now=NOW)
    with pytest.raises(PkiError):
        pki.revoke(serials["sign"], "both", now=NOW)  # type: ignore[arg-type]
    assert len(x509.load_der_x509_crl(pki.crl_der("auth"))) == 1


def test_publish_crl_refreshes_with_a_chosen_next_update(pki):
    pki.revoke(77, "sign", now=NOW)
    at = NOW + timedelta(days=3)
    der = pki.publish_crl("sign", now=at, next_update=at + timedelta(hours=1))
    crl = x509.load_der_x509_crl(der)
    assert crl.last_update_utc == at
    assert crl.next_update_utc == at + timedelta(hours=1)
    assert [e.serial_number for e in crl] == [77]


def test_crl_validity_is_configurable(tmp_path, ca_keys):
    pki = init_pki(tmp_path / "p", now=NOW, crl_validity=timedelta(hours=6), ca_keys=ca_keys)
    assert pki.crl("auth").next_update_utc == NOW + timedelta(hours=6)
    der = pki.revoke(5, "auth", now=NOW + timedelta(hours=1))
    assert x509.load_der_x509_crl(der).next_update_utc == NOW + timedelta(hours=7)
    with pytest.raises(PkiError):
        init_pki(tmp_path / "q", crl_validity=timedelta(0))


# --- On disk ----------------------------------------------------------------------------


def test_layout_and_permissions(pki):
    assert sorted(p.name for p in pki.trust_dir.iterdir()) == ["auth-ca.pem", "sign-ca.pem"]
    assert sorted(p.name for p in pki.crl_dir.iterdir()) == ["auth.crl", "sign.crl"]
    for which in ("auth", "sign"):
        pem = (pki.trust_dir / f"{which}-ca.pem").read_bytes()
        assert x509.load_pem_x509_certificate(pem) == pki.ca_certificate(which)
        mode = stat.S_IMODE(os.stat(pki.ca_key_path(which)).st_mode)
        assert mode == 0o600
    assert stat.S_IMODE(os.stat(pki.private_dir).st_mode) == 0o700


def test_state_persists_across_load(pki, spare_keys, tmp_path):
    card = pki.issue_card(now=NOW, keys=spare_keys)
    serials = card_serials(card)
    pki.revoke(serials["sign"], "sign", x509.ReasonFlags.superseded, now=NOW)
    again = load_pki(pki.directory)
    assert again.ca_certificate("auth") == pki.ca_certificate("auth")
    assert again.ca_key("sign").private_numbers() == pki.ca_key("sign").private_numbers()
    assert [(r.serial, r.kind) for r in again.issued()] == [
        (serials["auth"], "auth"),
        (serials["sign"], "sign"),
    ]
    assert again.issued()[0].not_before == NOW
    (rev,) = again.revocations("sign")
    assert (rev.serial, rev.revoked_at, rev.reason) == (
        serials["sign"],
        NOW,
        x509.ReasonFlags.superseded,
    )
    assert again.revocations("auth") == []
    assert again.crl_der("sign") == pki.crl_der("sign")
    # Revoking through the reloaded PKI keeps the earlier entry and bumps the number.
    crl = x509.load_der_x509_crl(again.revoke(serials["auth"], "auth", now=NOW))
    assert [e.serial_number for e in crl] == [serials["auth"]]
    sign_crl = again.crl("sign")
    assert [e.serial_number for e in sign_crl] == [serials["sign"]]
    # The card file written by save_card round-trips too.
    save_card(tmp_path / "card.json", card)
    assert load_card(tmp_path / "card.json") == card
    assert isinstance(card, CardFile)


def test_init_refuses_to_overwrite(pki):
    before = pki.ca_certificate_path("auth").read_bytes()
    with pytest.raises(PkiError, match="refusing"):
        init_pki(pki.directory)
    assert pki.ca_certificate_path("auth").read_bytes() == before


def test_init_in_an_existing_empty_directory(tmp_path, ca_keys):
    init_pki(tmp_path, now=NOW, ca_keys=ca_keys)
    assert (
        load_pki(tmp_path).crl("sign").issuer == load_pki(tmp_path).ca_certificate("sign").subject
    )


def test_load_errors(tmp_path):
    with pytest.raises(PkiError, match="no test PKI"):
        load_pki(tmp_path / "missing")
    (tmp_path / "pki.json").write_text('{"format": "something else"}')
    with pytest.raises(PkiError, match="not a test PKI"):
        load_pki(tmp_path)
    (tmp_path / "pki.json").write_text("not json")
    with pytest.raises(PkiError):
        load_pki(tmp_path)

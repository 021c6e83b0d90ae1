"""The JPKI profile: OIDs, the basic 4 info in subjectAltName, era digits, certificate kinds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from kiosk.pki.authority import DEFAULT_PERSON, generate_key, make_ca, make_end_entity
from kiosk.verify import profile
from kiosk.verify.profile import (
    BasicFourInfo,
    ProfileError,
    classify,
    decode_birth_date,
    encode_birth_date,
    era_digit,
    parse_basic_four,
)

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def key():
    return generate_key()


@pytest.fixture(scope="module")
def ca(key):
    return make_ca(
        "sign", key, not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=3650)
    )


def _sign_cert(ca, key, person=None):
    return make_end_entity(
        "sign", ca, key, key, not_before=NOW, not_after=NOW + timedelta(days=30), person=person
    )


def _cert_with(key, extensions):
    """A bare certificate with exactly the given (extension, critical) pairs."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "X")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(key, hashes.SHA256())


def _utf8(text: str) -> bytes:
    body = text.encode()
    assert len(body) < 128
    return bytes([0x0C, len(body)]) + body


def _ku(*, nr: bool, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(True, nr, False, False, False, cert_sign, cert_sign, False, False)


def _policies(*oids):
    return x509.CertificatePolicies([x509.PolicyInformation(o, None) for o in oids])


# --- OIDs -------------------------------------------------------------------------------


def test_oids_are_the_jpki_ones():
    assert profile.SIGN_POLICY.dotted_string == "1.2.392.200149.8.5.1.1.20"
    assert profile.AUTH_POLICY.dotted_string == "1.2.392.200149.8.5.1.3.30"
    assert profile.TEST_SIGN_POLICY.dotted_string == "1.2.392.200149.8.5.1.0.20"
    assert profile.MOBILE_SIGN_POLICY.dotted_string == "1.2.392.200149.8.5.1.1.40"
    for p in profile.SIGN_POLICIES | profile.AUTH_POLICIES:
        assert p.dotted_string.startswith(profile.POLICY_ARC + ".")
    assert [o.dotted_string for o in profile.SAN_ORDER] == [
        "1.2.392.200149.8.5.5.1",  # 氏名
        "1.2.392.200149.8.5.5.4",  # 生年月日
        "1.2.392.200149.8.5.5.3",  # 性別
        "1.2.392.200149.8.5.5.5",  # 住所
        "1.2.392.200149.8.5.5.2",  # 氏名の代替文字使用位置情報
        "1.2.392.200149.8.5.5.6",  # 住所の代替文字使用位置情報
    ]


# --- Birth date -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "digit"),
    [
        (date(1868, 1, 24), "0"),
        (date(1868, 1, 25), "1"),  # 明治
        (date(1912, 7, 29), "1"),
        (date(1912, 7, 30), "2"),  # 大正
        (date(1926, 12, 24), "2"),
        (date(1926, 12, 25), "3"),  # 昭和
        (date(1989, 1, 7), "3"),
        (date(1989, 1, 8), "4"),  # 平成
        (date(2019, 4, 30), "4"),
        (date(2019, 5, 1), "5"),  # 令和
        (date(2024, 12, 31), "5"),
    ],
)
def test_era_digit_at_each_boundary(day, digit):
    assert era_digit(day) == digit


def test_birth_date_is_era_digit_then_gregorian_date():
    assert encode_birth_date(date(1980, 2, 17)) == "319800217"
    assert encode_birth_date(date(2019, 5, 1)) == "520190501"
    assert decode_birth_date("319800217") == date(1980, 2, 17)
    assert decode_birth_date("019800217") == date(1980, 2, 17)  # 0 = 不明 is accepted


@pytest.mark.parametrize("text", ["19800217", "3198002170", "619800217", "3198002AB", "319800230"])
def test_malformed_birth_dates_are_refused(text):
    with pytest.raises(ProfileError):
        decode_birth_date(text)


# --- The basic 4 info -------------------------------------------------------------------


def test_person_validation():
    with pytest.raises(ProfileError):
        BasicFourInfo(name=" ", address="a", birth_date=date(2000, 1, 1), sex="male")
    with pytest.raises(ProfileError):
        BasicFourInfo(name="a", address="", birth_date=date(2000, 1, 1), sex="male")
    with pytest.raises(ProfileError):
        BasicFourInfo(name="a", address="住" * 201, birth_date=date(2000, 1, 1), sex="male")
    with pytest.raises(ProfileError):
        BasicFourInfo(name="a", address="b", birth_date=date(2000, 1, 1), sex="other")  # type: ignore[arg-type]
    BasicFourInfo(name="a", address="住" * 200, birth_date=date(2000, 1, 1), sex="female")


def test_default_person_is_plainly_fictitious():
    assert "試験" in DEFAULT_PERSON.name
    assert "テスト" in DEFAULT_PERSON.address


@pytest.mark.parametrize(
    "person",
    [
        DEFAULT_PERSON,
        BasicFourInfo("山田\u3000花子", "東京都千代田区霞が関1-2-3", date(1999, 12, 31), "female"),
        BasicFourInfo("髙橋\u3000﨑子", "テスト県" + "長" * 196, date(1925, 3, 3), "unknown"),
        BasicFourInfo("令和\u3000一郎", "テスト県テスト市", date(2019, 5, 1), "male"),
    ],
)
def test_basic_four_round_trips(ca, key, person):
    assert parse_basic_four(_sign_cert(ca, key, person)) == person


def test_san_encoding_is_other_name_utf8string_in_card_order(ca, key):
    person = BasicFourInfo("試験\u3000花子", "テスト県1", date(1989, 1, 8), "unknown")
    san = _sign_cert(ca, key, person).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert not san.critical
    others = list(san.value)
    assert all(isinstance(o, x509.OtherName) for o in others)
    assert [o.type_id for o in others] == list(profile.SAN_ORDER)
    assert [o.value for o in others] == [
        _utf8("試験\u3000花子"),
        _utf8("419890108"),
        _utf8("9"),  # unknown, per JIS X 0303
        _utf8("テスト県1"),
        _utf8("00000"),  # one digit per character, U+3000 included
        _utf8("00000"),
    ]


def test_san_wrapping_is_explicit_context_zero(ca, key):
    """The DER of each otherName is `[0] EXPLICIT UTF8String` (A0 len 0C len text)."""
    der = _sign_cert(ca, key).public_bytes(serialization.Encoding.DER)
    needle = b"\xa0\x03\x0c\x011"  # sex "1" of the default (male) person
    assert needle in der


def _san_cert(key, others):
    return _cert_with(key, [(x509.SubjectAlternativeName(others), False)])


def _others(values):
    return [x509.OtherName(x509.ObjectIdentifier(oid), raw) for oid, raw in values]


GOOD = [
    ("1.2.392.200149.8.5.5.6", _utf8("00")),
    ("1.2.392.200149.8.5.5.5", _utf8("住所")),
    ("1.2.392.200149.8.5.5.3", _utf8("2")),
    ("1.2.392.200149.8.5.5.4", _utf8("420000229")),
    ("1.2.392.200149.8.5.5.1", _utf8("名前")),
]


def test_parse_is_tolerant_of_order_and_of_other_entries(key):
    others = _others(GOOD) + [x509.RFC822Name("x@example.invalid")]
    info = parse_basic_four(_san_cert(key, others))
    assert info == BasicFourInfo("名前", "住所", date(2000, 2, 29), "female")


@pytest.mark.parametrize("code", ["0", "3", "9"])
def test_unknown_sex_codes_read_as_unknown(key, code):
    values = [(o, _utf8(code)) if o.endswith(".3") else (o, v) for o, v in GOOD]
    assert parse_basic_four(_san_cert(key, _others(values))).sex == "unknown"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([v for v in GOOD if not v[0].endswith(".3")], "lacks"),
        ([(o, _utf8("7")) if o.endswith(".3") else (o, v) for o, v in GOOD], "sex"),
        ([(o, b"\x13\x012") if o.endswith(".3") else (o, v) for o, v in GOOD], "UTF8String"),
        ([(o, b"\x0c\x02\xff\xfe") if o.endswith(".1") else (o, v) for o, v in GOOD], "UTF-8"),
        (GOOD + [("1.2.392.200149.8.5.5.1", _utf8("別名"))], "repeats"),
        ([(o, _utf8("0x")) if o.endswith(".6") else (o, v) for o, v in GOOD], "0 and 1"),
        ([(o, _utf8("3198")) if o.endswith(".4") else (o, v) for o, v in GOOD], "birth"),
    ],
)
def test_malformed_san_gives_profile_error(key, values, message):
    with pytest.raises(ProfileError, match=message):
        parse_basic_four(_san_cert(key, _others(values)))


def test_certificate_without_san_is_not_a_signature_certificate(key):
    with pytest.raises(ProfileError, match="subjectAltName"):
        parse_basic_four(_cert_with(key, []))


# --- classify ---------------------------------------------------------------------------


def test_classify_card_and_ca_certificates(ca, key):
    auth = make_end_entity("auth", ca, key, key, not_before=NOW, not_after=NOW + timedelta(days=1))
    assert classify(auth) == "auth"
    assert classify(_sign_cert(ca, key)) == "sign"
    assert classify(ca) is None


@pytest.mark.parametrize(
    ("extensions", "kind"),
    [
        ([(_ku(nr=False), True), (_policies(profile.AUTH_POLICY), True)], "auth"),
        ([(_ku(nr=True), True), (_policies(profile.SIGN_POLICY), True)], "sign"),
        ([(_ku(nr=True), True), (_policies(profile.TEST_SIGN_POLICY), True)], "sign"),
        ([(_ku(nr=True), True), (_policies(profile.AUTH_POLICY), True)], None),
        ([(_ku(nr=False), True), (_policies(profile.SIGN_POLICY), True)], None),
        ([(_ku(nr=False), True)], None),
        ([(_policies(profile.AUTH_POLICY), True)], None),
        (
            [
                (_ku(nr=True), True),
                (_policies(profile.SIGN_POLICY, profile.AUTH_POLICY), True),
            ],
            None,
        ),
        ([(_ku(nr=False, cert_sign=True), True), (_policies(profile.AUTH_POLICY), True)], None),
        (
            [
                (_ku(nr=False), True),
                (_policies(profile.AUTH_POLICY), True),
                (x509.BasicConstraints(ca=True, path_length=None), True),
            ],
            None,
        ),
    ],
)
def test_classify_needs_key_usage_and_policy_to_agree(key, extensions, kind):
    assert classify(_cert_with(key, extensions)) == kind


@pytest.mark.parametrize(
    "raw", [b"", b"\x0c", b"\x0c\x052", b"\x0c\x80", b"\x0c\x84\x00\x00\x00\x01a"]
)
def test_bad_utf8string_lengths_are_refused(raw):
    with pytest.raises(ProfileError):
        profile._read_utf8string(raw, "value")


def test_long_utf8string_lengths_decode():
    text = "住" * 200
    assert profile._read_utf8string(profile._utf8string(text), "value") == text


def test_a_certificate_with_a_duplicated_extension_is_neither_classified_nor_read(ca, key):
    from der_support import cert_with, der_of

    der = cert_with(der_of(_sign_cert(ca, key)), key, duplicate_extension=True)
    bad = x509.load_der_x509_certificate(der)  # loads: the extensions are parsed on access
    assert profile.classify(bad) is None
    with pytest.raises(ProfileError):
        parse_basic_four(bad)

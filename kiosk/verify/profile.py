"""The JPKI certificate profile: OIDs, the basic 4 info (基本4情報) and certificate kinds.

What verification checks a card's certificates against, and what the test PKI builds its
certificates to. Pure functions over `cryptography` objects; no I/O, no clock. Facts are from
`shared/jpki-card.md` §3; where that file marks a fact uncertain the decision taken here is
noted next to the constant.

The signature certificate carries the basic 4 info in its subjectAltName as
`otherName { type-id, [0] EXPLICIT UTF8String }`:

    1.2.392.200149.8.5.5.1  氏名 (surname U+3000 given name)
    1.2.392.200149.8.5.5.2  氏名の代替文字使用位置情報 (one "0"/"1" per character of the name)
    1.2.392.200149.8.5.5.3  性別: "1" male, "2" female, "9" unknown (see SEX_CODES)
    1.2.392.200149.8.5.5.4  生年月日: era digit + Gregorian YYYYMMDD, e.g. "319800217"
    1.2.392.200149.8.5.5.5  住所 (no postcode, at most 200 characters)
    1.2.392.200149.8.5.5.6  住所の代替文字使用位置情報

A real card orders them 1, 4, 3, 5, 2, 6; this module writes that order and reads any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from cryptography import x509

from kiosk.errors import KioskError
from kiosk.jpki_facts import Which

Sex = Literal["male", "female", "unknown"]


class ProfileError(KioskError, ValueError):
    """A certificate or a person's data does not fit the JPKI profile."""

    code = "jpki_profile"


# --- OIDs -------------------------------------------------------------------------------

#: jpki-certificatePolicy arc.
POLICY_ARC: Final = "1.2.392.200149.8.5.1"
#: 署名用 (signature) certificate on a physical card: jpki-cp-sign-class20.
SIGN_POLICY: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.20")
#: 利用者証明用 (user authentication) certificate: jpki-cp-auth-class30.
AUTH_POLICY: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.1.3.30")
#: Signature certificate issued in J-LIS's own test environment [L].
TEST_SIGN_POLICY: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.1.0.20")
#: Signature certificate held by a smartphone (スマホ用電子証明書) [L, unverified].
MOBILE_SIGN_POLICY: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.1.1.40")
#: Every policy that marks a signature certificate. The verifier decides which it accepts.
SIGN_POLICIES: Final = frozenset({SIGN_POLICY, TEST_SIGN_POLICY, MOBILE_SIGN_POLICY})
#: Every policy that marks an authentication certificate.
AUTH_POLICIES: Final = frozenset({AUTH_POLICY})

OID_NAME: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_NAME_ALT_CHARS: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.2")
OID_SEX: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_BIRTH_DATE: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_ADDRESS_ALT_CHARS: Final = x509.ObjectIdentifier("1.2.392.200149.8.5.5.6")

#: The order a real card writes the otherNames in.
SAN_ORDER: Final = (
    OID_NAME,
    OID_BIRTH_DATE,
    OID_SEX,
    OID_ADDRESS,
    OID_NAME_ALT_CHARS,
    OID_ADDRESS_ALT_CHARS,
)

# --- Sex codes --------------------------------------------------------------------------

#: 性別 codes written. "1"/"2" are certain. For unknown the sources conflict ("3" in one blog,
#: "9" per JIS X 0303 / ISO 5218 "not applicable"); this project writes "9".
SEX_CODES: Final[dict[Sex, str]] = {"male": "1", "female": "2", "unknown": "9"}
#: Codes read. "0" (ISO 5218 "not known") and "3" (the blog's value) also read as unknown.
_SEX_FROM_CODE: Final[dict[str, Sex]] = {
    "1": "male",
    "2": "female",
    "0": "unknown",
    "3": "unknown",
    "9": "unknown",
}

# --- Eras -------------------------------------------------------------------------------

#: Era digits of 生年月日 and the Gregorian day each era began (明治 from its first day,
#: 1868-01-25; dates before that, and unknown dates, get "0" = 不明).
ERAS: Final = (
    ("5", date(2019, 5, 1)),  # 令和
    ("4", date(1989, 1, 8)),  # 平成
    ("3", date(1926, 12, 25)),  # 昭和
    ("2", date(1912, 7, 30)),  # 大正
    ("1", date(1868, 1, 25)),  # 明治
)

MAX_ADDRESS_LENGTH: Final = 200


def era_digit(day: date) -> str:
    """The JPKI era digit (1 明治 … 5 令和, 0 不明) of a Gregorian date."""
    for digit, start in ERAS:
        if day >= start:
            return digit
    return "0"


def encode_birth_date(day: date) -> str:
    """生年月日 as written in the certificate: era digit + Gregorian YYYYMMDD."""
    return f"{era_digit(day)}{day.year:04d}{day.month:02d}{day.day:02d}"


def decode_birth_date(text: str) -> date:
    """Read `EYYYYMMDD`. The era digit must be 0–5; it is not cross-checked with the date
    (0 = 不明 is legitimate with any date, and a reader should not reject a real card over it)."""
    if len(text) != 9 or not text.isascii() or not text.isdigit() or text[0] not in "012345":
        raise ProfileError(f"birth date {text!r} is not an era digit + YYYYMMDD")
    try:
        return date(int(text[1:5]), int(text[5:7]), int(text[7:9]))
    except ValueError as e:
        raise ProfileError(f"birth date {text!r} is not a calendar date") from e


# --- The basic 4 info -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BasicFourInfo:
    """基本4情報 as carried by a signature certificate (read from a card, or written by the
    test PKI: then test data only, never a real person)."""

    name: str  # 氏名, surname U+3000 given name
    address: str  # 住所, no postcode
    birth_date: date  # 生年月日
    sex: Sex  # 性別

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ProfileError("name must not be empty")
        if not self.address.strip():
            raise ProfileError("address must not be empty")
        if len(self.address) > MAX_ADDRESS_LENGTH:
            raise ProfileError(f"address is longer than {MAX_ADDRESS_LENGTH} characters")
        if self.sex not in SEX_CODES:
            raise ProfileError(f"sex must be one of {', '.join(SEX_CODES)}")
        if not isinstance(self.birth_date, date):
            raise ProfileError("birth_date must be a date")


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _utf8string(text: str) -> bytes:
    body = text.encode("utf-8")
    return b"\x0c" + _der_length(len(body)) + body


def _read_utf8string(der: bytes, what: str) -> str:
    """Decode one DER UTF8String TLV (the content of an otherName's [0] EXPLICIT)."""
    if len(der) < 2 or der[0] != 0x0C:
        raise ProfileError(f"{what} is not a UTF8String")
    first = der[1]
    if first < 0x80:
        length, start = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 3 or len(der) < 2 + n:
            raise ProfileError(f"{what} has a bad length")
        length, start = int.from_bytes(der[2 : 2 + n], "big"), 2 + n
    if start + length != len(der):
        raise ProfileError(f"{what} has a bad length")
    try:
        return der[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProfileError(f"{what} is not valid UTF-8") from e


def basic_four_other_names(person: BasicFourInfo) -> list[x509.GeneralName]:
    """The subjectAltName entries of a signature certificate, in the real card's order.

    The 代替文字使用位置情報 are all "0": test data uses no substitute characters."""
    values = {
        OID_NAME: person.name,
        OID_BIRTH_DATE: encode_birth_date(person.birth_date),
        OID_SEX: SEX_CODES[person.sex],
        OID_ADDRESS: person.address,
        OID_NAME_ALT_CHARS: "0" * len(person.name),
        OID_ADDRESS_ALT_CHARS: "0" * len(person.address),
    }
    return [x509.OtherName(oid, _utf8string(values[oid])) for oid in SAN_ORDER]


def parse_basic_four(cert: x509.Certificate) -> BasicFourInfo:
    """Read the basic 4 info from a signature certificate's subjectAltName, in any order.

    Anything wrong with the certificate is a ProfileError, whatever `cryptography` raises
    while it decodes the extensions lazily (see kiosk.verify.der)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        others = san.get_values_for_type(x509.OtherName)
    except x509.ExtensionNotFound as e:
        raise ProfileError("the certificate has no subjectAltName (not a signature cert)") from e
    except Exception as e:  # an extension that cryptography cannot decode, whatever it raises
        raise ProfileError("the certificate's extensions are malformed") from e
    found: dict[x509.ObjectIdentifier, str] = {}
    for other in others:
        if not other.type_id.dotted_string.startswith("1.2.392.200149.8.5.5."):
            continue
        if other.type_id in found:
            raise ProfileError(f"subjectAltName repeats {other.type_id.dotted_string}")
        found[other.type_id] = _read_utf8string(other.value, other.type_id.dotted_string)
    missing = [
        o.dotted_string for o in (OID_NAME, OID_SEX, OID_BIRTH_DATE, OID_ADDRESS) if o not in found
    ]
    if missing:
        raise ProfileError(f"subjectAltName lacks {', '.join(missing)}")
    sex_code = found[OID_SEX]
    if sex_code not in _SEX_FROM_CODE:
        raise ProfileError(f"unknown sex code {sex_code!r}")
    for oid in (OID_NAME_ALT_CHARS, OID_ADDRESS_ALT_CHARS):
        alt = found.get(oid)
        if alt is not None and not set(alt) <= {"0", "1"}:
            raise ProfileError(f"{oid.dotted_string} must be a string of 0 and 1")
    return BasicFourInfo(
        name=found[OID_NAME],
        address=found[OID_ADDRESS],
        birth_date=decode_birth_date(found[OID_BIRTH_DATE]),
        sex=_SEX_FROM_CODE[sex_code],
    )


# --- Certificate kinds ------------------------------------------------------------------


def _policies(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return set()
    return {p.policy_identifier for p in ext.value}


def classify(cert: x509.Certificate) -> Which | None:
    """The JPKI kind, "auth" or "sign", when key usage and policy agree on a JPKI kind, else None.

    auth: keyUsage digitalSignature without nonRepudiation, policy in AUTH_POLICIES.
    sign: keyUsage digitalSignature + nonRepudiation, policy in SIGN_POLICIES.
    A CA certificate, or one whose key usage and policy disagree, is neither."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if bc.ca:
                return None
        except x509.ExtensionNotFound:
            pass
        policies = _policies(cert)
    except x509.ExtensionNotFound:
        return None
    except Exception:  # malformed or duplicated extensions, whatever cryptography raises
        return None
    if not ku.digital_signature or ku.key_cert_sign or ku.crl_sign:
        return None
    if ku.content_commitment:
        return "sign" if policies & SIGN_POLICIES and not policies & AUTH_POLICIES else None
    return "auth" if policies & AUTH_POLICIES and not policies & SIGN_POLICIES else None

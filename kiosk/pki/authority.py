"""The test PKI: two JPKI-shaped certification authorities, card issuance and CRLs.

Two separate hierarchies, as on the real card: a user-authentication CA (利用者証明用) and a
signature CA (署名用), each a self-signed RSA-2048 root. Their names copy the real ones but say
TEST everywhere (O=JPKI-TEST), so nothing made here can be mistaken for J-LIS.

A next-generation card (`Generation.NEXT`, ../shared/jpki-lifecycle.md §3: ECDSA P-384 with
SHA-384, certificates valid 10 years) comes from two more roots of the same names with P-384
keys, made the first time such a card is issued (`TestPki.issue_card(generation=...)`): they
sign with ECDSA/SHA-384, their card certificates run to the 10th birthday after issuance, and
they publish their own CRLs. Same DNs as today's roots, as every real JPKI generation shares
one DN (the verifier tells them apart by key identifier).

The pure builders (`make_ca`, `make_end_entity`, `make_crl`, `validity_end`) take every time
and key as an argument; tests use them for odd certificates. `TestPki` keeps one PKI on disk:

    DIR/pki.json              state: issued certificates, revocations, CRL numbers, settings
    DIR/trust/auth-ca.pem     the two roots, PEM: the trust anchors a test kiosk pins
    DIR/trust/sign-ca.pem
    DIR/crl/auth.crl          the current CRL of each CA, DER
    DIR/crl/sign.crl
    DIR/crl-delta/auth.crl    the last delta CRL of a CA, when one was issued (publish_delta_crl)
    DIR/private/auth-ca.key   the CA private keys, PKCS#8 PEM, mode 0600 (TEST ONLY)
    DIR/private/sign-ca.key
    DIR/trust/auth-next-ca.pem, DIR/crl/auth-next.crl, DIR/private/auth-next-ca.key, and the
                              same for sign: the next-generation roots, once made

Decisions where shared/jpki-card.md leaves a fact open (marked [L] there):
- certificatePolicies is critical on the auth certificate too (confirmed only for sign). A
  verifier must then handle the critical extension for both kinds, which is the safe side:
  it cannot pass on test cards and fail on real ones.
- Card certificates carry no SKI, CRLDP or AIA (none is confirmed on real ones); the CAs' CRLDP
  is a dirName equal to the CA DN, as on the real roots.
- notAfter is 23:59:59 JST on the 5th birthday after the issuance day (JST); a 29 February
  birthday falls on 28 February in common years.
- The subject ids (CN) are 23 random characters of 0-9A-Z; serials are random (RFC 5280).
- A CA's notBefore is set back one day (CA_BACKDATE) so slightly skewed clocks still agree.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kiosk.clock import JST, utc_now
from kiosk.errors import KioskError
from kiosk.jpki_facts import AUTH_PIN_RE, MAX_TRIES, SIGN_PASSWORD_RE, WHICH, Which
from kiosk.pki.cardfile import CardFile, KeySlot
from kiosk.verify.profile import AUTH_POLICY, SIGN_POLICY, BasicFourInfo, basic_four_other_names

STATE_FORMAT: Final = "jpki-kiosk/test-pki-1"
#: The fictitious holder of a test card when nobody is given: plainly not a real person.
DEFAULT_PERSON: Final = BasicFourInfo(
    name="試験\u3000太郎",
    address="テスト県テスト市試験町1-2-3",
    birth_date=date(1980, 2, 17),
    sex="male",
)
#: Romaji localities for the signature certificate's subject (L=prefecture, L=municipality).
DEFAULT_LOCALITY: Final = ("Tesuto-ken", "Tesuto-shi")
#: The CPS qualifier written into the policies (a synthetic value, as in public fixtures).
CPS_URI: Final = "http://www.jpki.go.jp/cps.html"
DEFAULT_CRL_VALIDITY: Final = timedelta(days=1)
CA_VALIDITY: Final = timedelta(days=3652)  # the real roots are valid for ten years
#: How far a CA's notBefore is set back, so certificates issued "now" on a slightly different
#: clock still fall inside it.
CA_BACKDATE: Final = timedelta(days=1)
_ID_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Generation(StrEnum):
    """Which card generation a CA issues for."""

    CURRENT = "current"  # RSA-2048, SHA-256, certificates to the 5th birthday
    NEXT = "next"  # ECDSA P-384, SHA-384, certificates to the 10th birthday (reported, [M])


#: Birthdays after issuance a card certificate of each generation runs to.
VALIDITY_BIRTHDAYS: Final = {Generation.CURRENT: 5, Generation.NEXT: 10}
#: A private key the test PKI signs with or gives a card: RSA (today) or EC P-384 (next).
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def ca_id(which: Which, generation: Generation = Generation.CURRENT) -> str:
    """The name of one CA in files and state: `auth`, `sign`, `auth-next`, `sign-next`."""
    return which if generation is Generation.CURRENT else f"{which}-{generation.value}"


def _signing_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """SHA-256 for an RSA issuer (today's profile), SHA-384 for a P-384 one (the next)."""
    return hashes.SHA256() if isinstance(key, rsa.RSAPrivateKey) else hashes.SHA384()


class PkiError(KioskError):
    """The test PKI cannot do what was asked (bad input, missing or existing PKI, ...)."""

    code = "pki"


# --- Names ------------------------------------------------------------------------------


def _name(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    # cryptography writes C as PrintableString and O/OU/L/CN as UTF8String, like J-LIS.
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


_CA_OU: Final[dict[Which, str]] = {
    "auth": "JPKI for user authentication (TEST)",
    "sign": "JPKI for digital signature (TEST)",
}
_CA_OU_JA: Final[dict[Which, str]] = {
    "auth": "公的個人認証サービス利用者証明用(TEST)",
    "sign": "公的個人認証サービス署名用(TEST)",
}
TEST_ORGANIZATION: Final = "JPKI-TEST"
TEST_ORGANIZATION_JA: Final = "公的個人認証サービス(TEST)"
TEST_AUTHORITY: Final = "jpki-kiosk test authority"


def ca_name(which: Which) -> x509.Name:
    """The test CA's DN, shaped like J-LIS's (C, O, OU, OU) but saying TEST."""
    return _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, _CA_OU[which]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_AUTHORITY),
    )


def _ca_alt_name(which: Which) -> x509.Name:
    return _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION_JA),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, _CA_OU_JA[which]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "jpki-kiosk 試験用認証局"),
    )


def _issuer_alt_name() -> x509.Name:
    return _name((NameOID.COUNTRY_NAME, "JP"), (NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION_JA))


def new_subject_id() -> str:
    """A fresh opaque 23-character subject id like a real card's (digits and A–Z)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(23))


# --- Pure builders ----------------------------------------------------------------------


def generate_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A new RSA key with e=65537 (the slow part: ~0.1 s for 2048 bits)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ec_key() -> ec.EllipticCurvePrivateKey:
    """A new P-384 key, as the next-generation card's."""
    return ec.generate_private_key(ec.SECP384R1())


def generate_card_key(generation: Generation, bits: int = 2048) -> PrivateKey:
    """A new key of the kind a card of that generation holds."""
    return generate_key(bits) if generation is Generation.CURRENT else generate_ec_key()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PkiError("times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _now(now: datetime | None) -> datetime:
    return _utc(now if now is not None else utc_now())


def _birthday_in(year: int, birth: date) -> date:
    # 29 February falls on 28 February in common years (a project decision).
    if birth.month == 2 and birth.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, birth.month, birth.day)


def validity_end(birth_date: date, issued: datetime, birthdays: int = 5) -> datetime:
    """notAfter of a card certificate: the end (23:59:59 JST) of the holder's 5th birthday
    after the issuance day (発行日から5回目の誕生日まで); `birthdays=10` for the next card."""
    issued_jst = _utc(issued).astimezone(JST).date()
    count, year = 0, issued_jst.year
    while True:
        birthday = _birthday_in(year, birth_date)
        if birthday > issued_jst:
            count += 1
            if count == birthdays:
                break
        year += 1
    end_jst = datetime(birthday.year, birthday.month, birthday.day, 23, 59, 59, tzinfo=JST)
    return end_jst.astimezone(UTC)


def make_ca(
    which: Which,
    key: PrivateKey,
    *,
    not_before: datetime,
    not_after: datetime,
    serial: int | None = None,
) -> x509.Certificate:
    """A self-signed test root with the real JPKI CA extensions, in the real order."""
    name = ca_name(which)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else secrets.randbits(31) | 1 << 24)
        .not_valid_before(_utc(not_before))
        .not_valid_after(_utc(not_after))
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DirectoryName(_ca_alt_name(which))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
    )
    return builder.sign(key, _signing_hash(key))


def _authority_key_id(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = None
    if ski is not None:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    key = issuer_cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise TypeError(f"An issuer signs with RSA or EC, not {type(key).__name__}.")
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(key)


def _key_usage(kind: Which) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=kind == "sign",
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def make_end_entity(
    kind: Which,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    subject_key: PrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    *,
    not_before: datetime,
    not_after: datetime,
    person: BasicFourInfo | None = None,
    serial: int | None = None,
    subject_id: str | None = None,
    locality: tuple[str, str] | None = None,
) -> x509.Certificate:
    """A card certificate of the JPKI profile, signed by any issuer (for odd test certs too).

    auth: subject CN=<id>; keyUsage digitalSignature (critical); the auth policy.
    sign: subject C=JP, L=<prefecture>, L=<municipality>, CN=<id>; keyUsage digitalSignature +
    nonRepudiation (critical); the sign policy; the basic 4 info in subjectAltName.
    Both: certificatePolicies critical (confirmed for sign; chosen for auth), issuerAltName
    dirName, authorityKeyIdentifier. `person` is ignored for auth certificates."""
    if kind not in WHICH:
        raise PkiError(f"kind must be auth or sign, not {kind!r}")
    public_key = (
        subject_key.public_key()
        if isinstance(subject_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        else subject_key
    )
    cn = (NameOID.COMMON_NAME, subject_id or new_subject_id())
    if kind == "auth":
        subject = _name(cn)
    else:
        prefecture, municipality = locality or DEFAULT_LOCALITY
        subject = _name(
            (NameOID.COUNTRY_NAME, "JP"),
            (NameOID.LOCALITY_NAME, prefecture),
            (NameOID.LOCALITY_NAME, municipality),
            cn,
        )
    policy = AUTH_POLICY if kind == "auth" else SIGN_POLICY
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(_utc(not_before))
        .not_valid_after(_utc(not_after))
        .add_extension(_key_usage(kind), critical=True)
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(policy, [CPS_URI])]),
            critical=True,
        )
    )
    if kind == "sign":
        builder = builder.add_extension(
            x509.SubjectAlternativeName(basic_four_other_names(person or DEFAULT_PERSON)),
            critical=False,
        )
    builder = builder.add_extension(
        x509.IssuerAlternativeName([x509.DirectoryName(_issuer_alt_name())]), critical=False
    ).add_extension(_authority_key_id(issuer_cert), critical=False)
    return builder.sign(issuer_key, _signing_hash(issuer_key))


@dataclass(frozen=True, slots=True)
class Revocation:
    """One entry of a CRL."""

    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None = None


def make_crl(
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    revoked: Iterable[Revocation],
    *,
    this_update: datetime,
    next_update: datetime,
    number: int,
    delta_base: int | None = None,
) -> x509.CertificateRevocationList:
    """A CRL signed by the issuer: CRL number, AKI, and a reasonCode on each entry that has a
    reason other than unspecified (RFC 5280 says to omit that one). With `delta_base`, a delta
    CRL on that base CRL number (a critical deltaCRLIndicator, RFC 5280 §5.2.4): its entries
    are the changes since the base, `remove_from_crl` ones taking a serial off."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(_utc(this_update))
        .next_update(_utc(next_update))
        .add_extension(_authority_key_id(issuer_cert), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    if delta_base is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_base), critical=True)
    for entry in revoked:
        rb = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(_utc(entry.revoked_at))
        )
        if entry.reason is not None and entry.reason is not x509.ReasonFlags.unspecified:
            rb = rb.add_extension(x509.CRLReason(entry.reason), critical=False)
        builder = builder.add_revoked_certificate(rb.build())
    return builder.sign(issuer_key, _signing_hash(issuer_key))


# --- PIN formats ------------------------------------------------------------------------


def check_auth_pin(pin: str) -> None:
    """利用者証明用暗証番号: exactly 4 digits."""
    if not AUTH_PIN_RE.fullmatch(pin):
        raise PkiError("the authentication PIN must be exactly 4 digits")


def check_sign_password(password: str) -> None:
    """署名用パスワード: 6 to 16 of A–Z and 0–9."""
    if not SIGN_PASSWORD_RE.fullmatch(password):
        raise PkiError("the signature password must be 6 to 16 characters of A-Z and 0-9")


# --- The PKI on disk --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """One card certificate the PKI issued, as recorded in its index."""

    serial: int
    kind: Which
    subject: str
    not_before: datetime
    not_after: datetime


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _check_which(which: str) -> Which:
    if which not in WHICH:
        raise PkiError(f"which must be auth or sign, not {which!r}")
    return which


class TestPki:
    """A test PKI kept in one directory (see the module docstring for the layout)."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._certs: dict[str, x509.Certificate] = {}  # by ca_id
        self._keys: dict[str, PrivateKey] = {}

    # paths
    @property
    def state_path(self) -> Path:
        return self.directory / "pki.json"

    @property
    def trust_dir(self) -> Path:
        """Both CA certificates as PEM: the trust anchors of a test kiosk."""
        return self.directory / "trust"

    @property
    def crl_dir(self) -> Path:
        """The current CRLs, `auth.crl` and `sign.crl`, DER."""
        return self.directory / "crl"

    @property
    def private_dir(self) -> Path:
        return self.directory / "private"

    def ca_certificate_path(
        self, which: Which, generation: Generation = Generation.CURRENT
    ) -> Path:
        return self.trust_dir / f"{ca_id(_check_which(which), generation)}-ca.pem"

    def ca_key_path(self, which: Which, generation: Generation = Generation.CURRENT) -> Path:
        return self.private_dir / f"{ca_id(_check_which(which), generation)}-ca.key"

    def crl_path(self, which: Which, generation: Generation = Generation.CURRENT) -> Path:
        return self.crl_dir / f"{ca_id(_check_which(which), generation)}.crl"

    # reading
    def ca_certificate(
        self, which: Which, generation: Generation = Generation.CURRENT
    ) -> x509.Certificate:
        """The root certificate of one hierarchy."""
        cid = ca_id(which, generation)
        if cid not in self._certs:
            path = self.ca_certificate_path(which, generation)
            try:
                self._certs[cid] = x509.load_pem_x509_certificate(path.read_bytes())
            except (OSError, ValueError) as e:
                raise PkiError(f"cannot read CA certificate {path}: {e}") from e
        return self._certs[cid]

    def ca_key(self, which: Which, generation: Generation = Generation.CURRENT) -> PrivateKey:
        """The root's private key (tests use it to make odd certificates)."""
        cid = ca_id(which, generation)
        if cid not in self._keys:
            path = self.ca_key_path(which, generation)
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError) as e:
                raise PkiError(f"cannot read CA key {path}: {e}") from e
            if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise PkiError(f"{path} is not an RSA or EC key")
            self._keys[cid] = key
        return self._keys[cid]

    def crl_der(self, which: Which, generation: Generation = Generation.CURRENT) -> bytes:
        """The CRL currently published for one CA, DER."""
        path = self.crl_path(which, generation)
        try:
            return path.read_bytes()
        except OSError as e:
            raise PkiError(f"cannot read CRL {path}: {e.strerror}") from e

    def crl(
        self, which: Which, generation: Generation = Generation.CURRENT
    ) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(self.crl_der(which, generation))

    def issued(self) -> list[IssuedRecord]:
        """Every card certificate issued by this PKI, oldest first."""
        return [
            IssuedRecord(
                serial=int(r["serial"], 16),
                kind=r["kind"],
                subject=r["subject"],
                not_before=datetime.fromisoformat(r["not_before"]),
                not_after=datetime.fromisoformat(r["not_after"]),
            )
            for r in self._read_state()["issued"]
        ]

    def revocations(
        self, which: Which, generation: Generation = Generation.CURRENT
    ) -> list[Revocation]:
        """The entries of one CA's CRL, oldest first."""
        revoked = self._read_state()["revoked"].get(ca_id(which, generation), [])
        return [_revocation_from_json(r) for r in revoked]

    # state file
    def _read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise PkiError(f"no test PKI in {self.directory} (run `kiosk pki init`)") from e
        except (OSError, ValueError) as e:
            raise PkiError(f"cannot read {self.state_path}: {e}") from e
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise PkiError(f"{self.state_path} is not a test PKI state file")
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        _write_atomic(
            self.state_path, (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode()
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the PKI's lock, yield its state, and write the state back on success."""
        lock_path = self.directory / ".lock"
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._read_state()
                yield state
                self._write_state(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # issuing
    def issue_card(
        self,
        person: BasicFourInfo | None = None,
        *,
        pin: str = "1234",
        sign_password: str = "ABC123",  # noqa: S107 - the test card's documented default
        now: datetime | None = None,
        key_size: int = 2048,
        validity: tuple[datetime, datetime] | None = None,
        locality: tuple[str, str] | None = None,
        keys: tuple[PrivateKey, PrivateKey] | None = None,
        generation: Generation = Generation.CURRENT,
    ) -> CardFile:
        """A new virtual card: two key pairs, both certificates, the PINs, full retry counters.

        `person` defaults to a fictitious test person. `validity` (notBefore, notAfter)
        overrides the real rule (until the 5th birthday after issuance; the 10th for the next
        generation); `locality` is the romaji (prefecture, municipality) of the signature
        certificate's subject; `keys` (auth, sign) reuses existing key pairs instead of
        generating new ones. `generation` NEXT issues a next-generation card: P-384 keys under
        the next-generation roots, which are made on first use.

        The index records the card's two certificates as adjacent entries, auth then sign."""
        check_auth_pin(pin)
        check_sign_password(sign_password)
        person = person or DEFAULT_PERSON
        issued_at = _now(now)
        if validity is None:
            birthdays = VALIDITY_BIRTHDAYS[generation]
            not_before, not_after = issued_at, validity_end(person.birth_date, issued_at, birthdays)
        else:
            not_before, not_after = _utc(validity[0]), _utc(validity[1])
        if not_after <= not_before:
            raise PkiError("notAfter must be later than notBefore")
        auth_key, sign_key = keys or (
            generate_card_key(generation, key_size),
            generate_card_key(generation, key_size),
        )
        plan: tuple[tuple[Which, PrivateKey, str, int], ...] = (
            ("auth", auth_key, pin, MAX_TRIES["auth"]),
            ("sign", sign_key, sign_password, MAX_TRIES["sign"]),
        )
        with self._locked() as state:
            if generation is not Generation.CURRENT:
                self._ensure_generation(state, generation, issued_at)
            slots = [
                self._issue_slot(
                    state,
                    kind,
                    key,
                    secret,
                    retries,
                    generation=generation,
                    not_before=not_before,
                    not_after=not_after,
                    issued_at=issued_at,
                    person=person,
                    locality=locality,
                )
                for kind, key, secret, retries in plan
            ]
        return CardFile(auth=slots[0], sign=slots[1], generation=generation.value)

    def _issue_slot(
        self,
        state: dict[str, Any],
        kind: Which,
        key: PrivateKey,
        secret: str,
        retries: int,
        *,
        generation: Generation,
        not_before: datetime,
        not_after: datetime,
        issued_at: datetime,
        person: BasicFourInfo,
        locality: tuple[str, str] | None,
    ) -> KeySlot:
        ca_cert = self.ca_certificate(kind, generation)
        cert = make_end_entity(
            kind,
            ca_cert,
            self.ca_key(kind, generation),
            key,
            not_before=not_before,
            not_after=not_after,
            person=person,
            locality=locality,
        )
        state["issued"].append(
            {
                "serial": f"{cert.serial_number:x}",
                "kind": kind,
                "generation": generation.value,
                "subject": cert.subject.rfc4514_string(),
                "not_before": not_before.isoformat(),
                "not_after": not_after.isoformat(),
                "issued_at": issued_at.isoformat(),
            }
        )
        return KeySlot(
            certificate=cert.public_bytes(serialization.Encoding.DER),
            ca_certificate=ca_cert.public_bytes(serialization.Encoding.DER),
            private_key_pem=_key_pem(key),
            pin=secret,
            max_retries=retries,
            retries_left=retries,
        )

    def _ensure_generation(
        self, state: dict[str, Any], generation: Generation, at: datetime
    ) -> None:
        """Make that generation's two roots and their empty CRLs unless they exist (locked)."""
        for which in WHICH:
            cid = ca_id(which, generation)
            if cid in state["crl_number"]:
                continue
            key = generate_card_key(generation)
            cert = make_ca(which, key, not_before=at - CA_BACKDATE, not_after=at + CA_VALIDITY)
            _write_atomic(self.ca_key_path(which, generation), _key_pem(key), mode=0o600)
            _write_atomic(self.ca_certificate_path(which, generation), _pem(cert))
            self._certs[cid], self._keys[cid] = cert, key
            state["crl_number"][cid] = 0
            state["revoked"][cid] = []
            self._publish(state, which, at, None, generation)

    # revocation
    def revoke(
        self,
        serial: int,
        which: Which,
        reason: x509.ReasonFlags | None = None,
        *,
        now: datetime | None = None,
        generation: Generation = Generation.CURRENT,
    ) -> bytes:
        """Revoke a certificate of one CA, publish that CA's new CRL and return it (DER).

        A serial this PKI did not record (an odd test certificate) may be revoked too."""
        which = _check_which(which)
        cid = ca_id(which, generation)
        at = _now(now)
        with self._locked() as state:
            for record in state["issued"]:
                issuer = ca_id(record["kind"], Generation(record.get("generation", "current")))
                if int(record["serial"], 16) == serial and issuer != cid:
                    raise PkiError(f"serial {serial:x} was issued by the {issuer} CA")
            if cid not in state["revoked"]:
                raise PkiError(f"this PKI has no {cid} CA")
            revoked = state["revoked"][cid]
            if any(int(r["serial"], 16) == serial for r in revoked):
                raise PkiError(f"serial {serial:x} is already revoked")
            revoked.append(
                {
                    "serial": f"{serial:x}",
                    "revoked_at": at.isoformat(),
                    "reason": reason.value if reason is not None else None,
                    # the CRL number it first appears in: what a delta CRL lists
                    "crl_number": int(state["crl_number"][cid]) + 1,
                }
            )
            return self._publish(state, which, at, None, generation)

    def publish_delta_crl(
        self,
        which: Which,
        base: int,
        *,
        removed: Sequence[int] = (),
        now: datetime | None = None,
    ) -> bytes:
        """Issue a delta CRL on the complete CRL numbered `base` (the next number of the one
        sequence both share): the revocations first published after it, and a removeFromCRL
        entry for each serial of `removed`. Written to `crl-delta/<which>.crl` (not beside the
        complete CRLs: a directory import takes complete CRLs only), and returned (DER)."""
        which = _check_which(which)
        at = _now(now)
        with self._locked() as state:
            number = int(state["crl_number"][which]) + 1
            if not 0 < base < number:
                raise PkiError(f"no complete CRL numbered {base} was published before")
            entries = [
                _revocation_from_json(r)
                for r in state["revoked"][which]
                if int(r.get("crl_number", 0)) > base
            ]
            entries += [Revocation(s, at, x509.ReasonFlags.remove_from_crl) for s in removed]
            crl = make_crl(
                self.ca_certificate(which),
                self.ca_key(which),
                entries,
                this_update=at,
                next_update=at + timedelta(seconds=int(state["crl_validity_seconds"])),
                number=number,
                delta_base=base,
            )
            der = crl.public_bytes(serialization.Encoding.DER)
            (self.directory / "crl-delta").mkdir(mode=0o755, exist_ok=True)
            _write_atomic(self.directory / "crl-delta" / f"{which}.crl", der)
            state["crl_number"][which] = number
            return der

    def publish_crl(
        self,
        which: Which,
        *,
        now: datetime | None = None,
        next_update: datetime | None = None,
        generation: Generation = Generation.CURRENT,
    ) -> bytes:
        """Re-issue one CA's CRL (new number, thisUpdate=now), e.g. to refresh a stale one."""
        which = _check_which(which)
        with self._locked() as state:
            if ca_id(which, generation) not in state["crl_number"]:
                raise PkiError(f"this PKI has no {ca_id(which, generation)} CA")
            return self._publish(state, which, _now(now), next_update, generation)

    def _publish(
        self,
        state: dict[str, Any],
        which: Which,
        at: datetime,
        next_update: datetime | None,
        generation: Generation = Generation.CURRENT,
    ) -> bytes:
        cid = ca_id(which, generation)
        number = int(state["crl_number"][cid]) + 1
        validity = timedelta(seconds=int(state["crl_validity_seconds"]))
        crl = make_crl(
            self.ca_certificate(which, generation),
            self.ca_key(which, generation),
            [_revocation_from_json(r) for r in state["revoked"][cid]],
            this_update=at,
            next_update=next_update if next_update is not None else at + validity,
            number=number,
        )
        der = crl.public_bytes(serialization.Encoding.DER)
        _write_atomic(self.crl_path(which, generation), der)
        state["crl_number"][cid] = number
        return der


def _revocation_from_json(obj: dict[str, Any]) -> Revocation:
    reason = obj.get("reason")
    return Revocation(
        serial=int(obj["serial"], 16),
        revoked_at=datetime.fromisoformat(obj["revoked_at"]),
        reason=x509.ReasonFlags(reason) if reason else None,
    )


def init_pki(
    directory: Path,
    *,
    now: datetime | None = None,
    crl_validity: timedelta = DEFAULT_CRL_VALIDITY,
    ca_keys: tuple[PrivateKey, PrivateKey] | None = None,
) -> TestPki:
    """Create both test CAs and their (empty) CRLs in `directory`; never overwrite a PKI.

    `ca_keys` (auth, sign) reuses existing CA keys instead of generating new ones (tests)."""
    directory = Path(directory)
    pki = TestPki(directory)
    at = _now(now)
    if crl_validity <= timedelta(0):
        raise PkiError("the CRL validity must be positive")
    if pki.state_path.exists() or pki.trust_dir.exists() or pki.private_dir.exists():
        raise PkiError(f"{directory} already holds a test PKI; refusing to overwrite it")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for sub, mode in ((pki.trust_dir, 0o755), (pki.crl_dir, 0o755), (pki.private_dir, 0o700)):
            sub.mkdir(mode=mode, exist_ok=sub is pki.crl_dir)
            os.chmod(sub, mode)
    except FileExistsError as e:
        raise PkiError(f"{directory} already holds a test PKI; refusing to overwrite it") from e
    except OSError as e:
        raise PkiError(f"cannot create the PKI in {directory}: {e.strerror}") from e
    state: dict[str, Any] = {
        "format": STATE_FORMAT,
        "created_at": at.isoformat(),
        "crl_validity_seconds": int(crl_validity.total_seconds()),
        "crl_number": {"auth": 0, "sign": 0},
        "issued": [],
        "revoked": {"auth": [], "sign": []},
    }
    keys = ca_keys or (generate_key(), generate_key())
    for which, key in zip(WHICH, keys, strict=True):
        cert = make_ca(which, key, not_before=at - CA_BACKDATE, not_after=at + CA_VALIDITY)
        _write_atomic(pki.ca_key_path(which), _key_pem(key), mode=0o600)
        _write_atomic(pki.ca_certificate_path(which), _pem(cert))
        pki._certs[which], pki._keys[which] = cert, key
        pki._publish(state, which, at, None)
    pki._write_state(state)
    return pki


def load_pki(directory: Path) -> TestPki:
    """Open an existing test PKI (checks that its state and both CAs are readable)."""
    pki = TestPki(Path(directory))
    pki._read_state()
    for which in WHICH:
        pki.ca_certificate(which)
    return pki


def card_serials(card: CardFile) -> dict[Which, int]:
    """The serial numbers of a card's two certificates."""
    return {
        "auth": x509.load_der_x509_certificate(card.auth.certificate).serial_number,
        "sign": x509.load_der_x509_certificate(card.sign.certificate).serial_number,
    }


def ca_bundle_pem(pki: TestPki, which: Sequence[Which] = WHICH) -> bytes:
    """The named CA certificates concatenated as PEM."""
    return b"".join(_pem(pki.ca_certificate(w)) for w in which)

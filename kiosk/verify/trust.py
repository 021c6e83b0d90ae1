"""Trust anchors: the pinned JPKI CA certificates, looked up by DN and then key identifier.

Every JPKI CA generation shares one DN, so an issuer DN names several anchors; the
authorityKeyIdentifier (or, failing that, the signature) decides which one issued a
certificate or CRL. Anchors come from directories the operator fills, never from the card.

Each anchor belongs to an `AnchorGroup`: a card generation or token class (today's RSA card,
the next-generation ECDSA P-384 card, phone certificates, which have their own CA in law) and
the signature schemes its certificates may use (`kiosk.verify.scheme`). A group is data: the
directory `trust_dir` holds card anchors, each put in the group its own key implies (an RSA
root heads today's cards, a P-384 root the next generation's); further groups, e.g. phone
certificates, are directories configured with their token class and schemes
(`[trust_groups.<name>]`, `TrustStore.from_dirs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from kiosk.verify.der import touch_certificate
from kiosk.verify.scheme import SchemeName
from kiosk.verify.verdict import VerifyError

#: File name endings read by TrustStore.from_dir.
ANCHOR_SUFFIXES = (".pem", ".crt", ".cer", ".der")


class KeyPurpose(StrEnum):
    """Which JPKI hierarchy a key belongs to."""

    AUTH = "auth"  # 利用者証明用: proves who you are
    SIGN = "sign"  # 署名用: signs documents, carries the basic 4 info


class TrustError(VerifyError):
    """The trust anchor directory or one of its files cannot be used."""

    code = "trust"


class TokenClass(StrEnum):
    """What kind of token an anchor group's certificates live on."""

    CARD = "card"  # a My Number Card (個人番号カード)
    PHONE = "phone"  # a smartphone's JPKI certificates (移動端末設備用電子証明書)


@dataclass(frozen=True, slots=True)
class AnchorGroup:
    """A family of trust anchors: a card generation or token class and the signature schemes
    the certificates it issues may use (any other is `scheme_not_allowed`)."""

    name: str
    token: TokenClass
    schemes: frozenset[SchemeName]


#: Today's card: RSA-2048 keys, RSASSA-PKCS1-v1_5 with SHA-256.
CURRENT_CARD: Final = AnchorGroup(
    "card-rsa", TokenClass.CARD, frozenset({SchemeName.RSA_PKCS1V15_SHA256})
)
#: The next-generation card (reported for around 2028): ECDSA on P-384 with SHA-384.
NEXT_CARD: Final = AnchorGroup(
    "card-ecdsa-p384", TokenClass.CARD, frozenset({SchemeName.ECDSA_P384_SHA384})
)


def card_group_for(cert: x509.Certificate) -> AnchorGroup:
    """The card generation a CA certificate in `trust_dir` heads, from its own key: RSA is
    today's card, EC the next generation's; TrustError for any other key."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return CURRENT_CARD
    if isinstance(key, ec.EllipticCurvePublicKey):
        return NEXT_CARD
    raise TrustError(f"trust anchor {cert.subject.rfc4514_string()} has a key of no card group")


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """One pinned CA certificate, the hierarchy it heads (None: purpose not stated) and the
    group it belongs to."""

    certificate: x509.Certificate
    key_id: str  # hex subjectKeyIdentifier
    purpose: KeyPurpose | None
    group: AnchorGroup = CURRENT_CARD

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        return self.certificate.public_key()

    @classmethod
    def from_certificate(
        cls,
        cert: x509.Certificate,
        purpose: KeyPurpose | None = None,
        group: AnchorGroup | None = None,
    ) -> TrustAnchor:
        """Wrap a CA certificate; the purpose is read from its OU when not given, the group
        from its key (`card_group_for`)."""
        return cls(
            cert,
            subject_key_id(cert),
            purpose or _purpose_from_name(cert.subject),
            group or card_group_for(cert),
        )


def subject_key_id(cert: x509.Certificate) -> str:
    """Hex subjectKeyIdentifier of a certificate (computed from its key when absent)."""
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    return ski.digest.hex()


def authority_key_id(extensions: x509.Extensions) -> str | None:
    """Hex authorityKeyIdentifier keyIdentifier of a certificate or CRL, if present."""
    try:
        aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return None if aki.key_identifier is None else aki.key_identifier.hex()


def _purpose_from_name(name: x509.Name) -> KeyPurpose | None:
    units = " ".join(
        str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ).lower()
    if "authentication" in units:
        return KeyPurpose.AUTH
    if "signature" in units:
        return KeyPurpose.SIGN
    return None


class TrustStore:
    """The configured anchors, indexed by subject DN."""

    def __init__(self, anchors: Iterable[TrustAnchor]) -> None:
        self._by_name: dict[bytes, list[TrustAnchor]] = {}
        self._by_key_id: dict[str, TrustAnchor] = {}
        for anchor in anchors:
            self._by_name.setdefault(anchor.certificate.subject.public_bytes(), []).append(anchor)
            self._by_key_id[anchor.key_id] = anchor

    @classmethod
    def from_dir(cls, path: str | Path, group: AnchorGroup | None = None) -> TrustStore:
        """Load every CA certificate (PEM, possibly several per file, or DER) in a directory,
        into `group` (None: each card anchor into the group its key implies)."""
        return cls(_anchors_in(Path(path), group))

    @classmethod
    def from_dirs(
        cls, trust_dir: str | Path | None, groups: Iterable[tuple[AnchorGroup, Path]] = ()
    ) -> TrustStore:
        """The card anchors of `trust_dir` (None: none) and each further group's directory."""
        anchors = [] if trust_dir is None else _anchors_in(Path(trust_dir), None)
        for group, path in groups:
            anchors.extend(_anchors_in(path, group))
        return cls(anchors)

    def __len__(self) -> int:
        return len(self._by_key_id)

    def __iter__(self) -> Iterator[TrustAnchor]:
        return iter(self._by_key_id.values())

    def by_key_id(self, key_id: str) -> TrustAnchor | None:
        """The anchor with that subjectKeyIdentifier (hex), or None."""
        return self._by_key_id.get(key_id)

    def candidates(self, issuer: x509.Name, aki: str | None) -> list[TrustAnchor]:
        """Anchors whose DN is `issuer`, the one whose key id is `aki` first."""
        found = self._by_name.get(issuer.public_bytes(), [])
        return sorted(found, key=lambda a: a.key_id != aki)


def _anchors_in(root: Path, group: AnchorGroup | None) -> list[TrustAnchor]:
    if not root.is_dir():
        raise TrustError(f"trust anchor directory {root} does not exist")
    anchors: list[TrustAnchor] = []
    for file in sorted(root.iterdir()):
        if file.suffix.lower() in ANCHOR_SUFFIXES and file.is_file():
            anchors.extend(TrustAnchor.from_certificate(c, None, group) for c in _load_certs(file))
    return anchors


def _load_certs(file: Path) -> list[x509.Certificate]:
    try:
        data = file.read_bytes()
    except OSError as e:
        raise TrustError(f"cannot read trust anchor {file}: {e.strerror}") from e
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
        for cert in certs:
            touch_certificate(cert)
            cert.public_key()
    except Exception as e:  # any decoding failure, as at the DER boundary (kiosk.verify.der)
        raise TrustError(f"trust anchor {file} is not a certificate") from e
    for cert in certs:
        try:
            ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            raise TrustError(f"trust anchor {file} is not a CA certificate")
    return certs

"""The algorithm seam: which signature scheme a card key uses, taken from its certificate.

Everything that depends on the key's algorithm goes through here, so no other module knows
about RSA, elliptic curves, padding, digest lengths or signature sizes:

- **the scheme of a certificate's key** (`scheme_for_key`): RSA of at least 2048 bits signs
  RSASSA-PKCS1-v1_5 with SHA-256 (today's card, ../shared/jpki-card.md §3.1); an EC key on
  P-384 signs ECDSA with SHA-384 (the next-generation card, as reported:
  ../shared/jpki-lifecycle.md §3). Each trust-anchor group allows some schemes
  (`kiosk.verify.trust.AnchorGroup`); a key outside them is refused with its own reason:
  `weak_key` (RSA under 2048 bits, or a key type no scheme covers), `wrong_curve` (EC on
  another curve), `scheme_not_allowed` (a scheme the anchor's group does not allow);
- **what the card is asked to sign** (`SignatureScheme.card_input`): the SHA-256 DigestInfo for
  RSA (the card pads it, P1=00), the bare 48-byte SHA-384 hash for ECDSA;
- **what the card answers** (`SignatureScheme.signature_length`, `ecdsa_raw_to_der`): an RSA
  block as long as the modulus; for ECDSA, r ‖ s as two 48-byte big-endian integers (raw,
  96 bytes: the assumption written down in docs/next-card.md). The raw form travels unchanged
  in proofs and enrolments; `ecdsa_raw_to_der` is the one place it is parsed and turned into
  the DER `cryptography` verifies, refusing anything that is not two integers in [1, n-1].
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.hashes import SHA256, SHA384
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kiosk.jpki_facts import sha256_digest_info
from kiosk.verify.der import load_certificate
from kiosk.verify.verdict import Reason, Refused

#: The smallest RSA modulus a card key may have (today's cards: 2048).
MIN_RSA_BITS: Final = 2048
#: The order n of P-384's base point (SEC 2 §2.5.1): r and s lie in [1, n-1].
P384_ORDER: Final = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)
#: Bytes of one P-384 integer, and of a raw r ‖ s signature.
P384_INT_BYTES: Final = 48
P384_RAW_BYTES: Final = 2 * P384_INT_BYTES

#: The key types a card certificate may carry once its scheme is known.
CardPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class SchemeName(StrEnum):
    """A signature scheme by its configuration name (`[trust_groups.*] schemes`)."""

    RSA_PKCS1V15_SHA256 = "rsa-pkcs1v15-sha256"
    ECDSA_P384_SHA384 = "ecdsa-p384-sha384"


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    """How one card key signs: what the card is given and how its answer is verified."""

    name: SchemeName
    key: CardPublicKey

    @property
    def key_der(self) -> bytes:
        """The key as DER SubjectPublicKeyInfo (to tell two keys apart whatever their type)."""
        return self.key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)

    @property
    def signature_length(self) -> int:
        """Bytes of the card's answer: the modulus length (RSA), or 96 raw bytes (P-384)."""
        if isinstance(self.key, rsa.RSAPublicKey):
            return (self.key.key_size + 7) // 8
        return P384_RAW_BYTES

    def card_input(self, message: bytes) -> bytes:
        """What COMPUTE DIGITAL SIGNATURE is sent to sign `message` with this key."""
        if self.name is SchemeName.RSA_PKCS1V15_SHA256:
            return sha256_digest_info(message)
        return hashlib.sha384(message).digest()

    def verify(self, signature: bytes, message: bytes) -> None:
        """Check the card's signature over `message`, or raise Refused(bad_signature)."""
        try:
            if isinstance(self.key, rsa.RSAPublicKey):
                if len(signature) != self.signature_length:
                    raise InvalidSignature
                self.key.verify(signature, message, _PKCS1V15, _SHA256)
            else:
                der = ecdsa_raw_to_der(signature)
                self.key.verify(der, message, _ECDSA_SHA384)
        except InvalidSignature as e:
            raise Refused(Reason.BAD_SIGNATURE, "The card's signature does not verify.") from e


_PKCS1V15, _SHA256 = PKCS1v15(), SHA256()
_ECDSA_SHA384 = ec.ECDSA(SHA384())


def scheme_for_key(
    key: CertificatePublicKeyTypes | None, allowed: frozenset[SchemeName]
) -> SignatureScheme:
    """The scheme a certificate's key signs with, if its anchor group `allowed` it; else
    Refused with the reason (weak_key, wrong_curve, scheme_not_allowed)."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise Refused(
                Reason.WEAK_KEY, f"The certificate's RSA key is shorter than {MIN_RSA_BITS} bits."
            )
        scheme = SignatureScheme(SchemeName.RSA_PKCS1V15_SHA256, key)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP384R1):
            raise Refused(
                Reason.WRONG_CURVE,
                f"The certificate's key is on the {key.curve.name} curve, not P-384.",
            )
        scheme = SignatureScheme(SchemeName.ECDSA_P384_SHA384, key)
    else:
        raise Refused(Reason.WEAK_KEY, "The certificate's key type is not supported.")
    if scheme.name not in allowed:
        raise Refused(
            Reason.SCHEME_NOT_ALLOWED,
            f"Certificates of this issuer may not use {scheme.name.value}.",
        )
    return scheme


def card_scheme(certificate_der: bytes) -> SignatureScheme:
    """The scheme the card key of this certificate signs with, for the kiosk to ask the card
    (`JpkiSession.sign_message`). Lenient on strength: whether the key is strong enough and
    allowed for its issuer is the verifier's decision (`scheme_for_key`), which it then
    records as its verdict; only a key no scheme covers is Refused here."""
    key = load_certificate(certificate_der).public_key
    if isinstance(key, rsa.RSAPublicKey):
        return SignatureScheme(SchemeName.RSA_PKCS1V15_SHA256, key)
    return scheme_for_key(key, frozenset(SchemeName))


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """The card's raw P-384 signature r ‖ s as DER (RFC 3279 Ecdsa-Sig-Value), the one parser
    of that form; InvalidSignature unless it is exactly two integers in [1, n-1]."""
    if len(raw) != P384_RAW_BYTES:
        raise InvalidSignature
    r = int.from_bytes(raw[:P384_INT_BYTES], "big")
    s = int.from_bytes(raw[P384_INT_BYTES:], "big")
    if not (0 < r < P384_ORDER and 0 < s < P384_ORDER):
        raise InvalidSignature
    return encode_dss_signature(r, s)


def ecdsa_der_to_raw(der_signature: bytes) -> bytes:
    """A DER ECDSA P-384 signature as the card's raw r ‖ s (what the virtual card answers)."""
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(P384_INT_BYTES, "big") + s.to_bytes(P384_INT_BYTES, "big")

"""The user proof (電子利用者証明) format: what the card's authentication key signs.

See docs/proof-format.md. The to-be-signed message binds the challenge to who asked, the way
Web eID binds the origin:

    M = SHA-256(UTF-8(provider_id) ‖ 0x00 ‖ UTF-8(terminal_id)) ‖ SHA-256(nonce)   (64 bytes)

and the card signs it in the scheme of its key (kiosk.verify.scheme): today's RSA card the
SHA-256 DigestInfo of M (RSASSA-PKCS1-v1_5), the next-generation card SHA-384(M) (ECDSA P-384,
answered r ‖ s).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from kiosk.jpki_facts import sha256_digest_info
from kiosk.verify.verdict import Reason, Refused


def _id_bytes(value: str, what: str) -> bytes:
    if not value or "\x00" in value:
        raise Refused(Reason.MALFORMED, f"The {what} must be non-empty and contain no NUL.")
    return value.encode("utf-8")


@functools.lru_cache(maxsize=1024)
def _origin_digest(provider_id: str, terminal_id: str) -> bytes:
    origin = _id_bytes(provider_id, "provider id") + b"\x00" + _id_bytes(terminal_id, "terminal id")
    return hashlib.sha256(origin).digest()


def signed_message(provider_id: str, terminal_id: str, nonce: bytes) -> bytes:
    """The 64-byte message M a user proof signs (it binds the nonce to provider and terminal)."""
    return _origin_digest(provider_id, terminal_id) + hashlib.sha256(nonce).digest()


def proof_digest_info(provider_id: str, terminal_id: str, nonce: bytes) -> bytes:
    """The DigestInfo today's (RSA) card signs with its authentication key for this challenge
    (`SignatureScheme.card_input` gives any card's)."""
    return sha256_digest_info(signed_message(provider_id, terminal_id, nonce))


@dataclass(frozen=True, slots=True)
class UserProof:
    """A card's answer to a challenge: the authentication certificate and its signature."""

    provider_id: str
    terminal_id: str
    nonce: bytes
    certificate: bytes  # DER of the authentication certificate
    signature: bytes  # over signed_message(...), in the certificate's scheme (kiosk.verify.scheme)

    def message(self) -> bytes:
        """The message M this proof's signature must cover."""
        return signed_message(self.provider_id, self.terminal_id, self.nonce)

    def to_json(self) -> dict[str, str]:
        """The proof as a JSON object (bytes in standard base64)."""
        return {
            "provider_id": self.provider_id,
            "terminal_id": self.terminal_id,
            "nonce": _b64(self.nonce),
            "certificate": _b64(self.certificate),
            "signature": _b64(self.signature),
        }

    @classmethod
    def from_json(cls, obj: Any) -> UserProof:
        """Parse to_json()'s output; anything else raises Refused(malformed)."""
        if not isinstance(obj, dict):
            raise Refused(Reason.MALFORMED, "The proof must be a JSON object.")
        return cls(
            provider_id=_text(obj, "provider_id"),
            terminal_id=_text(obj, "terminal_id"),
            nonce=_unb64(obj, "nonce"),
            certificate=_unb64(obj, "certificate"),
            signature=_unb64(obj, "signature"),
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise Refused(Reason.MALFORMED, f"'{key}' must be a string.")
    return value


def _unb64(obj: dict[str, Any], key: str) -> bytes:
    try:
        return base64.b64decode(_text(obj, key), validate=True)
    except binascii.Error as e:
        raise Refused(Reason.MALFORMED, f"'{key}' is not valid base64.") from e

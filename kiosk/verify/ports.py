"""What the verification core needs from storage, as small protocols.

`kiosk.store` implements them over SQLAlchemy; tests may implement them in memory. Issuers
are identified by the CA's subjectKeyIdentifier (hex), never by DN alone: every JPKI CA
generation shares one DN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    """A challenge handed to one provider's terminal; single use, valid until expires_at."""

    nonce: bytes  # 32 random bytes
    provider_id: str
    terminal_id: str
    issued_at: datetime  # timezone-aware UTC
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TakenChallenge:
    """The stored challenge, and when it had been used before this take (None: first use)."""

    challenge: IssuedChallenge
    previously_used_at: datetime | None


class ChallengeStore(Protocol):
    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge (durably, before it is handed out)."""

    def take(self, nonce: bytes, used_at: datetime) -> TakenChallenge | None:
        """Mark the challenge used, atomically; None when the nonce was never issued."""


@dataclass(frozen=True, slots=True)
class CrlInfo:
    """Metadata of the CRL currently in force for one issuer."""

    issuer_key_id: str  # hex of the CA's subjectKeyIdentifier
    this_update: datetime
    next_update: datetime | None
    crl_number: int | None
    entries: int


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str | None  # RFC 5280 reason name, e.g. "key_compromise", or None


class RevocationIndex(Protocol):
    def crl_info(self, issuer_key_id: str) -> CrlInfo | None:
        """The CRL in force for that issuer, or None when none was imported."""

    def lookup(self, issuer_key_id: str, serial: int) -> RevokedEntry | None:
        """The revocation entry for that serial under that issuer, or None if not revoked."""

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

    nonce: bytes  # the whole self-authenticating token (docs/proof-format.md §1)
    provider_id: str
    terminal_id: str
    issued_at: datetime  # timezone-aware UTC
    expires_at: datetime


class ChallengeStore(Protocol):
    def record_use(
        self, challenge_id: bytes, used_at: datetime, expires_at: datetime
    ) -> datetime | None:
        """Record a challenge's use, atomically; the earlier use's time if it was used before.

        Durable with the caller's transaction (the audit entry); of two concurrent callers for
        one challenge exactly one gets None."""

    def purge(self, expired_before: datetime) -> int:
        """Forget uses of challenges that expired before that time; return how many."""


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

"""What the verification core needs from storage, as small protocols.

The values a user proof passes through storage are named tuples: every proof makes several, and
a tuple is made several times faster than a frozen dataclass.

`kiosk.store` implements them over SQLAlchemy; tests may implement them in memory. Issuers
are identified by the CA's subjectKeyIdentifier (hex), never by DN alone: every JPKI CA
generation shares one DN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from kiosk.verify.verdict import CertRef, VerifyError


class IssuedChallenge(NamedTuple):
    """A challenge handed to one provider's terminal; single use, valid until expires_at."""

    nonce: bytes  # the whole self-authenticating token (docs/proof-format.md §1)
    provider_id: str
    terminal_id: str
    issued_at: datetime  # timezone-aware UTC
    expires_at: datetime


class ChallengeClaim(NamedTuple):
    """A challenge that checked out (ours, for this terminal, not expired), not yet used up.

    It is used up by recording a verdict with it (`VerificationStore.record`)."""

    challenge_id: bytes  # the token's 32 random bytes
    expires_us: int  # its expiry, microseconds since the Unix epoch (UTC)


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


class CrlState(NamedTuple):
    """An issuer's CRL in force, as one read saw it, and whether it lists one serial."""

    next_update: datetime | None
    revoked: bool


class LinkState(NamedTuple):
    """A customer's link at the provider that asked (never one with status 'revoked')."""

    link_id: int
    account_ref: str
    status: str  # "active" or "needs_reenrolment"
    sign_issuer_key_id: str
    sign_serial: int
    sign_crl: CrlState | None  # None: no CRL imported for the signature CA
    linked_at: datetime  # when the account was first linked at the provider


class ProofContext(NamedTuple):
    """What a user proof needs from storage, read in one go (one consistent snapshot)."""

    auth_crl: CrlState | None  # None: no CRL imported for the authentication CA
    link: LinkState | None


class NewLink(NamedTuple):
    """The link an accepted enrolment makes: the account at the provider, bound to the card's
    two certificates (a new link, or the account's link moved to a new card)."""

    account_ref: str
    auth: CertRef
    sign: CertRef


class LinkTaken(VerifyError):
    """The card's authentication certificate is linked to another account at the provider."""

    code = "link_exists"


class LedgerEntry(NamedTuple):
    """One verdict as it is recorded: codes and certificate references only (no PIN, no
    4 info). With a `challenge`, recording it uses the challenge up; with `flag_link`, the
    link `link_id` is set to needs-re-enrolment in the same write; with `link_to`, that link
    is made in the same transaction (or LinkTaken is raised and nothing is written)."""

    at: datetime
    provider_id: str
    terminal_id: str
    action: str
    ok: bool
    reason: str
    issuer_key_id: str | None = None
    serial: int | None = None
    challenge: ChallengeClaim | None = None
    link_id: int | None = None
    flag_link: bool = False
    link_to: NewLink | None = None


class VerificationStore(RevocationIndex, Protocol):
    """The verifier's storage: the CRLs in force, the links, and the ledger of verdicts."""

    def proof_context(self, provider_id: str, issuer_key_id: str, serial: int) -> ProofContext:
        """The authentication CRL's state for that serial, and the provider's link of it
        with its signature CRL's state, read together."""

    def record(self, entry: LedgerEntry) -> bool:
        """Record a verdict durably, atomically with its challenge's use and link flag.

        False, with nothing written, when the entry's challenge was used before (a replay);
        of two concurrent callers with one challenge exactly one gets True."""

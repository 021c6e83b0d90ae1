"""What the store hands out: frozen dataclasses (ORM rows never leave kiosk.store).

Certificate serials are stored as the content octets of their DER INTEGER (big-endian two's
complement, minimal length, at most 21 octets for a 20-octet positive serial): bytes compare
exactly and index the same way on SQLite (BLOB) and PostgreSQL (bytea), and a CRL import can
store the octets it reads without converting them to `int`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


def serial_to_bytes(serial: int) -> bytes:
    """Encode a certificate serial as its minimal DER INTEGER content octets."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True)


def serial_from_bytes(octets: bytes) -> int:
    """Decode DER INTEGER content octets into a certificate serial."""
    return int.from_bytes(octets, "big", signed=True)


class LinkStatus(enum.StrEnum):
    """Where a customer's link to a provider stands."""

    ACTIVE = "active"
    NEEDS_REENROLMENT = "needs_reenrolment"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Provider:
    """A service provider (clinic, shop, login realm) that links customers to accounts."""

    provider_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One customer's link: a provider account bound to the card's two certificates."""

    link_id: int
    provider_id: str
    account_ref: str
    auth_issuer_key_id: str
    auth_serial: int
    sign_issuer_key_id: str
    sign_serial: int
    status: LinkStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit entry: who (provider, terminal), what, when, and the verdict's reason code.

    `event_id` numbers the audit log's own entries; a verdict that used a challenge up is kept
    in the verifications table and has none. `actor`, `affected_rows` and `cutoff_at` say who
    acted for the card holder (staff, an operator) and, for an action on many rows such as the
    retention purge, how many rows and up to what time."""

    event_id: int | None
    at: datetime
    provider_id: str
    terminal_id: str
    action: str
    ok: bool
    reason: str | None
    issuer_key_id: str | None
    serial: int | None
    actor: str | None = None
    affected_rows: int | None = None
    cutoff_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CrlImportResult:
    """What one CRL import did."""

    issuer_key_id: str
    crl_number: int | None
    entries: int
    replaced: bool  # False when the same CRL was already in force (nothing changed)
    seconds: float

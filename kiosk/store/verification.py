"""The verifier's store: the CRLs in force, the links, and the ledger of verdicts.

A user proof costs the store two statements, each its own transaction: one read (the
authentication CRL's state for the serial, the provider's link of the certificate, and that
link's signature CRL state, joined in one query, so they come from one snapshot) and one
write (the verdict, keyed by its challenge: a replay meets its own challenge under the key
and writes nothing).
Only the rare verdict that flags a link (its signature certificate was revoked) takes an
explicit transaction, for the row and the link's status together. Verdicts without a
challenge (the token was unknown, foreign, expired or replayed) go to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kiosk.store.audit import AuditLog, check_fields
from kiosk.store.engine import Database
from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.records import serial_from_bytes, serial_to_bytes
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.ports import (
    ChallengeClaim,
    CrlState,
    LedgerEntry,
    LinkState,
    LinkTaken,
    NewLink,
    ProofContext,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CHECKED_KEPT = 4096

# Placeholders in text order: auth serial, auth issuer, provider, auth issuer, auth serial.
_CONTEXT = (
    "SELECT ca.generation_id, ga.next_update, "
    "(SELECT 1 FROM revoked_serials r "
    " WHERE r.generation_id = ca.generation_id AND r.serial = ?), "
    "l.link_id, l.account_ref, l.status, l.sign_issuer_key_id, l.sign_serial, l.created_at, "
    "cs.generation_id, gs.next_update, "
    "(SELECT 1 FROM revoked_serials r "
    " WHERE r.generation_id = cs.generation_id AND r.serial = l.sign_serial) "
    "FROM (SELECT 1 AS one) AS q "
    "LEFT JOIN crl_current ca ON ca.issuer_key_id = ? "
    "LEFT JOIN crl_generations ga ON ga.generation_id = ca.generation_id "
    "LEFT JOIN links l ON l.provider_id = ? AND l.auth_issuer_key_id = ? "
    " AND l.auth_serial = ? AND l.status <> 'revoked' "
    "LEFT JOIN crl_current cs ON cs.issuer_key_id = l.sign_issuer_key_id "
    "LEFT JOIN crl_generations gs ON gs.generation_id = cs.generation_id"
)
_RECORD = (
    "INSERT INTO verifications (verification_key, challenge_id, at, provider_id, terminal_id, "
    "action, ok, reason, issuer_key_id, serial, link_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_HOLDER = "SELECT challenge_id FROM verifications WHERE verification_key = ?"
# An accepted enrolment's link, in the transaction of its verdict (see `_link`).
_PROVIDER = (
    "INSERT INTO providers (provider_id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
_ACCOUNT = "SELECT link_id FROM links WHERE provider_id = ? AND account_ref = ?"
_MOVE = (
    "UPDATE links SET auth_issuer_key_id = ?, auth_serial = ?, sign_issuer_key_id = ?, "
    "sign_serial = ?, status = 'active', updated_at = ? WHERE link_id = ?"
)
_NEW = (
    "INSERT INTO links (provider_id, account_ref, auth_issuer_key_id, auth_serial, "
    "sign_issuer_key_id, sign_serial, status, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)"
)
#: Keys tried, from the challenge's own on, while other challenges hold them (see `_key`).
_PROBES = 64
_FLAG_LINK = (
    "UPDATE links SET status = 'needs_reenrolment', updated_at = ? "
    "WHERE link_id = ? AND status = 'active'"
)


class SqlVerificationStore(SqlRevocationIndex):
    """The verifier's `VerificationStore` over the store (CRL lookups are inherited)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._context, self._record = db.sql(_CONTEXT), db.sql(_RECORD)
        self._flag, self._audit = db.sql(_FLAG_LINK), AuditLog(db)
        self._holder = db.sql(_HOLDER)
        self._provider, self._account = db.sql(_PROVIDER), db.sql(_ACCOUNT)
        self._move, self._new = db.sql(_MOVE), db.sql(_NEW)
        #: (provider, terminal, action, reason) combinations already found well-formed.
        self._checked: set[tuple[str, str, str, str, str | None]] = set()
        self._times: dict[object, datetime] = {}

    def proof_context(self, provider_id: str, issuer_key_id: str, serial: int) -> ProofContext:
        """The auth CRL's state for the serial, and the provider's link with its sign CRL's."""
        db = self._db
        octets = serial_to_bytes(serial)
        row = db.one(self._context, (octets, issuer_key_id, provider_id, issuer_key_id, octets))
        return self._context_of(row)

    def _context_of(self, row: Sequence[Any]) -> ProofContext:
        """The ProofContext of a row of `_CONTEXT`'s columns (kiosk.store.renewal reads them
        with more)."""
        auth = None if row[0] is None else CrlState(self._time(row[1]), row[2] is not None)
        if row[3] is None:
            return ProofContext(auth, None)
        sign = None if row[9] is None else CrlState(self._time(row[10]), row[11] is not None)
        linked_at = self._time(row[8])
        if linked_at is None:  # links.created_at is NOT NULL: a row without one is corrupt
            raise StoreError("a link without its creation time cannot be checked")
        link = LinkState(row[3], row[4], row[5], row[6], serial_from_bytes(row[7]), sign, linked_at)
        return ProofContext(auth, link)

    def _time(self, value: object) -> datetime | None:
        """A stored time (a CRL's nextUpdate, a link's creation), parsed once: proofs read
        the same ones again and again."""
        if value is None:
            return None
        parsed = self._times.get(value)
        if parsed is None:
            if len(self._times) >= _CHECKED_KEPT:
                self._times.clear()
            parsed = self._times[value] = self._db.read_time(value)
        return parsed

    def record(self, entry: LedgerEntry) -> bool:
        """Record the verdict; False (nothing written) when its challenge was used before."""
        fields = (
            entry.provider_id,
            entry.terminal_id,
            entry.action,
            entry.reason,
            entry.issuer_key_id,
        )
        if fields not in self._checked:
            check_fields(*fields)
            if len(self._checked) >= _CHECKED_KEPT:
                self._checked.clear()
            self._checked.add(fields)
        db = self._db
        claim = entry.challenge
        if claim is None:
            self._audit.append(
                at=entry.at,
                provider_id=entry.provider_id,
                terminal_id=entry.terminal_id,
                action=entry.action,
                ok=entry.ok,
                reason=entry.reason,
                issuer_key_id=entry.issuer_key_id,
                serial=entry.serial,
            )
            return True
        serial = None if entry.serial is None else serial_to_bytes(entry.serial)
        row = [
            _key(claim),
            claim.challenge_id,
            (entry.at - _EPOCH) // _MICROSECOND,
            entry.provider_id,
            entry.terminal_id,
            entry.action,
            entry.ok,
            entry.reason,
            entry.issuer_key_id,
            serial,
            entry.link_id,
        ]
        if not entry.flag_link and entry.link_to is None:
            return self._insert(row)
        with db.unit():  # the verdict and the link it makes or flags, together
            if not self._insert(row):
                return False
            if entry.flag_link:
                db.count(self._flag, (db.bind_time(entry.at), entry.link_id))
            if entry.link_to is not None:
                self._link(entry.provider_id, entry.link_to, entry.at)
        return True

    def _link(self, provider_id: str, link: NewLink, at: datetime) -> None:
        """Make the link, or move the account's link to these certificates (re-enrolment);
        LinkTaken when the card is linked to another account here (the unit rolls back)."""
        db = self._db
        when = db.bind_time(at)
        auth, sign = link.auth, link.sign
        certs = (
            auth.issuer_key_id,
            serial_to_bytes(auth.serial),
            sign.issuer_key_id,
            serial_to_bytes(sign.serial),
        )
        db.count(self._provider, (provider_id, provider_id, when))
        existing = db.one(self._account, (provider_id, link.account_ref))
        try:
            if existing is None:
                db.count(self._new, (provider_id, link.account_ref, *certs, when, when))
            else:
                db.count(self._move, (*certs, when, existing[0]))
        except DuplicateKey as e:  # uq_links_auth: this card, another account
            raise LinkTaken("This card is already linked to another account here.") from e

    def _insert(self, row: list[object]) -> bool:
        """Insert the row under its challenge's key, or the next free one when another
        challenge holds that key; False when the challenge itself holds one (a replay)."""
        db = self._db
        key, challenge_id = row[0], row[1]
        if not isinstance(key, int):
            raise TypeError(f"a verification key is an int, not {type(key).__name__}")
        for probe in range(_PROBES):
            row[0] = key + probe
            if db.count(self._record, row) == 1:
                return True
            holder = db.one(self._holder, (row[0],))
            if holder is not None and bytes(holder[0]) == challenge_id:
                return False
        raise StoreError("no free verification key near the challenge's own")


def _key(claim: ChallengeClaim) -> int:
    """The challenge's verification key: expiry (µs, < 2^52, so until 2112) shifted left 11
    bits, or'ed with the top 11 bits of its random part. Keys grow with time, so rows are
    appended; a replay meets its own challenge_id under the key (or one of the next few)."""
    if not 0 <= claim.expires_us < 1 << 52:
        raise StoreError("challenge expiry out of range")
    return claim.expires_us << 11 | int.from_bytes(claim.challenge_id[:2], "big") >> 5

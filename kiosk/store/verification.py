"""The verifier's store: the CRLs in force, the links, and the ledger of verdicts.

A user proof costs the store two statements, each its own transaction: one read (the
authentication CRL's state for the serial, the provider's link of the certificate, and that
link's signature CRL state, joined in one query, so they come from one snapshot) and one
write (the verdict, keyed by its challenge: a replay is a key conflict and writes nothing).
Only the rare verdict that flags a link (its signature certificate was revoked) takes an
explicit transaction, for the row and the link's status together. Verdicts without a
challenge (the token was unknown, foreign, expired or replayed) go to the audit log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kiosk.store.audit import APPEND as AUDIT_APPEND
from kiosk.store.engine import Database
from kiosk.store.errors import AuditFieldRefused
from kiosk.store.records import serial_from_bytes, serial_to_bytes
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.ports import CrlState, LedgerEntry, LinkState, ProofContext

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_CHECKED_KEPT = 4096

# Placeholders in text order: auth serial, auth issuer, provider, auth issuer, auth serial.
_CONTEXT = (
    "SELECT ca.generation_id, ga.next_update, "
    "(SELECT 1 FROM revoked_serials r "
    " WHERE r.generation_id = ca.generation_id AND r.serial = ?), "
    "l.link_id, l.account_ref, l.status, l.sign_issuer_key_id, l.sign_serial, "
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
    "INSERT INTO verifications (expires_at, challenge_id, at, provider_id, terminal_id, "
    "action, ok, reason, issuer_key_id, serial, link_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_FLAG_LINK = (
    "UPDATE links SET status = 'needs_reenrolment', updated_at = ? "
    "WHERE link_id = ? AND status = 'active'"
)


class SqlVerificationStore(SqlRevocationIndex):
    """The verifier's `VerificationStore` over the store (CRL lookups are inherited)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._context, self._record = db.sql(_CONTEXT), db.sql(_RECORD)
        self._flag, self._audit = db.sql(_FLAG_LINK), db.sql(AUDIT_APPEND)
        #: (provider, terminal, action, reason) combinations already found well-formed.
        self._checked: set[tuple[str, str, str, str]] = set()
        self._times: dict[object, datetime] = {}

    def proof_context(self, provider_id: str, issuer_key_id: str, serial: int) -> ProofContext:
        """The auth CRL's state for the serial, and the provider's link with its sign CRL's."""
        db = self._db
        octets = serial_to_bytes(serial)
        row = db.one(self._context, (octets, issuer_key_id, provider_id, issuer_key_id, octets))
        auth = None if row[0] is None else CrlState(self._time(row[1]), row[2] is not None)
        if row[3] is None:
            return ProofContext(auth, None)
        sign = None if row[8] is None else CrlState(self._time(row[9]), row[10] is not None)
        link = LinkState(row[3], row[4], row[5], row[6], serial_from_bytes(row[7]), sign)
        return ProofContext(auth, link)

    def _time(self, value: object) -> datetime | None:
        """A CRL's nextUpdate as stored, parsed once (every proof reads the same few)."""
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
        fields = (entry.provider_id, entry.terminal_id, entry.action, entry.reason)
        if fields not in self._checked:
            _check(entry)
            if len(self._checked) >= _CHECKED_KEPT:
                self._checked.clear()
            self._checked.add(fields)
        db = self._db
        claim = entry.challenge
        serial = None if entry.serial is None else serial_to_bytes(entry.serial)
        if claim is None:
            db.one(
                self._audit,
                (
                    db.bind_time(entry.at),
                    entry.provider_id,
                    entry.terminal_id,
                    entry.action,
                    entry.ok,
                    entry.reason,
                    entry.issuer_key_id,
                    serial,
                ),
            )
            return True
        row = (
            claim.expires_us,
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
        )
        if not entry.flag_link:
            return db.count(self._record, row) == 1
        with db.unit():  # the verdict and the link's new status, together
            if db.count(self._record, row) != 1:
                return False
            db.count(self._flag, (db.bind_time(entry.at), entry.link_id))
        return True




def _check(entry: LedgerEntry) -> None:
    """Codes and identifiers only: nothing else (no PIN, no 4 info) can be written."""
    if (
        _IDENTIFIER.fullmatch(entry.provider_id) is None
        or _IDENTIFIER.fullmatch(entry.terminal_id) is None
        or _CODE.fullmatch(entry.action) is None
        or _CODE.fullmatch(entry.reason) is None
    ):
        raise AuditFieldRefused("a verification record's ids and codes must be short codes")

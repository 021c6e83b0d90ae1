"""The append-only audit log: who asked, what, when, and the verdict — codes only.

No column can carry a PIN or basic 4 info: actions and reasons must be short lower-case codes
(`AuditFieldRefused` otherwise), ids must be identifiers, and certificates are referenced by
issuer key id and serial. The database refuses UPDATE on the table, and DELETE except of rows
older than the cutoff of a retention purge that has first appended its own row (`purge`;
triggers, migration 0004).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select
from sqlalchemy.exc import DatabaseError

from kiosk.store.engine import Database
from kiosk.store.errors import AuditFieldRefused, StoreError
from kiosk.store.models import AuditRow, VerificationRow, table_of
from kiosk.store.records import AuditEvent, serial_from_bytes, serial_to_bytes

_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_KEY_ID = re.compile(r"[0-9a-f]{2,128}")
_t = table_of(AuditRow)
_v = table_of(VerificationRow)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_APPEND = (
    "INSERT INTO audit_log (at, provider_id, terminal_id, action, ok, reason, issuer_key_id, "
    "serial, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: The action of a retention purge's own audit row.
PURGE_ACTION = "audit.purge"
#: No purge removes a row younger than this; the database holds the same floor (0004).
PURGE_FLOOR_DAYS = 90


def _check(field: str, value: str | None, pattern: re.Pattern[str]) -> None:
    if value is not None and pattern.fullmatch(value) is None:
        raise AuditFieldRefused(f"audit field '{field}' must be a short code")


def check_fields(
    provider_id: str,
    terminal_id: str,
    action: str,
    reason: str | None,
    issuer_key_id: str | None,
) -> None:
    """Raise AuditFieldRefused unless ids are identifiers, action and reason short lower-case
    codes and the issuer key id hex: nothing else (no PIN, no 4 info) can be recorded."""
    _check("provider_id", provider_id, _IDENTIFIER)
    _check("terminal_id", terminal_id, _IDENTIFIER)
    _check("action", action, _CODE)
    _check("reason", reason, _CODE)
    _check("issuer_key_id", issuer_key_id, _KEY_ID)


def check_actor(actor: str | None) -> None:
    """Raise AuditFieldRefused unless the actor is absent or an identifier (a staff id, an
    operator's login): never a name typed as free text."""
    if actor is not None and _IDENTIFIER.fullmatch(actor) is None:
        raise AuditFieldRefused("audit field 'actor' must be an identifier (letters, digits, _.:-)")


def append_on(
    conn: Connection,
    *,
    at: datetime,
    provider_id: str,
    terminal_id: str,
    action: str,
    ok: bool,
    reason: str | None = None,
    actor: str | None = None,
) -> None:
    """Append one of a kiosk's own events in `conn`'s transaction, for a row that must be
    written with it or not at all (the reception's outbox message and the visit's audit).
    The same checks as `AuditLog.append`; no certificate serial (no kiosk event has one)."""
    check_fields(provider_id, terminal_id, action, reason, None)
    check_actor(actor)
    conn.execute(
        insert(_t).values(
            at=at,
            provider_id=provider_id,
            terminal_id=terminal_id,
            action=action,
            ok=ok,
            reason=reason,
            actor=actor,
        )
    )


class AuditLog:
    """Append and read audit events.

    `keeps_serials=False` is the log of a store that is not a verifier's (a kiosk in platform
    mode): under 公的個人認証法 §63 only a verifier (署名検証者 / 利用者証明検証者) may keep a
    database of certificate serials, so such a log refuses an event that names one."""

    def __init__(
        self, db: Database, *, keeps_serials: bool = True, terminal_id: str | None = None
    ) -> None:
        self._db = db
        self._append = db.sql(_APPEND)
        self._keeps_serials = keeps_serials
        self._terminal_id = terminal_id

    def record(
        self,
        action: str,
        ok: bool,
        reason: str | None,
        provider_id: str,
        at: datetime,
        *,
        actor: str | None = None,
    ) -> None:
        """Record one of this kiosk's own events (a service run, a staff action): the visit's
        and the staff desk's audit sink. Only a log opened for one terminal records them."""
        if self._terminal_id is None:
            raise AuditFieldRefused("this audit log serves many terminals: use append")
        self.append(
            at=at,
            provider_id=provider_id,
            terminal_id=self._terminal_id,
            action=action,
            ok=ok,
            reason=reason,
            actor=actor,
        )

    def append(
        self,
        *,
        at: datetime,
        provider_id: str,
        terminal_id: str,
        action: str,
        ok: bool,
        reason: str | None = None,
        issuer_key_id: str | None = None,
        serial: int | None = None,
        actor: str | None = None,
    ) -> None:
        """Record one event (committed before returning)."""
        check_fields(provider_id, terminal_id, action, reason, issuer_key_id)
        check_actor(actor)
        if serial is not None and not self._keeps_serials:
            raise AuditFieldRefused(
                "this store is not a verifier's: it keeps no certificate serial"
            )
        db = self._db
        db.one(
            self._append,
            (
                db.bind_time(at),
                provider_id,
                terminal_id,
                action,
                ok,
                reason,
                issuer_key_id,
                None if serial is None else serial_to_bytes(serial),
                actor,
            ),
        )

    def purge(
        self,
        *,
        before: datetime,
        at: datetime,
        provider_id: str,
        terminal_id: str,
        actor: str,
    ) -> int:
        """Remove the audit rows older than `before`; how many were removed.

        One transaction: the purge's own row is appended first (action `audit.purge`: who,
        where, how many rows, the cutoff; nothing about anyone it removes), which is what lets
        the database delete (migration 0004), then the rows go. A cutoff younger than
        `PURGE_FLOOR_DAYS` before `at` is refused, before anything is written."""
        check_fields(provider_id, terminal_id, PURGE_ACTION, None, None)
        if not actor:
            raise AuditFieldRefused("audit field 'actor' must name who purges")
        check_actor(actor)
        if before > at - timedelta(days=PURGE_FLOOR_DAYS):
            raise StoreError(f"audit rows younger than {PURGE_FLOOR_DAYS} days are never removed")
        try:
            with self._db.writing() as conn:
                return _purge(conn, before, at, provider_id, terminal_id, actor)
        except DatabaseError as e:
            # e.g. the database's clock is behind ours, so its floor keeps a row we would remove
            raise StoreError(f"the database refused the purge ({e.__class__.__name__})") from e

    def recent(self, limit: int = 100) -> list[AuditEvent]:
        """The latest events, newest first: the audit log's and the recorded verdicts that
        used a challenge (the verifications table) together."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(select(_t).order_by(_t.c.event_id.desc()).limit(limit)).all()
            verdicts = conn.execute(select(_v).order_by(_v.c.at.desc()).limit(limit)).all()
        events = [_logged(r) for r in rows] + [_verdict(v) for v in verdicts]
        # newest first; at one instant, the audit log's later entries after a verdict
        events.sort(key=_in_order, reverse=True)
        return events[:limit]

    def between(self, start: datetime, end: datetime, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every event at or after `start` and before `end` (UTC-aware), oldest first: the
        audit log's and the recorded verdicts together, as `recent` has them, read from one
        snapshot in batches of `batch` rows (an export of years need not fit in memory)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass a UTC-aware one")
        first, last = _micros(start), _micros(end)
        with self._db.reading() as conn:
            streamed = conn.execution_options(yield_per=batch)
            rows = streamed.execute(
                select(_t).where(_t.c.at >= start, _t.c.at < end).order_by(_t.c.at, _t.c.event_id)
            )
            verdicts = streamed.execute(
                select(_v).where(_v.c.at >= first, _v.c.at < last).order_by(_v.c.at)
            )
            yield from heapq.merge(map(_logged, rows), map(_verdict, verdicts), key=_in_order)


def _in_order(event: AuditEvent) -> tuple[datetime, bool, int]:
    """Events by time; at one instant a verdict first, then the audit log's in its order."""
    return (event.at, event.event_id is not None, event.event_id or 0)


def _micros(at: datetime) -> int:
    """A time as the verifications table keeps it: microseconds since 1970 (UTC)."""
    return (at - _EPOCH) // _MICROSECOND


def _logged(r: Row[Any]) -> AuditEvent:
    """An audit log row as an event."""
    return AuditEvent(
        r.event_id,
        r.at,
        r.provider_id,
        r.terminal_id,
        r.action,
        r.ok,
        r.reason,
        r.issuer_key_id,
        None if r.serial is None else serial_from_bytes(r.serial),
        r.actor,
        r.affected_rows,
        r.cutoff_at,
    )


def _verdict(v: Row[Any]) -> AuditEvent:
    """A recorded verdict (the verifications table) as an event, without an event id."""
    return AuditEvent(
        None,
        _EPOCH + v.at * _MICROSECOND,
        v.provider_id,
        v.terminal_id,
        v.action,
        v.ok,
        v.reason,
        v.issuer_key_id,
        None if v.serial is None else serial_from_bytes(v.serial),
    )


def _purge(
    conn: Connection,
    before: datetime,
    at: datetime,
    provider_id: str,
    terminal_id: str,
    actor: str,
) -> int:
    """Append the purge's row, then delete the rows older than `before` (in `conn`'s
    transaction, which on SQLite holds the write lock from its start)."""
    if conn.dialect.name == "postgresql":
        # No append may land between the purge's row and the DELETE: the database allows the
        # DELETE only while the purge's row is the latest, and the count must be exact.
        conn.exec_driver_sql("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
    expired = conn.execute(select(func.count()).select_from(_t).where(_t.c.at < before))
    count = int(expired.scalar_one())
    conn.execute(
        insert(_t).values(
            at=at,
            provider_id=provider_id,
            terminal_id=terminal_id,
            action=PURGE_ACTION,
            ok=True,
            actor=actor,
            affected_rows=count,
            cutoff_at=before,
        )
    )
    removed = conn.execute(delete(_t).where(_t.c.at < before)).rowcount
    if removed != count:
        raise StoreError("the audit log changed during the purge; nothing was removed")
    return count

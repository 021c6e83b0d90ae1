"""The outbox: messages for another system, kept until that system has accepted them.

A message is enqueued in the transaction that writes the visit's audit row, so either both
are durable or neither is: a visit the audit records always has its message, and a kiosk
killed right after the visit delivers it after the restart. A sender (kiosk.services.
outbox_sender) takes the due messages of its destination, sends each, and marks it delivered
once the receiver accepted it or failed with the time of the next attempt. Delivery is
therefore at least once: a receiver may see a message twice (accepted, then the kiosk died
before marking it) and deduplicates by its id.

Marking is idempotent: a delivered message stays delivered (a second mark changes nothing
and a late failure does not undo it), and a failed attempt is counted once however often it
is marked. Only codes and times are written beside the body: never a PIN, never the 4 info.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Update, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.audit import append_on
from kiosk.store.engine import Database
from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.models import OutboxRow, table_of

_t = table_of(OutboxRow)
_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


@dataclass(frozen=True, slots=True)
class VisitAudit:
    """The visit's audit row, written with its outbox message (codes only, as the audit log
    takes them: no PIN, no 4 info, no patient number)."""

    action: str
    ok: bool
    provider_id: str
    terminal_id: str
    reason: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbox row as the store hands it out."""

    message_id: str
    destination: str
    provider_id: str
    body: bytes = field(repr=False)
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    delivered_at: datetime | None

    @property
    def delivered(self) -> bool:
        """Whether the receiver has accepted it."""
        return self.delivered_at is not None


def _message_id(value: str | uuid.UUID) -> str:
    """The canonical text of a message id (a uuid); anything else is refused."""
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
    except (ValueError, AttributeError, TypeError) as e:
        raise StoreError("an outbox message id is a uuid") from e


def _check_code(field_name: str, value: str, pattern: re.Pattern[str]) -> None:
    if pattern.fullmatch(value) is None:
        raise StoreError(f"outbox field '{field_name}' must be a short code")


def _message(row: Row[Any]) -> OutboxMessage:
    r = row._mapping
    return OutboxMessage(
        r["message_id"],
        r["destination"],
        r["provider_id"],
        bytes(r["body"]),
        r["created_at"],
        r["attempts"],
        r["next_attempt_at"],
        r["last_attempt_at"],
        r["last_error"],
        r["delivered_at"],
    )


class Outbox:
    """Enqueue, hand out, mark and list the outbox's messages."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(
        self,
        message_id: str | uuid.UUID,
        destination: str,
        body: bytes,
        at: datetime,
        *,
        audit: VisitAudit,
    ) -> None:
        """Write the message, due now, and the visit's audit row in one transaction.

        Raises DuplicateKey when the message id is taken (neither row is written then),
        AuditFieldRefused for an audit field that is not a code, StoreError when the
        database is unavailable."""
        mid = _message_id(message_id)
        _check_code("destination", destination, _IDENTIFIER)
        try:
            with self._db.writing() as conn:
                conn.execute(
                    insert(_t).values(
                        message_id=mid,
                        destination=destination,
                        provider_id=audit.provider_id,
                        body=body,
                        created_at=at,
                        attempts=0,
                        next_attempt_at=at,
                    )
                )
                _audit(conn, audit, at)
        except IntegrityError as e:
            raise DuplicateKey("the outbox has a message with this id") from e

    def due(self, now: datetime, limit: int, destination: str) -> tuple[OutboxMessage, ...]:
        """Up to `limit` undelivered messages for `destination` whose next attempt is at or
        before `now`, the longest waiting first."""
        query = (
            select(_t)
            .where(
                _t.c.destination == destination,
                _t.c.delivered_at.is_(None),
                _t.c.next_attempt_at <= now,
            )
            .order_by(_t.c.next_attempt_at, _t.c.created_at)
            .limit(limit)
        )
        with self._db.autocommitted() as conn:
            return tuple(_message(r) for r in conn.execute(query))

    def mark_delivered(self, message_id: str | uuid.UUID, at: datetime) -> bool:
        """Record that the receiver accepted the message; False when it already was."""
        query = (
            update(_t)
            .where(_t.c.message_id == _message_id(message_id), _t.c.delivered_at.is_(None))
            .values(delivered_at=at, last_attempt_at=at)
        )
        return self._changed(query) == 1

    def mark_failed(
        self,
        message_id: str | uuid.UUID,
        at: datetime,
        error_code: str,
        next_attempt_at: datetime,
    ) -> bool:
        """Count a failed attempt made at `at` and set the next one; False when the message
        is delivered or that attempt was counted already."""
        _check_code("error_code", error_code, _CODE)
        query = (
            update(_t)
            .where(
                _t.c.message_id == _message_id(message_id),
                _t.c.delivered_at.is_(None),
                (_t.c.last_attempt_at.is_(None)) | (_t.c.last_attempt_at < at),
            )
            .values(
                attempts=_t.c.attempts + 1,
                last_attempt_at=at,
                last_error=error_code,
                next_attempt_at=next_attempt_at,
            )
        )
        return self._changed(query) == 1

    def retry(self, message_id: str | uuid.UUID, now: datetime) -> bool:
        """Make an undelivered message due now; False when it is delivered or unknown."""
        query = (
            update(_t)
            .where(_t.c.message_id == _message_id(message_id), _t.c.delivered_at.is_(None))
            .values(next_attempt_at=now)
        )
        return self._changed(query) == 1

    def retry_all(self, now: datetime) -> int:
        """Make every undelivered message due now; how many there were."""
        return self._changed(
            update(_t).where(_t.c.delivered_at.is_(None)).values(next_attempt_at=now)
        )

    def get(self, message_id: str | uuid.UUID) -> OutboxMessage | None:
        """One message, or None."""
        query = select(_t).where(_t.c.message_id == _message_id(message_id))
        with self._db.autocommitted() as conn:
            row = conn.execute(query).first()
        return None if row is None else _message(row)

    def list(self, *, pending_only: bool = False, limit: int = 100) -> tuple[OutboxMessage, ...]:
        """The latest messages, newest first (`pending_only`: the undelivered ones)."""
        query = select(_t).order_by(_t.c.created_at.desc(), _t.c.message_id).limit(limit)
        if pending_only:
            query = query.where(_t.c.delivered_at.is_(None))
        with self._db.autocommitted() as conn:
            return tuple(_message(r) for r in conn.execute(query))

    def pending(self) -> int:
        """How many messages are not delivered yet."""
        query = select(func.count()).select_from(_t).where(_t.c.delivered_at.is_(None))
        with self._db.autocommitted() as conn:
            return int(conn.execute(query).scalar_one())

    def _changed(self, statement: Update) -> int:
        with self._db.writing() as conn:
            return int(conn.execute(statement).rowcount)


def _audit(conn: Connection, audit: VisitAudit, at: datetime) -> None:
    append_on(
        conn,
        at=at,
        provider_id=audit.provider_id,
        terminal_id=audit.terminal_id,
        action=audit.action,
        ok=audit.ok,
        reason=audit.reason,
        actor=audit.actor,
    )

"""The operator console's operators and their sessions, shared by every worker process.

An operator is a login name (an identifier: it is the audit log's `actor`) and the password's
key from a memory-hard KDF — the string `kiosk.flow.staff.Credential.encode` writes, made and
checked above the store; this module never sees a password. Wrong passwords are counted per
operator in the row itself, so every worker process counts the same tries: after `tries` in a
row the login locks until a time that grows with each lockout (`Operators.failed`).

A session is a random id in the browser's cookie; the store keeps only its SHA-256, so a copy
of the store signs nobody in. Each session has its CSRF token (the hidden field of every form),
an idle expiry (renewed as the operator uses the console) and an absolute one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Row, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import OperatorRow, OperatorSessionRow, table_of

_ops = table_of(OperatorRow)
_sessions = table_of(OperatorSessionRow)

#: An operator's login name: an identifier, as the audit log's `actor` must be.
OPERATOR_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: A session id as the cookie carries it: `secrets.token_urlsafe(32)`.
SESSION_ID: Final = re.compile(r"[A-Za-z0-9_-]{43}")
#: The longest stored KDF string accepted (an scrypt string is about 100 characters).
MAX_KEY_TEXT: Final = 255
#: A session's last use is written again only when it is older than this: a page view does
#: not cost a write every time, and the idle expiry is still exact to within a minute.
TOUCH_EVERY: Final = timedelta(seconds=60)


class OperatorError(StoreError):
    """An operator operation was refused; `code` says why."""

    code = "operator"


class BadOperatorName(OperatorError):
    """The name is not an identifier (letters, digits, `_.:-`, at most 64)."""

    code = "operator_name"


class OperatorExists(OperatorError):
    """An operator of that name exists already."""

    code = "operator_exists"


class UnknownOperator(OperatorError):
    """No operator of that name."""

    code = "operator_unknown"


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator as the store holds it; `password` is the KDF's string, never a password."""

    name: str
    password: str = field(repr=False)
    created_at: datetime
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A live session: whose it is, the CSRF token its forms carry, and its expiries."""

    operator: str
    csrf_token: str = field(repr=False)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def check_name(name: str) -> None:
    """Raise BadOperatorName unless `name` is an identifier."""
    if OPERATOR_NAME.fullmatch(name) is None:
        raise BadOperatorName(
            "an operator's name is 1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)"
        )


def _operator(row: Row[Any]) -> Operator:
    r = row._mapping
    return Operator(
        r["name"],
        r["password"],
        r["created_at"],
        r["failed_logins"],
        r["locked_until"],
        r["last_login_at"],
    )


class Operators:
    """The console's operators: add, list, remove, and the wrong-password count."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, name: str, password_key: str, now: datetime) -> Operator:
        """A new operator with that KDF string; OperatorExists when the name is taken."""
        check_name(name)
        if not password_key or len(password_key) > MAX_KEY_TEXT:
            raise OperatorError("the password's key must be 1 to 255 characters")
        try:
            with self._db.writing() as conn:
                conn.execute(
                    insert(_ops).values(
                        name=name, password=password_key, created_at=now, failed_logins=0
                    )
                )
        except IntegrityError as e:
            raise OperatorExists(f"an operator named {name!r} exists already") from e
        return Operator(name, password_key, now, 0, None, None)

    def get(self, name: str) -> Operator | None:
        """The operator of that name, or None (also for a name that is no identifier)."""
        if OPERATOR_NAME.fullmatch(name) is None:
            return None
        with self._db.autocommitted() as conn:
            row = conn.execute(select(_ops).where(_ops.c.name == name)).first()
        return None if row is None else _operator(row)

    def all(self) -> list[Operator]:
        """Every operator, by name."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(select(_ops).order_by(_ops.c.name)).all()
        return [_operator(row) for row in rows]

    def remove(self, name: str) -> bool:
        """Remove the operator and sign out every session of theirs; False when unknown."""
        if OPERATOR_NAME.fullmatch(name) is None:
            return False
        with self._db.writing() as conn:
            conn.execute(delete(_sessions).where(_sessions.c.operator == name))
            return conn.execute(delete(_ops).where(_ops.c.name == name)).rowcount == 1

    def failed(
        self, name: str, now: datetime, *, tries: int, wait_s: Callable[[int], int]
    ) -> datetime | None:
        """Count a wrong password for the operator; when it is the `tries`-th in a row, lock
        the login for `wait_s(n)` seconds (n: lockouts before this one since the last good
        login) and answer until when; else None. In one transaction holding the row, so two
        workers counting at once count two."""
        with self._db.writing() as conn:
            row = conn.execute(
                select(_ops.c.failed_logins).where(_ops.c.name == name).with_for_update()
            ).first()
            if row is None:
                return None
            count = int(row[0]) + 1
            until = None
            if count % tries == 0:
                until = now + timedelta(seconds=wait_s(count // tries - 1))
            values: dict[str, Any] = {"failed_logins": count}
            if until is not None:
                values["locked_until"] = until
            conn.execute(update(_ops).where(_ops.c.name == name).values(**values))
        return until

    def succeeded(self, name: str, now: datetime) -> None:
        """A good login: the count and the lockout start over."""
        with self._db.writing() as conn:
            conn.execute(
                update(_ops)
                .where(_ops.c.name == name)
                .values(failed_logins=0, locked_until=None, last_login_at=now)
            )


def session_digest(session_id: str) -> bytes:
    """What the store keeps of a session id."""
    return hashlib.sha256(session_id.encode("ascii")).digest()


def _session(row: Row[Any]) -> OperatorSession:
    r = row._mapping
    return OperatorSession(
        r["operator"], r["csrf_token"], r["created_at"], r["last_seen_at"], r["expires_at"]
    )


class OperatorSessions:
    """Signed-in console sessions: opened at a good login, found by the cookie's id, closed at
    logout, expired after `idle` without use or `lifetime` after the login."""

    def __init__(self, db: Database, *, idle: timedelta, lifetime: timedelta) -> None:
        if idle <= timedelta(0) or lifetime < idle:
            raise ValueError("a session's idle time must be positive and at most its lifetime")
        self._db = db
        self._idle = idle
        self._lifetime = lifetime

    def open(self, operator: str, now: datetime) -> tuple[str, OperatorSession]:
        """A new session for the operator: its id (for the cookie only) and the session.
        Sessions that have expired by now are removed on the way."""
        session_id = secrets.token_urlsafe(32)
        opened = OperatorSession(
            operator, secrets.token_urlsafe(32), now, now, now + self._lifetime
        )
        with self._db.writing() as conn:
            conn.execute(delete(_sessions).where(self._expired(now)))
            conn.execute(
                insert(_sessions).values(
                    session_digest=session_digest(session_id),
                    operator=opened.operator,
                    csrf_token=opened.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=opened.expires_at,
                )
            )
        return session_id, opened

    def find(self, session_id: str, now: datetime) -> OperatorSession | None:
        """The live session of that id (its last use noted), or None: unknown, malformed,
        idle too long or past its lifetime (an expired one is removed)."""
        if SESSION_ID.fullmatch(session_id) is None:
            return None
        digest = session_digest(session_id)
        with self._db.autocommitted() as conn:
            row = conn.execute(select(_sessions).where(_sessions.c.session_digest == digest))
            found = row.first()
        if found is None:
            return None
        session = _session(found)
        if now >= session.expires_at or now >= session.last_seen_at + self._idle:
            self.close(session_id)
            return None
        if now - session.last_seen_at >= TOUCH_EVERY:
            with self._db.writing() as conn:
                conn.execute(
                    update(_sessions)
                    .where(_sessions.c.session_digest == digest)
                    .values(last_seen_at=now)
                )
        return session

    def close(self, session_id: str) -> bool:
        """End the session (logout); False when there was none."""
        if SESSION_ID.fullmatch(session_id) is None:
            return False
        with self._db.writing() as conn:
            deleted = conn.execute(
                delete(_sessions).where(_sessions.c.session_digest == session_digest(session_id))
            )
            return deleted.rowcount == 1

    def purge(self, now: datetime) -> int:
        """Remove the sessions that have expired by now; how many."""
        with self._db.writing() as conn:
            return int(conn.execute(delete(_sessions).where(self._expired(now))).rowcount)

    def _expired(self, now: datetime) -> Any:
        return or_(_sessions.c.expires_at <= now, _sessions.c.last_seen_at <= now - self._idle)

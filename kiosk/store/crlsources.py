"""The state of each CRL URL fetched on a schedule, shared by every process of a platform.

One row per URL: the HTTP validators (ETag, Last-Modified) and identity (issuer, CRL number,
SHA-256 of the DER) of the last CRL put in force from it, when it was last checked and last
succeeded, and the code of the last failure — what the metrics and the operator's console show
(`CrlSources.all`). The CRLs themselves are in force in the revocation tables
(`SqlRevocationIndex.all_info`); a failed fetch changes nothing there, so the last good CRL
stays in force.

Several worker processes may each run the refresher. A URL is fetched under a *lease*: `claim`
takes it with one conditional UPDATE (free, or expired, and due), so of many workers exactly
one fetches a URL at a time and the others skip it at the cost of one statement; a worker
that dies holding a lease loses it when it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.models import CrlSourceRow, table_of

_s = table_of(CrlSourceRow)
#: Longest validator kept; a longer one is not sent back (the next fetch is a full one).
_VALIDATOR_MAX = 512
_LAST_MODIFIED_MAX = 64


@dataclass(frozen=True, slots=True)
class CrlSourceState:
    """What is known of one CRL URL (for the console, the metrics and the next fetch)."""

    url: str
    etag: str | None
    last_modified: str | None
    issuer_key_id: str | None  # of the last CRL put in force from this URL
    crl_number: int | None
    der_sha256: str | None  # of that CRL's DER, when it was a complete CRL
    last_check_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None  # the code of the last failure; None after a success


@dataclass(frozen=True, slots=True)
class Applied:
    """A CRL fetched from a URL and put in force (or found already in force)."""

    etag: str | None
    last_modified: str | None
    issuer_key_id: str
    crl_number: int | None
    der_sha256: str | None  # None for a delta CRL (no base to diff the next full CRL on)


class CrlSources:
    """Reads and updates `crl_sources`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[CrlSourceState]:
        """Every URL's state, by URL."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(select(_s).order_by(_s.c.url)).all()
        return [_state(row) for row in rows]

    def get(self, url: str) -> CrlSourceState | None:
        """One URL's state, or None before its first check."""
        with self._db.autocommitted() as conn:
            row = conn.execute(select(_s).where(_s.c.url == url)).first()
        return None if row is None else _state(row)

    def claim(
        self, url: str, owner: str, now: datetime, lease: timedelta, checked_before: datetime | None
    ) -> CrlSourceState | None:
        """Take the URL's lease for `owner` until now + lease, if nobody holds a live one and
        it was not checked after `checked_before` (None: due at any time); its state, or None
        when another process holds it or it is not due."""
        self._ensure(url)
        condition = and_(_s.c.url == url, or_(_s.c.lease_until.is_(None), _s.c.lease_until <= now))
        if checked_before is not None:
            due = or_(_s.c.last_check_at.is_(None), _s.c.last_check_at <= checked_before)
            condition = and_(condition, due)
        with self._db.writing() as conn:
            taken = conn.execute(
                update(_s).where(condition).values(lease_owner=owner, lease_until=now + lease)
            ).rowcount
            row = conn.execute(select(_s).where(_s.c.url == url)).first() if taken else None
        return None if row is None else _state(row)

    def succeeded(self, url: str, owner: str, now: datetime, applied: Applied | None) -> None:
        """Record a successful check and release the lease; `applied` is the CRL put in force
        (None when the server answered 304 Not Modified: the validators stay)."""
        values: dict[str, Any] = {"last_check_at": now, "last_success_at": now, "last_error": None}
        if applied is not None:
            values.update(
                etag=_bounded(applied.etag, _VALIDATOR_MAX),
                last_modified=_bounded(applied.last_modified, _LAST_MODIFIED_MAX),
                issuer_key_id=applied.issuer_key_id,
                crl_number=applied.crl_number,
                der_sha256=applied.der_sha256,
            )
        self._release(url, owner, values)

    def failed(self, url: str, owner: str, now: datetime, code: str) -> None:
        """Record a failed check (its code) and release the lease; the validators stay those
        of the CRL still in force, so the next fetch asks again whether it changed."""
        self._release(url, owner, {"last_check_at": now, "last_error": code[:64]})

    def release(self, url: str, owner: str) -> None:
        """Give the lease back without recording a check (the refresher is stopping)."""
        self._release(url, owner, {})

    def _release(self, url: str, owner: str, values: dict[str, Any]) -> None:
        with self._db.writing() as conn:
            conn.execute(
                update(_s)
                .where(_s.c.url == url, _s.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, **values)
            )

    def _ensure(self, url: str) -> None:
        """The URL's row, made on first use (two processes making it at once: one wins)."""
        with self._db.autocommitted() as conn:
            if conn.execute(select(_s.c.url).where(_s.c.url == url)).first() is not None:
                return
        try:
            with self._db.writing() as conn:
                conn.execute(insert(_s).values(url=url))
        except IntegrityError:
            pass  # made meanwhile by another process


def _bounded(value: str | None, limit: int) -> str | None:
    return value if value is not None and len(value) <= limit else None


def _state(row: Row[Any]) -> CrlSourceState:
    number = None if row.crl_number is None else int(row.crl_number)
    return CrlSourceState(
        row.url,
        row.etag,
        row.last_modified,
        row.issuer_key_id,
        number,
        row.der_sha256,
        row.last_check_at,
        row.last_success_at,
        row.last_error,
    )

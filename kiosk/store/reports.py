"""What the operator console reads: verdict counts by reason per hour, and the audit search.

Both read the two places verdicts are kept: the `verifications` table (every verdict that used
a challenge) and the audit log (verdicts refused before a challenge was claimed, and every
other recorded event: staff, payments, the console's own actions). Neither can be searched by,
nor shows, anything but codes, identifiers and times — the tables hold no PIN and no 4 info —
and the certificate serials they keep are not shown either: an operator needs to see what
happened at which terminal, not whose card it was.

Every read is bounded: a search spans at most `MAX_RANGE`, answers `PAGE_SIZE` rows a page and
no page after `MAX_PAGE`. A search within a time range finds the verifications through their
key (the challenge's expiry in its high bits, which is never before the verdict), so the last
day of a table of millions reads only the last day's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, func, literal_column, select

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import AuditRow, VerificationRow, table_of

_v = table_of(VerificationRow)
_a = table_of(AuditRow)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_HOUR_US: Final = 3_600_000_000
#: The bits below a verification key's expiry (kiosk.store.verification._key).
_KEY_SHIFT: Final = 11

#: The audit log's actions that are verdicts (refused before a challenge was claimed).
VERDICT_ACTIONS: Final = ("user_proof", "enrol")
#: The longest time range one search or count spans.
MAX_RANGE: Final = timedelta(days=31)
#: Rows per page of a search.
PAGE_SIZE: Final = 50
#: The last page a search answers (0-based): at most PAGE_SIZE * (MAX_PAGE + 1) rows are read.
MAX_PAGE: Final = 99
#: Provider and terminal ids, as the audit log keeps them.
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class BadQuery(StoreError):
    """A search or count the store will not run; the message says why (safe to show)."""

    code = "report_query"


@dataclass(frozen=True, slots=True)
class HourlyCount:
    """How many verdicts gave `reason` in the hour starting at `hour` (UTC)."""

    hour: datetime
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A search of the audit trail: a time range (`since` inclusive, `until` exclusive),
    optionally one provider and one terminal, and the page (0-based)."""

    since: datetime
    until: datetime
    provider_id: str | None = None
    terminal_id: str | None = None
    page: int = 0

    def check(self) -> None:
        """Raise BadQuery unless the query is one the store runs."""
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise BadQuery("times must be UTC-aware")
        _check_range(self.since, self.until)
        for what, value in (("provider", self.provider_id), ("terminal", self.terminal_id)):
            if value is not None and _IDENTIFIER.fullmatch(value) is None:
                raise BadQuery(
                    f"a {what} id is 1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)"
                )
        if not 0 <= self.page <= MAX_PAGE:
            raise BadQuery(f"pages run from 1 to {MAX_PAGE + 1}")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit trail as the console shows it: `source` is "verification" (a
    verdict that used a challenge) or "audit" (the audit log)."""

    at: datetime
    source: str
    provider_id: str
    terminal_id: str
    action: str
    ok: bool
    reason: str | None
    actor: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of a search, newest first, and whether another page follows."""

    entries: tuple[AuditEntry, ...]
    page: int
    has_more: bool


def _check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise BadQuery("the end of the time range must come after its start")
    if until - since > MAX_RANGE:
        raise BadQuery(f"a time range spans at most {MAX_RANGE.days} days")


def _us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


class Reports:
    """The console's reads over the store."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._postgres = db.engine.dialect.name == "postgresql"

    def verdicts_by_hour(self, since: datetime, until: datetime) -> list[HourlyCount]:
        """The verdicts from `since` to `until` (at most MAX_RANGE) counted by hour and reason,
        both tables together; by hour, then reason."""
        _check_range(since, until)
        counts: dict[tuple[datetime, str], int] = {}
        with self._db.reading() as conn:
            for hour, reason, count in conn.execute(self._verification_counts(since, until)):
                at = _EPOCH + int(hour) * _MICROSECOND
                counts[at, reason] = counts.get((at, reason), 0) + int(count)
            for hour, reason, count in conn.execute(self._audit_counts(since, until)):
                at = self._hour_of(hour)
                key = (at, reason or "-")
                counts[key] = counts.get(key, 0) + int(count)
        return [HourlyCount(hour, reason, n) for (hour, reason), n in sorted(counts.items())]

    def _verification_counts(self, since: datetime, until: datetime) -> Any:
        hour = _v.c.at - _v.c.at % literal_column(str(_HOUR_US))
        return (
            select(hour.label("hour"), _v.c.reason, func.count())
            .where(self._verifications_within(since, until))
            .group_by(hour, _v.c.reason)
        )

    def _audit_counts(self, since: datetime, until: datetime) -> Any:
        if self._postgres:
            utc = func.timezone(literal_column("'UTC'"), _a.c.at)
            hour: Any = func.date_trunc(literal_column("'hour'"), utc)
        else:
            hour = func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), _a.c.at)
        return (
            select(hour.label("hour"), _a.c.reason, func.count())
            .where(_a.c.at >= since, _a.c.at < until, _a.c.action.in_(VERDICT_ACTIONS))
            .group_by(hour, _a.c.reason)
        )

    def _hour_of(self, value: object) -> datetime:
        """An audit row's hour as the database truncated it, UTC-aware."""
        return self._db.read_time(value)

    @staticmethod
    def _verifications_within(since: datetime, until: datetime) -> ColumnElement[bool]:
        # A verdict's challenge expires at or after the verdict: its key is at least since's.
        return and_(
            _v.c.verification_key >= _us(since) << _KEY_SHIFT,
            _v.c.at >= _us(since),
            _v.c.at < _us(until),
        )

    def search(self, query: AuditQuery) -> AuditPage:
        """One page of the verifications and audit rows that match, newest first."""
        query.check()
        wanted = (query.page + 1) * PAGE_SIZE + 1  # the rows up to this page, and one more
        verifications = self._verification_rows(query).limit(wanted)
        audit = self._audit_rows(query).limit(wanted)
        with self._db.reading() as conn:
            entries = [_from_verification(row) for row in conn.execute(verifications)]
            entries += [_from_audit(row) for row in conn.execute(audit)]
        entries.sort(key=lambda e: (e.at, e.source == "audit"), reverse=True)
        start = query.page * PAGE_SIZE
        page = tuple(entries[start : start + PAGE_SIZE])
        return AuditPage(page, query.page, len(entries) > start + PAGE_SIZE)

    def _verification_rows(self, query: AuditQuery) -> Any:
        where = [self._verifications_within(query.since, query.until)]
        if query.provider_id is not None:
            where.append(_v.c.provider_id == query.provider_id)
        if query.terminal_id is not None:
            where.append(_v.c.terminal_id == query.terminal_id)
        columns = (_v.c.at, _v.c.provider_id, _v.c.terminal_id, _v.c.action, _v.c.ok, _v.c.reason)
        return select(*columns).where(*where).order_by(_v.c.at.desc())

    def _audit_rows(self, query: AuditQuery) -> Any:
        where = [_a.c.at >= query.since, _a.c.at < query.until]
        if query.provider_id is not None:
            where.append(_a.c.provider_id == query.provider_id)
        if query.terminal_id is not None:
            where.append(_a.c.terminal_id == query.terminal_id)
        columns = (
            _a.c.at,
            _a.c.provider_id,
            _a.c.terminal_id,
            _a.c.action,
            _a.c.ok,
            _a.c.reason,
            _a.c.actor,
        )
        return select(*columns).where(*where).order_by(_a.c.at.desc(), _a.c.event_id.desc())


def _from_verification(row: Any) -> AuditEntry:
    at, provider_id, terminal_id, action, ok, reason = row
    return AuditEntry(
        _EPOCH + int(at) * _MICROSECOND,
        "verification",
        provider_id,
        terminal_id,
        action,
        bool(ok),
        reason,
        None,
    )


def _from_audit(row: Any) -> AuditEntry:
    at, provider_id, terminal_id, action, ok, reason, actor = row
    return AuditEntry(at, "audit", provider_id, terminal_id, action, bool(ok), reason, actor)

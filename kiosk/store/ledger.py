"""The payment ledger: every charge attempt at a shop counter, durable before the gateway call.

The payment service writes a `pending` row with `begin` BEFORE it asks the card company's
gateway to charge, and moves it afterwards: `settle` (the gateway's receipt number),
`decline` (a reason code the screen can say) or `mark_unknown` (a timeout or a 5xx: the
gateway may or may not have charged; a status query decides later). Staff may `void` a
settled row (who and when are kept). A kiosk killed between the two steps leaves a pending
row, which `pending_rows` hands to the reconciliation at start.

Charging once: `(provider_id, idempotency_key)` is unique in the database. `begin` with a key
already used returns that row (the same payment: terminal, account, request and amount) or
raises `LedgerKeyReused` (another payment under that key); two callers racing with one key
write one row between them, and both get it.

Limits are checked in the transaction that writes the pending row: the amount against the
per-payment limit, and the day's pending, unknown and settled amounts (declined and voided
ones do not count; an unknown one may have been charged, so it counts until resolved) of the
account and of the terminal against the daily limits. The day is the day in Japan. Two
payments racing past a daily limit are checked one after the other: SQLite's writers hold
the database's write lock from BEGIN (`Database.writing`), and on PostgreSQL `begin` locks
the account's and then the terminal's `payment_day_locks` row (always in that order, so two
payments never wait for each other in a circle). A refusal writes no row: nothing was asked
of the gateway, and a retry after a void may pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, Literal

from sqlalchemy import (
    Connection,
    Row,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from kiosk.clock import JST
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import LedgerRow, PaymentDayLockRow, table_of

_t = table_of(LedgerRow)
_locks = table_of(PaymentDayLockRow)
_CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
#: A reference (shop, terminal, account, request, key, receipt): printable, no control
#: characters, at most as long as its column.
_REFERENCE = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
_SHORT_REFERENCE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
#: Who voided: a staff number (digits, as `[[staff]]` has it) or an operator's code, the
#: same identifiers the audit log keeps as the actor.
_ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

#: The default limits of the issue: ¥10,000 a payment, ¥30,000 a day.
DEFAULT_PER_PAYMENT_YEN: Final = 10_000
DEFAULT_DAILY_YEN: Final = 30_000


class LedgerState(StrEnum):
    """Where a charge attempt stands."""

    PENDING = "pending"  # written; the gateway has not answered (or the kiosk died)
    SETTLED = "settled"  # charged: the gateway's receipt number is kept
    DECLINED = "declined"  # not charged, with a reason code
    UNKNOWN = "unknown"  # the gateway's answer was lost: a status query decides
    VOIDED = "voided"  # a settled charge that staff voided


#: The states whose amount counts towards the day's limits.
_COUNTED = (LedgerState.PENDING, LedgerState.SETTLED, LedgerState.UNKNOWN)
#: The states a gateway answer may still move a row out of.
_OPEN = (LedgerState.PENDING, LedgerState.UNKNOWN)

LimitReason = Literal["per_payment_limit", "daily_limit_account", "daily_limit_terminal"]


class LedgerKeyReused(StoreError):
    """An idempotency key already names another payment (a fault, never the person's)."""

    code = "payment_key_reused"


class LedgerStateConflict(StoreError):
    """The row cannot move that way (e.g. voiding a declined row, settling a voided one)."""

    code = "payment_ledger_state"


class UnknownLedgerEntry(StoreError):
    """No ledger row with that id."""

    code = "payment_ledger_unknown"


@dataclass(frozen=True, slots=True)
class LedgerLimits:
    """The limits `begin` checks, in whole yen (configurable; the issue's defaults)."""

    per_payment_yen: int = DEFAULT_PER_PAYMENT_YEN
    daily_account_yen: int = DEFAULT_DAILY_YEN
    daily_terminal_yen: int = DEFAULT_DAILY_YEN

    def __post_init__(self) -> None:
        for value in (self.per_payment_yen, self.daily_account_yen, self.daily_terminal_yen):
            _whole_yen(value)


@dataclass(frozen=True, slots=True)
class ChargeAttempt:
    """What `begin` records: one payment request charged to one account at one terminal."""

    provider_id: str  # the shop
    terminal_id: str
    account_ref: str  # the account at the shop that is charged
    request_id: str  # the gateway's id of the payment request
    amount_yen: int
    idempotency_key: str
    gateway: str  # the card company's gateway asked to charge (a code)

    def __post_init__(self) -> None:
        _whole_yen(self.amount_yen)
        _check(_CODE, "gateway", self.gateway)
        for name in ("provider_id", "terminal_id"):
            _check(_SHORT_REFERENCE, name, getattr(self, name))
        for name in ("account_ref", "request_id", "idempotency_key"):
            _check(_REFERENCE, name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as the store hands it out."""

    entry_id: int
    provider_id: str
    idempotency_key: str
    terminal_id: str
    account_ref: str
    request_id: str
    amount_yen: int
    gateway: str
    state: LedgerState
    reason: str | None
    receipt_no: str | None
    business_day: date
    created_at: datetime
    updated_at: datetime
    voided_at: datetime | None
    voided_by: str | None

    def same_payment(self, attempt: ChargeAttempt) -> bool:
        """Whether `attempt` is this row's payment (what its key must always name)."""
        return (
            self.terminal_id,
            self.account_ref,
            self.request_id,
            self.amount_yen,
        ) == (attempt.terminal_id, attempt.account_ref, attempt.request_id, attempt.amount_yen)


@dataclass(frozen=True, slots=True)
class Begun:
    """`begin`'s row; `new` is False when the key had been used already (a retry): then the
    row may be in any state, and a pending or unknown one is resolved by a status query
    before anything is charged again."""

    entry: LedgerEntry
    new: bool


@dataclass(frozen=True, slots=True)
class LimitRefused:
    """`begin` refused the payment before writing a row: the amount would pass a limit."""

    reason: LimitReason
    limit_yen: int
    used_yen: int  # what counts towards that limit already (0 for the per-payment one)
    amount_yen: int


@dataclass(frozen=True, slots=True)
class DayTotal:
    """One terminal's and gateway's figures for a day in Japan (the settlement)."""

    terminal_id: str
    gateway: str
    settled_count: int
    settled_yen: int
    voided_count: int
    voided_yen: int


def business_day(at: datetime) -> date:
    """The day in Japan of a UTC-aware time: the day a payment counts towards."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass a UTC-aware one")
    return at.astimezone(JST).date()


def _whole_yen(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("an amount is a whole number of yen above zero")
    return amount


def _check(pattern: re.Pattern[str], name: str, value: object) -> None:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise StoreError(f"ledger field '{name}' must be a short code or reference")


def _entry(row: Row[Any]) -> LedgerEntry:
    r = row._mapping
    return LedgerEntry(
        r["entry_id"],
        r["provider_id"],
        r["idempotency_key"],
        r["terminal_id"],
        r["account_ref"],
        r["request_id"],
        r["amount_yen"],
        r["gateway"],
        LedgerState(r["state"]),
        r["reason"],
        r["receipt_no"],
        r["business_day"],
        r["created_at"],
        r["updated_at"],
        r["voided_at"],
        r["voided_by"],
    )


class PaymentLedger:
    """Begin, resolve, void and total the charge attempts of a kiosk's payments."""

    def __init__(self, db: Database, limits: LedgerLimits | None = None) -> None:
        self._db = db
        self._postgres = db.engine.dialect.name == "postgresql"
        self.limits = limits or LedgerLimits()

    # --- begin ---------------------------------------------------------------------------

    def begin(self, attempt: ChargeAttempt, at: datetime) -> Begun | LimitRefused:
        """Write the attempt's pending row (the gateway is called after this returns), or
        return the row its key already has, or refuse it for a limit (writing nothing).

        Raises LedgerKeyReused when the key names another payment, StoreError when the
        database is unavailable."""
        try:
            with self._db.writing() as conn:
                return self._begin_on(conn, attempt, at)
        except IntegrityError:
            # another caller wrote the key after our look (PostgreSQL: a different account or
            # terminal, so not serialised by the same day locks)
            earlier = self.get_by_key(attempt.provider_id, attempt.idempotency_key)
            if earlier is None:
                raise StoreError("the ledger refused the row") from None
            return self._replayed(earlier, attempt)

    def _begin_on(
        self, conn: Connection, attempt: ChargeAttempt, at: datetime
    ) -> Begun | LimitRefused:
        day = business_day(at)
        if self._postgres:
            self._lock_day(conn, attempt.provider_id, "account", attempt.account_ref, day)
            self._lock_day(conn, attempt.provider_id, "terminal", attempt.terminal_id, day)
        earlier = conn.execute(self._by_key(attempt.provider_id, attempt.idempotency_key)).first()
        if earlier is not None:  # a retry, or a duplicate that waited for the same locks
            return self._replayed(_entry(earlier), attempt)
        if attempt.amount_yen > self.limits.per_payment_yen:
            return LimitRefused(
                "per_payment_limit", self.limits.per_payment_yen, 0, attempt.amount_yen
            )
        refused = self._over_daily_limit(conn, attempt, day)
        if refused is not None:
            return refused
        row = conn.execute(
            insert(_t)
            .values(
                provider_id=attempt.provider_id,
                idempotency_key=attempt.idempotency_key,
                terminal_id=attempt.terminal_id,
                account_ref=attempt.account_ref,
                request_id=attempt.request_id,
                amount_yen=attempt.amount_yen,
                gateway=attempt.gateway,
                state=LedgerState.PENDING.value,
                business_day=day,
                created_at=at,
                updated_at=at,
            )
            .returning(*_t.c)
        ).one()
        return Begun(_entry(row), new=True)

    @staticmethod
    def _replayed(earlier: LedgerEntry, attempt: ChargeAttempt) -> Begun:
        if not earlier.same_payment(attempt):
            raise LedgerKeyReused("the idempotency key names another payment")
        return Begun(earlier, new=False)

    def _lock_day(
        self, conn: Connection, provider_id: str, scope: str, subject: str, day: date
    ) -> None:
        """Hold the (shop, scope, subject, day) lock row until the transaction ends."""
        # ON CONFLICT DO UPDATE locks the row it finds (a no-op update), as FOR UPDATE
        # would, in one statement whether or not the row was there already
        statement = pg_insert(_locks).values(
            provider_id=provider_id, scope=scope, subject=subject, business_day=day
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(_locks.primary_key.columns),
                set_={"scope": statement.excluded.scope},
            )
        )

    def _over_daily_limit(
        self, conn: Connection, attempt: ChargeAttempt, day: date
    ) -> LimitRefused | None:
        counted = (
            _t.c.provider_id == attempt.provider_id,
            _t.c.business_day == day,
            _t.c.state.in_([s.value for s in _COUNTED]),
        )
        # one scalar subquery per limit, so each is answered from its own `_day` index
        day_sum = select(func.coalesce(func.sum(_t.c.amount_yen), 0)).where(*counted)
        account_yen, terminal_yen = conn.execute(
            select(
                day_sum.where(_t.c.account_ref == attempt.account_ref).scalar_subquery(),
                day_sum.where(_t.c.terminal_id == attempt.terminal_id).scalar_subquery(),
            )
        ).one()
        checks: tuple[tuple[LimitReason, int, int], ...] = (
            ("daily_limit_account", self.limits.daily_account_yen, int(account_yen)),
            ("daily_limit_terminal", self.limits.daily_terminal_yen, int(terminal_yen)),
        )
        for reason, limit, spent in checks:
            if spent + attempt.amount_yen > limit:
                return LimitRefused(reason, limit, spent, attempt.amount_yen)
        return None

    # --- resolve -------------------------------------------------------------------------

    def settle(self, entry_id: int, receipt_no: str, at: datetime) -> LedgerEntry:
        """The gateway charged: keep its receipt number. Settling again with the same
        receipt changes nothing; a declined or voided row, or another receipt, is a
        LedgerStateConflict."""
        _check(_REFERENCE, "receipt_no", receipt_no)
        return self._move(
            entry_id,
            LedgerState.SETTLED,
            {"receipt_no": receipt_no},
            lambda e: e.receipt_no == receipt_no,
            at,
        )

    def decline(self, entry_id: int, reason: str, at: datetime) -> LedgerEntry:
        """The gateway did not charge, for `reason` (a code, e.g. `insufficient_funds`).
        Declining again with the same reason changes nothing."""
        _check(_CODE, "reason", reason)
        return self._move(
            entry_id, LedgerState.DECLINED, {"reason": reason}, lambda e: e.reason == reason, at
        )

    def mark_unknown(self, entry_id: int, at: datetime) -> LedgerEntry:
        """The gateway's answer was lost (timeout, 5xx): charged or not is asked later.
        Only a pending row becomes unknown; an unknown one stays as it is."""
        return self._move(
            entry_id, LedgerState.UNKNOWN, {}, lambda _e: True, at, sources=(LedgerState.PENDING,)
        )

    def void(self, entry_id: int, by: str, at: datetime) -> LedgerEntry:
        """Staff voided a settled charge: `by` (the staff number) and `at` are kept. Voiding
        again changes nothing (the first void's who and when stay); only a settled row can
        be voided."""
        _check(_ACTOR, "by", by)
        return self._move(
            entry_id,
            LedgerState.VOIDED,
            {"voided_by": by, "voided_at": at},
            lambda _e: True,
            at,
            sources=(LedgerState.SETTLED,),
        )

    def _move(
        self,
        entry_id: int,
        target: LedgerState,
        values: dict[str, Any],
        same: Any,
        at: datetime,
        sources: tuple[LedgerState, ...] = _OPEN,
    ) -> LedgerEntry:
        """Move a row from one of `sources` to `target` in one transaction; a row already
        in `target` for which `same(entry)` holds is returned unchanged."""
        with self._db.writing() as conn:
            row = conn.execute(
                update(_t)
                .where(_t.c.entry_id == entry_id, _t.c.state.in_([s.value for s in sources]))
                .values(state=target.value, updated_at=at, **values)
                .returning(*_t.c)
            ).first()
            if row is not None:
                return _entry(row)
            row = conn.execute(select(_t).where(_t.c.entry_id == entry_id)).first()
        if row is None:
            raise UnknownLedgerEntry(f"no ledger row {entry_id}")
        entry = _entry(row)
        if entry.state is target and same(entry):
            return entry
        raise LedgerStateConflict(f"a {entry.state.value} ledger row cannot become {target.value}")

    def forget_day_locks(self, before: date) -> int:
        """Delete the day lock rows of days before `before` (a day that is over takes no
        more payments, so its locks are never waited for again); how many there were."""
        with self._db.writing() as conn:
            return int(conn.execute(delete(_locks).where(_locks.c.business_day < before)).rowcount)

    # --- read ----------------------------------------------------------------------------

    def get(self, entry_id: int) -> LedgerEntry | None:
        """One row, or None."""
        with self._db.autocommitted() as conn:
            row = conn.execute(select(_t).where(_t.c.entry_id == entry_id)).first()
        return None if row is None else _entry(row)

    def get_by_key(self, provider_id: str, idempotency_key: str) -> LedgerEntry | None:
        """The row of a shop's idempotency key, or None."""
        with self._db.autocommitted() as conn:
            row = conn.execute(self._by_key(provider_id, idempotency_key)).first()
        return None if row is None else _entry(row)

    def get_by_receipt(self, provider_id: str, receipt_no: str) -> LedgerEntry | None:
        """The settled or voided row of a shop with this receipt number, or None."""
        query = select(_t).where(_t.c.provider_id == provider_id, _t.c.receipt_no == receipt_no)
        with self._db.autocommitted() as conn:
            row = conn.execute(query.order_by(_t.c.entry_id)).first()
        return None if row is None else _entry(row)

    def attempts_of(
        self, provider_id: str, request_id: str, account_ref: str | None = None
    ) -> tuple[LedgerEntry, ...]:
        """The rows of one payment request (charged to `account_ref`, when given), in the
        order begun."""
        conditions = [_t.c.provider_id == provider_id, _t.c.request_id == request_id]
        if account_ref is not None:
            conditions.append(_t.c.account_ref == account_ref)
        query = select(_t).where(*conditions).order_by(_t.c.created_at, _t.c.entry_id)
        with self._db.autocommitted() as conn:
            return tuple(_entry(r) for r in conn.execute(query))

    @staticmethod
    def _by_key(provider_id: str, idempotency_key: str) -> Any:
        return select(_t).where(
            _t.c.provider_id == provider_id, _t.c.idempotency_key == idempotency_key
        )

    def pending_rows(self, older_than: datetime) -> tuple[LedgerEntry, ...]:
        """The rows still pending or unknown that were begun before `older_than`, oldest
        first: at start, each is resolved with the gateway's status query (a kiosk died
        between `begin` and the gateway's answer, or the answer was lost)."""
        query = (
            select(_t)
            .where(_t.c.state.in_([s.value for s in _OPEN]), _t.c.created_at < older_than)
            .order_by(_t.c.created_at, _t.c.entry_id)
        )
        with self._db.autocommitted() as conn:
            return tuple(_entry(r) for r in conn.execute(query))

    def entries_of_day(self, day: date, provider_id: str) -> tuple[LedgerEntry, ...]:
        """Every row of a shop's day in Japan, in the order they were begun."""
        query = (
            select(_t)
            .where(_t.c.provider_id == provider_id, _t.c.business_day == day)
            .order_by(_t.c.created_at, _t.c.entry_id)
        )
        with self._db.autocommitted() as conn:
            return tuple(_entry(r) for r in conn.execute(query))

    def day_totals(self, day: date, provider_id: str) -> tuple[DayTotal, ...]:
        """A shop's settled and voided figures of a day in Japan per terminal and gateway
        (pending, unknown and declined rows are not money moved), by terminal then gateway."""
        settled = _t.c.state == LedgerState.SETTLED.value
        voided = _t.c.state == LedgerState.VOIDED.value
        query = (
            select(
                _t.c.terminal_id,
                _t.c.gateway,
                func.sum(case((settled, 1), else_=0)),
                func.sum(case((settled, _t.c.amount_yen), else_=0)),
                func.sum(case((voided, 1), else_=0)),
                func.sum(case((voided, _t.c.amount_yen), else_=0)),
            )
            .where(
                _t.c.provider_id == provider_id,
                _t.c.business_day == day,
                _t.c.state.in_([LedgerState.SETTLED.value, LedgerState.VOIDED.value]),
            )
            .group_by(_t.c.terminal_id, _t.c.gateway)
            .order_by(_t.c.terminal_id, _t.c.gateway)
        )
        with self._db.autocommitted() as conn:
            return tuple(
                DayTotal(terminal, gateway, int(sc), int(sy), int(vc), int(vy))
                for terminal, gateway, sc, sy, vc, vy in conn.execute(query)
            )

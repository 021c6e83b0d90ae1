"""The payment ledger in the store: a row before the gateway call, charging once under
concurrent retries, limits under concurrency, state moves, void rules and day totals
(SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest
from alembic import command
from sqlalchemy import inspect

from kiosk.store.engine import Database, alembic_config
from kiosk.store.errors import StoreError
from kiosk.store.ledger import (
    Begun,
    ChargeAttempt,
    DayTotal,
    LedgerKeyReused,
    LedgerLimits,
    LedgerState,
    LedgerStateConflict,
    LimitRefused,
    PaymentLedger,
    UnknownLedgerEntry,
    business_day,
)
from tests.concurrency_support import all_at_once

# 10:30 JST on 3 December 2026
AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
DAY = date(2026, 12, 3)
T = TypeVar("T")


@pytest.fixture
def ledger(db):
    return PaymentLedger(db)


def attempt(
    request_id: str = "REQ-1",
    amount: int = 1_280,
    *,
    account: str = "acct-1",
    terminal: str = "term-1",
    key: str | None = None,
    gateway: str = "card-co",
) -> ChargeAttempt:
    return ChargeAttempt(
        provider_id="shop-1",
        terminal_id=terminal,
        account_ref=account,
        request_id=request_id,
        amount_yen=amount,
        idempotency_key=key or f"key-{request_id}-{account}-{terminal}-{amount}",
        gateway=gateway,
    )


def begun(result: Begun | LimitRefused) -> Begun:
    assert isinstance(result, Begun), result
    return result


# --- begin -------------------------------------------------------------------------------


def test_begin_writes_a_pending_row_of_the_day_in_japan(ledger):
    result = begun(ledger.begin(attempt(), AT))
    entry = result.entry
    assert result.new
    assert (entry.state, entry.amount_yen, entry.request_id, entry.business_day) == (
        LedgerState.PENDING,
        1_280,
        "REQ-1",
        DAY,
    )
    assert (entry.reason, entry.receipt_no, entry.voided_at) == (None, None, None)
    assert ledger.get(entry.entry_id) == entry
    assert ledger.get_by_key("shop-1", entry.idempotency_key) == entry


def test_the_day_is_japan_s_day():
    assert business_day(datetime(2026, 12, 2, 15, 0, tzinfo=UTC)) == DAY  # 00:00 JST
    assert business_day(datetime(2026, 12, 2, 14, 59, tzinfo=UTC)) == date(2026, 12, 2)


def test_a_retry_with_the_key_returns_the_first_row_in_whatever_state(ledger):
    first = begun(ledger.begin(attempt(), AT)).entry
    ledger.settle(first.entry_id, "R-1", AT)
    again = begun(ledger.begin(attempt(), AT + timedelta(minutes=1)))
    assert not again.new
    assert (again.entry.entry_id, again.entry.state, again.entry.receipt_no) == (
        first.entry_id,
        LedgerState.SETTLED,
        "R-1",
    )
    assert len(ledger.entries_of_day(DAY, "shop-1")) == 1


@pytest.mark.parametrize(
    "other",
    [
        {"amount_yen": 1_281},
        {"request_id": "REQ-2"},
        {"account_ref": "acct-2"},
        {"terminal_id": "term-2"},
    ],
)
def test_a_key_reused_for_another_payment_is_refused(ledger, other):
    first = attempt()
    begun(ledger.begin(first, AT))
    with pytest.raises(LedgerKeyReused):
        ledger.begin(replace(first, **other), AT)
    assert len(ledger.entries_of_day(DAY, "shop-1")) == 1


def test_the_same_key_at_another_shop_is_another_payment(ledger):
    begun(ledger.begin(attempt(), AT))
    other_shop = begun(ledger.begin(replace(attempt(), provider_id="shop-2"), AT))
    assert other_shop.new


def test_charge_once_under_twenty_concurrent_retries(ledger):
    results = all_at_once(20, lambda _i: ledger.begin(attempt(), AT))
    entries = {begun(r).entry for r in results}
    assert len(entries) == 1  # every caller sees the one row
    assert sum(begun(r).new for r in results) == 1
    assert len(ledger.entries_of_day(DAY, "shop-1")) == 1


def test_a_key_raced_by_another_payment_is_refused_to_the_loser(ledger):
    # the same key for two accounts, at once: one row, the other caller is refused
    def go(i: int) -> Begun | LimitRefused | LedgerKeyReused:
        try:
            return ledger.begin(attempt(account=f"acct-{i}", key="key-shared"), AT)
        except LedgerKeyReused as e:
            return e

    results = all_at_once(2, go)
    assert sum(isinstance(r, Begun) for r in results) == 1
    assert sum(isinstance(r, LedgerKeyReused) for r in results) == 1
    assert len(ledger.entries_of_day(DAY, "shop-1")) == 1


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_an_amount_is_whole_yen_above_zero(amount):
    with pytest.raises(ValueError):
        attempt(amount=amount)


@pytest.mark.parametrize("field", ["terminal_id", "account_ref", "idempotency_key"])
def test_a_reference_with_control_characters_is_refused(field):
    with pytest.raises(StoreError):
        replace(attempt(), **{field: "a\nb"})


# --- limits ------------------------------------------------------------------------------


def test_the_per_payment_limit(ledger):
    assert isinstance(ledger.begin(attempt(amount=10_000), AT), Begun)
    refused = ledger.begin(attempt("REQ-2", 10_001), AT)
    assert refused == LimitRefused("per_payment_limit", 10_000, 0, 10_001)
    assert len(ledger.entries_of_day(DAY, "shop-1")) == 1


def test_the_daily_limit_of_an_account_counts_its_terminals(ledger):
    for i, terminal in enumerate(("term-1", "term-2", "term-3")):
        begun(ledger.begin(attempt(f"REQ-{i}", 10_000, terminal=terminal), AT))
    refused = ledger.begin(attempt("REQ-9", 1, terminal="term-4"), AT)
    assert refused == LimitRefused("daily_limit_account", 30_000, 30_000, 1)


def test_the_daily_limit_of_a_terminal_counts_its_accounts(ledger):
    for i, account in enumerate(("acct-1", "acct-2", "acct-3")):
        begun(ledger.begin(attempt(f"REQ-{i}", 9_000, account=account), AT))
    refused = ledger.begin(attempt("REQ-9", 3_001, account="acct-4"), AT)
    assert refused == LimitRefused("daily_limit_terminal", 30_000, 27_000, 3_001)
    assert isinstance(ledger.begin(attempt("REQ-8", 3_000, account="acct-4"), AT), Begun)


def test_configured_limits(db):
    ledger = PaymentLedger(db, LedgerLimits(500, 800, 2_000))
    assert ledger.begin(attempt(amount=501), AT) == LimitRefused("per_payment_limit", 500, 0, 501)
    begun(ledger.begin(attempt("REQ-1", 500), AT))
    assert ledger.begin(attempt("REQ-2", 301), AT) == LimitRefused(
        "daily_limit_account", 800, 500, 301
    )


def test_declined_and_voided_rows_do_not_count_pending_and_unknown_do(ledger):
    a = begun(ledger.begin(attempt("REQ-a", 10_000), AT)).entry
    b = begun(ledger.begin(attempt("REQ-b", 10_000), AT)).entry
    c = begun(ledger.begin(attempt("REQ-c", 10_000), AT)).entry
    ledger.mark_unknown(b.entry_id, AT)
    ledger.settle(c.entry_id, "R-c", AT)
    assert isinstance(ledger.begin(attempt("REQ-d", 1), AT), LimitRefused)
    ledger.decline(a.entry_id, "insufficient_funds", AT)
    ledger.void(c.entry_id, "staff-7", AT)
    begun(ledger.begin(attempt("REQ-d", 10_000), AT))
    begun(ledger.begin(attempt("REQ-e", 10_000), AT))
    assert isinstance(ledger.begin(attempt("REQ-f", 1), AT), LimitRefused)


def test_the_daily_limit_starts_again_on_the_next_day_in_japan(ledger):
    for i in range(3):
        begun(ledger.begin(attempt(f"REQ-{i}", 10_000), AT))
    midnight_jst = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    assert isinstance(
        ledger.begin(attempt("REQ-8", 1), midnight_jst - timedelta(seconds=1)), LimitRefused
    )
    assert begun(ledger.begin(attempt("REQ-9", 1), midnight_jst)).entry.business_day == date(
        2026, 12, 4
    )


@pytest.mark.parametrize(
    ("same", "reason"),
    [
        ({"terminal": "term-1"}, "daily_limit_terminal"),
        ({"account": "acct-1"}, "daily_limit_account"),
    ],
)
def test_two_payments_racing_past_the_daily_cap_exactly_one_gets_through(db, same, reason):
    ledger = PaymentLedger(db, LedgerLimits(20_000, 30_000, 30_000))
    first = {"account": "acct-0", "terminal": "term-0"} | same
    begun(ledger.begin(attempt("REQ-0", 15_000, **first), AT))

    def go(i: int) -> Begun | LimitRefused:
        other = {"account": f"acct-{i + 1}", "terminal": f"term-{i + 1}"} | same
        return ledger.begin(attempt(f"REQ-{i + 1}", 10_000, **other), AT)

    results = all_at_once(2, go)
    assert sum(isinstance(r, Begun) for r in results) == 1
    (refused,) = [r for r in results if isinstance(r, LimitRefused)]
    assert (refused.reason, refused.used_yen) == (reason, 25_000)


def test_twenty_payments_racing_never_pass_the_daily_cap(ledger):
    results = all_at_once(
        20, lambda i: ledger.begin(attempt(f"REQ-{i}", 7_000, account=f"acct-{i % 2}"), AT)
    )
    assert sum(isinstance(r, Begun) for r in results) == 4  # 4 × ¥7,000 ≤ ¥30,000 < 5 ×
    total = sum(e.amount_yen for e in ledger.entries_of_day(DAY, "shop-1"))
    assert total == 28_000


# --- moves -------------------------------------------------------------------------------


def test_settle_keeps_the_receipt_and_is_idempotent(ledger):
    entry = begun(ledger.begin(attempt(), AT)).entry
    later = AT + timedelta(seconds=2)
    settled = ledger.settle(entry.entry_id, "R-1", later)
    assert (settled.state, settled.receipt_no, settled.updated_at) == (
        LedgerState.SETTLED,
        "R-1",
        later,
    )
    assert ledger.settle(entry.entry_id, "R-1", later + timedelta(seconds=1)) == settled
    with pytest.raises(LedgerStateConflict):
        ledger.settle(entry.entry_id, "R-2", later)
    with pytest.raises(LedgerStateConflict):
        ledger.decline(entry.entry_id, "gateway_declined", later)


def test_decline_keeps_its_reason_and_a_declined_row_is_final(ledger):
    entry = begun(ledger.begin(attempt(), AT)).entry
    declined = ledger.decline(entry.entry_id, "account_suspended", AT)
    assert (declined.state, declined.reason) == (LedgerState.DECLINED, "account_suspended")
    assert ledger.decline(entry.entry_id, "account_suspended", AT) == declined
    for move in (
        lambda: ledger.settle(entry.entry_id, "R-1", AT),
        lambda: ledger.mark_unknown(entry.entry_id, AT),
        lambda: ledger.void(entry.entry_id, "staff-7", AT),
    ):
        with pytest.raises(LedgerStateConflict):
            move()


def test_a_reason_is_a_short_code(ledger):
    entry = begun(ledger.begin(attempt(), AT)).entry
    with pytest.raises(StoreError):
        ledger.decline(entry.entry_id, "Declined: card 4111 1111", AT)
    assert ledger.get(entry.entry_id).state is LedgerState.PENDING


def test_an_unknown_row_is_resolved_either_way(ledger):
    one = begun(ledger.begin(attempt("REQ-1"), AT)).entry
    two = begun(ledger.begin(attempt("REQ-2"), AT)).entry
    for entry in (one, two):
        assert ledger.mark_unknown(entry.entry_id, AT).state is LedgerState.UNKNOWN
        assert ledger.mark_unknown(entry.entry_id, AT).state is LedgerState.UNKNOWN
    assert ledger.settle(one.entry_id, "R-1", AT).state is LedgerState.SETTLED
    assert ledger.decline(two.entry_id, "gateway_declined", AT).state is LedgerState.DECLINED
    with pytest.raises(LedgerStateConflict):
        ledger.mark_unknown(one.entry_id, AT)


def test_void_only_a_settled_row_keeping_the_first_who_and_when(ledger):
    entry = begun(ledger.begin(attempt(), AT)).entry
    with pytest.raises(LedgerStateConflict):
        ledger.void(entry.entry_id, "staff-7", AT)  # pending: not charged yet
    ledger.settle(entry.entry_id, "R-1", AT)
    at = AT + timedelta(hours=1)
    voided = ledger.void(entry.entry_id, "staff-7", at)
    assert (voided.state, voided.voided_by, voided.voided_at, voided.receipt_no) == (
        LedgerState.VOIDED,
        "staff-7",
        at,
        "R-1",
    )
    assert ledger.void(entry.entry_id, "staff-8", at + timedelta(hours=1)) == voided
    with pytest.raises(LedgerStateConflict):
        ledger.settle(entry.entry_id, "R-1", at)


def test_a_staff_number_of_digits_is_who_voided(ledger):
    # the staff number as `[[staff]]` configures it and the audit's actor keeps it (digits)
    entry = begun(ledger.begin(attempt(), AT)).entry
    ledger.settle(entry.entry_id, "R-1", AT)
    assert ledger.void(entry.entry_id, "0042", AT).voided_by == "0042"


@pytest.mark.parametrize("by", ["", "staff 7", "PIN=1234\n", "x" * 65])
def test_who_voided_is_an_identifier_only(ledger, by):
    entry = begun(ledger.begin(attempt(), AT)).entry
    ledger.settle(entry.entry_id, "R-1", AT)
    with pytest.raises(StoreError):
        ledger.void(entry.entry_id, by, AT)
    assert ledger.get(entry.entry_id).state is LedgerState.SETTLED


def test_moving_an_unknown_row_id_is_refused(ledger):
    with pytest.raises(UnknownLedgerEntry):
        ledger.settle(999, "R-1", AT)


def test_pending_rows_are_the_open_ones_begun_before_the_cutoff(ledger):
    old = begun(ledger.begin(attempt("REQ-1"), AT)).entry
    lost = begun(ledger.begin(attempt("REQ-2"), AT + timedelta(seconds=1))).entry
    done = begun(ledger.begin(attempt("REQ-3"), AT)).entry
    fresh = begun(ledger.begin(attempt("REQ-4"), AT + timedelta(minutes=5))).entry
    ledger.mark_unknown(lost.entry_id, AT)
    ledger.settle(done.entry_id, "R-3", AT)
    cutoff = AT + timedelta(minutes=1)
    assert [e.entry_id for e in ledger.pending_rows(cutoff)] == [old.entry_id, lost.entry_id]
    assert fresh.entry_id not in [e.entry_id for e in ledger.pending_rows(cutoff)]


# --- totals ------------------------------------------------------------------------------


def test_day_totals_equal_the_rows(ledger):
    rows = [
        ("REQ-1", 1_000, "term-1", "card-a", "settle"),
        ("REQ-2", 2_000, "term-1", "card-a", "settle"),
        ("REQ-3", 3_000, "term-1", "card-b", "settle"),
        ("REQ-4", 4_000, "term-2", "card-a", "void"),
        ("REQ-5", 5_000, "term-2", "card-a", "settle"),
        ("REQ-6", 6_000, "term-2", "card-a", "decline"),
        ("REQ-7", 7_000, "term-2", "card-a", "pending"),
    ]
    for request, amount, terminal, gateway, fate in rows:
        entry = begun(
            ledger.begin(
                attempt(request, amount, terminal=terminal, gateway=gateway, account=request), AT
            )
        ).entry
        if fate in ("settle", "void"):
            ledger.settle(entry.entry_id, f"R-{request}", AT)
        if fate == "void":
            ledger.void(entry.entry_id, "staff-7", AT)
        if fate == "decline":
            ledger.decline(entry.entry_id, "gateway_declined", AT)
    begun(ledger.begin(attempt("REQ-8", 800), AT + timedelta(days=1)))  # another day
    totals = ledger.day_totals(DAY, "shop-1")
    assert totals == (
        DayTotal("term-1", "card-a", 2, 3_000, 0, 0),
        DayTotal("term-1", "card-b", 1, 3_000, 0, 0),
        DayTotal("term-2", "card-a", 1, 5_000, 1, 4_000),
    )
    entries = ledger.entries_of_day(DAY, "shop-1")
    settled = [e for e in entries if e.state is LedgerState.SETTLED]
    assert sum(t.settled_yen for t in totals) == sum(e.amount_yen for e in settled)
    assert sum(t.settled_count for t in totals) == len(settled)
    assert ledger.day_totals(DAY, "shop-2") == ()


# --- migration ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_0007_goes_down_and_up_again(empty_url):
    db = Database(empty_url)
    try:
        db.upgrade("0007")
        begun(PaymentLedger(db).begin(attempt(), AT))
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0006")
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        assert "payment_ledger" not in tables and "payment_day_locks" not in tables
        assert "outbox" in tables
        db.upgrade("0007")
        ledger = PaymentLedger(db)
        assert ledger.entries_of_day(DAY, "shop-1") == ()
        begun(ledger.begin(attempt(), AT))
        with pytest.raises(LedgerKeyReused):  # the unique key is back too
            ledger.begin(replace(attempt(), amount_yen=1), AT)
    finally:
        db.dispose()


# --- across a restart ----------------------------------------------------------------------


def test_a_restarted_kiosk_finds_the_row_and_charges_nothing_twice(store_url):
    first = Database(store_url)
    try:
        entry = begun(PaymentLedger(first).begin(attempt(), AT)).entry
    finally:
        first.dispose()  # the kiosk dies before the gateway answers
    restarted = Database(store_url)
    try:
        ledger = PaymentLedger(restarted)
        assert [e.entry_id for e in ledger.pending_rows(AT + timedelta(minutes=1))] == [
            entry.entry_id
        ]
        again = begun(ledger.begin(attempt(), AT + timedelta(minutes=2)))
        assert (again.new, again.entry) == (False, entry)
    finally:
        restarted.dispose()


def test_day_locks_of_past_days_are_forgotten(db, ledger):
    begun(ledger.begin(attempt("REQ-1"), AT))
    begun(ledger.begin(attempt("REQ-2"), AT + timedelta(days=1)))
    expected = 2 if db.engine.dialect.name == "postgresql" else 0  # account + terminal
    assert ledger.forget_day_locks(DAY + timedelta(days=1)) == expected
    assert ledger.forget_day_locks(DAY + timedelta(days=1)) == 0
    begun(ledger.begin(attempt("REQ-3"), AT + timedelta(days=1)))  # the next day still works

"""Payment ledger benchmark: ledger writes per second with the limits checked.

Run: .venv/bin/python bench/ledger_bench.py [--payments 2000] [--seconds 20]
     [--db sqlite|postgres|both]

One payment is what the payment service does around a gateway call: `PaymentLedger.begin`
(the key looked up, on PostgreSQL the account's and terminal's day locks taken, the day's
amounts of the account and of the terminal summed against the limits, the pending row
written: one transaction) and then `PaymentLedger.settle` (a second transaction). The
payments are ¥100 each from 200 accounts at 20 terminals of one shop, under the default
limits, so none is refused and every one does all the work. Each run stops after `--payments`
payments or `--seconds` seconds, whichever comes first. The baseline, in the same run on the
same database: the same two transactions bare (one INSERT of the row, then one UPDATE of its
state, through the same `Database.writing()`), with no key lookup, no lock, no limit sums.
PostgreSQL uses KIOSK_TEST_POSTGRES_URL, or a throwaway cluster started the way the tests
start one (fsync off: the figures are the work, not the disk).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACCOUNTS = 200
TERMINALS = 20
AMOUNT_YEN = 100
#: 10:00 JST: every payment falls on one day in Japan, so the daily sums grow with the run.
START = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def timed(count: int, seconds: float, step: Callable[[int], None]) -> tuple[int, float, float]:
    """Run `step(i)` up to `count` times or for `seconds`; (done, per second, p99 ms)."""
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        step(i)
        samples.append(time.perf_counter() - t)
        if time.perf_counter() - started > seconds:
            break
    elapsed = time.perf_counter() - started
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3
    return len(samples), len(samples) / elapsed, p99


def bench_db(name: str, url: str, payments: int, seconds: float) -> None:
    from sqlalchemy import insert, update

    from kiosk.store.engine import Database
    from kiosk.store.ledger import Begun, ChargeAttempt, PaymentLedger, business_day
    from kiosk.store.models import LedgerRow, table_of

    db = Database(url)
    db.upgrade()
    t = table_of(LedgerRow)
    ledger = PaymentLedger(db)

    def bare(i: int) -> None:
        at = START + timedelta(milliseconds=i)
        with db.writing() as conn:
            entry_id = conn.execute(
                insert(t)
                .values(
                    provider_id="baseline",
                    idempotency_key=f"bare-{i}",
                    terminal_id=f"term-{i % TERMINALS}",
                    account_ref=f"acct-{i % ACCOUNTS}",
                    request_id=f"REQ-{i}",
                    amount_yen=AMOUNT_YEN,
                    gateway="card-co",
                    state="pending",
                    business_day=business_day(at),
                    created_at=at,
                    updated_at=at,
                )
                .returning(t.c.entry_id)
            ).scalar_one()
        with db.writing() as conn:
            conn.execute(
                update(t)
                .where(t.c.entry_id == entry_id)
                .values(state="settled", receipt_no=f"R-{i}", updated_at=at)
            )

    def pay(i: int) -> None:
        at = START + timedelta(milliseconds=i)
        attempt = ChargeAttempt(
            provider_id="shop-1",
            terminal_id=f"term-{i % TERMINALS}",
            account_ref=f"acct-{i % ACCOUNTS}",
            request_id=f"REQ-{i}",
            amount_yen=AMOUNT_YEN,
            idempotency_key=f"kiosk-pay-{i:032d}",
            gateway="card-co",
        )
        result = ledger.begin(attempt, at)
        if not isinstance(result, Begun) or not result.new:
            raise SystemExit(f"payment {i} was not begun: {result}")
        ledger.settle(result.entry.entry_id, f"R-{i}", at)

    try:
        figures = []
        for label, step in (("bare insert+update", bare), ("ledger begin+settle", pay)):
            done, rate, p99 = timed(payments, seconds, step)
            figures.append(rate)
            print(
                f"{name:10} {label:20} payments={done:,} {rate:,.0f}/s "
                f"({rate * 2:,.0f} transactions/s) p99={p99:.2f}ms",
                flush=True,
            )
        totals = ledger.day_totals(business_day(START), "shop-1")
        settled = sum(x.settled_count for x in totals)
        print(
            f"{name:10} ledger/bare = {figures[1] / figures[0]:.2f}; "
            f"settled rows in the day totals: {settled:,}",
            flush=True,
        )
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if args.payments * AMOUNT_YEN / TERMINALS > 30_000:
        raise SystemExit("that many payments would pass a terminal's daily limit")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        if args.db in ("sqlite", "both"):
            bench_db(
                "sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.payments, args.seconds
            )
        if args.db in ("postgres", "both"):
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_fixtures import postgres_server

            with postgres_server() as url:
                bench_db("postgres", url, args.payments, args.seconds)


if __name__ == "__main__":
    main()

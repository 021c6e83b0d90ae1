"""Roster benchmark: load an insurer's N-member roster CSV (default 100,000), then look up.

Run: .venv/bin/python bench/roster_bench.py [--members 100000] [--db sqlite|postgres|both]

What `kiosk insurance import` does, step by step: check the CSV whole
(`records_csv.parse_roster`), then put it in force in one transaction
(`InsuranceRoster.replace_insurer`): first into an empty store ("import"), then over the first
load ("replace": the old members deleted in the same transaction). Target: under 10 s for
100,000 members on SQLite. The baselines, measured in the same run on the same rows: the csv
module alone reading the file (the floor of the check), and the bare driver inserting the same
rows into a bare table with the same unique key in one transaction (the floor of the store).
Lookups are 5,000 calls of `InsuranceRoster.member`, half hits, half misses. PostgreSQL uses
KIOSK_TEST_POSTGRES_URL, or a throwaway cluster started the way the tests start one.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSURER = "06139998"
HEADER = (
    "insurer,symbol,number,branch,name,name_kana,birth_date,valid_from,valid_to,lost_on,"
    "copay_tenths"
)
SURNAMES = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ")]
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("美咲", "ミサキ")]


def roster_csv(members: int, seed: int) -> bytes:
    """A roster of `members` rows: households of 1-4 (枝番 01..04), mixed periods."""
    rng = random.Random(seed)
    lines = [HEADER]
    number = 0
    while len(lines) <= members:
        number += 1
        for branch in range(1, rng.randint(1, 4) + 1):
            if len(lines) > members:
                break
            (family, kana_f), (given, kana_g) = rng.choice(SURNAMES), rng.choice(GIVEN)
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
            since = date(2015, 4, 1) + timedelta(days=rng.randrange(3000))
            until = "" if rng.random() < 0.7 else (since + timedelta(days=730)).isoformat()
            lost = "" if rng.random() < 0.95 else (since + timedelta(days=365)).isoformat()
            lines.append(
                f"{INSURER},{number % 97:02d},{number:08d},{branch:02d},{family} {given},"
                f"{kana_f} {kana_g},{born},{since},{until},{lost},{rng.choice((1, 2, 3, 3))}"
            )
    return ("\n".join(lines) + "\n").encode()


def raw_csv_seconds(data: bytes) -> float:
    started = time.perf_counter()
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) > 1
    return time.perf_counter() - started


def raw_sqlite_seconds(path: Path, rows: list[tuple]) -> float:
    """The bare driver: the same rows into a bare table with the same unique key."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, import_id INT, insurer TEXT, symbol TEXT, "
        "number TEXT, branch TEXT, name TEXT, name_kana TEXT, birth_date DATE, "
        "valid_from DATE, valid_to DATE, lost_on DATE, copay_tenths INT, "
        "UNIQUE (insurer, symbol, number, branch))"
    )
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO m VALUES (NULL, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def lookups(roster, members, rounds: int) -> tuple[float, float]:
    rng = random.Random(7)
    samples = []
    for i in range(rounds):
        m = rng.choice(members)
        number = m.number if i % 2 == 0 else "X" + m.number[1:]
        t = time.perf_counter()
        found = roster.member(m.insurer, m.symbol, number, m.branch)
        samples.append(time.perf_counter() - t)
        assert (found is not None) == (i % 2 == 0)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3


def bench_db(name: str, url: str, files: list[bytes]) -> None:
    from kiosk.services.records_csv import parse_roster
    from kiosk.store.engine import Database
    from kiosk.store.roster import InsuranceRoster

    db = Database(url)
    db.upgrade()
    roster = InsuranceRoster(db)
    try:
        for label, data in zip(("import", "replace"), files, strict=True):
            started = time.perf_counter()
            parsed = parse_roster(data)
            checked = time.perf_counter()
            result = roster.replace_insurer(
                parsed.insurer, parsed.members, parsed.sha256, datetime.now(UTC)
            )
            stored = time.perf_counter()
            p50, p99 = lookups(roster, parsed.members, 5_000)
            print(
                f"{name:8} {label:8} members={result.rows:,} replaced={result.replaced:,} "
                f"check={checked - started:.2f}s store={stored - checked:.2f}s "
                f"total={stored - started:.2f}s (target < 10 s) "
                f"lookup p50={p50:.3f}ms p99={p99:.3f}ms",
                flush=True,
            )
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    from kiosk.services.records_csv import parse_roster

    files = [roster_csv(args.members, seed) for seed in (1, 2)]
    print(f"roster CSV: {args.members:,} members, {len(files[0]) / 1e6:.1f} MB", flush=True)
    with tempfile.TemporaryDirectory(prefix="roster-bench-") as tmp:
        work = Path(tmp)
        rows = [
            tuple(getattr(m, f) for f in m.__dataclass_fields__)
            for m in parse_roster(files[0]).members
        ]
        print(
            f"baseline csv.reader alone={raw_csv_seconds(files[0]):.2f}s  "
            f"bare sqlite3 executemany={raw_sqlite_seconds(work / 'raw.sqlite3', rows):.2f}s",
            flush=True,
        )
        if args.db in ("sqlite", "both"):
            bench_db("sqlite", f"sqlite:///{work / 'bench.sqlite3'}", files)
        if args.db in ("postgres", "both"):
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_fixtures import postgres_server

            with postgres_server() as url:
                bench_db("postgres", url, files)


if __name__ == "__main__":
    main()

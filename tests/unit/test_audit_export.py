"""`kiosk audit export`: a period's audit events and verdicts, oldest first, as JSON lines or
CSV, on SQLite and PostgreSQL; periods read with an explicit time zone, bad ones refused."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.cli import main
from kiosk.clock import JST
from kiosk.commands.audit import ExportRefused, period, time_zone
from kiosk.store.audit import AuditLog
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.challenge import ChallengeClaim
from kiosk.verify.ports import LedgerEntry

#: 2026-12-01 00:00 JST, the start of a Japanese day (15:00 UTC the day before).
DAY = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def verdict(store: SqlVerificationStore, at: datetime, n: int, reason: str = "ok") -> None:
    """A verdict that used challenge n (the verifications table)."""
    claim = ChallengeClaim(
        bytes([n]) + bytes(31), int((at + timedelta(minutes=2)).timestamp() * 1e6)
    )
    entry = LedgerEntry(
        at,
        "clinic",
        "kiosk-1",
        "user_proof",
        reason == "ok",
        reason,
        "ab" * 20,
        0x1F00 + n,
        challenge=claim,
    )
    assert store.record(entry)


def event(log: AuditLog, at: datetime, action: str, ok: bool = True, **kw) -> None:
    log.append(at=at, provider_id="clinic", terminal_id="kiosk-1", action=action, ok=ok, **kw)


@pytest.fixture
def filled(db):
    """Events before, on the edges of, inside and after 2026-12-01 (JST)."""
    log, store = AuditLog(db), SqlVerificationStore(db)
    event(log, DAY - timedelta(microseconds=1), "service.before")
    event(log, DAY, "service.identity")
    verdict(store, DAY + timedelta(hours=1), 1)
    event(log, DAY + timedelta(hours=1), "service.insurance", False, reason="not_covered")
    verdict(store, DAY + timedelta(hours=2), 2, reason="crl_stale")
    event(log, DAY + timedelta(days=1) - timedelta(microseconds=1), "service.last", actor="1021")
    event(log, DAY + timedelta(days=1), "service.after")
    verdict(store, DAY + timedelta(days=1), 3)
    return db


def test_between_reads_both_tables_oldest_first_end_excluded(filled) -> None:
    events = list(AuditLog(filled).between(DAY, DAY + timedelta(days=1), batch=2))
    assert [(e.action, e.reason) for e in events] == [
        ("service.identity", None),
        ("user_proof", "ok"),  # a verdict first at one instant
        ("service.insurance", "not_covered"),
        ("user_proof", "crl_stale"),
        ("service.last", None),
    ]
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert events[1].serial == 0x1F01 and events[1].event_id is None


def test_between_refuses_a_naive_time(filled) -> None:
    with pytest.raises(ValueError):
        list(AuditLog(filled).between(datetime(2026, 12, 1), DAY))


def config_for(tmp_path, store_url: str) -> str:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'database_url = "{store_url}"\n')
    return str(path)


def test_export_a_japanese_day_as_json_lines(filled, store_url, tmp_path, capsys) -> None:
    argv = ["audit", "export", "--config", config_for(tmp_path, store_url)]
    assert main([*argv, "--from", "2026-12-01", "--to", "2026-12-01"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in rows] == [
        "service.identity",
        "user_proof",
        "service.insurance",
        "user_proof",
        "service.last",
    ]
    assert rows[0]["at"] == "2026-12-01T00:00:00+09:00"
    assert rows[-1]["at"] == "2026-12-01T23:59:59.999999+09:00"
    assert rows[-1]["actor"] == "1021" and rows[-1]["source"] == "audit"
    assert rows[1] == {
        "at": "2026-12-01T01:00:00+09:00",
        "source": "verdict",
        "event_id": None,
        "provider_id": "clinic",
        "terminal_id": "kiosk-1",
        "action": "user_proof",
        "ok": True,
        "reason": "ok",
        "issuer_key_id": "ab" * 20,
        "serial": "1f01",
        "actor": None,
        "affected_rows": None,
        "cutoff_at": None,
    }
    assert "exported 5 audit events from 2026-12-01T00:00:00+09:00" in err
    assert "2026-12-02T00:00:00+09:00 (end excluded)" in err


def test_export_as_csv_in_utc_to_a_file(filled, store_url, tmp_path, capsys) -> None:
    out = tmp_path / "audit.csv"
    argv = ["audit", "export", "--config", config_for(tmp_path, store_url), "--format", "csv"]
    argv += ["--from", "2026-11-30T15:00Z", "--to", "2026-11-30T17:00+00:00", "--tz", "UTC"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["at"], r["source"], r["reason"]) for r in rows] == [
        ("2026-11-30T15:00:00+00:00", "audit", ""),
        ("2026-11-30T16:00:00+00:00", "verdict", "ok"),
        ("2026-11-30T16:00:00+00:00", "audit", "not_covered"),
    ]
    assert rows[1]["ok"] == "True" and rows[2]["ok"] == "False"
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ("2026-12-32", "2026-12-31", "--from '2026-12-32' is neither a date"),
        ("yesterday", "2026-12-31", "--from 'yesterday' is neither a date"),
        ("2026-12-01T09:00", "2026-12-02", "--from '2026-12-01T09:00' has no offset"),
        ("2026-12-02", "2026-12-01", "--to (2026-12-01) must come after --from (2026-12-02)"),
        ("2026-12-01", "2026-12-01T00:00+09:00", "must come after"),
    ],
)
def test_a_bad_period_is_a_clear_error(tmp_path, capsys, start, end, said) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n')
    argv = ["audit", "export", "--config", str(path), "--from", start, "--to", end]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert said in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "kiosk.sqlite3").exists()  # refused before the store is opened


def test_an_unknown_time_zone_is_a_clear_error(capsys) -> None:
    argv = ["audit", "export", "--from", "2026-12-01", "--to", "2026-12-01", "--tz", "Mars/Base"]
    assert main(argv) == 2
    assert "--tz 'Mars/Base' is not a time zone" in capsys.readouterr().err


def test_a_store_that_is_not_there_is_not_created(tmp_path, capsys) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    argv = ["audit", "export", "--config", str(path), "--from", "2026-12-01", "--to", "2026-12-01"]
    assert main(argv) == 2
    assert "no database file" in capsys.readouterr().err
    assert not (tmp_path / "data" / "kiosk.sqlite3").exists()


def test_time_zones_and_periods() -> None:
    assert time_zone("JST") is JST
    assert time_zone("utc") is UTC
    assert time_zone("+05:30").utcoffset(None) == timedelta(hours=5, minutes=30)
    assert time_zone("Asia/Tokyo").utcoffset(datetime(2026, 7, 1)) == timedelta(hours=9)
    start, end = period("2026-12-01", "2026-12-03", JST)
    assert (start, end) == (DAY, DAY + timedelta(days=3))
    assert period("2026-12-01T00:00+09:00", "2026-12-01T10:00+09:00", UTC)[0] == DAY
    with pytest.raises(ExportRefused):
        time_zone("+25:00")

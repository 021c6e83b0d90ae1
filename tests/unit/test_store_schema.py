"""Migrations: upgrade from empty on both databases; the models and the migrations agree;
0003 (verifications) and 0004 (audit retention) go down and up again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from kiosk.store.engine import Database, alembic_config, make_engine, normalise_url
from kiosk.store.errors import StoreError
from kiosk.store.models import Base
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.ports import ChallengeClaim, LedgerEntry

TABLES = {
    "providers",
    "links",
    "verifications",
    "crl_generations",
    "crl_current",
    "revoked_serials",
    "audit_log",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_upgrade_from_empty_creates_every_table_and_matches_the_models(empty_url):
    db = Database(empty_url)
    try:
        db.upgrade()
        db.upgrade()  # a second run is a no-op
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == []
    finally:
        db.dispose()


def tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def schema_diff(db: Database) -> list:
    with db.engine.connect() as conn:
        return compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )


def test_0003_goes_down_keeping_the_uses_and_up_again(empty_url):
    expires_us = 1_775_037_720_000_000
    at = datetime(2026, 4, 1, 10, 0, 0, 250, tzinfo=UTC)
    at_us = 1_775_037_600_000_250
    # challenges sharing a key (each next one is put under the next key), also where the
    # next key carries into the expiry bits (11 key bits all ones)
    prefixes = (b"\x00\x01", b"\x12\x34", b"\x12\x35", b"\xff\xff", b"\xff\xfe")
    claims = [ChallengeClaim(prefix + bytes([n]) * 30, expires_us + n)
              for n, prefix in enumerate(prefixes)]  # fmt: skip
    claims[2] = claims[2]._replace(expires_us=claims[1].expires_us)
    claims[4] = claims[4]._replace(expires_us=claims[3].expires_us)
    db = Database(empty_url)
    try:
        db.upgrade("0002")
        assert "challenge_uses" in tables(db) and "verifications" not in tables(db)
        db.upgrade()
        assert "verifications" in tables(db) and "challenge_uses" not in tables(db)
        store = SqlVerificationStore(db)
        for c in claims:
            entry = LedgerEntry(at, "demo-clinic", "kiosk-1", "user_proof", True, "ok", None,
                                None, c)  # fmt: skip
            assert store.record(entry)
        db.dispose()
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0002")
        assert "challenge_uses" in tables(db) and "verifications" not in tables(db)
        with db.engine.connect() as conn:
            uses = conn.exec_driver_sql(
                "SELECT expires_at, challenge_id, used_at FROM challenge_uses"
            ).all()
        assert sorted((e, bytes(c), u) for e, c, u in uses) == sorted(
            (c.expires_us, c.challenge_id, at_us) for c in claims
        )
        db.upgrade()  # and up again (on PostgreSQL: the trigger function was dropped too)
        assert "verifications" in tables(db) and "challenge_uses" not in tables(db)
        assert schema_diff(db) == []
        again = Database(empty_url)
        try:
            assert SqlVerificationStore(again).record(entry)
            with pytest.raises(DBAPIError, match="append-only"), again.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM verifications")
        finally:
            again.dispose()
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    with db.engine.connect() as conn:
        pragmas = [
            conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
    db.dispose()
    assert pragmas == ["wal", 1, 10_000]


def test_urls_and_refusals():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(StoreError, match="unsupported"):
        make_engine("mysql://u@h/db")


def test_0004_goes_down_to_a_wholly_append_only_log_and_up_again(empty_url):
    """Down: the retention columns go, the purge's rows stay, and no DELETE passes any more
    (0001's triggers); up: the columns and the purge's triggers are back and agree with the
    models, and a purge works again."""
    from kiosk.store.audit import AuditLog

    now = datetime.now(UTC)
    old, fresh = now - timedelta(days=800), now - timedelta(days=10)
    db = Database(empty_url)
    try:
        db.upgrade()
        log = AuditLog(db)
        for at in (old, old, fresh):
            log.append(at=at, provider_id="p", terminal_id="t", action="user_proof", ok=True)
        purge = dict(at=now, provider_id="p", terminal_id="t", actor="ops")
        assert log.purge(before=now - timedelta(days=365), **purge) == 2
        db.dispose()
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0003")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("audit_log")}
            actions = conn.exec_driver_sql("SELECT action FROM audit_log").scalars().all()
        assert not columns & {"actor", "affected_rows", "cutoff_at"}
        assert sorted(actions) == ["audit.purge", "user_proof"]
        for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET ok = NOT ok"):
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.exec_driver_sql(statement)

        db.upgrade()
        assert schema_diff(db) == []
        log.append(at=old, provider_id="p", terminal_id="t", action="user_proof", ok=True)
        assert log.purge(before=now - timedelta(days=365), **purge) == 1
        assert [e.action for e in log.recent()] == ["audit.purge", "audit.purge", "user_proof"]
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM audit_log")
    finally:
        db.dispose()

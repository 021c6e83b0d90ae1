"""Migrations: upgrade from empty on both databases; the models and the migrations agree."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kiosk.store.engine import Database, make_engine, normalise_url
from kiosk.store.errors import StoreError
from kiosk.store.models import Base

TABLES = {
    "providers",
    "links",
    "challenge_uses",
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

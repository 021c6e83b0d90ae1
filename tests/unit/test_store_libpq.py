"""The PostgreSQL hot path (kiosk.store.libpq): statements run by libpq's prepared-statement
call give the values a psycopg cursor gives, and fail as a cursor's statement fails."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from kiosk.store.engine import Database
from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.libpq import numbered

pytestmark = pytest.mark.postgres

WHEN = datetime(2026, 12, 3, 19, 30, 1, 250_000, tzinfo=UTC)


def test_placeholders_are_numbered_in_order_and_a_doubled_percent_is_one():
    assert numbered("SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' AND d = %s") == (
        b"SELECT a FROM t WHERE b = $1 AND c LIKE 'x%' AND d = $2"
    )
    assert numbered("SELECT 1") == b"SELECT 1"


@pytest.fixture
def pg(postgres_empty_db: str):
    db = Database(postgres_empty_db)
    with db.writing() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE t (k bigint PRIMARY KEY, name text, raw bytea, ok boolean, "
            "at timestamptz, n integer)"
        )
    yield db
    db.dispose()


def test_values_go_in_and_come_out_as_a_psycopg_cursor_gives_them(pg, postgres_empty_db):
    row = (2**40 + 7, "名前 name", b"\x00\xffbytes", True, WHEN, None)
    insert = pg.sql("INSERT INTO t (k, name, raw, ok, at, n) VALUES (?, ?, ?, ?, ?, ?)")
    assert pg.count(insert, row) == 1
    select = pg.sql("SELECT k, name, raw, ok, at, n FROM t WHERE k = ?")
    for _ in range(3):  # prepared once, then run by name
        got = pg.one(select, (row[0],))
        assert got == row and isinstance(got[2], bytes)
    with psycopg.connect(postgres_empty_db.replace("+psycopg", "")) as conn:
        assert conn.execute(select, (row[0],)).fetchone() == got
    assert pg.one(select, (1,)) is None  # no row
    update = pg.sql("UPDATE t SET n = ? WHERE k >= ?")
    assert pg.count(update, (5, 0)) == 1 and pg.count(update, (5, 2**50)) == 0


def test_a_duplicate_key_is_the_stores_duplicate_key_and_the_next_statement_works(pg):
    insert = pg.sql("INSERT INTO t (k, name) VALUES (?, ?)")
    pg.count(insert, (1, "a"))
    with pytest.raises(DuplicateKey):
        pg.count(insert, (1, "b"))
    assert pg.one(pg.sql("SELECT name FROM t WHERE k = ?"), (1,)) == ("a",)


def test_a_statement_the_server_refuses_is_a_store_error(pg):
    with pytest.raises(StoreError, match="database error"):
        pg.one(pg.sql("SELECT nothing FROM t WHERE k = ?"), (1,))
    with pytest.raises(StoreError, match="database error"):  # a value the column cannot take
        pg.count(pg.sql("INSERT INTO t (k, n) VALUES (?, ?)"), (2, "not a number"))


def test_a_lost_connection_is_unavailable_and_the_next_call_connects_again(pg):
    select = pg.sql("SELECT count(*) FROM t WHERE k > ?")
    assert pg.one(select, (0,)) == (0,)
    pid = pg.one("SELECT pg_backend_pid()", ())[0]
    with pg.autocommitted() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    with pytest.raises(StoreError, match="unavailable"):
        pg.one(select, (0,))
    assert pg.one(select, (0,)) == (0,)  # a new connection, its statements prepared anew

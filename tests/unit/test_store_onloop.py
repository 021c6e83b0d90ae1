"""The store's statements awaited on an event loop (kiosk.store.onloop, `Database.on_loop`):
while one request's statement waits at the server, the loop runs other requests' statements;
the loop's connections are few, each lent to one statement or one unit at a time; a failure,
a lost connection or a cancelled request leaves no connection half-used behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from kiosk.store.engine import Database
from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.onloop import LOOP_CONNECTIONS, cooperating, cooperatively, suspend

#: Guards against a hang, not timings: a test fails after this long instead of waiting on.
HANG_S = 30


@pytest.fixture
def outside(postgres_empty_db: str):
    """A connection of the test's own, outside the store (it holds locks the store waits on).
    The store's statements wait for a lock at most 20 s: a loop they blocked (so that the
    test could never let go of its lock) fails the test rather than hanging it."""
    with psycopg.connect(postgres_empty_db.replace("+psycopg", ""), autocommit=True) as conn:
        database = conn.info.dbname
        conn.execute(f"ALTER DATABASE {database} SET lock_timeout = '20s'")  # type: ignore[arg-type]
        yield conn


@pytest.fixture
def pg(postgres_empty_db: str, outside):
    db = Database(postgres_empty_db)
    with db.writing() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k bigint PRIMARY KEY, name text)")
    yield db
    db.dispose()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, HANG_S))


def rows(db: Database) -> list[tuple[int, str]]:
    with db.autocommitted() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT k, name FROM t ORDER BY k")]


def test_greenlet_code_awaits_through_the_loop_and_gets_its_answers_and_errors():
    async def later(value):
        await asyncio.sleep(0)
        return value

    async def failing():
        await asyncio.sleep(0)
        raise KeyError("x")

    def plain(n):
        assert cooperating()
        total = suspend(later(n)) + suspend(later(1))
        try:
            suspend(failing())
        except KeyError:
            total += 100  # the awaited error is raised at the suspend, and may be handled
        return total

    assert run(cooperatively(plain, 5)) == 106
    assert not cooperating()
    with pytest.raises(RuntimeError, match="outside"):
        suspend(later(1))


def test_values_come_back_as_the_blocking_path_gives_them(pg):
    insert = pg.sql("INSERT INTO t (k, name) VALUES (?, ?)")
    select = pg.sql("SELECT k, name FROM t WHERE k = ?")

    def work():
        assert pg.count(insert, (2**40, "名前")) == 1
        return [pg.one(select, (2**40,)) for _ in range(3)], pg.one(select, (1,))

    got, missing = run(pg.on_loop(work))
    assert got == [(2**40, "名前")] * 3 and missing is None
    assert pg.one(select, (2**40,)) == got[0]  # the blocking path reads the same


def test_while_a_statement_waits_at_the_server_the_loop_runs_another(pg, outside):
    outside.execute("SELECT pg_advisory_lock(7)")
    waiting = pg.sql("SELECT pg_advisory_xact_lock(7), 'waited'")
    insert = pg.sql("INSERT INTO t (k, name) VALUES (?, ?)")

    async def main():
        held = asyncio.create_task(pg.on_loop(pg.one, waiting, ()))
        await asyncio.sleep(0.05)
        assert not held.done()  # at the server, behind the test's lock
        # another request's statement runs to its end meanwhile (a blocked loop never would)
        assert await pg.on_loop(pg.count, insert, (1, "meanwhile")) == 1
        outside.execute("SELECT pg_advisory_unlock(7)")
        return await held

    assert run(main()) == ("", "waited")
    assert rows(pg) == [(1, "meanwhile")]


def test_at_most_a_few_connections_the_other_requests_wait_their_turn(pg, outside):
    outside.execute("SELECT pg_advisory_lock(8)")
    waiting = pg.sql("SELECT pg_advisory_xact_lock(8), ?")
    requests = LOOP_CONNECTIONS * 3

    async def main():
        tasks = [
            asyncio.create_task(pg.on_loop(pg.one, waiting, (str(n),))) for n in range(requests)
        ]
        await asyncio.sleep(0.1)
        lent = pg._loop_connections
        assert lent is not None and lent.open == LOOP_CONNECTIONS
        waiters = outside.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchone()
        assert waiters == (LOOP_CONNECTIONS,)
        outside.execute("SELECT pg_advisory_unlock(8)")
        return await asyncio.gather(*tasks)

    answers = run(main())
    assert sorted(int(a[1]) for a in answers) == list(range(requests))
    assert pg._loop_connections is not None and pg._loop_connections.open == LOOP_CONNECTIONS


def test_units_on_the_loop_are_each_their_own_transaction(pg, outside):
    insert = pg.sql("INSERT INTO t (k, name) VALUES (?, ?)")
    outside.execute("SELECT pg_advisory_lock(9)")
    waiting = pg.sql("SELECT pg_advisory_xact_lock(9)")

    def kept():
        with pg.unit():
            pg.count(insert, (1, "kept"))
            pg.one(waiting, ())  # suspended in its unit, while the other unit runs
            pg.count(insert, (2, "kept too"))

    def undone():
        with pg.unit():
            pg.count(insert, (3, "undone"))
            pg.count(insert, (3, "the same key"))  # DuplicateKey: the whole unit rolls back

    async def main():
        first = asyncio.create_task(pg.on_loop(kept))
        await asyncio.sleep(0.05)
        with pytest.raises(DuplicateKey):
            await pg.on_loop(undone)
        assert rows(pg) == []  # the first unit is not committed yet, the second never
        outside.execute("SELECT pg_advisory_unlock(9)")
        await first

    run(main())
    assert rows(pg) == [(1, "kept"), (2, "kept too")]


def test_a_refused_statement_is_a_store_error_and_its_connection_serves_on(pg):
    insert = pg.sql("INSERT INTO t (k, name) VALUES (?, ?)")

    def work():
        pg.count(insert, (1, "a"))
        with pytest.raises(DuplicateKey):
            pg.count(insert, (1, "b"))
        with pytest.raises(StoreError, match="database error"):
            pg.one(pg.sql("SELECT nothing FROM t WHERE k = ?"), (1,))
        return pg.one(pg.sql("SELECT name FROM t WHERE k = ?"), (1,))

    assert run(pg.on_loop(work)) == ("a",)
    assert pg._loop_connections is not None and pg._loop_connections.open == 1


def test_a_lost_connection_is_unavailable_and_the_next_statement_connects_again(pg, outside):
    select = pg.sql("SELECT count(*) FROM t WHERE k > ?")

    def work():
        assert pg.one(select, (0,)) == (0,)
        pid = pg.one("SELECT pg_backend_pid()", ())[0]
        outside.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StoreError, match="unavailable"):
            pg.one(select, (0,))
        return pg.one(select, (0,))

    assert run(pg.on_loop(work)) == (0,)
    assert pg._loop_connections is not None and pg._loop_connections.open == 1


def test_a_connection_the_server_closed_while_idle_is_not_lent_again(pg, outside):
    async def main():
        pid = (await pg.on_loop(pg.one, "SELECT pg_backend_pid()", ()))[0]
        outside.execute("SELECT pg_terminate_backend(%s)", (pid,))
        lent = pg._loop_connections
        assert lent is not None and lent.open == 1
        for _ in range(1000):  # until the loop has read the server's goodbye (at most 10 s)
            if not any(c.idle for c in lent._idle):
                break
            await asyncio.sleep(0.01)
        return await pg.on_loop(pg.one, "SELECT pg_backend_pid()", ())

    run(main())  # answered on a new connection, not failed on the closed one
    assert pg._loop_connections is not None and pg._loop_connections.open == 1


def test_a_request_cancelled_at_the_server_closes_its_connection_not_lends_it(pg, outside):
    outside.execute("SELECT pg_advisory_lock(10)")
    waiting = pg.sql("SELECT pg_advisory_xact_lock(10)")

    async def main():
        task = asyncio.create_task(pg.on_loop(pg.one, waiting, ()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        lent = pg._loop_connections
        assert lent is not None and lent.open == 0  # closed, its statement still in flight
        outside.execute("SELECT pg_advisory_unlock(10)")
        return await pg.on_loop(pg.one, "SELECT 1", ())

    assert run(main()) == (1,)


def test_on_sqlite_the_work_is_simply_called(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    try:
        assert run(db.on_loop(lambda: (cooperating(), db.one("SELECT 41 + 1", ())))) == (
            False,
            (42,),
        )
    finally:
        db.dispose()

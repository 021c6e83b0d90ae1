"""The PostgreSQL hot path: a statement through libpq's prepared-statement call, under psycopg.

`Database.one()` / `count()` run the statements every user proof makes (its context read, its
verdict). On PostgreSQL, psycopg's cursor costs about three times what libpq's own
`PQexecPrepared` does for them (query conversion, preparation bookkeeping, its Python wait
loop and result wrapping: bench/RESULTS.md, "Platform over HTTP"). Here each statement is
prepared once per connection under a name of its own and then executed by name, with the
parameters dumped and the row loaded by psycopg's own adapters (its C `Transformer`): the values
going in and coming out are exactly those a psycopg cursor would give. Errors are psycopg's own
exception classes, made from the server's answer, so the store maps them as it always did.

Parameters go as text with no declared types: the server infers each from where it stands in
the statement (a column compared or inserted into), as it does for a literal.

`LoopStatements` runs the same statements on an asyncio event loop: sent, then awaited on the
connection's socket, so the loop serves other requests while the server answers
(kiosk.store.onloop).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

_PLACEHOLDER = re.compile(r"%(s|%)")
_NAMES = itertools.count(1)
_FATAL = (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.BAD_RESPONSE, pq.ExecStatus.NONFATAL_ERROR)


def numbered(statement: str) -> bytes:
    """A statement written with psycopg's `%s` placeholders (and `%%` for a percent sign) in
    the server's own form: `$1`, `$2`… in order."""
    numbers = itertools.count(1)
    return _PLACEHOLDER.sub(
        lambda m: "%" if m.group(1) == "%" else f"${next(numbers)}", statement
    ).encode("utf-8")


class PreparedStatements:
    """One thread's statements on one psycopg connection: each prepared on first use, then run
    by name. Not shared between threads (neither is the connection)."""

    __slots__ = ("_connection", "_pgconn", "_transformer", "_names")

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._pgconn = connection.pgconn
        self._transformer = Transformer(connection)
        self._names: dict[str, bytes] = {}

    def one(self, statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """Its first row, loaded as psycopg loads it, or None (no row, or no result set)."""
        return self._row(self._run(statement, params))

    def count(self, statement: str, params: Sequence[Any]) -> int:
        """How many rows it changed (or returned)."""
        return int(self._run(statement, params).command_tuples or 0)

    def _row(self, result: pq.abc.PGresult) -> tuple[Any, ...] | None:
        if result.status != pq.ExecStatus.TUPLES_OK or result.ntuples == 0:
            return None
        transformer = self._transformer
        transformer.set_pgresult(result)
        row: tuple[Any, ...] = transformer.load_row(0, tuple)
        return row

    def _values(self, params: Sequence[Any]) -> Any:
        # None is a NULL to libpq (its stub types leave that out)
        return self._transformer.dump_sequence(params, [PyFormat.TEXT] * len(params))

    def _run(self, statement: str, params: Sequence[Any]) -> pq.abc.PGresult:
        name = self._names.get(statement)
        if name is None:
            name = self._prepare(statement)
        return self._checked(self._pgconn.exec_prepared(name, self._values(params)))

    def _prepare(self, statement: str) -> bytes:
        name = f"kiosk_{next(_NAMES)}".encode("ascii")
        self._checked(self._pgconn.prepare(name, numbered(statement)))
        self._names[statement] = name
        return name

    def _checked(self, result: pq.abc.PGresult) -> pq.abc.PGresult:
        """The result, or the psycopg exception its error stands for (OperationalError when
        the connection itself is gone)."""
        if result.status not in _FATAL:
            return result
        if self._pgconn.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError("the connection to the server was lost")
        raise errors.error_from_result(result, encoding=self._connection.info.encoding)


class LoopStatements(PreparedStatements):
    """One connection's statements run on the running asyncio loop: each is sent (libpq's
    send calls, which on a blocking connection return once the few bytes are written), and its
    answer awaited on the socket, read by libpq as it arrives. One statement at a time: the
    caller (kiosk.store.onloop) lends the connection to one request until its answer is in.
    A statement given up half-way (its request cancelled) leaves the connection busy: the
    caller closes it (`idle` is false)."""

    __slots__ = ("_watched_by", "_fd", "_ready")

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        super().__init__(connection)
        #: The loop whose selector watches the socket (from its first statement on that
        #: loop until it is closed: one registration, not one per statement).
        self._watched_by: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        #: The statement's wait for the socket to be readable, while it waits (done by
        #: `_on_readable`).
        self._ready: asyncio.Future[None] | None = None

    async def one_async(self, statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """`one()`, awaiting the answer."""
        return self._row(await self._run_async(statement, params))

    async def count_async(self, statement: str, params: Sequence[Any]) -> int:
        """`count()`, awaiting the answer."""
        return int((await self._run_async(statement, params)).command_tuples or 0)

    async def command_async(self, command: bytes) -> None:
        """A statement without parameters (BEGIN, COMMIT, ROLLBACK), awaiting its answer."""
        self._pgconn.send_query(command)
        self._checked(await self._answer())

    @property
    def idle(self) -> bool:
        """Whether the connection is up, with no statement in flight and no transaction open:
        fit to be lent to the next request."""
        pgconn = self._pgconn
        return (
            pgconn.status == pq.ConnStatus.OK
            and pgconn.transaction_status == pq.TransactionStatus.IDLE
        )

    def close(self) -> None:
        self._unwatch()
        self._connection.close()

    async def _run_async(self, statement: str, params: Sequence[Any]) -> pq.abc.PGresult:
        pgconn = self._pgconn
        name = self._names.get(statement)
        if name is None:
            name = f"kiosk_{next(_NAMES)}".encode("ascii")
            pgconn.send_prepare(name, numbered(statement))
            self._checked(await self._answer())
            self._names[statement] = name
        pgconn.send_query_prepared(name, self._values(params))
        return self._checked(await self._answer())

    async def _answer(self) -> pq.abc.PGresult:
        """The statement's result (its error first, if it has one), once the server has said
        it is ready for the next; libpq reads what has arrived, the loop waits for the rest."""
        pgconn = self._pgconn
        loop = asyncio.get_running_loop()
        if self._watched_by is not loop:  # watched from its first statement on, whether or
            self._watch(loop)  # not that one has to wait: a close while idle is seen too
        results: list[pq.abc.PGresult] = []
        while True:
            pgconn.consume_input()  # OperationalError when the connection is gone
            while pgconn.is_busy():
                ready = self._ready = loop.create_future()
                await ready
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:
                break
            results.append(result)
        if not results:
            raise psycopg.OperationalError("the server gave no answer")
        return next((r for r in results if r.status in _FATAL), results[0])

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have `loop`'s selector watch the socket: `_on_readable` when it has something."""
        self._unwatch()
        self._fd = self._pgconn.socket
        loop.add_reader(self._fd, self._on_readable)
        self._watched_by = loop

    def _on_readable(self) -> None:
        ready = self._ready
        if ready is not None:
            self._ready = None
            if not ready.done():
                ready.set_result(None)
            return
        # Nothing waits (the connection is idle or lent to no statement): read what came (a
        # notice), so the socket does not stay readable; a connection the server closed is
        # watched no more (`idle` is false: it is closed when given back or next taken).
        try:
            self._pgconn.consume_input()
        except psycopg.Error:
            self._unwatch()
            return
        if self._pgconn.status != pq.ConnStatus.OK:
            self._unwatch()

    def _unwatch(self) -> None:
        loop, self._watched_by = self._watched_by, None
        if loop is not None and not loop.is_closed():
            with suppress(Exception):
                loop.remove_reader(self._fd)

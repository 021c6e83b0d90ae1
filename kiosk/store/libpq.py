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
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
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
        result = self._run(statement, params)
        if result.status != pq.ExecStatus.TUPLES_OK or result.ntuples == 0:
            return None
        transformer = self._transformer
        transformer.set_pgresult(result)
        row: tuple[Any, ...] = transformer.load_row(0, tuple)
        return row

    def count(self, statement: str, params: Sequence[Any]) -> int:
        """How many rows it changed (or returned)."""
        result = self._run(statement, params)
        return int(result.command_tuples or 0)

    def _run(self, statement: str, params: Sequence[Any]) -> pq.abc.PGresult:
        name = self._names.get(statement)
        if name is None:
            name = self._prepare(statement)
        # None is a NULL to libpq (its stub types leave that out)
        values: Any = self._transformer.dump_sequence(params, [PyFormat.TEXT] * len(params))
        return self._checked(self._pgconn.exec_prepared(name, values))

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

"""The store's hot-path statements on an asyncio event loop, without blocking it.

A platform worker is one event loop. Its verifier is plain code: it calls `Database.one()` and
`count()` (kiosk.store.engine) and waits for each answer. On PostgreSQL each such wait is a
round trip to the server's process; run as it is on the loop, it stops the whole worker for it
(a proof's two statements kept one worker about a quarter idle at every load:
bench/RESULTS.md, "Platform over HTTP"). Run in a thread, each proof would pay two thread hops
and the interpreter's lock instead.

So the verifier runs in a greenlet (`cooperatively`): its code stays as it is, and where a
statement waits for the server, the greenlet hands the wait to the loop (`suspend`) and the
loop goes on with other requests until the answer is in. This is how SQLAlchemy's own asyncio
layer runs its synchronous core over asyncio drivers, with the same `greenlet` library.

`LoopConnections` are the loop's own PostgreSQL connections: a few, lent to one statement at
a time (or to one `unit()` for its whole transaction), so that the statements of different
requests are in flight together; a request that finds them all lent waits its turn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar

from greenlet import getcurrent, greenlet

if TYPE_CHECKING:
    from kiosk.store.libpq import LoopStatements

_T = TypeVar("_T")

#: A worker's own connections for its loop's statements: enough to keep one core busy while
#: the server answers (a proof's CPU is some 0.5 ms, a statement's round trip 0.1 ms).
LOOP_CONNECTIONS = 4


class _Cooperating(greenlet):  # type: ignore[misc]  # (greenlet's class is untyped)
    """A greenlet run by `cooperatively`: its statements suspend it, not the loop."""

    def __init__(self, run: Callable[..., Any], parent: greenlet) -> None:
        super().__init__(run, parent)
        self.gr_context = parent.gr_context  # the caller's context variables (e.g. logging)


async def cooperatively(fn: Callable[..., _T], *args: Any) -> _T:
    """`fn(*args)` run in its own greenlet on the running loop: each awaitable it hands to
    `suspend` is awaited here (and its outcome handed back), the loop free meanwhile."""
    child = _Cooperating(fn, getcurrent())
    handed: Any = child.switch(*args)
    while not child.dead:
        try:
            outcome = await handed
        except BaseException as e:  # into the greenlet, at its `suspend`: it may handle it
            handed = child.throw(e)
        else:
            handed = child.switch(outcome)
    result: _T = handed
    return result


def cooperating() -> bool:
    """Whether this code runs under `cooperatively` (and so may `suspend`)."""
    return isinstance(getcurrent(), _Cooperating)


def suspend(awaitable: Awaitable[_T]) -> _T:
    """Await `awaitable` from plain code run by `cooperatively`: the greenlet waits, the loop
    does not."""
    current = getcurrent()
    if not isinstance(current, _Cooperating):
        if asyncio.iscoroutine(awaitable):
            awaitable.close()  # never to be awaited
        raise RuntimeError("suspend() outside cooperatively()")
    outcome: _T = current.parent.switch(awaitable)
    return outcome


class LoopConnections:
    """The running loop's PostgreSQL connections: at most `size`, each lent to one statement
    (or one unit's transaction) at a time; a connection left busy or broken by a failure is
    closed, not lent again. `connect()` opens one (a psycopg connection in autocommit)."""

    def __init__(self, connect: Callable[[], Any], size: int = LOOP_CONNECTIONS) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[LoopStatements] = []
        self._open = 0
        #: Requests waiting for a connection: each is handed one, or None (open your own).
        self._waiting: deque[asyncio.Future[LoopStatements | None]] = deque()
        #: The connection of each greenlet within a `unit()`.
        self._units: dict[greenlet, LoopStatements] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def open(self) -> int:
        return self._open

    def one(self, statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        return self._lent(lambda c: c.one_async(statement, params))

    def count(self, statement: str, params: Sequence[Any]) -> int:
        return self._lent(lambda c: c.count_async(statement, params))

    def in_unit(self) -> bool:
        return getcurrent() in self._units

    def begin(self) -> None:
        """Start this greenlet's unit: a connection lent to it until `end`, in a transaction."""
        statements = self._take()
        try:
            suspend(statements.command_async(b"BEGIN"))
        except BaseException:
            self._give_back(statements)
            raise
        self._units[getcurrent()] = statements

    def end(self, commit: bool) -> None:
        """Commit (or roll back) this greenlet's unit and give its connection back."""
        statements = self._units.pop(getcurrent())
        try:
            if commit:
                suspend(statements.command_async(b"COMMIT"))
            else:
                with suppress(Exception):
                    suspend(statements.command_async(b"ROLLBACK"))
        finally:
            self._give_back(statements)

    def close(self) -> None:
        """Close the idle connections (those lent are closed when given back)."""
        idle, self._idle = self._idle, []
        for statements in idle:
            self._discard(statements)

    def _lent(self, run: Callable[[LoopStatements], Awaitable[_T]]) -> _T:
        held = self._units.get(getcurrent())
        if held is not None:  # within a unit: its own connection, kept
            return suspend(run(held))
        statements = self._take()
        try:
            return suspend(run(statements))
        finally:
            self._give_back(statements)

    def _take(self) -> LoopStatements:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (a server restarted in this process)
            self._waiting.clear()  # the old loop's waiters wait no more
            self._loop = loop
        while self._idle:
            statements = self._idle.pop()
            if statements.idle:
                return statements
            self._discard(statements)  # the server closed it while it was idle
        if self._open >= self._size:
            turn: asyncio.Future[LoopStatements | None] = loop.create_future()
            self._waiting.append(turn)
            try:
                handed = suspend(turn)
            except BaseException:
                if turn.done() and not turn.cancelled():
                    self._pass_on(turn.result())  # handed over as it was given up
                else:
                    with suppress(ValueError):
                        self._waiting.remove(turn)
                raise
            if handed is not None:
                return handed
        from kiosk.store.libpq import LoopStatements  # psycopg: PostgreSQL only

        self._open += 1
        try:
            return LoopStatements(self._connect())
        except BaseException:
            self._open -= 1
            self._pass_on(None)
            raise

    def _give_back(self, statements: LoopStatements) -> None:
        if statements.idle:
            self._pass_on(statements)
            return
        self._discard(statements)  # broken, or left in flight: never lent again
        self._pass_on(None)

    def _discard(self, statements: LoopStatements) -> None:
        self._open -= 1
        with suppress(Exception):
            statements.close()

    def _pass_on(self, statements: LoopStatements | None) -> None:
        """To the first request still waiting (None: a place to open one), else kept idle."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(statements)
                return
        if statements is not None:
            self._idle.append(statements)

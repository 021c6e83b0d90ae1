"""Engine factory and the `Database` handle: SQLite by default (WAL), PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.onloop import cooperating, cooperatively

if TYPE_CHECKING:
    from kiosk.store.libpq import PreparedStatements
    from kiosk.store.onloop import LoopConnections

_T = TypeVar("_T")

MIGRATIONS = Path(__file__).with_name("migrations")

#: Milliseconds a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: WAL pages after which a commit checkpoints (SQLite's default is 1,000).
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000
#: Bytes the WAL file is cut back to after a checkpoint restarts it.
SQLITE_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer. synchronous=NORMAL is WAL's recommended level: a
    # commit survives a crash of the process; a power cut may lose the last commits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # Every user proof commits a row. A checkpoint copies the pages the WAL changed back into
    # the database and syncs it; the pages every commit touches (the end of `verifications`)
    # are copied once per checkpoint, so checkpointing every 10,000 pages (40 MB of WAL)
    # instead of SQLite's 1,000 costs a commit about 5 µs less (bench/RESULTS.md).
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None), so we BEGIN here.
    # Writers that read first ask for BEGIN IMMEDIATE (`Database.writing`): they take the write
    # lock up front and queue on busy_timeout instead of failing on a stale read snapshot.
    options = conn.get_execution_options()
    if options.get("sqlite_autocommit"):
        return  # each statement is its own transaction
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("sqlite_immediate") else "BEGIN")


@contextmanager
def _unavailable_as_store_error() -> Iterator[None]:
    """A lost or refused connection is the store's `StoreError` (the caller fails closed and
    may try again); other SQLAlchemy errors (e.g. IntegrityError) pass as they are."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise StoreError(f"the database is unavailable ({e.__class__.__name__})") from e


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """Build an engine for a SQLAlchemy URL, with the store's SQLite pragmas."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # No pool_pre_ping: it costs a round trip per checkout; a connection the server
        # dropped fails one operation (which fails closed) and is then replaced.
        return create_engine(url, pool_recycle=3600)
    raise StoreError(f"unsupported database URL scheme: {parsed.drivername}")


class Database:
    """One database: its engine, sessions, and migrations."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._postgres = self.engine.dialect.name == "postgresql"
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._dbapi = self.engine.dialect.loaded_dbapi
        self._local = threading.local()
        #: Every hot-path driver connection with the thread it belongs to. A thread's own is
        #: in `_local`; one whose thread has ended is closed when the next one is opened, so
        #: a server whose worker threads come and go (anyio retires idle ones after 10 s)
        #: holds at most one connection per live thread, not one per thread it ever had.
        self._drivers: list[tuple[Any, threading.Thread]] = []
        self._drivers_lock = threading.Lock()
        #: PostgreSQL: the event loop's own connections, for code run by `on_loop`.
        self._loop_connections: LoopConnections | None = None
        #: The same pool without BEGIN/COMMIT round trips: for single atomic statements.
        #: (Not isolation_level=AUTOCOMMIT on SQLite: resetting it after use would turn
        #: pysqlite's implicit transactions back on for the next user of the connection.)
        self.autocommit = self.engine.execution_options(
            **({"isolation_level": "AUTOCOMMIT"} if self._postgres else {"sqlite_autocommit": True})
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with _unavailable_as_store_error(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection in one write transaction (on SQLite, holding the write lock from BEGIN)."""
        if getattr(self._local, "in_unit", False) or self._in_loop_unit():
            raise StoreError("a SQLAlchemy write inside a unit() would wait for the unit's lock")
        with _unavailable_as_store_error(), self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    @contextmanager
    def autocommitted(self) -> Iterator[Connection]:
        """A connection whose statements each commit at once (`autocommit`): single reads."""
        with _unavailable_as_store_error(), self.autocommit.connect() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection in one transaction that sees one consistent snapshot."""
        with _unavailable_as_store_error(), self.engine.connect() as conn, conn.begin():
            yield conn

    def one(self, statement: str, params: Sequence[Any]) -> Any:
        """Run one statement on the hot path; its first row (a tuple) or None.

        SQLAlchemy Core costs about 80 µs a statement here, the driver about 4: the statements
        every user proof runs (its context read and its verdict) come here, as `sql()` text
        with `bind_time`/`read_time`. Each runs alone, committed at once (or in the thread's
        `unit()`), on a driver connection and cursor that belong to the calling thread (taken
        out of the pool once). Only statements that yield at most one row may come here: the
        row is fetched, so the statement is done and holds no snapshot afterwards.

        Under `on_loop`, a PostgreSQL statement waits for its answer without blocking the
        event loop, on one of the loop's own connections."""
        if self._postgres:  # prepared and run by libpq (kiosk.store.libpq)
            if cooperating():
                try:
                    return self._on_loop().one(statement, params)
                except self._dbapi.Error as e:
                    raise self._failed(e, on_loop=True) from e
            try:
                return self._statements().one(statement, params)
            except self._dbapi.Error as e:
                raise self._failed(e) from e
        cursor = self._cursor()
        try:
            cursor.execute(statement, params)
            return cursor.fetchone() if cursor.description is not None else None
        except self._dbapi.Error as e:
            raise self._failed(e) from e

    def count(self, statement: str, params: Sequence[Any]) -> int:
        """Run one statement on the hot path, as `one()` does; how many rows it changed."""
        if self._postgres and cooperating():
            try:
                return self._on_loop().count(statement, params)
            except self._dbapi.Error as e:
                raise self._failed(e, on_loop=True) from e
        try:
            if self._postgres:
                return self._statements().count(statement, params)
            cursor = self._cursor()
            cursor.execute(statement, params)
        except self._dbapi.Error as e:
            raise self._failed(e) from e
        return int(cursor.rowcount)

    async def on_loop(self, fn: Callable[..., _T], *args: Any) -> _T:
        """`fn(*args)` on the running event loop, for a server whose worker is one loop: on
        PostgreSQL its `one()`, `count()` and `unit()` wait for the server's answers without
        blocking the loop, which serves other requests meanwhile (kiosk.store.onloop); on
        SQLite (a file, no server to wait for) it is simply called."""
        if not self._postgres:
            return fn(*args)
        return await cooperatively(fn, *args)

    def _on_loop(self) -> LoopConnections:
        connections = self._loop_connections
        if connections is None:
            from kiosk.store.onloop import LoopConnections

            connections = self._loop_connections = LoopConnections(self._loop_driver)
        return connections

    def _in_loop_unit(self) -> bool:
        return self._loop_connections is not None and self._loop_connections.in_unit()

    def _loop_driver(self) -> Any:
        try:
            return self._detached_driver()
        except (SQLAlchemyError, self._dbapi.Error) as e:
            raise StoreError(f"the database is unavailable ({e.__class__.__name__})") from e

    def _failed(self, e: Exception, *, on_loop: bool = False) -> StoreError:
        """The store's error for a driver error; a broken connection is dropped (a loop
        connection by LoopConnections, which closes any it gets back unfit)."""
        if isinstance(e, self._dbapi.IntegrityError):
            return DuplicateKey("the row exists already")
        if isinstance(e, self._dbapi.OperationalError | self._dbapi.InterfaceError):
            if on_loop:
                return StoreError(f"the database is unavailable ({e.__class__.__name__})")
            driver = self._local.driver
            self._local.driver = self._local.cursor = None  # the next call starts afresh
            self._local.statements = None
            self._close_driver(driver)
            return StoreError(f"the database is unavailable ({e.__class__.__name__})")
        return StoreError(f"database error ({e.__class__.__name__})")

    def _statements(self) -> PreparedStatements:
        statements: PreparedStatements | None = getattr(self._local, "statements", None)
        if statements is None:
            from kiosk.store.libpq import PreparedStatements  # psycopg: PostgreSQL only

            statements = self._local.statements = PreparedStatements(self._driver())
        return statements

    def _cursor(self) -> Any:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._driver().cursor()
        return cursor

    def unit(self) -> _Unit:
        """Make this thread's `one()` calls in the block one transaction, committed once.

        For work that belongs together, such as redeeming a challenge and auditing the
        verdict: both are durable at the end, or neither. On SQLite the unit holds the write
        lock from its start, so the block must not write through SQLAlchemy (`writing()`
        refuses to) and should be short. Nested units are part of the outer one."""
        return _Unit(self)

    def _driver(self) -> Any:
        driver = getattr(self._local, "driver", None)
        if driver is not None:
            return driver
        try:
            return self._own_driver()
        except (SQLAlchemyError, self._dbapi.Error) as e:
            raise StoreError(f"the database is unavailable ({e.__class__.__name__})") from e

    def _detached_driver(self) -> Any:
        """A new driver connection of the engine's, taken out of its pool (ours to close)."""
        fairy = self.engine.raw_connection()
        driver = fairy.driver_connection
        if driver is None:  # only after the pool invalidated it, which a fresh one is not
            fairy.close()
            raise StoreError("the database gave a connection without its driver")
        fairy.detach()  # ours now: the pool neither counts nor resets it
        if self._postgres:
            driver.autocommit = True
        return driver

    def _own_driver(self) -> Any:
        driver = self._detached_driver()
        with self._drivers_lock:
            orphans = [d for d, thread in self._drivers if not thread.is_alive()]
            self._drivers = [(d, t) for d, t in self._drivers if t.is_alive()]
            self._drivers.append((driver, threading.current_thread()))
        for orphan in orphans:
            with suppress(Exception):
                orphan.close()
        self._local.driver = driver
        return driver

    @property
    def open_drivers(self) -> int:
        """How many hot-path driver connections are open (one per thread that used `one()`,
        until that thread has ended and another opens one)."""
        with self._drivers_lock:
            return len(self._drivers)

    def _close_driver(self, driver: Any) -> None:
        with self._drivers_lock:
            self._drivers = [(d, t) for d, t in self._drivers if d is not driver]
        with suppress(Exception):
            driver.close()

    def sql(self, text: str) -> str:
        """Statement text for `one()`: written with `?` placeholders, as the driver wants."""
        return text.replace("?", "%s") if self._postgres else text

    def bind_time(self, value: datetime) -> Any:
        """A UTC-aware time as `UtcDateTime` stores it (SQLite: naive UTC text)."""
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass a UTC-aware one")
        value = value.astimezone(UTC)
        return (
            value if self._postgres else value.replace(tzinfo=None).isoformat(" ", "microseconds")
        )

    def read_time(self, value: Any) -> datetime:
        """A stored time read through `one()`, as a UTC-aware datetime."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"A stored time is a datetime or an ISO string, not {type(value)}.")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def upgrade(self, revision: str = "head") -> None:
        """Run the shipped Alembic migrations up to `revision`."""
        from alembic import command

        try:
            with self.engine.begin() as conn:
                cfg = alembic_config(conn)
                command.upgrade(cfg, revision)
        except SQLAlchemyError as e:
            raise StoreError(f"database migration failed: {e.__class__.__name__}") from e

    def dispose(self) -> None:
        """Close every pooled connection and every thread's hot-path connection."""
        with self._drivers_lock:
            drivers, self._drivers = [d for d, _ in self._drivers], []
        for driver in drivers:
            with suppress(Exception):
                driver.close()
        self._local = threading.local()
        if self._loop_connections is not None:
            self._loop_connections.close()
        self.engine.dispose()


class _Unit:
    """`Database.unit()`'s context manager (a class: cheaper than a generator per proof)."""

    __slots__ = ("_db", "_driver")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._driver: Any = None

    def __enter__(self) -> None:
        db = self._db
        if getattr(db._local, "in_unit", False):
            return  # nested: part of the outer unit
        if db._postgres and cooperating():
            connections = db._on_loop()
            if connections.in_unit():
                return  # nested
            try:
                connections.begin()
            except db._dbapi.Error as e:
                raise db._failed(e, on_loop=True) from e
            self._driver = connections
            return
        driver = db._driver()
        driver.execute("BEGIN" if db._postgres else "BEGIN IMMEDIATE").close()
        db._local.in_unit = True
        self._driver = driver

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        driver = self._driver
        if driver is None:
            return
        loop_connections = self._db._loop_connections
        if driver is loop_connections and loop_connections is not None:  # kiosk.store.onloop
            try:
                loop_connections.end(commit=exc_type is None)
            except self._db._dbapi.Error as e:
                raise self._db._failed(e, on_loop=True) from e
            return
        self._db._local.in_unit = False
        if exc_type is not None:
            with suppress(Exception):
                driver.execute("ROLLBACK").close()
            return
        driver.execute("COMMIT").close()


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic Config for the shipped migrations, bound to `connection` if given."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg

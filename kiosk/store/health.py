"""What `kiosk doctor` asks of the store: is it there, which schema revision, which CRLs.

Read-only, and it never creates anything: a SQLite file that does not exist is reported as
missing (opening it would create an empty one, which would then look "reachable"), and a
PostgreSQL server that does not answer within `CONNECT_TIMEOUT_S` is reported as unreachable
rather than waited for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from kiosk.store.engine import Database, alembic_config, normalise_url
from kiosk.store.errors import StoreError
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.ports import CrlInfo

#: Seconds a PostgreSQL server has to accept the connection.
CONNECT_TIMEOUT_S = 5


class DatabaseMissing(StoreError):
    """The configured SQLite file does not exist (nothing was created)."""

    code = "database_missing"


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """The store as found: its schema revision(s), the shipped head(s), the CRLs in force."""

    #: Where the store is, password hidden.
    where: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    #: The CRL in force per issuer (empty unless the schema is at head).
    crls: tuple[CrlInfo, ...] = ()

    @property
    def at_head(self) -> bool:
        """Whether every migration shipped with this version has been applied."""
        return bool(self.current) and set(self.current) == set(self.heads)


def shipped_heads() -> tuple[str, ...]:
    """The head revision(s) of the migrations shipped with this version."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def inspect(url: str) -> StoreHealth:
    """Connect to the store at `url` and read its schema revision and CRLs in force.

    Raises DatabaseMissing for a SQLite file that is not there, StoreError when the database
    cannot be reached or read (the message names the driver's error class, never the URL's
    password)."""
    engine = _engine(url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            current = tuple(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as e:
        raise StoreError(f"the database at {where} cannot be read ({e.__class__.__name__})") from e
    finally:
        engine.dispose()
    health = StoreHealth(where, current, shipped_heads())
    if not health.at_head:
        return health
    db = Database(url)
    try:
        crls = tuple(SqlRevocationIndex(db).all_info())
    except SQLAlchemyError as e:
        raise StoreError(f"the CRLs in {where} cannot be read ({e.__class__.__name__})") from e
    finally:
        db.dispose()
    return StoreHealth(where, current, health.heads, crls)


def _engine(url: str) -> Engine:
    """A one-connection engine that creates nothing and gives up on a silent server."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError as e:
        raise StoreError("the database URL is not a valid SQLAlchemy URL") from e
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise StoreError("an in-memory SQLite database holds no kiosk data")
        if not Path(database).is_file():
            raise DatabaseMissing(f"there is no database file at {database}")
        return create_engine(parsed, poolclass=NullPool)
    if backend == "postgresql":
        return create_engine(
            parsed, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
    raise StoreError(f"unsupported database URL scheme: {parsed.drivername}")

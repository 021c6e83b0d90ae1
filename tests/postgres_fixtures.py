"""PostgreSQL for the tests: KIOSK_TEST_POSTGRES_URL, or a throwaway local cluster.

With KIOSK_TEST_POSTGRES_URL set (a role that may CREATE DATABASE), the tests use that server.
Otherwise the first test that needs PostgreSQL starts one: `initdb` into a temporary directory
(as the `postgres` user when running as root), `pg_ctl start` on a free loopback port, stopped
at the end of the session. Each test gets its own database, copied from a migrated template.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kiosk.store.engine import Database

PG_BIN = Path(os.environ.get("KIOSK_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server(workdir: Path | None = None) -> Iterator[str]:
    """A PostgreSQL server URL: KIOSK_TEST_POSTGRES_URL, or a throwaway cluster."""
    url = os.environ.get("KIOSK_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
    base = Path(tempfile.mkdtemp(prefix="kiosk-pg-", dir=workdir))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(base / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def _admin(url: str, sql: str) -> None:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of the session's PostgreSQL server (its maintenance database)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> Iterator[str]:
    """A database migrated to head, used as the template of each test's database."""
    from kiosk.store.engine import Database

    name = f"kiosk_template_{uuid.uuid4().hex[:8]}"
    _admin(postgres_url, f"CREATE DATABASE {name}")
    db = Database(_with_database(postgres_url, name))
    db.upgrade()
    db.dispose()
    yield name
    _admin(postgres_url, f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def postgres_empty_db(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty database (no schema) on the session's server."""
    name = f"kiosk_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f"CREATE DATABASE {name}")
    yield _with_database(postgres_url, name)
    _admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_db_url(postgres_url: str, postgres_template: str) -> Iterator[str]:
    """The URL of a new database at the current schema on the session's server."""
    name = f"kiosk_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_url, f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    yield _with_database(postgres_url, name)
    _admin(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated store database URL: SQLite in tmp_path, and PostgreSQL."""
    if request.param == "sqlite":
        from kiosk.store.engine import Database

        url = f"sqlite:///{tmp_path / 'kiosk.sqlite3'}"
        db = Database(url)
        db.upgrade()
        db.dispose()
        return url
    return request.getfixturevalue("postgres_db_url")


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    """The migrated store of `store_url` (SQLite, then PostgreSQL), disposed of after the
    test; a test module that needs another `db` defines its own."""
    from kiosk.store.engine import Database

    database = Database(store_url)
    yield database
    database.dispose()

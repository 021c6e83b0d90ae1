"""The insurer's member roster and the clinic's own patient records, as the operator loads them.

`InsuranceRoster` keeps each insurer's members (被保険者: 保険者番号, 記号・番号・枝番, name,
birth date, period of coverage, 資格喪失日, 負担割合); `PatientRecords` keeps each clinic's
patients (診察券番号, name, birth date, the insurance on file). Both are replaced whole by a load
(`kiosk insurance import`, `kiosk patients import`), whose rows were checked first by
`kiosk.services.records_csv`; this module only stores them and hands them out as frozen
dataclasses.

Why a re-import is DELETE + INSERT in one transaction, and not a generation pointer like the
CRL import's (`crl_current`): a roster is the insurer's members known to one clinic's system,
thousands to a few hundred thousand rows, and 100,000 are stored in one to two seconds on
SQLite (bench/roster_bench.py), well inside the 10 s a kiosk's own write waits for the lock
(`SQLITE_BUSY_TIMEOUT_MS`); the CSV boundary caps a file at `records_csv.MAX_ROWS` so the lock
stays bounded. Readers never see a half-loaded roster: on PostgreSQL and on SQLite in WAL mode
they read the previous roster until the commit. A pointer would put the generation into the
member's unique key and a join into every eligibility lookup, to save a lock that is already
short; a failed load (a duplicate, the database gone) rolls back and leaves the previous roster
exactly as it was, which is the property that matters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select
from sqlalchemy.exc import DataError, IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import InsuranceMemberRow, PatientRow, RosterImportRow, table_of

_members = table_of(InsuranceMemberRow)
_imports = table_of(RosterImportRow)
_patients = table_of(PatientRow)

#: A provider id, as the links and the audit log hold them.
_PROVIDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: Rows per executemany on SQLite: large enough that the per-call cost vanishes, small enough
#: that a batch's parameters stay a few MB.
CHUNK = 5_000


class RosterError(StoreError):
    """A roster or patient load was refused; nothing was changed."""

    code = "roster_refused"


@dataclass(frozen=True, slots=True)
class MemberKey:
    """A member's numbers: 保険者番号, 記号 ("" when none), 番号, 枝番 ("" when none)."""

    insurer: str
    symbol: str
    number: str
    branch: str


@dataclass(frozen=True, slots=True)
class RosterMember:
    """One member of an insurer's roster (被保険者), as the insurer's file gave it."""

    insurer: str  # 保険者番号: 6 or 8 digits
    symbol: str  # 記号 ("" when the card has none)
    number: str  # 番号
    branch: str  # 枝番: 2 digits, or ""
    name: str
    name_kana: str
    birth_date: date
    valid_from: date
    valid_to: date | None  # the last day of coverage, None when open-ended
    lost_on: date | None  # 資格喪失日: the first day without coverage
    copay_tenths: int  # 負担割合: 1, 2 or 3 (割)

    @property
    def key(self) -> MemberKey:
        """The numbers that identify the member."""
        return MemberKey(self.insurer, self.symbol, self.number, self.branch)


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """One of a clinic's patients (診察券番号), with the insurance the clinic has on file."""

    patient_number: str  # 診察券番号
    name: str
    name_kana: str
    birth_date: date
    insurer: str  # "" when the clinic has no insurance on file
    symbol: str
    number: str
    branch: str

    @property
    def member(self) -> MemberKey | None:
        """The insurance on file, or None when the clinic has none."""
        if not (self.insurer and self.number):
            return None
        return MemberKey(self.insurer, self.symbol, self.number, self.branch)


@dataclass(frozen=True, slots=True)
class RosterImport:
    """One roster load: its id, the insurer, when, how many members, the file's SHA-256, and
    how many members of the previous load it replaced."""

    import_id: int
    insurer: str
    imported_at: datetime
    rows: int
    sha256: bytes
    replaced: int


_MEMBER_FIELDS = tuple(f.name for f in fields(RosterMember))
_PATIENT_FIELDS = tuple(f.name for f in fields(PatientRecord))


def _insert_all(
    conn: Connection, table: Table, names: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Insert `rows` (values in the order of `names`) in the caller's transaction; a row the
    database refuses (a duplicate key, a copay out of range, a value too long) is a
    RosterError, a lost connection a StoreError, and the caller's transaction rolls back.

    Straight to the driver, as the CRL import does: PostgreSQL takes the rows by COPY,
    SQLite by executemany in batches of CHUNK. Going through SQLAlchemy's insert() cost 1.5 s
    of SQLite's and 6.8 s of PostgreSQL's time for 100,000 members (bench/roster_bench.py);
    the rows were checked at the CSV boundary and are plain text, dates and small ints."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        if conn.dialect.name == "postgresql":
            _copy(conn, table, names, rows)
        else:
            sql = (
                f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608 - our own names
                f"VALUES ({', '.join('?' for _ in names)})"
            )
            cursor = _driver(conn).cursor()
            try:
                for chunk in _chunks((_sqlite_values(row) for row in rows), CHUNK):
                    cursor.executemany(sql, chunk)
            finally:
                cursor.close()
    except (IntegrityError, DataError, dbapi.IntegrityError, dbapi.DataError) as e:
        raise RosterError(
            "a row breaks the store's rules (a duplicate key, a value out of range or too "
            "long); nothing was imported"
        ) from e
    except (dbapi.OperationalError, dbapi.InterfaceError) as e:  # the driver's own, unwrapped
        raise StoreError(f"the database is unavailable ({e.__class__.__name__})") from e


def _copy(
    conn: Connection, table: Table, names: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    with _driver(conn).cursor() as cursor:
        columns = ", ".join(names)
        with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:  # noqa: S608
            for row in rows:
                copy.write_row(row)


def _driver(conn: Connection) -> Any:
    driver = conn.connection.driver_connection
    if driver is None:  # only on an invalidated connection, which a transaction never holds
        raise StoreError("the database connection lost its driver")
    return driver


def _sqlite_values(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dates as SQLAlchemy's SQLite Date stores them (ISO text), not by sqlite3's adapter."""
    return tuple(v.isoformat() if isinstance(v, date) else v for v in row)


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class InsuranceRoster:
    """The members of each insurer's roster; a load replaces an insurer's members whole."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_insurer(
        self, insurer: str, rows: Sequence[RosterMember], sha256: bytes, at: datetime
    ) -> RosterImport:
        """Put `rows` in force as the whole roster of `insurer`, in one transaction: the
        previous members go and these come, or (on any error) nothing changes."""
        if len(sha256) != 32:
            raise ValueError("sha256 is the 32-octet digest of the imported file")
        if any(row.insurer != insurer for row in rows):
            raise RosterError(f"every row of an import of insurer {insurer} must be its member")
        with self._db.writing() as conn:
            import_id = conn.execute(
                insert(_imports)
                .values(insurer=insurer, imported_at=at, rows=len(rows), sha256=sha256)
                .returning(_imports.c.import_id)
            ).scalar_one()
            replaced = conn.execute(delete(_members).where(_members.c.insurer == insurer)).rowcount
            _insert_all(
                conn,
                _members,
                ("import_id", *_MEMBER_FIELDS),
                ((import_id, *(getattr(row, n) for n in _MEMBER_FIELDS)) for row in rows),
            )
        return RosterImport(import_id, insurer, at, len(rows), sha256, replaced)

    def member(self, insurer: str, symbol: str, number: str, branch: str) -> RosterMember | None:
        """The member with exactly these numbers, or None."""
        found = self._select(
            (_members.c.insurer == insurer)
            & (_members.c.symbol == symbol)
            & (_members.c.number == number)
            & (_members.c.branch == branch)
        )
        return found[0] if found else None

    def members(self, insurer: str, symbol: str, number: str) -> list[RosterMember]:
        """The members with these numbers, whatever their 枝番 (a household's card numbers
        differ only in it), ordered by 枝番."""
        return self._select(
            (_members.c.insurer == insurer)
            & (_members.c.symbol == symbol)
            & (_members.c.number == number)
        )

    def latest_import(self, insurer: str) -> RosterImport | None:
        """The load in force for `insurer` (its `replaced` is 0: not recorded), or None."""
        with self._db.autocommitted() as conn:
            row = conn.execute(
                select(_imports)
                .where(_imports.c.insurer == insurer)
                .order_by(_imports.c.import_id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return RosterImport(row.import_id, row.insurer, row.imported_at, row.rows, row.sha256, 0)

    def count(self, insurer: str) -> int:
        """How many members of `insurer` are in force."""
        with self._db.autocommitted() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(_members).where(_members.c.insurer == insurer)
                ).scalar_one()
            )

    def _select(self, condition: Any) -> list[RosterMember]:
        columns = [_members.c[name] for name in _MEMBER_FIELDS]
        with self._db.autocommitted() as conn:
            rows = conn.execute(select(*columns).where(condition).order_by(_members.c.branch)).all()
        return [RosterMember(*row) for row in rows]


class PatientRecords:
    """Each clinic's own patient records; a load replaces a clinic's records whole."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, provider_id: str, rows: Sequence[PatientRecord], at: datetime) -> int:
        """Put `rows` in force as all of `provider_id`'s patients, in one transaction (or
        nothing changes); how many records it replaced."""
        if _PROVIDER_ID.fullmatch(provider_id) is None:
            raise RosterError(
                "the provider id must be an identifier (up to 64 letters, digits, _.:-)"
            )
        stamp = self._db.bind_time(at)
        with self._db.writing() as conn:
            replaced = conn.execute(
                delete(_patients).where(_patients.c.provider_id == provider_id)
            ).rowcount
            _insert_all(
                conn,
                _patients,
                ("provider_id", "imported_at", *_PATIENT_FIELDS),
                ((provider_id, stamp, *(getattr(r, n) for n in _PATIENT_FIELDS)) for r in rows),
            )
        return int(replaced)

    def get(self, provider_id: str, patient_number: str) -> PatientRecord | None:
        """The clinic's record with that 診察券番号, or None."""
        found = self._select(
            (_patients.c.provider_id == provider_id)
            & (_patients.c.patient_number == patient_number)
        )
        return found[0] if found else None

    def by_member(
        self, provider_id: str, insurer: str, symbol: str, number: str, branch: str
    ) -> list[PatientRecord]:
        """The clinic's records with that insurance on file (usually one; a clinic may hold
        two records for one person), by patient number."""
        return self._select(
            (_patients.c.provider_id == provider_id)
            & (_patients.c.insurer == insurer)
            & (_patients.c.symbol == symbol)
            & (_patients.c.number == number)
            & (_patients.c.branch == branch)
        )

    def born_on(self, provider_id: str, birth_date: date) -> list[PatientRecord]:
        """The clinic's records with that birth date (an enrolment compares their names with
        the card's), by patient number."""
        return self._select(
            (_patients.c.provider_id == provider_id) & (_patients.c.birth_date == birth_date)
        )

    def count(self, provider_id: str) -> int:
        """How many records `provider_id` has."""
        with self._db.autocommitted() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(_patients)
                    .where(_patients.c.provider_id == provider_id)
                ).scalar_one()
            )

    def _select(self, condition: Any) -> list[PatientRecord]:
        columns = [_patients.c[name] for name in _PATIENT_FIELDS]
        with self._db.autocommitted() as conn:
            rows = conn.execute(
                select(*columns).where(condition).order_by(_patients.c.patient_number)
            ).all()
        return [PatientRecord(*row) for row in rows]

"""Revoked serials per issuer: lookups for the verifier, and the atomic CRL replacement.

An import writes the new CRL's entries under a fresh generation id and flips `crl_current` to
it: a reader sees the old CRL or the new one, never a mix. PostgreSQL does it in one
transaction (`COPY` into a new partition, attached; the old partition dropped); SQLite in
short transactions so the kiosk's other writes go on meanwhile (see `sqlitecrl`).

A refresh that changes a small part of the CRL in force (a delta CRL, or a new complete CRL's
diff against it) is applied in place instead, in one transaction (`apply`, `crlpatch`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.crlpatch import CrlPatch, PatchWriter
from kiosk.store.engine import Database
from kiosk.store.errors import CrlMalformed, CrlOutdated, StoreError
from kiosk.store.models import CrlCurrentRow, CrlGenerationRow, RevokedSerialRow, table_of
from kiosk.store.records import CrlImportResult, serial_to_bytes
from kiosk.store.sqlitecrl import SqliteCrlLoader, Transaction
from kiosk.verify.crl import REASON_NAMES, CheckedCrl
from kiosk.verify.crlstream import Entry
from kiosk.verify.ports import CrlInfo, RevokedEntry

#: Memory PostgreSQL may use to sort a new CRL's primary-key index (server side).
_PG_INDEX_MEMORY = "256MB"
_PG_NULL = "\\N"

_gen = table_of(CrlGenerationRow)
_cur = table_of(CrlCurrentRow)
_rev = table_of(RevokedSerialRow)

_LOOKUP = (
    "SELECT r.revoked_at, r.reason FROM crl_current c JOIN revoked_serials r "
    "ON r.generation_id = c.generation_id WHERE c.issuer_key_id = ? AND r.serial = ?"
)
_IN_FORCE = select(
    _cur.c.issuer_key_id, _gen.c.this_update, _gen.c.next_update, _gen.c.crl_number, _gen.c.entries
).select_from(_cur.join(_gen, _gen.c.generation_id == _cur.c.generation_id))
_INFO = _IN_FORCE.where(_cur.c.issuer_key_id == bindparam("issuer"))


class SqlRevocationIndex:
    """The verifier's `RevocationIndex` over the store, plus the CRL import that feeds it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lookup = db.sql(_LOOKUP)

    def crl_info(self, issuer_key_id: str) -> CrlInfo | None:
        """The CRL in force for that issuer, or None when none was imported."""
        with self._db.autocommitted() as conn:
            row = conn.execute(_INFO, {"issuer": issuer_key_id}).first()
        return None if row is None else _info(row)

    def all_info(self) -> list[CrlInfo]:
        """The CRL in force for every issuer that has one, by issuer (for the operator's
        console, the metrics and the readiness check)."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(_IN_FORCE.order_by(_cur.c.issuer_key_id)).all()
        return [_info(row) for row in rows]

    def lookup(self, issuer_key_id: str, serial: int) -> RevokedEntry | None:
        """The revocation entry for that serial under that issuer, or None if not revoked."""
        row = self._db.one(self._lookup, (issuer_key_id, serial_to_bytes(serial)))
        if row is None:
            return None
        return RevokedEntry(serial, datetime.fromtimestamp(row[0], UTC), REASON_NAMES.get(row[1]))

    def replace(self, crl: CheckedCrl, imported_at: datetime) -> CrlImportResult:
        """Put a checked CRL in force for its issuer, atomically; refuse an older one.

        The CRL was checked by the verifier (`kiosk.verify.crl.check_crl`); its entries are
        checked as they are read, and one that is malformed (Refused) leaves the CRL in force
        as it was."""
        if crl.is_delta:
            raise CrlMalformed("a delta CRL cannot replace the complete CRL")
        started = time.perf_counter()
        try:
            if self._db.engine.dialect.name == "postgresql":
                entries = self._replace_postgres(crl, imported_at)
            else:
                entries = self._replace_sqlite(crl, imported_at)
        except (IntegrityError, self._db.engine.dialect.loaded_dbapi.IntegrityError) as e:
            raise CrlMalformed("the CRL lists a serial twice") from e
        return self._result(crl, entries, started)

    def apply(self, patch: CrlPatch, imported_at: datetime) -> CrlImportResult:
        """Change the CRL in force in place (a delta CRL, or a new complete CRL's diff against
        it: `kiosk.store.crlpatch`), in one transaction: readers see the old CRL or the new
        one. A patch already contained in the CRL in force changes nothing (replaced False);
        one whose precondition fails is refused (CrlImportError) and changes nothing."""
        started = time.perf_counter()
        try:
            if self._db.engine.dialect.name == "postgresql":
                entries = self._apply_postgres(patch, imported_at)
            else:
                entries = self._apply_sqlite(patch, imported_at)
        except (IntegrityError, self._db.engine.dialect.loaded_dbapi.IntegrityError) as e:
            raise CrlMalformed("the CRL lists a serial twice") from e
        return self._result(patch.crl, entries, started)

    def _result(self, crl: CheckedCrl, entries: int | None, started: float) -> CrlImportResult:
        replaced = entries is not None
        if entries is None:
            info = self.crl_info(crl.issuer_key_id)
            entries = 0 if info is None else info.entries
        return CrlImportResult(
            crl.issuer_key_id, crl.crl_number, entries, replaced, time.perf_counter() - started
        )

    def _apply_sqlite(self, patch: CrlPatch, imported_at: datetime) -> int | None:
        fairy = self._db.engine.raw_connection()
        c: Any = fairy.driver_connection
        try:
            c.execute(_SQLITE_PUT)
            c.execute(_SQLITE_DROP)
            with Transaction(c, "BEGIN"):  # the temporary database only: no shared lock
                c.execute("DELETE FROM temp.crl_put")
                c.execute("DELETE FROM temp.crl_drop")
                c.executemany("INSERT INTO temp.crl_put VALUES (?, ?, ?)", patch.puts)
                c.executemany("INSERT INTO temp.crl_drop VALUES (?)", [(s,) for s in patch.drops])
            writer = PatchWriter(c, str, self._db.bind_time, self._db.read_time)
            with Transaction(c):
                current = writer.current(patch.crl.issuer_key_id, lock=False)
                if not patch.precondition(current) or current is None:
                    return None
                return writer.write(patch, current, imported_at)
        finally:
            c.execute("DROP TABLE IF EXISTS temp.crl_put")
            c.execute("DROP TABLE IF EXISTS temp.crl_drop")
            fairy.close()

    def _apply_postgres(self, patch: CrlPatch, imported_at: datetime) -> int | None:
        with self._db.writing() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4712)")  # as an import does
            driver = conn.connection.driver_connection
            if driver is None:  # only on an invalidated connection
                raise StoreError("the database connection lost its driver")
            writer = PatchWriter(driver, self._db.sql, self._db.bind_time, self._db.read_time)
            current = writer.current(patch.crl.issuer_key_id, lock=True)
            if not patch.precondition(current) or current is None:
                return None
            cursor = driver.cursor()
            cursor.execute(_PG_PUT)
            cursor.execute(_PG_DROP)
            with cursor.copy("COPY crl_put (serial, revoked_at, reason) FROM STDIN") as copy:
                for entry in patch.puts:
                    copy.write_row(entry)
            with cursor.copy("COPY crl_drop (serial) FROM STDIN") as copy:
                for serial in patch.drops:
                    copy.write_row((serial,))
            # the planner then probes the CRL's index from these few rows, not a hash of all
            cursor.execute("ANALYZE crl_put")
            cursor.execute("ANALYZE crl_drop")
            cursor.close()
            return writer.write(patch, current, imported_at)

    def _replace_sqlite(self, crl: CheckedCrl, imported_at: datetime) -> int | None:
        fairy = self._db.engine.raw_connection()
        try:
            loader = SqliteCrlLoader(fairy.driver_connection, self._db.bind_time)
            current = loader.current(crl.issuer_key_id)
            if current is not None and _is_same_or_older(
                crl, current[1], self._db.read_time(current[2])
            ):
                return None
            return loader.load(
                crl, crl.batches(), imported_at, None if current is None else current[0]
            )
        finally:
            fairy.close()

    def _replace_postgres(self, crl: CheckedCrl, imported_at: datetime) -> int | None:
        # One transaction: PostgreSQL readers keep seeing the old CRL (MVCC), and the other
        # tables stay writable while it runs.
        with self._db.writing() as conn:
            # one import at a time: a second waits here instead of racing the flip
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4712)")
            current = conn.execute(
                select(_gen)
                .join(_cur, _cur.c.generation_id == _gen.c.generation_id)
                .where(_cur.c.issuer_key_id == crl.issuer_key_id)
            ).first()
            if current is not None and _is_same_or_older(
                crl, current.crl_number, current.this_update
            ):
                return None
            generation = conn.execute(
                insert(_gen)
                .values(
                    issuer_key_id=crl.issuer_key_id,
                    this_update=crl.this_update,
                    next_update=crl.next_update,
                    crl_number=crl.crl_number,
                    entries=0,
                    imported_at=imported_at,
                )
                .returning(_gen.c.generation_id)
            ).scalar_one()
            entries = _load_postgres(conn, generation, crl.batches())
            conn.execute(
                update(_gen).where(_gen.c.generation_id == generation).values(entries=entries)
            )
            if current is None:
                conn.execute(
                    insert(_cur).values(issuer_key_id=crl.issuer_key_id, generation_id=generation)
                )
            else:
                conn.execute(
                    update(_cur)
                    .where(_cur.c.issuer_key_id == crl.issuer_key_id)
                    .values(generation_id=generation)
                )
                conn.exec_driver_sql(
                    f"DROP TABLE IF EXISTS revoked_serials_g{int(current.generation_id)}"
                )
                conn.execute(delete(_gen).where(_gen.c.generation_id == current.generation_id))
        return entries


_SQLITE_PUT = (
    "CREATE TEMP TABLE IF NOT EXISTS crl_put "
    "(serial BLOB PRIMARY KEY, revoked_at INTEGER NOT NULL, reason INTEGER) WITHOUT ROWID"
)
_SQLITE_DROP = "CREATE TEMP TABLE IF NOT EXISTS crl_drop (serial BLOB PRIMARY KEY) WITHOUT ROWID"
_PG_PUT = (
    "CREATE TEMP TABLE crl_put (serial bytea PRIMARY KEY, revoked_at bigint NOT NULL, "
    "reason smallint) ON COMMIT DROP"
)
_PG_DROP = "CREATE TEMP TABLE crl_drop (serial bytea PRIMARY KEY) ON COMMIT DROP"


def _info(row: Any) -> CrlInfo:
    number = None if row.crl_number is None else int(row.crl_number)
    return CrlInfo(row.issuer_key_id, row.this_update, row.next_update, number, row.entries)


def _is_same_or_older(crl: CheckedCrl, number: Any, this_update: datetime) -> bool:
    """True when the CRL in force is this one (a no-op); raise CrlOutdated when it is newer."""
    current_number = None if number is None else int(number)
    if crl.crl_number is not None and current_number is not None:
        newer = crl.crl_number > current_number
    else:
        newer = crl.this_update > this_update
    if newer:
        return False
    if crl.crl_number == current_number and crl.this_update == this_update:
        return True
    raise CrlOutdated(
        f"the CRL (number {crl.crl_number}, {crl.this_update:%Y-%m-%d %H:%M}Z) is "
        "older than the one in force"
    )


def _load_postgres(conn: Connection, generation: int, batches: Iterable[list[Entry]]) -> int:
    # revoked_serials is partitioned by generation on PostgreSQL: the new CRL is copied into a
    # bare table, indexed in one sort, checked and attached as a partition; the old one is
    # dropped, not deleted row by row. All inside the caller's transaction.
    table = f"revoked_serials_g{int(generation)}"
    driver = conn.connection.driver_connection
    if driver is None:  # only on an invalidated connection, which a transaction never holds
        raise StoreError("the database connection lost its driver")
    cursor = driver.cursor()
    cursor.execute(f"SET LOCAL maintenance_work_mem = '{_PG_INDEX_MEMORY}'")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE revoked_serials, "
        f"CONSTRAINT {table}_generation CHECK (generation_id = {int(generation)}))"
    )
    count = 0
    prefix = f"{int(generation)}\t\\\\x"
    with cursor.copy(
        f"COPY {table} (generation_id, serial, revoked_at, reason) FROM STDIN"  # noqa: S608
    ) as copy:
        for batch in batches:
            copy.write(
                "".join(
                    [
                        f"{prefix}{serial.hex()}\t{revoked_at}\t{_PG_NULL if r is None else r}\n"
                        for serial, revoked_at, r in batch
                    ]
                )
            )
            count += len(batch)
    cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (generation_id, serial)")
    cursor.execute(
        f"ALTER TABLE revoked_serials ATTACH PARTITION {table} FOR VALUES IN ({int(generation)})"
    )
    cursor.execute(f"ANALYZE {table}")
    cursor.close()
    return count

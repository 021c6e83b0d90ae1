"""Revoked serials per issuer: lookups for the verifier, and the atomic CRL replacement.

An import writes the new CRL's entries under a fresh generation id, flips `crl_current` to it
and deletes the old generation, all in one transaction: a reader sees the old CRL or the new
one, never a mix. SQLite loads through the driver's `executemany`, PostgreSQL through `COPY`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.crlimport import CheckedCrl
from kiosk.store.crlstream import CrlFormatError, Entry, iter_entries
from kiosk.store.engine import Database
from kiosk.store.errors import CrlMalformed, CrlOutdated
from kiosk.store.models import CrlCurrentRow, CrlGenerationRow, RevokedSerialRow
from kiosk.store.records import CrlImportResult, serial_to_bytes
from kiosk.verify.ports import CrlInfo, RevokedEntry

#: RFC 5280 CRLReason codes, named as cryptography's `x509.ReasonFlags` members.
REASON_NAMES = {
    0: x509.ReasonFlags.unspecified.name,
    1: x509.ReasonFlags.key_compromise.name,
    2: x509.ReasonFlags.ca_compromise.name,
    3: x509.ReasonFlags.affiliation_changed.name,
    4: x509.ReasonFlags.superseded.name,
    5: x509.ReasonFlags.cessation_of_operation.name,
    6: x509.ReasonFlags.certificate_hold.name,
    8: x509.ReasonFlags.remove_from_crl.name,
    9: x509.ReasonFlags.privilege_withdrawn.name,
    10: x509.ReasonFlags.aa_compromise.name,
}

#: Page cache of the connection that imports a CRL (KiB); the default is 2,000.
_SQLITE_IMPORT_CACHE_KIB = 65_536

#: Memory PostgreSQL may use to sort a new CRL's primary-key index (server side).
_PG_INDEX_MEMORY = "256MB"
_PG_NULL = "\\N"

_gen = CrlGenerationRow.__table__
_cur = CrlCurrentRow.__table__
_rev = RevokedSerialRow.__table__

_LOOKUP = (
    "SELECT r.revoked_at, r.reason FROM crl_current c JOIN revoked_serials r "
    "ON r.generation_id = c.generation_id WHERE c.issuer_key_id = ? AND r.serial = ?"
)
_INFO = (
    select(_gen.c.this_update, _gen.c.next_update, _gen.c.crl_number, _gen.c.entries)
    .select_from(_cur.join(_gen, _gen.c.generation_id == _cur.c.generation_id))
    .where(_cur.c.issuer_key_id == bindparam("issuer"))
)


class SqlRevocationIndex:
    """The verifier's `RevocationIndex` over the store, plus the CRL import that feeds it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lookup = db.sql(_LOOKUP)

    def crl_info(self, issuer_key_id: str) -> CrlInfo | None:
        """The CRL in force for that issuer, or None when none was imported."""
        with self._db.autocommit.connect() as conn:
            row = conn.execute(_INFO, {"issuer": issuer_key_id}).first()
        if row is None:
            return None
        number = None if row.crl_number is None else int(row.crl_number)
        return CrlInfo(issuer_key_id, row.this_update, row.next_update, number, row.entries)

    def lookup(self, issuer_key_id: str, serial: int) -> RevokedEntry | None:
        """The revocation entry for that serial under that issuer, or None if not revoked."""
        row = self._db.one(self._lookup, (issuer_key_id, serial_to_bytes(serial)))
        if row is None:
            return None
        return RevokedEntry(serial, datetime.fromtimestamp(row[0], UTC), REASON_NAMES.get(row[1]))

    def replace(self, crl: CheckedCrl, imported_at: datetime) -> CrlImportResult:
        """Put a checked CRL in force for its issuer, atomically; refuse an older one."""
        started = time.perf_counter()
        try:
            return self._replace(crl, imported_at, started)
        except CrlFormatError as e:
            raise CrlMalformed("the CRL's entries are malformed") from e
        except (IntegrityError, self._db.engine.dialect.loaded_dbapi.IntegrityError) as e:
            raise CrlMalformed("the CRL lists a serial twice") from e

    def _replace(self, crl: CheckedCrl, imported_at: datetime, started: float) -> CrlImportResult:
        with self._db.writing() as conn:
            if conn.dialect.name == "postgresql":
                # one import at a time: a second waits here instead of racing the flip
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4712)")
            current = conn.execute(
                select(_gen)
                .join(_cur, _cur.c.generation_id == _gen.c.generation_id)
                .where(_cur.c.issuer_key_id == crl.issuer_key_id)
            ).first()
            if current is not None and not _newer(crl, current):
                if _same(crl, current):
                    return CrlImportResult(
                        crl.issuer_key_id,
                        crl.crl_number,
                        current.entries,
                        False,
                        time.perf_counter() - started,
                    )
                raise CrlOutdated(
                    f"the CRL (number {crl.crl_number}, {crl.this_update:%Y-%m-%d %H:%M}Z) is "
                    "older than the one in force"
                )
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
            batches = iter_entries(crl.buf, crl.layout.entries_start, crl.layout.entries_end)
            if conn.dialect.name == "postgresql":
                entries = _load_postgres(conn, generation, batches)
            else:
                entries = _insert_sqlite(conn, generation, batches)
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
                if conn.dialect.name == "postgresql":
                    _drop_postgres(conn, current.generation_id)
                else:
                    conn.execute(delete(_rev).where(_rev.c.generation_id == current.generation_id))
                conn.execute(delete(_gen).where(_gen.c.generation_id == current.generation_id))
        return CrlImportResult(
            crl.issuer_key_id, crl.crl_number, entries, True, time.perf_counter() - started
        )


def _newer(crl: CheckedCrl, current: Any) -> bool:
    if crl.crl_number is not None and current.crl_number is not None:
        return crl.crl_number > int(current.crl_number)
    return crl.this_update > current.this_update


def _same(crl: CheckedCrl, current: Any) -> bool:
    number = None if current.crl_number is None else int(current.crl_number)
    return crl.crl_number == number and crl.this_update == current.this_update


def _insert_sqlite(conn: Connection, generation: int, batches: Iterable[list[Entry]]) -> int:
    # Random serials inserted straight into the primary-key B-tree thrash its cache; appending
    # them to an unindexed temporary table and inserting that sorted is several times faster.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("PRAGMA threads=2")  # lets the sorter use a helper thread
    cursor.execute(f"PRAGMA cache_size=-{_SQLITE_IMPORT_CACHE_KIB}")
    cursor.execute(
        "CREATE TEMP TABLE crl_staging (serial BLOB, revoked_at INTEGER, reason INTEGER)"
    )
    count = 0
    try:
        for batch in batches:
            cursor.executemany("INSERT INTO crl_staging VALUES (?, ?, ?)", batch)
            count += len(batch)
        cursor.execute(
            "INSERT INTO revoked_serials (generation_id, serial, revoked_at, reason) "
            "SELECT ?, serial, revoked_at, reason FROM crl_staging ORDER BY serial",
            (generation,),
        )
    finally:
        cursor.execute("DROP TABLE temp.crl_staging")
        cursor.execute("PRAGMA cache_size=-2000")
        cursor.close()
    return count


def _load_postgres(conn: Connection, generation: int, batches: Iterable[list[Entry]]) -> int:
    # revoked_serials is partitioned by generation on PostgreSQL: the new CRL is copied into a
    # bare table, indexed in one sort, checked and attached as a partition; the old one is
    # dropped, not deleted row by row. All inside the caller's transaction.
    table = f"revoked_serials_g{int(generation)}"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
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


def _drop_postgres(conn: Connection, generation: int) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS revoked_serials_g{int(generation)}")

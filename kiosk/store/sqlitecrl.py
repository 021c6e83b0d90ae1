"""Loading a CRL into SQLite without stopping the kiosk: short write transactions only.

SQLite has one writer at a time. Holding the write lock for a whole national CRL (20+ s)
would stall every challenge and audit write behind it, so the import:

1. parses the entries into a temporary (connection-private) table and sorts them there —
   no lock on the main database;
2. registers a new, not yet current, generation (one short transaction);
3. copies the sorted entries into `revoked_serials` in chunks, one short transaction each —
   lookups join `crl_current`, so a generation nobody points at is invisible;
4. checks that every entry arrived and flips `crl_current` (one short transaction): the atomic
   swap; a reader sees the old CRL or the new one, never a mix;
5. deletes the replaced generation (and any left by an interrupted import) in chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from kiosk.store.errors import CrlImportError
from kiosk.verify.crl import CheckedCrl
from kiosk.verify.crlstream import Entry

#: Page cache of the connection that imports a CRL (KiB); SQLite's default is 2,000.
IMPORT_CACHE_KIB = 65_536
#: Rows per write transaction while copying or deleting entries (about 0.2 s each).
CHUNK_ROWS = 200_000

_CURRENT = (
    "SELECT g.generation_id, g.crl_number, g.this_update, g.entries FROM crl_current c "
    "JOIN crl_generations g ON g.generation_id = c.generation_id WHERE c.issuer_key_id = ?"
)


class SqliteCrlLoader:
    """Runs steps 1–5 on one driver connection (autocommit; transactions are explicit)."""

    def __init__(self, driver: Any, bind_time: Callable[[datetime], Any]) -> None:
        self._c = driver
        self._bind_time = bind_time

    def current(self, issuer_key_id: str) -> tuple[Any, ...] | None:
        """(generation_id, crl_number, this_update, entries) of the CRL in force, or None."""
        row: tuple[Any, ...] | None = self._c.execute(_CURRENT, (issuer_key_id,)).fetchone()
        return row

    def load(
        self,
        crl: CheckedCrl,
        batches: Iterable[list[Entry]],
        imported_at: datetime,
        expected_current: int | None,
    ) -> int:
        """Steps 1–5; return the number of entries now in force."""
        c = self._c
        c.execute("PRAGMA threads=2")  # a helper thread for the sorter
        c.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        try:
            count = self._stage(batches)
            generation = self._register(crl, imported_at, count, expected_current)
            try:
                self._copy(generation, count)
                self._flip(crl.issuer_key_id, generation, count, expected_current)
            except BaseException:
                self._delete_generation(generation)
                raise
            self._delete_stale(crl.issuer_key_id, generation)
            return count
        finally:
            c.execute("DROP TABLE IF EXISTS temp.crl_staging")
            c.execute("DROP TABLE IF EXISTS temp.crl_sorted")
            c.execute("PRAGMA cache_size=-2000")

    def _stage(self, batches: Iterable[list[Entry]]) -> int:
        c = self._c
        c.execute("CREATE TEMP TABLE crl_staging (serial BLOB, revoked_at INTEGER, reason INTEGER)")
        c.execute("BEGIN")  # writes to the temp database only: no lock on the main one
        try:
            count = 0
            for batch in batches:
                c.executemany("INSERT INTO temp.crl_staging VALUES (?, ?, ?)", batch)
                count += len(batch)
            # random serials straight into the primary-key B-tree thrash its cache; sorted
            # here once, they are appended in key order below (rowid = position)
            c.execute(
                "CREATE TEMP TABLE crl_sorted AS "
                "SELECT serial, revoked_at, reason FROM temp.crl_staging ORDER BY serial"
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("DROP TABLE temp.crl_staging")
        return count

    def _register(
        self, crl: CheckedCrl, imported_at: datetime, count: int, expected_current: int | None
    ) -> int:
        with self._transaction():
            self._check_current(crl.issuer_key_id, expected_current)
            row = self._c.execute(
                "INSERT INTO crl_generations (issuer_key_id, this_update, next_update, "
                "crl_number, entries, imported_at) VALUES (?, ?, ?, ?, ?, ?) "
                "RETURNING generation_id",
                (
                    crl.issuer_key_id,
                    self._bind_time(crl.this_update),
                    None if crl.next_update is None else self._bind_time(crl.next_update),
                    crl.crl_number,
                    count,
                    self._bind_time(imported_at),
                ),
            ).fetchone()
        return int(row[0])

    def _copy(self, generation: int, count: int) -> None:
        for low in range(1, count + 1, CHUNK_ROWS):
            with self._transaction():
                self._c.execute(
                    "INSERT INTO revoked_serials (generation_id, serial, revoked_at, reason) "
                    "SELECT ?, serial, revoked_at, reason FROM temp.crl_sorted "
                    "WHERE rowid BETWEEN ? AND ?",
                    (generation, low, low + CHUNK_ROWS - 1),
                )

    def _flip(self, issuer: str, generation: int, count: int, expected: int | None) -> None:
        with self._transaction():
            self._check_current(issuer, expected)
            (stored,) = self._c.execute(
                "SELECT count(*) FROM revoked_serials WHERE generation_id = ?", (generation,)
            ).fetchone()
            if stored != count:
                raise CrlImportError("another import interfered; nothing was changed")
            self._c.execute(
                "INSERT INTO crl_current (issuer_key_id, generation_id) VALUES (?, ?) "
                "ON CONFLICT (issuer_key_id) DO UPDATE SET generation_id = excluded.generation_id",
                (issuer, generation),
            )

    def _check_current(self, issuer: str, expected: int | None) -> None:
        row = self.current(issuer)
        if (None if row is None else row[0]) != expected:
            raise CrlImportError("another import changed this issuer's CRL; nothing was changed")

    def _delete_stale(self, issuer: str, keep: int) -> None:
        stale = self._c.execute(
            "SELECT generation_id FROM crl_generations WHERE issuer_key_id = ? "
            "AND generation_id != ?",
            (issuer, keep),
        ).fetchall()
        for (generation,) in stale:
            self._delete_generation(generation)

    def _delete_generation(self, generation: int) -> None:
        while True:  # a key range at a time: contiguous in the B-tree
            with self._transaction():
                last = self._c.execute(
                    "SELECT max(serial) FROM (SELECT serial FROM revoked_serials "
                    "WHERE generation_id = ? ORDER BY serial LIMIT ?)",
                    (generation, CHUNK_ROWS),
                ).fetchone()[0]
                if last is not None:
                    self._c.execute(
                        "DELETE FROM revoked_serials WHERE generation_id = ? AND serial <= ?",
                        (generation, last),
                    )
            if last is None:
                break
        with self._transaction():
            self._c.execute(
                "DELETE FROM crl_generations WHERE generation_id = ? AND generation_id NOT IN "
                "(SELECT generation_id FROM crl_current)",
                (generation,),
            )

    def _transaction(self) -> Transaction:
        return Transaction(self._c)


class Transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) on an autocommit driver connection
    (`begin="BEGIN"` for one that writes only to the connection's temporary database)."""

    def __init__(self, driver: Any, begin: str = "BEGIN IMMEDIATE") -> None:
        self._c = driver
        self._begin = begin

    def __enter__(self) -> None:
        self._c.execute(self._begin)

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._c.execute("ROLLBACK" if kind is not None else "COMMIT")

"""Changing the CRL in force in place: a delta CRL, or the diff of a new complete CRL against
the one in force — written in ONE transaction, so a reader sees the old CRL or the new one,
never a mix, and only the changed rows are written.

A full import (`SqlRevocationIndex.replace`) writes every entry of a new generation and flips
`crl_current`: right for a first import, but 12–20 s for a national list of 5 million entries.
A refresh usually changes a small part of the list; a patch deletes and inserts just those
rows in the generation in force and updates its header (thisUpdate, nextUpdate, CRL number,
count) in the same transaction. Readers join the generation's header and its entries in one
statement (`SqlVerificationStore.proof_context`), so they see both before or both after.

The patch is staged first into connection-private temporary tables (no lock on the shared
tables), so the write transaction itself only runs set-based statements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.store.errors import CrlImportError
from kiosk.verify.crl import CheckedCrl
from kiosk.verify.crlstream import Entry

#: RFC 5280 CRLReason removeFromCRL: in a delta CRL, the serial is no longer revoked.
REMOVE_FROM_CRL = 8


class CrlNoBase(CrlImportError):
    """A delta CRL arrived while no complete CRL of its issuer is in force."""

    code = "crl_no_base"


class CrlWrongBase(CrlImportError):
    """A delta CRL's base is newer than the CRL in force: applying it would lose the changes
    between the two (RFC 5280 §5.2.4 (c))."""

    code = "crl_wrong_base"


class CrlBaseChanged(CrlImportError):
    """The CRL in force is not the one a diff was computed against (another import ran)."""

    code = "crl_base_changed"


@dataclass(frozen=True, slots=True)
class InForce:
    """The header of the CRL in force for an issuer, as the patch reads it in its transaction."""

    generation_id: int
    crl_number: int | None
    this_update: datetime
    entries: int


#: Decides on the CRL in force (None: none): True to apply, False when the patch is already
#: contained in it (a no-op); raises CrlImportError to refuse.
Precondition = Callable[[InForce | None], bool]


@dataclass(frozen=True, slots=True)
class CrlPatch:
    """What changes: `puts` are entries to add (or, with `upsert`, to add or overwrite),
    `drops` serials to take off; `crl` gives the header then in force."""

    crl: CheckedCrl
    puts: Sequence[Entry]
    drops: Sequence[bytes]
    upsert: bool  # a delta may list a serial already there; a diff never does
    precondition: Precondition


def delta_patch(delta: CheckedCrl) -> CrlPatch:
    """A delta CRL as a patch: its removeFromCRL entries are drops, the rest puts (upserted),
    on a complete CRL numbered at least its base (RFC 5280 §5.2.4)."""
    if delta.base_crl_number is None or delta.crl_number is None:
        raise CrlImportError("not a delta CRL")
    puts: list[Entry] = []
    drops: list[bytes] = []
    for batch in delta.batches():
        for entry in batch:
            if entry[2] == REMOVE_FROM_CRL:
                drops.append(entry[0])
            else:
                puts.append(entry)
    base, number = delta.base_crl_number, delta.crl_number

    def on(current: InForce | None) -> bool:
        if current is None:
            raise CrlNoBase("no complete CRL of this issuer is in force for the delta CRL")
        if current.crl_number is not None and current.crl_number >= number:
            return False  # the CRL in force is at least as recent: it holds these changes
        if current.crl_number is None or current.crl_number < base:
            raise CrlWrongBase(
                f"the delta CRL applies on CRL number {base} or later; "
                f"number {current.crl_number} is in force"
            )
        return True

    return CrlPatch(delta, puts, drops, True, on)


def diff_patch(
    new: CheckedCrl,
    puts: Sequence[Entry],
    drops: Sequence[bytes],
    base_number: int | None,
    base_this_update: datetime,
) -> CrlPatch:
    """A new complete CRL as the changes against its base (the complete CRL it was diffed
    against, which must be the one in force)."""

    def on(current: InForce | None) -> bool:
        if (
            current is None
            or current.crl_number != base_number
            or current.this_update != base_this_update
        ):
            raise CrlBaseChanged("the CRL in force is not the one the new CRL was diffed against")
        return True

    return CrlPatch(new, puts, drops, False, on)


_CURRENT = (
    "SELECT g.generation_id, g.crl_number, g.this_update, g.entries FROM crl_current c "
    "JOIN crl_generations g ON g.generation_id = c.generation_id WHERE c.issuer_key_id = ?"
)
_DELETE = (
    "DELETE FROM revoked_serials WHERE generation_id = ? "
    "AND serial IN (SELECT serial FROM crl_drop)"
)
# Probes the big table from the small one (a join lets SQLite scan the generation instead).
_EXISTING = (
    "SELECT count(*) FROM crl_put p WHERE EXISTS (SELECT 1 FROM revoked_serials r "
    "WHERE r.generation_id = ? AND r.serial = p.serial)"
)
_INSERT = (
    "INSERT INTO revoked_serials (generation_id, serial, revoked_at, reason) "
    "SELECT ?, serial, revoked_at, reason FROM crl_put WHERE true ORDER BY serial"
)
_UPSERT = (
    " ON CONFLICT (generation_id, serial) DO UPDATE "
    "SET revoked_at = excluded.revoked_at, reason = excluded.reason"
)
_HEADER = (
    "UPDATE crl_generations SET this_update = ?, next_update = ?, crl_number = ?, entries = ?, "
    "imported_at = ? WHERE generation_id = ?"
)


class PatchWriter:
    """Applies a CrlPatch on one driver connection (SQLite or psycopg), in one transaction.

    `sql` turns `?` placeholders into the driver's; `bind_time` / `read_time` convert times
    as the store keeps them; `stage` fills the temporary tables crl_put and crl_drop."""

    def __init__(
        self,
        driver: Any,
        sql: Callable[[str], str],
        bind_time: Callable[[datetime], Any],
        read_time: Callable[[Any], datetime],
    ) -> None:
        self._c = driver
        self._sql = sql
        self._bind_time = bind_time
        self._read_time = read_time

    def current(self, issuer_key_id: str, lock: bool) -> InForce | None:
        """The header in force (locked for the transaction on PostgreSQL when `lock`)."""
        cursor = self._c.cursor()
        cursor.execute(self._sql(_CURRENT + (" FOR UPDATE OF g" if lock else "")), (issuer_key_id,))
        row = cursor.fetchone()
        cursor.close()
        if row is None:
            return None
        number = None if row[1] is None else int(row[1])
        return InForce(int(row[0]), number, self._read_time(row[2]), int(row[3]))

    def write(self, patch: CrlPatch, current: InForce, imported_at: datetime) -> int:
        """Delete the drops, insert (or upsert) the puts, update the header; the entry count
        now in force. The caller holds the transaction and has staged the patch."""
        cursor = self._c.cursor()
        generation = current.generation_id
        cursor.execute(self._sql(_DELETE), (generation,))
        removed = cursor.rowcount
        if not patch.upsert and removed != len(patch.drops):
            raise CrlBaseChanged("the CRL in force does not hold the entries the diff removes")
        existing = 0
        if patch.upsert:
            cursor.execute(self._sql(_EXISTING), (generation,))
            existing = int(cursor.fetchone()[0])
        cursor.execute(self._sql(_INSERT + (_UPSERT if patch.upsert else "")), (generation,))
        entries = current.entries - removed + len(patch.puts) - existing
        crl = patch.crl
        cursor.execute(
            self._sql(_HEADER),
            (
                self._bind_time(crl.this_update),
                None if crl.next_update is None else self._bind_time(crl.next_update),
                crl.crl_number,
                entries,
                self._bind_time(imported_at),
                generation,
            ),
        )
        cursor.close()
        return int(entries)

"""What changed between two complete CRLs of one issuer: the entries to add and the serials to
take off, read from the DER without parsing the unchanged entries (pure, no IO).

A refresh of a national CRL changes a small part of it. The entries of the CRL in force were
each checked strictly when it was imported; an entry of the new CRL that is byte for byte one
of those needs no second check, and only the others (the changes) are walked strictly
(`iter_entries`). Both lists are split into their entries' bytes by their DER lengths alone and
compared as a set, so the order of the entries does not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kiosk.verify.crl import CheckedCrl
from kiosk.verify.crlstream import CrlFormatError, Entry, iter_entries
from kiosk.verify.verdict import Reason, Refused


@dataclass(frozen=True, slots=True)
class CrlDiff:
    """The new CRL's entries that the old one lacks (checked strictly), and the serials of the
    old entries the new one lacks (an entry whose reason or date changed is in both)."""

    added: list[Entry]
    removed: list[bytes]
    unchanged: int


def diff_crls(old: CheckedCrl, new: CheckedCrl) -> CrlDiff:
    """The changes from `old` (the CRL in force, whose entries were checked when it was
    imported) to `new` (checked by `check_crl`); Refused(malformed) when the new CRL's entries
    are malformed or a changed one is listed twice. (An unchanged entry listed twice comes
    out as an addition of a serial still in force, which the store refuses.)

    Memory: a set of the old entries' bytes; the new ones are streamed past it."""
    if old.issuer_key_id != new.issuer_key_id:
        raise ValueError("the two CRLs have different issuers")
    try:
        remaining = set(split_entries(old.buf, old.layout.entries_start, old.layout.entries_end))
        seen, added_raw = 0, list[bytes]()
        take, add = remaining.remove, added_raw.append
        for entry in split_entries(new.buf, new.layout.entries_start, new.layout.entries_end):
            seen += 1
            if entry in remaining:
                take(entry)
            else:
                add(entry)
    except CrlFormatError as e:
        raise Refused(Reason.MALFORMED, f"The CRL's entries are malformed: {e}.") from e
    if len(set(added_raw)) != len(added_raw):
        raise Refused(Reason.MALFORMED, "The CRL lists an entry twice.")
    added = _strict(b"".join(added_raw))
    removed = [serial for serial, _, _ in _strict(b"".join(remaining))]
    return CrlDiff(added, removed, seen - len(added_raw))


def split_entries(buf: bytes, start: int, end: int) -> Iterator[bytes]:
    """The DER of each entry in buf[start:end], by its SEQUENCE length alone (not checked
    further: a caller compares them with entries that were, or checks the others)."""
    pos = start
    try:
        while pos < end:
            length = buf[pos + 1]
            if length < 0x80:
                nxt = pos + 2 + length
            else:
                n = length & 0x7F
                if not 0 < n <= 4:
                    raise CrlFormatError("unsupported DER length")
                nxt = pos + 2 + n + int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")
            if nxt > end:
                raise CrlFormatError("entries overrun their SEQUENCE")
            yield buf[pos:nxt]
            pos = nxt
    except IndexError as e:
        raise CrlFormatError("truncated entry") from e


def _strict(region: bytes) -> list[Entry]:
    try:
        return [entry for batch in iter_entries(region, 0, len(region)) for entry in batch]
    except CrlFormatError as e:
        raise Refused(Reason.MALFORMED, f"The CRL's entries are malformed: {e}.") from e

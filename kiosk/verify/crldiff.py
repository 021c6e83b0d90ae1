"""What changed between two complete CRLs of one issuer: the entries to add and the serials to
take off, read from the DER without parsing the unchanged entries (pure, no IO).

A refresh of a national CRL changes a small part of it. The entries of the CRL in force were
each checked strictly when it was imported; an entry of the new CRL that is byte for byte one
of those needs no second check, and only the others (the changes) are walked strictly
(`iter_entries`). Entries are told apart by their DER lengths alone. The two lists are walked in
step first, skipping runs of identical bytes a window at a time (most issuers append and remove
in place, and keep their order); whatever is left over — everything, for an issuer that
reorders its list — is compared as a set, so the order never changes the result, only the time.
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

    The two lists are first walked in step (`_in_step`): runs of identical bytes are skipped
    whole and only the entries around a difference are compared, which is fast when the
    issuer keeps its order (appends, removes here and there). What is left over on either
    side — everything, when the order is not kept — is compared as a set."""
    if old.issuer_key_id != new.issuer_key_id:
        raise ValueError("the two CRLs have different issuers")
    old_span = (old.buf, old.layout.entries_start, old.layout.entries_end)
    new_span = (new.buf, new.layout.entries_start, new.layout.entries_end)
    try:
        walked = _in_step(*old_span, *new_span)
        if walked is None:
            before, after, matched = split_entries(*old_span), split_entries(*new_span), 0
        else:
            before, after, matched = iter(walked[0]), iter(walked[1]), walked[2]
        remaining = set(before)
        seen, added_raw = 0, list[bytes]()
        take, add = remaining.remove, added_raw.append
        for entry in after:
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
    return CrlDiff(added, removed, matched + seen - len(added_raw))


#: Bytes compared at once while both lists agree.
_WINDOW = 4096
#: Entries looked ahead on each side to find where the lists agree again.
_LOOKAHEAD = 8
#: Left-over entries (old and new) beyond which the order is taken as not kept, besides one in
#: _KEPT_PER_LEFT of those matched so far: a reordered list is given up on within a few
#: thousand entries, a list that changed by a few per cent is walked to the end.
_GIVE_UP = 2_000
_KEPT_PER_LEFT = 20


def _in_step(
    old: bytes, i: int, old_end: int, new: bytes, j: int, new_end: int
) -> tuple[list[bytes], list[bytes], int] | None:
    """Walk both entry lists in step: (old entries left over, new entries left over, entries
    matched one to one with identical bytes); None when too much is left over (the order is
    not kept: a set comparison of everything is cheaper)."""
    old_left: list[bytes] = []
    new_left: list[bytes] = []
    matched = 0
    while i < old_end and j < new_end:
        width = min(_WINDOW, old_end - i, new_end - j)
        limit = i + width
        if old[i:limit] == new[j : j + width]:
            k = i  # skip the window's whole entries: the same bytes, so the same in new
            while k < limit:
                length = old[k + 1]
                after = k + 2 + length if length < 0x80 else _next(old, k, old_end)
                if after > limit:
                    break
                k = after
                matched += 1
            if k > i:
                j += k - i
                i = k
                continue
        differs = False  # entry by entry, up to the window's end or the first difference
        while i < limit and j < new_end:
            old_after, new_after = _next(old, i, old_end), _next(new, j, new_end)
            if old[i:old_after] != new[j:new_after]:
                differs = True
                break
            matched += 1
            i, j = old_after, new_after
        if differs:
            i, j = _resync(old, i, old_end, new, j, new_end, old_left, new_left)
            if len(old_left) + len(new_left) > _GIVE_UP + matched // _KEPT_PER_LEFT:
                return None
    old_left.extend(split_entries(old, i, old_end))
    new_left.extend(split_entries(new, j, new_end))
    return old_left, new_left, matched


def _resync(
    old: bytes,
    i: int,
    old_end: int,
    new: bytes,
    j: int,
    new_end: int,
    old_left: list[bytes],
    new_left: list[bytes],
) -> tuple[int, int]:
    """Where the lists agree again after differing at (i, j), looking a few entries ahead on
    each side: the entries skipped to get there are left over. Failing that, one entry of
    each is left over."""
    olds = _ahead(old, i, old_end)
    news = _ahead(new, j, new_end)
    first_in_new: dict[bytes, int] = {}
    for q, (start, stop) in enumerate(news):
        first_in_new.setdefault(new[start:stop], q)
    best: tuple[int, int] | None = None
    for p, (start, stop) in enumerate(olds):
        found = first_in_new.get(old[start:stop])
        if found is not None and (best is None or p + found < sum(best)):
            best = (p, found)
    p, q = best if best is not None else (1, 1)
    old_left.extend(old[s:e] for s, e in olds[:p])
    new_left.extend(new[s:e] for s, e in news[:q])
    return olds[p - 1][1] if p else i, news[q - 1][1] if q else j


def _ahead(buf: bytes, pos: int, end: int) -> list[tuple[int, int]]:
    """(start, stop) of up to _LOOKAHEAD entries from pos."""
    spans: list[tuple[int, int]] = []
    while pos < end and len(spans) < _LOOKAHEAD:
        after = _next(buf, pos, end)
        spans.append((pos, after))
        pos = after
    return spans


def _next(buf: bytes, pos: int, end: int) -> int:
    """Where the entry at pos ends, by its DER length (CrlFormatError past `end`)."""
    try:
        length = buf[pos + 1]
        if length < 0x80:
            after = pos + 2 + length
        else:
            n = length & 0x7F
            if not 0 < n <= 4:
                raise CrlFormatError("unsupported DER length")
            after = pos + 2 + n + int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")
    except IndexError as e:
        raise CrlFormatError("truncated entry") from e
    if after > end:
        raise CrlFormatError("entries overrun their SEQUENCE")
    return after


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

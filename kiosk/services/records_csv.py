"""The CSV boundary of the operator's loads: an insurer's member roster, a clinic's patients.

Every byte of a file is checked here, before anything reaches the store: `parse_roster` and
`parse_patients` take the file's bytes and give back frozen rows (`RosterMember`,
`PatientRecord`), or raise `RecordRefused` naming the line (1 is the header) and the field of
the first thing wrong, and why (`Problem`). No exception of the csv module, the codec or the
date parser escapes as itself, and the caller gets all rows or none, so nothing is ever
half-imported. No SQL: the store (kiosk.store.roster) takes the rows as they are.

The formats (docs/insurance.md): UTF-8, with or without a byte-order mark; a header row naming
the columns in any order (an optional column may be left out; an unknown one is refused); dates
ISO (YYYY-MM-DD); numbers may be written full-width (NFKC), and half-width kana become
full-width. Names are kept as written (trimmed): matching them is the linking's business.
Refusals never quote a field's value: a roster is personal data, and the message may be logged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from kiosk.errors import KioskError
from kiosk.store.roster import MemberKey, PatientRecord, RosterMember

#: The largest file accepted (bytes): 500,000 rows of about 150 bytes, with room to spare.
MAX_BYTES = 128 * 1024 * 1024
#: The most rows a file may have: the store loads a file in one transaction, and this keeps
#: that transaction (and SQLite's write lock) to a few seconds (bench/roster_bench.py).
MAX_ROWS = 500_000
#: Longest 記号 or 番号, 診察券番号 and name (characters), as the store's columns hold them.
MEMBER_PART_CHARS = 20
PATIENT_NUMBER_CHARS = 32
NAME_CHARS = 100

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSURER = re.compile(r"[0-9]{6}|[0-9]{8}")
_BRANCH = re.compile(r"[0-9]{2}")
_PATIENT_NUMBER = re.compile(rf"[0-9A-Z][0-9A-Z-]{{0,{PATIENT_NUMBER_CHARS - 1}}}")
_COPAY = {"1": 1, "2": 2, "3": 3}
#: A name's reading: katakana or hiragana, the long-vowel mark, middle dot and spaces.
_KANA = re.compile(r"[\u3041-\u3096\u309d\u309e\u30a1-\u30fe ]+")


class Problem(StrEnum):
    """What is wrong with a file, a row or a field."""

    TOO_LARGE = "too_large"  # more bytes than MAX_BYTES, or rows than MAX_ROWS
    NOT_UTF8 = "not_utf8"
    MALFORMED = "malformed"  # not CSV: an unterminated quote, a field beyond csv's limit
    EMPTY = "empty"  # no header, or no rows
    UNKNOWN_COLUMN = "unknown_column"
    MISSING_COLUMN = "missing_column"
    DUPLICATE_COLUMN = "duplicate_column"
    FIELD_COUNT = "field_count"  # a row with more or fewer fields than the header
    MISSING_FIELD = "missing_field"
    BAD_DIGITS = "bad_digits"  # 保険者番号 not 6 or 8 digits, 枝番 not 2, ...
    BAD_NUMBER = "bad_number"  # 記号, 番号 or 診察券番号 with other than letters and digits
    BAD_TEXT = "bad_text"  # a name with control characters, too long, a reading not kana
    BAD_DATE = "bad_date"
    BAD_COPAY = "bad_copay"  # 負担割合 not 1, 2 or 3
    PERIOD_REVERSED = "period_reversed"  # valid_to (or lost_on) before valid_from
    DUPLICATE = "duplicate"  # the same member (or patient number) twice in one file
    MIXED_INSURERS = "mixed_insurers"  # a roster file is one insurer's


class RecordRefused(KioskError):
    """A load was refused: the file, or its row at `line` (1 is the header), in `field`."""

    code = "record_refused"

    def __init__(
        self, problem: Problem, detail: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.problem = problem
        self.line = line
        self.field = field
        self.detail = detail
        where = [] if line is None else [f"line {line}"]
        if field is not None:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {detail}" if where else detail)


@dataclass(frozen=True, slots=True)
class Roster:
    """A checked roster file: one insurer's members and the file's SHA-256."""

    insurer: str
    members: tuple[RosterMember, ...]
    sha256: bytes


@dataclass(frozen=True, slots=True)
class Patients:
    """A checked patients file: a clinic's records and the file's SHA-256."""

    records: tuple[PatientRecord, ...]
    sha256: bytes


class _FieldRefused(Exception):
    """A field's check failed; the row reader adds the line and the field's name."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


# --- one field ---------------------------------------------------------------------------


def _nfkc(value: str) -> str:
    # ASCII is its own NFKC form; most numbers and dates in a file are ASCII
    return value.strip() if value.isascii() else unicodedata.normalize("NFKC", value).strip()


def _digits(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = _nfkc(value)
        if pattern.fullmatch(value) is None:
            raise _FieldRefused(Problem.BAD_DIGITS, f"must be {what}")
        return value

    return check


def _member_part(value: str) -> str:
    """記号 or 番号: letters and digits only (NFKC, ASCII letters upper case), so the
    "記号・番号-枝番" a person types splits back into its parts."""
    value = _nfkc(value)
    if len(value) > MEMBER_PART_CHARS or not value.isalnum():
        raise _FieldRefused(
            Problem.BAD_NUMBER, f"must be up to {MEMBER_PART_CHARS} letters or digits"
        )
    if value.isascii():
        return value.upper()
    return "".join(c.upper() if c.isascii() else c for c in value)


def _patient_number(value: str) -> str:
    value = _nfkc(value).upper()
    if _PATIENT_NUMBER.fullmatch(value) is None:
        raise _FieldRefused(
            Problem.BAD_NUMBER,
            f"must be up to {PATIENT_NUMBER_CHARS} letters, digits or hyphens (A-Z, 0-9, -)",
        )
    return value


def _name(value: str) -> str:
    """A name as written (trimmed): no control or format characters, at most NAME_CHARS."""
    value = value.strip()
    if len(value) > NAME_CHARS:
        raise _FieldRefused(Problem.BAD_TEXT, f"is longer than {NAME_CHARS} characters")
    # isprintable() is False for every control and format character (and for spaces other
    # than " ", such as the ideographic space names are often written with): only then look
    if not value.isprintable() and any(unicodedata.category(c)[0] == "C" for c in value):
        raise _FieldRefused(Problem.BAD_TEXT, "has a control or format character")
    return value


def _kana(value: str) -> str:
    """A reading: katakana or hiragana (half-width katakana become full-width)."""
    value = _name(_nfkc(value))
    if _KANA.fullmatch(value) is None:
        raise _FieldRefused(Problem.BAD_TEXT, "must be written in kana")
    return value


def _date(value: str) -> date:
    value = value.strip()
    if _DATE.fullmatch(value) is None:
        raise _FieldRefused(Problem.BAD_DATE, "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise _FieldRefused(Problem.BAD_DATE, "is not a day of the calendar") from e


def _copay(value: str) -> int:
    found = _COPAY.get(_nfkc(value))
    if found is None:
        raise _FieldRefused(Problem.BAD_COPAY, "must be 1, 2 or 3 (割)")
    return found


@dataclass(frozen=True, slots=True)
class _Column:
    check: Callable[[str], Any]
    required: bool  # a value is needed (else "" stands for none)
    in_header: bool  # the column must be in the header


_INSURER_CHECK = _digits(_INSURER, "6 or 8 digits (保険者番号)")
_BRANCH_CHECK = _digits(_BRANCH, "2 digits (枝番)")

ROSTER_COLUMNS: Mapping[str, _Column] = {
    "insurer": _Column(_INSURER_CHECK, True, True),
    "symbol": _Column(_member_part, False, False),
    "number": _Column(_member_part, True, True),
    "branch": _Column(_BRANCH_CHECK, False, False),
    "name": _Column(_name, True, True),
    "name_kana": _Column(_kana, True, True),
    "birth_date": _Column(_date, True, True),
    "valid_from": _Column(_date, True, True),
    "valid_to": _Column(_date, False, False),
    "lost_on": _Column(_date, False, False),
    "copay_tenths": _Column(_copay, True, True),
}

PATIENT_COLUMNS: Mapping[str, _Column] = {
    "patient_number": _Column(_patient_number, True, True),
    "name": _Column(_name, True, True),
    "name_kana": _Column(_kana, True, True),
    "birth_date": _Column(_date, True, True),
    "insurer": _Column(_INSURER_CHECK, False, False),
    "symbol": _Column(_member_part, False, False),
    "number": _Column(_member_part, False, False),
    "branch": _Column(_BRANCH_CHECK, False, False),
}

#: What an empty optional field stands for: "" for the numbers, None for the dates.
_EMPTY: Mapping[str, Any] = {"valid_to": None, "lost_on": None}


# --- the file ----------------------------------------------------------------------------


def parse_roster(data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Roster:
    """One insurer's roster file, checked whole; RecordRefused at the first thing wrong."""
    members: list[RosterMember] = []
    seen: dict[MemberKey, int] = {}
    for line, values in _rows(data, ROSTER_COLUMNS, max_bytes, max_rows):
        member = _checked_member(line, values)
        if members and member.insurer != members[0].insurer:
            raise RecordRefused(
                Problem.MIXED_INSURERS,
                f"a roster file is one insurer's; the first row names {members[0].insurer}",
                line=line,
                field="insurer",
            )
        first = seen.setdefault(member.key, line)
        if first != line:
            raise RecordRefused(
                Problem.DUPLICATE, f"the same member as line {first}", line=line, field="number"
            )
        members.append(member)
    if not members:
        raise RecordRefused(Problem.EMPTY, "the file has no members", line=2)
    return Roster(members[0].insurer, tuple(members), hashlib.sha256(data).digest())


def parse_patients(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> Patients:
    """A clinic's patients file, checked whole; RecordRefused at the first thing wrong."""
    records: list[PatientRecord] = []
    seen: dict[str, int] = {}
    for line, values in _rows(data, PATIENT_COLUMNS, max_bytes, max_rows):
        record = _checked_patient(line, values)
        first = seen.setdefault(record.patient_number, line)
        if first != line:
            raise RecordRefused(
                Problem.DUPLICATE,
                f"the same patient number as line {first}",
                line=line,
                field="patient_number",
            )
        records.append(record)
    if not records:
        raise RecordRefused(Problem.EMPTY, "the file has no patients", line=2)
    return Patients(tuple(records), hashlib.sha256(data).digest())


def _checked_member(line: int, v: dict[str, Any]) -> RosterMember:
    member = RosterMember(**v)
    if member.valid_to is not None and member.valid_to < member.valid_from:
        raise RecordRefused(
            Problem.PERIOD_REVERSED, "is before valid_from", line=line, field="valid_to"
        )
    if member.lost_on is not None and member.lost_on < member.valid_from:
        raise RecordRefused(
            Problem.PERIOD_REVERSED, "is before valid_from", line=line, field="lost_on"
        )
    return member


def _checked_patient(line: int, v: dict[str, Any]) -> PatientRecord:
    """A record with no insurance on file, or with at least 保険者番号 and 番号."""
    record = PatientRecord(**v)
    given = [name for name in ("insurer", "symbol", "number", "branch") if v[name]]
    for needed in ("insurer", "number"):
        if given and needed not in given:
            raise RecordRefused(
                Problem.MISSING_FIELD,
                "is needed when the record has insurance numbers",
                line=line,
                field=needed,
            )
    return record


def _rows(
    data: bytes, columns: Mapping[str, _Column], max_bytes: int, max_rows: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, checked values by column) of each data row; RecordRefused on the first fault."""
    if len(data) > max_bytes:
        raise RecordRefused(Problem.TOO_LARGE, f"the file is larger than {max_bytes} bytes")
    reader = csv.reader(io.StringIO(_text(data), newline=""), strict=True)
    try:
        yield from _checked_rows(reader, columns, max_rows)
    except csv.Error as e:  # the reader's line_num is the line it stopped at
        raise RecordRefused(Problem.MALFORMED, "is not CSV", line=max(reader.line_num, 1)) from e


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RecordRefused(Problem.NOT_UTF8, "is not UTF-8", line=line) from e


def _checked_rows(
    reader: Any, columns: Mapping[str, _Column], max_rows: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    header = next(reader, None)
    if header is None:
        raise RecordRefused(Problem.EMPTY, "the file is empty (a header row is needed)", line=1)
    names = _header(header, columns)
    absent = {name: _EMPTY.get(name, "") for name in columns if name not in names}
    rows, last = 0, reader.line_num
    for fields in reader:
        line, last = last + 1, reader.line_num
        if not fields:
            continue  # an empty line
        rows += 1
        if rows > max_rows:
            raise RecordRefused(Problem.TOO_LARGE, f"more than {max_rows} rows", line=line)
        if len(fields) != len(names):
            raise RecordRefused(
                Problem.FIELD_COUNT,
                f"has {len(fields)} fields; the header names {len(names)}",
                line=line,
            )
        values = dict(absent)
        for name, raw in zip(names, fields, strict=True):
            values[name] = _field(line, name, raw, columns[name])
        yield line, values


def _header(header: list[str], columns: Mapping[str, _Column]) -> list[str]:
    names = [name.strip() for name in header]
    for name in names:
        if name not in columns:
            raise RecordRefused(
                Problem.UNKNOWN_COLUMN,
                "unknown column; the columns are " + ", ".join(columns),
                line=1,
                field=_printable(name[:40]),
            )
        if names.count(name) > 1:
            raise RecordRefused(Problem.DUPLICATE_COLUMN, "named twice", line=1, field=name)
    for name, column in columns.items():
        if column.in_header and name not in names:
            raise RecordRefused(Problem.MISSING_COLUMN, "column missing", line=1, field=name)
    return names


def _printable(text: str) -> str:
    """A header name fit to print: anything unprintable shown as "?"."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _field(line: int, name: str, raw: str, column: _Column) -> Any:
    if not raw.strip():
        if column.required:
            raise RecordRefused(Problem.MISSING_FIELD, "is empty", line=line, field=name)
        return _EMPTY.get(name, "")
    try:
        return column.check(raw)
    except _FieldRefused as e:
        raise RecordRefused(e.problem, e.detail, line=line, field=name) from None

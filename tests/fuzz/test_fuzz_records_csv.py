"""Fuzz the CSV boundary of roster and patient loads: only `RecordRefused` ever escapes, a
refusal names a line of the file and a field of the format, and whatever is accepted keeps
every rule of the format and reads back the same when written out again.

Each case starts from a good file (a roster of four members, or four patients) and applies one
mutation: a field set to text from a small alphabet chosen to hit the rules (digits in both
widths, kana in three forms, separators, quotes, commas, CR/LF, NUL, a byte-order mark, dates
right and wrong), written with or without the csv module's quoting; a header name renamed,
dropped or repeated; a row repeated; bytes replaced, inserted or cut anywhere. Building from a
good file keeps most cases near the boundary's decisions; 10,000 cases take about 15 s.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk.services.records_csv import (
    PATIENT_COLUMNS,
    ROSTER_COLUMNS,
    Patients,
    Problem,
    RecordRefused,
    Roster,
    parse_patients,
    parse_roster,
)

pytestmark = pytest.mark.fuzz

ROSTER = [
    list(ROSTER_COLUMNS),
    ["06139998", "12", "1001", "01", "試験 花子", "シケン ハナコ", "1985-04-02", "2024-04-01",
     "2027-03-31", "", "3"],
    ["06139998", "12", "1001", "02", "試験 太郎", "ｼｹﾝ ﾀﾛｳ", "2015-06-30", "2024-04-01", "", "",
     "2"],
    ["０６１３９９９８", "", "７７７", "", "見本　一郎", "みほん いちろう", "1950-01-15",
     "2020-04-01", "", "2026-10-01", "１"],
    ["06139998", "ab", "X1", "", '"引用"', "インヨウ", "2000-02-29", "2000-02-29", "2000-02-29",
     "2000-02-29", "3"],
]  # fmt: skip
PATIENTS = [
    list(PATIENT_COLUMNS),
    ["P-1", "試験 花子", "シケン ハナコ", "1985-04-02", "06139998", "12", "1001", "01"],
    ["p-2", "見本 次郎", "ミホン ジロウ", "1990-12-01", "", "", "", ""],
    ["３", "見本 三郎", "ﾐﾎﾝ ｻﾌﾞﾛｳ", "2001-02-03", "138123", "", "45", ""],
    ["A-0004", "見本 四郎", "ミホン シロウ", "1970-07-07", "06139998", "記号", "番号", "09"],
]  # fmt: skip
KINDS = {"roster": (ROSTER, parse_roster, ROSTER_COLUMNS),
         "patients": (PATIENTS, parse_patients, PATIENT_COLUMNS)}  # fmt: skip

_ALPHABET = list("0123456789０１２３-・ ,\"'\r\n\t\x00\ufeff\u200bアｱあ山ABab/:.ー")
FIELD_TEXT = st.one_of(
    st.text(st.sampled_from(_ALPHABET), max_size=12),
    st.sampled_from(["", " ", "1", "2", "3", "4", "0", "01", "1" * 21, "山" * 101,
                     "2024-02-29", "2023-02-29", "1999-12-31", "2024-13-01", "20240101", "2024-4-1",
                     "0613999", "061399", "06139998", "ヤマダ タロウ", "ﾔﾏﾀﾞ", "やまだ"]),
    st.text(max_size=4),
)  # fmt: skip


def render(rows: list[list[str]], quoted: bool) -> bytes:
    if quoted:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue().encode()
    return "".join(",".join(row) + "\n" for row in rows).encode()


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    """(kind, file bytes): a good file with one mutation."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    rows = [list(row) for row in KINDS[kind][0]]
    how = draw(st.sampled_from(["field", "field", "field", "header", "row", "bytes", "cut"]))
    quoted = draw(st.booleans())
    if how == "field":
        row = draw(st.integers(1, len(rows) - 1))
        rows[row][draw(st.integers(0, len(rows[0]) - 1))] = draw(FIELD_TEXT)
    elif how == "header":
        column = draw(st.integers(0, len(rows[0]) - 1))
        change = draw(st.sampled_from(["rename", "drop", "repeat"]))
        if change == "rename":
            rows[0][column] = draw(FIELD_TEXT)
        elif change == "drop":
            rows = [row[:column] + row[column + 1 :] for row in rows]
        else:
            rows[0][column] = rows[0][(column + 1) % len(rows[0])]
    elif how == "row":
        rows.insert(draw(st.integers(1, len(rows))), list(rows[draw(st.integers(1, 4))]))
    data = render(rows, quoted)
    if how == "bytes":
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 4))
        data = data[:at] + draw(st.binary(max_size=4)) + data[at + cut :]
    elif how == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    return kind, data


def lines_of(data: bytes) -> int:
    return len(re.split(rb"\r\n|\r|\n", data))


def check_accepted(parsed: Roster | Patients, data: bytes, kind: str) -> None:
    """The format's rules hold for every row, and the rows read back the same."""
    rows = parsed.members if isinstance(parsed, Roster) else parsed.records
    assert rows
    for row in rows:
        assert row.name and row.name == row.name.strip() and row.name_kana
        assert all(not c.isspace() or c == " " for c in row.name_kana)
        assert isinstance(row.birth_date, date)
        assert row.branch == "" or re.fullmatch(r"[0-9]{2}", row.branch)
        assert row.insurer == "" or re.fullmatch(r"[0-9]{6}|[0-9]{8}", row.insurer)
    if isinstance(parsed, Roster):
        assert {m.insurer for m in rows} == {parsed.insurer}
        assert len({m.key for m in rows}) == len(rows)
        for m in rows:
            assert m.number and 1 <= m.copay_tenths <= 3
            assert m.valid_to is None or m.valid_to >= m.valid_from
            assert m.lost_on is None or m.lost_on >= m.valid_from
    else:
        assert len({r.patient_number for r in rows}) == len(rows)
        for r in rows:
            assert r.patient_number and (r.member is not None) == bool(r.insurer)
    written = [list(KINDS[kind][2])] + [
        ["" if v is None else v.isoformat() if isinstance(v, date) else str(v)
         for v in (getattr(row, name) for name in KINDS[kind][2])]
        for row in rows
    ]  # fmt: skip
    again = KINDS[kind][1](render(written, quoted=True))
    assert (again.members if isinstance(again, Roster) else again.records) == rows


@FUZZ
@given(mutated())
@example(("roster", render(ROSTER, True).replace(b"1001,01", b"1001,\x00")))
@example(("roster", render(ROSTER, True)[:-3] + b"\xe3\x81"))  # cut inside a character
@example(("roster", render(ROSTER, False).replace(b"\n", b"\r", 2)))  # old Mac line ends
@example(("roster", b"\xef\xbb\xbf" + render(ROSTER, False).replace(b"\n", b"\n\xef\xbb\xbf")))
@example(("patients", render(PATIENTS, True).replace(b"P-1", b'"P-1\n"')))
@example(("patients", render(PATIENTS, False)[:20]))
@example(("roster", render(ROSTER, False).replace(b"12,1001,02", b'"' + b"1" * 140_000 + b'"')))
def test_only_refusals_escape_and_what_is_accepted_keeps_the_rules(case):
    kind, data = case
    _, parse, columns = KINDS[kind]
    try:
        parsed = parse(data)
    except RecordRefused as e:
        assert isinstance(e.problem, Problem)
        assert e.line is None or 1 <= e.line <= lines_of(data) + 1
        if e.problem is not Problem.UNKNOWN_COLUMN:
            assert e.field is None or e.field in columns
        assert str(e)
        return
    assert parsed.sha256 and len(parsed.sha256) == 32
    check_accepted(parsed, data, kind)

"""The CSV boundary of roster and patient loads: good files become frozen rows; each kind of
bad file or row is refused naming its line and field; nothing but RecordRefused escapes."""

from __future__ import annotations

import hashlib
from dataclasses import FrozenInstanceError
from datetime import date

import pytest

from kiosk.services.records_csv import (
    Problem,
    RecordRefused,
    parse_patients,
    parse_roster,
)
from kiosk.store.roster import PatientRecord, RosterMember

ROSTER_HEADER = (
    "insurer,symbol,number,branch,name,name_kana,birth_date,valid_from,valid_to,lost_on,"
    "copay_tenths"
)
ROSTER_ROWS = (
    "06139998,12,3456,01,試験 花子,シケン ハナコ,1985-04-02,2024-04-01,2027-03-31,,3",
    "06139998,12,3456,02,試験 太郎,シケン タロウ,2015-06-30,2024-04-01,,,2",
    "06139998,,777,,見本 一郎,ミホン イチロウ,1950-01-15,2020-04-01,,2026-10-01,1",
)
PATIENT_HEADER = "patient_number,name,name_kana,birth_date,insurer,symbol,number,branch"
PATIENT_ROWS = (
    "P-0001,試験 花子,シケン ハナコ,1985-04-02,06139998,12,3456,01",
    "P-0002,見本 次郎,ミホン ジロウ,1990-12-01,,,,",
)


def roster(*rows: str, header: str = ROSTER_HEADER) -> bytes:
    return "\r\n".join((header, *rows)).encode() + b"\r\n"


def patients(*rows: str, header: str = PATIENT_HEADER) -> bytes:
    return "\n".join((header, *rows)).encode() + b"\n"


def refused(parse, data: bytes) -> RecordRefused:
    with pytest.raises(RecordRefused) as caught:
        parse(data)
    return caught.value


# --- good files --------------------------------------------------------------------------


def test_a_good_roster_becomes_frozen_members():
    data = roster(*ROSTER_ROWS)
    parsed = parse_roster(data)
    assert parsed.insurer == "06139998"
    assert parsed.sha256 == hashlib.sha256(data).digest()
    assert parsed.members[0] == RosterMember(
        "06139998", "12", "3456", "01", "試験 花子", "シケン ハナコ",
        date(1985, 4, 2), date(2024, 4, 1), date(2027, 3, 31), None, 3,
    )  # fmt: skip
    second, third = parsed.members[1:]
    assert (second.branch, second.valid_to, second.copay_tenths) == ("02", None, 2)
    assert (third.symbol, third.branch, third.lost_on) == ("", "", date(2026, 10, 1))
    with pytest.raises(FrozenInstanceError):
        parsed.members[0].name = "x"


def test_a_byte_order_mark_columns_in_any_order_and_optional_columns_left_out():
    header = "copay_tenths,name_kana,name,birth_date,valid_from,number,insurer"
    data = b"\xef\xbb\xbf" + roster("3,ヤマダ,山田,1970-01-01,2020-04-01,99,061399", header=header)
    (member,) = parse_roster(data).members
    assert (member.insurer, member.symbol, member.number, member.branch) == ("061399", "", "99", "")
    assert (member.valid_to, member.lost_on, member.copay_tenths) == (None, None, 3)


def test_full_width_numbers_half_width_kana_and_lower_case_letters_are_normalised():
    row = "０６１３９９９８,ab１２,３４５６,０１,山田　太郎,ﾔﾏﾀﾞ ﾀﾛｳ,1980-01-01,2020-04-01,,,３"
    (member,) = parse_roster(roster(row)).members
    assert (member.insurer, member.symbol, member.number, member.branch) == (
        "06139998", "AB12", "3456", "01",
    )  # fmt: skip
    assert member.name_kana == "ヤマダ タロウ"
    assert member.name == "山田　太郎"  # names are kept as written
    assert member.copay_tenths == 3


def test_a_reading_may_have_the_middle_dot_and_long_vowel_mark_of_foreign_names():
    (member,) = parse_roster(roster(with_field(GOOD, 5, "スミス・ジョーン"))).members
    assert member.name_kana == "スミス・ジョーン"


def test_blank_lines_are_skipped_and_quoted_fields_read():
    data = roster(ROSTER_ROWS[0], "", '"06139998","12","3456","02","試験, 太郎",シケン タロウ,'
                  "2015-06-30,2024-04-01,,,2")  # fmt: skip
    assert [m.name for m in parse_roster(data).members] == ["試験 花子", "試験, 太郎"]


def test_a_good_patients_file_becomes_frozen_records():
    data = patients(*PATIENT_ROWS)
    parsed = parse_patients(data)
    assert parsed.sha256 == hashlib.sha256(data).digest()
    assert parsed.records == (
        PatientRecord("P-0001", "試験 花子", "シケン ハナコ", date(1985, 4, 2),
                      "06139998", "12", "3456", "01"),
        PatientRecord("P-0002", "見本 次郎", "ミホン ジロウ", date(1990, 12, 1), "", "", "", ""),
    )  # fmt: skip
    assert parsed.records[1].member is None


def test_patients_without_insurance_columns():
    data = patients("7,見本 三郎,ミホン サブロウ,2001-02-03", header="patient_number,name,"
                    "name_kana,birth_date")  # fmt: skip
    (record,) = parse_patients(data).records
    assert (record.patient_number, record.insurer, record.number) == ("7", "", "")


# --- each kind of bad file or row ---------------------------------------------------------


def with_field(row: str, index: int, value: str) -> str:
    fields = row.split(",")
    fields[index] = value
    return ",".join(fields)


GOOD = ROSTER_ROWS[0]


@pytest.mark.parametrize(
    ("row", "problem", "field"),
    [
        (with_field(GOOD, 6, "1985/04/02"), Problem.BAD_DATE, "birth_date"),
        (with_field(GOOD, 7, "2024-02-30"), Problem.BAD_DATE, "valid_from"),
        (with_field(GOOD, 8, "20270331"), Problem.BAD_DATE, "valid_to"),
        (with_field(GOOD, 9, "令和8年10月1日"), Problem.BAD_DATE, "lost_on"),
        (with_field(GOOD, 0, "0613999"), Problem.BAD_DIGITS, "insurer"),
        (with_field(GOOD, 0, "06-13-99"), Problem.BAD_DIGITS, "insurer"),
        (with_field(GOOD, 3, "1"), Problem.BAD_DIGITS, "branch"),
        (with_field(GOOD, 3, "0a"), Problem.BAD_DIGITS, "branch"),
        (with_field(GOOD, 2, "34-56"), Problem.BAD_NUMBER, "number"),
        (with_field(GOOD, 1, "1" * 21), Problem.BAD_NUMBER, "symbol"),
        (with_field(GOOD, 10, "4"), Problem.BAD_COPAY, "copay_tenths"),
        (with_field(GOOD, 10, "0"), Problem.BAD_COPAY, "copay_tenths"),
        (with_field(GOOD, 10, "30%"), Problem.BAD_COPAY, "copay_tenths"),
        (with_field(GOOD, 10, ""), Problem.MISSING_FIELD, "copay_tenths"),
        (with_field(GOOD, 2, ""), Problem.MISSING_FIELD, "number"),
        (with_field(GOOD, 4, "  "), Problem.MISSING_FIELD, "name"),
        (with_field(GOOD, 4, "試験\x00花子"), Problem.BAD_TEXT, "name"),
        (with_field(GOOD, 4, "試験\u200b花子"), Problem.BAD_TEXT, "name"),  # zero-width space
        (with_field(GOOD, 4, "長" * 101), Problem.BAD_TEXT, "name"),
        (with_field(GOOD, 5, "Shiken Hanako"), Problem.BAD_TEXT, "name_kana"),
        (with_field(GOOD, 8, "2024-03-31"), Problem.PERIOD_REVERSED, "valid_to"),
        (with_field(GOOD, 9, "2024-03-31"), Problem.PERIOD_REVERSED, "lost_on"),
        (GOOD + ",extra", Problem.FIELD_COUNT, None),
        (GOOD.rsplit(",", 1)[0], Problem.FIELD_COUNT, None),
    ],
)
def test_a_bad_row_is_refused_naming_its_line_and_field(row, problem, field):
    e = refused(parse_roster, roster(ROSTER_ROWS[1], row))
    assert (e.problem, e.line, e.field) == (problem, 3, field)
    assert str(e).startswith("line 3" + ("" if field is None else f", field {field}"))


def test_a_refusal_never_quotes_the_value():
    e = refused(parse_roster, roster(with_field(GOOD, 5, "Secret Name")))
    assert "Secret" not in str(e) and e.field == "name_kana"


def test_the_line_is_counted_in_lines_of_the_file_after_blank_lines():
    e = refused(parse_roster, roster(GOOD, "", "", with_field(ROSTER_ROWS[1], 6, "x")))
    assert (e.line, e.field) == (5, "birth_date")


@pytest.mark.parametrize(
    ("header", "problem", "field"),
    [
        (ROSTER_HEADER + ",email", Problem.UNKNOWN_COLUMN, "email"),
        (ROSTER_HEADER.replace("copay_tenths", "copay"), Problem.UNKNOWN_COLUMN, "copay"),
        (ROSTER_HEADER.replace(",name_kana", ""), Problem.MISSING_COLUMN, "name_kana"),
        (ROSTER_HEADER.replace("symbol", "number"), Problem.DUPLICATE_COLUMN, "number"),
    ],
)
def test_a_bad_header_is_refused_naming_the_column(header, problem, field):
    e = refused(parse_roster, roster(GOOD, header=header))
    assert (e.problem, e.line, e.field) == (problem, 1, field)


def test_the_same_member_twice_is_refused_naming_the_first_line():
    again = with_field(GOOD, 4, "別人")
    e = refused(parse_roster, roster(GOOD, ROSTER_ROWS[1], again))
    assert (e.problem, e.line, e.field) == (Problem.DUPLICATE, 4, "number")
    assert "line 2" in str(e)


def test_the_same_member_written_differently_is_still_the_same():
    again = with_field(with_field(GOOD, 2, "３４５６"), 0, "０６１３９９９８")
    e = refused(parse_roster, roster(GOOD, again))
    assert (e.problem, e.line) == (Problem.DUPLICATE, 3)


def test_a_roster_file_is_one_insurers():
    e = refused(parse_roster, roster(GOOD, with_field(ROSTER_ROWS[1], 0, "06139999")))
    assert (e.problem, e.line, e.field) == (Problem.MIXED_INSURERS, 3, "insurer")


def test_bytes_that_are_not_utf8_are_refused_with_their_line():
    data = roster(GOOD, ROSTER_ROWS[1]).replace("試験 太郎".encode(), "試験 太郎".encode("cp932"))
    e = refused(parse_roster, data)
    assert (e.problem, e.line, e.field) == (Problem.NOT_UTF8, 3, None)


def test_a_file_too_large_is_refused_before_it_is_read():
    data = roster(GOOD, ROSTER_ROWS[1])
    with pytest.raises(RecordRefused) as caught:
        parse_roster(data, max_bytes=len(data) - 1)
    assert (caught.value.problem, caught.value.line) == (Problem.TOO_LARGE, None)


def test_too_many_rows_are_refused_at_the_first_row_too_many():
    with pytest.raises(RecordRefused) as caught:
        parse_roster(roster(*ROSTER_ROWS), max_rows=2)
    assert (caught.value.problem, caught.value.line) == (Problem.TOO_LARGE, 4)


@pytest.mark.parametrize(
    ("data", "problem", "line"),
    [
        (b"", Problem.EMPTY, 1),
        (b"\xef\xbb\xbf", Problem.EMPTY, 1),
        (ROSTER_HEADER.encode() + b"\r\n", Problem.EMPTY, 2),
        (roster(GOOD, '06139998,"12,3456'), Problem.MALFORMED, 3),  # the quote never ends
        (roster('06139998,"12"x,' + GOOD.split(",", 2)[2]), Problem.MALFORMED, 2),
    ],
)
def test_a_file_that_is_empty_or_not_csv_is_refused(data, problem, line):
    e = refused(parse_roster, data)
    assert (e.problem, e.line) == (problem, line)


def test_a_field_longer_than_the_csv_limit_is_refused_not_raised():
    e = refused(parse_roster, roster(with_field(GOOD, 4, "x" * 200_000)))
    assert (e.problem, e.line) == (Problem.MALFORMED, 2)


def test_a_multi_line_field_is_a_control_character_in_a_name():
    e = refused(parse_roster, roster(with_field(GOOD, 4, '"試験\n花子"'), ROSTER_ROWS[1]))
    assert (e.problem, e.line, e.field) == (Problem.BAD_TEXT, 2, "name")


@pytest.mark.parametrize(
    ("row", "problem", "field"),
    [
        ("P 1,見本,ミホン,1990-01-01,,,,", Problem.BAD_NUMBER, "patient_number"),
        (",見本,ミホン,1990-01-01,,,,", Problem.MISSING_FIELD, "patient_number"),
        ("P-9,見本,ミホン,1990-13-01,,,,", Problem.BAD_DATE, "birth_date"),
        ("P-9,見本,ミホン,1990-01-01,06139998,,,", Problem.MISSING_FIELD, "number"),
        ("P-9,見本,ミホン,1990-01-01,,12,3456,", Problem.MISSING_FIELD, "insurer"),
        ("P-9,見本,ミホン,1990-01-01,12345,,3456,", Problem.BAD_DIGITS, "insurer"),
        ("p-0001,見本,ミホン,1990-01-01,,,,", Problem.DUPLICATE, "patient_number"),
    ],
)
def test_a_bad_patient_row_is_refused_naming_its_line_and_field(row, problem, field):
    e = refused(parse_patients, patients(PATIENT_ROWS[0], row))
    assert (e.problem, e.line, e.field) == (problem, 3, field)


def test_a_patients_file_with_a_roster_column_is_refused():
    e = refused(parse_patients, patients(PATIENT_ROWS[0], header=PATIENT_HEADER + ",lost_on"))
    assert (e.problem, e.field) == (Problem.UNKNOWN_COLUMN, "lost_on")
    e = refused(parse_patients, patients(header=PATIENT_HEADER))
    assert (e.problem, e.line) == (Problem.EMPTY, 2)

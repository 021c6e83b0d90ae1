"""The clinic's record an enrolment links, found in the store (SQLite and PostgreSQL) by the
card's birth date and taken only when its name matches the card's."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.services.record_match import MatchField
from kiosk.services.records import NoRecord, PatientRecordLinker, RecordMismatch
from kiosk.store.roster import PatientRecord, PatientRecords

AT = datetime(2026, 12, 3, tzinfo=UTC)
BORN = DEFAULT_PERSON.birth_date  # the test card's 試験　太郎, 1980-02-17


def record(number: str, name: str, born: date = BORN, kana: str = "シケン タロウ") -> PatientRecord:
    return PatientRecord(number, name, kana, born, "", "", "", "")


@pytest.fixture
def patients(db):
    return PatientRecords(db)


def test_the_record_whose_name_matches_the_card_is_linked(patients):
    patients.replace(
        "clinic-1",
        [record("P-1", "試験 花子", kana="シケン ハナコ"), record("P-2", "試験　太郎"),
         record("P-3", "試験 太郎", born=date(1990, 1, 1))],
        AT,
    )  # fmt: skip
    patients.replace("clinic-2", [record("Q-9", "試験 太郎")], AT)
    linker = PatientRecordLinker(patients)
    assert linker.account_for("clinic-1", DEFAULT_PERSON) == "P-2"
    assert linker.account_for("clinic-2", DEFAULT_PERSON) == "Q-9"  # each clinic its own


def test_a_name_written_another_way_in_the_record_still_matches(patients):
    patients.replace("clinic-1", [record("P-7", "試験太郎")], AT)  # no space between the parts
    assert PatientRecordLinker(patients).account_for("clinic-1", DEFAULT_PERSON) == "P-7"


def test_no_record_of_the_person_is_register_at_the_counter(patients):
    patients.replace("clinic-1", [record("P-1", "試験 太郎", born=date(1990, 1, 1))], AT)
    with pytest.raises(NoRecord):
        PatientRecordLinker(patients).account_for("clinic-1", DEFAULT_PERSON)
    with pytest.raises(NoRecord):
        PatientRecordLinker(patients).account_for("clinic-9", DEFAULT_PERSON)


def test_a_record_born_that_day_under_another_name_is_staffs_to_check(patients):
    patients.replace("clinic-1", [record("P-1", "別人 次郎", kana="ベツジン ジロウ")], AT)
    with pytest.raises(RecordMismatch) as e:
        PatientRecordLinker(patients).account_for("clinic-1", DEFAULT_PERSON)
    assert e.value.differs == frozenset({MatchField.NAME})
    assert "試験" not in str(e.value) and "別人" not in str(e.value)


def test_a_number_staff_confirmed_is_looked_up_by_number_and_its_birthday_checked(patients):
    patients.replace(
        "clinic-1",
        [record("P-5", "Shiken Taro", kana=""), record("P-6", "試験 太郎", born=date(1990, 1, 1))],
        AT,
    )
    linker = PatientRecordLinker(patients)
    assert linker.confirmed("clinic-1", DEFAULT_PERSON, "P-5") == (
        "P-5", frozenset({MatchField.NAME}),
    )  # fmt: skip
    with pytest.raises(RecordMismatch) as e:
        linker.confirmed("clinic-1", DEFAULT_PERSON, "P-6")
    assert e.value.differs == frozenset({MatchField.BIRTH_DATE})
    with pytest.raises(NoRecord):
        linker.confirmed("clinic-1", DEFAULT_PERSON, "P-7")

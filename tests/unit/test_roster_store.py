"""The roster and patient repositories on SQLite and PostgreSQL: a load puts its rows in force,
a re-load replaces them in one transaction, and a load that fails (past the first batch, too)
leaves the previous rows exactly as they were."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import inspect

from kiosk.store.engine import Database, alembic_config
from kiosk.store.roster import (
    CHUNK,
    InsuranceRoster,
    PatientRecord,
    PatientRecords,
    RosterError,
    RosterMember,
)

INSURER = "06139998"
OTHER_INSURER = "138123"
AT = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
DIGEST = bytes(range(32))


def member(number: str, branch: str = "01", insurer: str = INSURER, **kw) -> RosterMember:
    fields = dict(
        insurer=insurer,
        symbol="12",
        number=number,
        branch=branch,
        name="試験 花子",
        name_kana="シケン ハナコ",
        birth_date=date(1985, 4, 2),
        valid_from=date(2024, 4, 1),
        valid_to=None,
        lost_on=None,
        copay_tenths=3,
    )
    fields.update(kw)
    return RosterMember(**fields)


def patient(patient_number: str, **kw) -> PatientRecord:
    fields = dict(
        patient_number=patient_number,
        name="試験 花子",
        name_kana="シケン ハナコ",
        birth_date=date(1985, 4, 2),
        insurer=INSURER,
        symbol="12",
        number="3456",
        branch="01",
    )
    fields.update(kw)
    return PatientRecord(**fields)


@pytest.fixture
def roster(db):
    return InsuranceRoster(db)


@pytest.fixture
def records(db):
    return PatientRecords(db)


def test_a_load_puts_the_members_in_force(roster):
    rows = [member("3456", "01", valid_to=date(2027, 3, 31)), member("3456", "02"),
            member("777", "", symbol="", lost_on=date(2026, 10, 1), copay_tenths=1)]  # fmt: skip
    result = roster.replace_insurer(INSURER, rows, DIGEST, AT)
    assert (result.insurer, result.rows, result.sha256, result.replaced) == (INSURER, 3, DIGEST, 0)
    assert result.imported_at == AT
    assert roster.member(INSURER, "12", "3456", "01") == rows[0]
    assert roster.member(INSURER, "", "777", "") == rows[2]
    assert roster.member(INSURER, "12", "3456", "03") is None
    assert roster.member(OTHER_INSURER, "12", "3456", "01") is None
    assert roster.members(INSURER, "12", "3456") == rows[:2]
    assert roster.count(INSURER) == 3
    latest = roster.latest_import(INSURER)
    assert (latest.import_id, latest.rows, latest.sha256) == (result.import_id, 3, DIGEST)


def test_a_reload_replaces_the_insurers_members_and_no_one_elses(roster):
    roster.replace_insurer(INSURER, [member("1"), member("2")], DIGEST, AT)
    roster.replace_insurer(OTHER_INSURER, [member("1", insurer=OTHER_INSURER)], DIGEST, AT)
    moved = member("2", copay_tenths=1)
    result = roster.replace_insurer(INSURER, [moved, member("3")], bytes(32), LATER)
    assert result.replaced == 2
    assert roster.member(INSURER, "12", "1", "01") is None
    assert roster.member(INSURER, "12", "2", "01") == moved
    assert roster.member(INSURER, "12", "3", "01") is not None
    assert roster.member(OTHER_INSURER, "12", "1", "01") is not None
    assert roster.latest_import(INSURER).import_id == result.import_id


def test_a_failing_reload_leaves_the_previous_roster_intact(roster):
    before = [member("1"), member("2")]
    first = roster.replace_insurer(INSURER, before, DIGEST, AT)
    # a duplicate key in the second batch: the first batch was written, then it all rolls back
    rows = [member(str(n)) for n in range(CHUNK + 10)] + [member("7")]
    with pytest.raises(RosterError):
        roster.replace_insurer(INSURER, rows, bytes(32), LATER)
    assert roster.count(INSURER) == 2
    assert roster.members(INSURER, "12", "1") == [before[0]]
    assert roster.latest_import(INSURER).import_id == first.import_id


def test_a_row_of_another_insurer_is_refused_before_anything_is_written(roster):
    roster.replace_insurer(INSURER, [member("1")], DIGEST, AT)
    with pytest.raises(RosterError):
        roster.replace_insurer(INSURER, [member("2", insurer=OTHER_INSURER)], DIGEST, LATER)
    assert roster.count(INSURER) == 1 and roster.count(OTHER_INSURER) == 0


def test_the_database_refuses_a_copay_outside_1_to_3(roster):
    roster.replace_insurer(INSURER, [member("1")], DIGEST, AT)
    with pytest.raises(RosterError):
        roster.replace_insurer(INSURER, [member("2", copay_tenths=4)], DIGEST, LATER)
    assert roster.member(INSURER, "12", "1", "01") is not None


def test_patients_load_and_are_found_by_number_and_by_member(records):
    rows = [patient("P-1"), patient("P-2", number="999", branch="02"),
            patient("P-3", insurer="", symbol="", number="", branch="")]  # fmt: skip
    assert records.replace("clinic-1", rows, AT) == 0
    assert records.get("clinic-1", "P-2") == rows[1]
    assert records.get("clinic-1", "P-4") is None
    assert records.get("clinic-2", "P-1") is None
    assert records.by_member("clinic-1", INSURER, "12", "3456", "01") == [rows[0]]
    assert records.by_member("clinic-2", INSURER, "12", "3456", "01") == []
    assert records.count("clinic-1") == 3


def test_patients_are_found_by_birth_date_at_their_clinic_only(records):
    from datetime import date

    born = date(1980, 2, 17)
    rows = [patient("P-1", birth_date=born), patient("P-2", birth_date=date(1990, 1, 1)),
            patient("P-3", birth_date=born)]  # fmt: skip
    records.replace("clinic-1", rows, AT)
    records.replace("clinic-2", [patient("P-9", birth_date=date(1980, 2, 17))], AT)
    assert records.born_on("clinic-1", date(1980, 2, 17)) == [rows[0], rows[2]]
    assert records.born_on("clinic-1", date(1970, 1, 1)) == []
    assert [r.patient_number for r in records.born_on("clinic-2", date(1980, 2, 17))] == ["P-9"]


def test_a_patients_reload_replaces_that_clinics_records_only(records):
    records.replace("clinic-1", [patient("P-1"), patient("P-2")], AT)
    records.replace("clinic-2", [patient("P-1")], AT)
    renamed = replace(patient("P-2"), name="試験 花江")
    assert records.replace("clinic-1", [renamed], LATER) == 2
    assert records.get("clinic-1", "P-1") is None
    assert records.get("clinic-1", "P-2") == renamed
    assert records.get("clinic-2", "P-1") is not None


def test_a_failing_patients_reload_leaves_the_previous_records(records):
    records.replace("clinic-1", [patient("P-1")], AT)
    rows = [patient(f"N-{n}") for n in range(CHUNK + 1)] + [patient("N-3")]
    with pytest.raises(RosterError):
        records.replace("clinic-1", rows, LATER)
    assert records.count("clinic-1") == 1 and records.get("clinic-1", "P-1") is not None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_0005_goes_down_and_up_again(empty_url):
    new = {"roster_imports", "insurance_members", "patients"}
    db = Database(empty_url)
    try:
        db.upgrade("0005")
        InsuranceRoster(db).replace_insurer(INSURER, [member("1")], DIGEST, AT)
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0004")
        with db.engine.connect() as conn:
            assert not new & set(inspect(conn).get_table_names())
        db.upgrade("0005")
        with db.engine.connect() as conn:
            assert new <= set(inspect(conn).get_table_names())
        assert InsuranceRoster(db).count(INSURER) == 0
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_refused_on_postgresql(postgres_db_url):
    db = Database(postgres_db_url)
    try:
        roster = InsuranceRoster(db)
        roster.replace_insurer(INSURER, [member("1")], DIGEST, AT)
        with pytest.raises(RosterError):
            roster.replace_insurer(INSURER, [member("2", name="長" * 101)], DIGEST, LATER)
        assert roster.count(INSURER) == 1
    finally:
        db.dispose()

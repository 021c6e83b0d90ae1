"""The store-backed eligibility directory on SQLite and PostgreSQL: a roster and a clinic's
patients loaded from CSV, asked by patient number and by member numbers, as of a given day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kiosk.services.eligibility import RosterDirectory, member_readings, member_text
from kiosk.services.insurance import (
    CHECKUPS,
    MEDICATION,
    Coverage,
    Eligibility,
    EligibilityDirectory,
    InsuranceService,
    InsuranceUnavailable,
)
from kiosk.services.records_csv import parse_patients, parse_roster
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.roster import InsuranceRoster, MemberKey, PatientRecords

TODAY = date(2026, 12, 3)
AT = datetime(2026, 12, 1, tzinfo=UTC)
INSURER = "06139998"
ROSTER = """\
insurer,symbol,number,branch,name,name_kana,birth_date,valid_from,valid_to,lost_on,copay_tenths
06139998,12,1001,01,有効 花子,ユウコウ ハナコ,1985-04-02,2024-04-01,2027-03-31,,3
06139998,12,1001,02,有効 太郎,ユウコウ タロウ,2015-06-30,2024-04-01,,,2
06139998,12,1002,01,期限 切子,キゲン キリコ,1970-01-01,2024-04-01,2026-12-02,,3
06139998,12,1003,01,喪失 一郎,ソウシツ イチロウ,1950-01-15,2020-04-01,,2026-12-03,1
06139998,12,1004,01,未来 始,ミライ ハジメ,1999-09-09,2026-12-04,,,3
06139998,,2001,,記号 無,キゴウ ナシ,1960-05-05,2020-04-01,2026-12-03,,3
"""
PATIENTS = """\
patient_number,name,name_kana,birth_date,insurer,symbol,number,branch
P-1,有効 花子,ユウコウ ハナコ,1985-04-02,06139998,12,1001,01
P-2,期限 切子,キゲン キリコ,1970-01-01,06139998,12,1002,01
P-3,喪失 一郎,ソウシツ イチロウ,1950-01-15,06139998,12,1003,01
P-4,保険 なし,ホケン ナシ,1990-01-01,,,,
P-5,名簿 外,メイボ ガイ,1990-01-01,06139998,12,9999,01
P-6,別人 誤記,ベツジン ゴキ,2001-01-01,06139998,12,1001,02
"""


@pytest.fixture
def directory(db) -> RosterDirectory:
    roster, patients = InsuranceRoster(db), PatientRecords(db)
    parsed = parse_roster(ROSTER.encode())
    roster.replace_insurer(parsed.insurer, parsed.members, parsed.sha256, AT)
    patients.replace("clinic-1", parse_patients(PATIENTS.encode()).records, AT)
    return RosterDirectory(roster, patients)


def test_it_is_an_eligibility_directory(directory):
    port: EligibilityDirectory = directory
    assert port.check("clinic-1", "P-1", TODAY).status is Coverage.VALID


def test_a_patient_with_valid_coverage(directory):
    found = directory.check("clinic-1", "P-1", TODAY, share=frozenset({MEDICATION, CHECKUPS}))
    assert found == Eligibility(
        Coverage.VALID, INSURER, "12・1001-01", 3, valid_until=date(2027, 3, 31)
    )
    assert found.shared == frozenset()  # the roster holds nothing to share


def test_coverage_past_its_valid_to_day_is_expired(directory):
    assert directory.check("clinic-1", "P-2", date(2026, 12, 2)).status is Coverage.VALID
    found = directory.check("clinic-1", "P-2", TODAY)
    assert found == Eligibility(Coverage.EXPIRED, INSURER, "12・1002-01",
                                valid_until=date(2026, 12, 2))  # fmt: skip


def test_coverage_is_lost_from_its_lost_on_day(directory):
    assert directory.check("clinic-1", "P-3", date(2026, 12, 2)).status is Coverage.VALID
    found = directory.check("clinic-1", "P-3", TODAY)
    assert found == Eligibility(Coverage.LOST, INSURER, "12・1003-01", lost_on=TODAY)


@pytest.mark.parametrize(
    ("provider", "account"),
    [
        ("clinic-1", "P-404"),  # no such patient
        ("clinic-2", "P-1"),  # another clinic's patient number
        ("clinic-1", "P-4"),  # no insurance on file
        ("clinic-1", "P-5"),  # numbers not in the roster
        ("clinic-1", "P-6"),  # numbers of a member with another birth date
    ],
)
def test_what_cannot_be_confirmed_is_unknown(directory, provider, account):
    assert directory.check(provider, account, TODAY) == Eligibility(Coverage.UNKNOWN)


def test_the_patient_number_is_read_as_the_csv_stores_it(directory):
    assert directory.check("clinic-1", "ｐ－１", TODAY).status is Coverage.VALID


@pytest.mark.parametrize(
    ("insurer", "member", "status"),
    [
        (INSURER, "12・1001-01", Coverage.VALID),
        (INSURER, "１２　１００１　０２", Coverage.VALID),  # full width, spaces
        (INSURER, "12-1002", Coverage.EXPIRED),  # one member under these numbers
        (INSURER, "12・1003", Coverage.LOST),
        (INSURER, "12・1004", Coverage.UNKNOWN),  # covered only from tomorrow
        (INSURER, "2001", Coverage.VALID),  # no 記号
        (INSURER, "2001-00", Coverage.UNKNOWN),  # no such 枝番
        (INSURER, "12・1001", Coverage.UNKNOWN),  # two of a household: which one?
        (INSURER, "12・9999-01", Coverage.UNKNOWN),
        ("06139999", "12・1001-01", Coverage.UNKNOWN),
        ("0613", "12・1001-01", Coverage.UNKNOWN),
        (INSURER, "", Coverage.UNKNOWN),
        (INSURER, "1・2・3・4", Coverage.UNKNOWN),
    ],
)
def test_staff_look_a_member_up_by_numbers(directory, insurer, member, status):
    assert directory.check_by_member(insurer, member, TODAY).status is status


def test_the_member_text_reads_back_as_the_same_member():
    for key in (MemberKey(INSURER, "12", "1001", "01"), MemberKey(INSURER, "", "2001", ""),
                MemberKey(INSURER, "記号", "1", "")):  # fmt: skip
        readings = [k for k, _ in member_readings(INSURER, member_text(key))]
        assert key in readings


def test_a_store_that_fails_is_insurance_unavailable():
    class Failing:
        def get(self, *args):
            raise StoreError("the database is unavailable (OperationalError)")

        member = members = get

    directory = RosterDirectory(Failing(), Failing())
    with pytest.raises(InsuranceUnavailable):
        directory.check("clinic-1", "P-1", TODAY)
    with pytest.raises(InsuranceUnavailable):
        directory.check_by_member(INSURER, "12・1001-01", TODAY)


def test_a_database_that_is_gone_is_insurance_unavailable(tmp_path):
    url = f"sqlite:///{tmp_path / 'kiosk.sqlite3'}"
    db = Database(url)
    db.upgrade()
    directory = RosterDirectory(InsuranceRoster(db), PatientRecords(db))
    db.dispose()
    (tmp_path / "kiosk.sqlite3").unlink()
    (tmp_path / "kiosk.sqlite3").mkdir()  # the path is no database any more
    with pytest.raises(InsuranceUnavailable):
        directory.check("clinic-1", "P-1", TODAY)


def test_the_insurance_service_over_the_roster_shows_expired_and_shares_nothing(directory):
    from kiosk.services.base import Link, ServiceContext

    def context(account: str) -> ServiceContext:
        return ServiceContext(
            service_id="insurance", provider_id="clinic-1", language="ja", subject="CN=test",
            cert_not_after=None, link=Link(account, AT),
            consented=frozenset({MEDICATION}),
        )  # fmt: skip

    service = InsuranceService(directory, today=lambda: TODAY)
    valid = service.run(context("P-1"))
    assert valid.ok and "提供していません" in valid.message.ja
    expired = service.run(context("P-2"))
    assert not expired.ok and expired.title.en == "Coverage: expired"


def test_no_name_or_number_is_logged(directory, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        for account in ("P-1", "P-2", "P-3", "P-404"):
            directory.check("clinic-1", account, TODAY)
        directory.check_by_member(INSURER, "12・1001-01", TODAY)
    for secret in ("P-1", "1001", "花子", "ハナコ", "1985"):
        assert secret not in caplog.text

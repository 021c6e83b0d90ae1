"""`kiosk insurance import` and `kiosk patients import`: how many rows went in; on a bad row the
line and field, exit 1, and the store exactly as it was."""

from __future__ import annotations

import pytest

from kiosk import cli, config
from kiosk.store.engine import Database
from kiosk.store.roster import InsuranceRoster, PatientRecords

HEADER = "insurer,symbol,number,branch,name,name_kana,birth_date,valid_from,valid_to,lost_on,"
HEADER += "copay_tenths\n"
ROW = "06139998,12,{n},01,試験 花子,シケン ハナコ,1985-04-02,2024-04-01,,,3\n"
PATIENTS = "patient_number,name,name_kana,birth_date,insurer,symbol,number,branch\n"
PATIENT = "P-{n},試験 花子,シケン ハナコ,1985-04-02,06139998,12,{n},01\n"


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    return path


@pytest.fixture
def store(cfg_file):
    db = Database(config.load(cfg_file, env={}).effective_database_url)
    yield db
    db.dispose()


def roster_file(tmp_path, numbers, name="roster.csv", bad: str = ""):
    path = tmp_path / name
    path.write_text(HEADER + "".join(ROW.format(n=n) for n in numbers) + bad, encoding="utf-8")
    return path


def test_a_roster_import_says_how_many_rows_and_a_reimport_what_it_replaced(
    tmp_path, cfg_file, store, capsys
):
    first = roster_file(tmp_path, [1, 2, 3])
    assert cli.main(["insurance", "import", "--config", str(cfg_file), str(first)]) == 0
    out = capsys.readouterr().out
    assert "roster.csv: insurer 06139998: 3 rows imported, 0 rows replaced" in out
    assert "試験" not in out  # nothing a row holds

    second = roster_file(tmp_path, [4], name="again.csv")
    assert cli.main(["insurance", "import", "--config", str(cfg_file), str(second)]) == 0
    assert "1 row imported, 3 rows replaced" in capsys.readouterr().out
    roster = InsuranceRoster(store)
    assert roster.count("06139998") == 1 and roster.member("06139998", "12", "4", "01")


def test_a_bad_row_names_its_line_and_field_exits_1_and_changes_nothing(
    tmp_path, cfg_file, store, capsys
):
    good = roster_file(tmp_path, [1, 2])
    assert cli.main(["insurance", "import", "--config", str(cfg_file), str(good)]) == 0
    capsys.readouterr()
    bad_row = "06139998,12,9,01,試験 花子,シケン ハナコ,1985-04-31,2024-04-01,,,3\n"
    bad = roster_file(tmp_path, [5, 6, 7], name="bad.csv", bad=bad_row)

    assert cli.main(["insurance", "import", "--config", str(cfg_file), str(bad)]) == 1

    err = capsys.readouterr().err
    assert "bad.csv: line 5, field birth_date:" in err and "nothing was imported" in err
    roster = InsuranceRoster(store)
    assert roster.count("06139998") == 2 and roster.member("06139998", "12", "5", "01") is None


def test_a_file_that_is_not_there_exits_1(tmp_path, cfg_file, capsys):
    missing = tmp_path / "missing.csv"
    assert cli.main(["insurance", "import", "--config", str(cfg_file), str(missing)]) == 1
    assert "missing.csv: unreadable" in capsys.readouterr().err


def test_a_patients_import_for_a_provider(tmp_path, cfg_file, store, capsys):
    path = tmp_path / "patients.csv"
    path.write_text(PATIENTS + PATIENT.format(n=1) + PATIENT.format(n=2), encoding="utf-8")
    args = ["patients", "import", "--provider", "clinic-1", "--config", str(cfg_file), str(path)]
    assert cli.main(args) == 0
    assert "provider clinic-1: 2 rows imported, 0 rows replaced" in capsys.readouterr().out
    records = PatientRecords(store)
    assert records.get("clinic-1", "P-2").number == "2"

    path.write_text(PATIENTS + PATIENT.format(n=1) + "P-3,見本,ミホン,1990-01-01,061399,,,\n")
    assert cli.main(args) == 1
    assert "line 3, field number:" in capsys.readouterr().err
    assert records.count("clinic-1") == 2


def test_patients_import_needs_the_provider(tmp_path, cfg_file, capsys):
    with pytest.raises(SystemExit):
        cli.main(["patients", "import", "--config", str(cfg_file), str(tmp_path / "p.csv")])
    assert "--provider" in capsys.readouterr().err


def test_a_provider_id_that_is_no_identifier_exits_1(tmp_path, cfg_file, capsys):
    path = tmp_path / "patients.csv"
    path.write_text(PATIENTS + PATIENT.format(n=1), encoding="utf-8")
    args = ["patients", "import", "--provider", "山田 clinic", "--config", str(cfg_file)]
    assert cli.main([*args, str(path)]) == 1
    assert "identifier" in capsys.readouterr().err


def test_each_load_is_audited_with_who_ran_it_and_nothing_from_the_file(
    tmp_path, cfg_file, store, capsys
):
    from kiosk.store.audit import AuditLog

    roster = roster_file(tmp_path, [1])
    assert (
        cli.main(["insurance", "import", "--config", str(cfg_file), "--by", "op7", str(roster)])
        == 0
    )
    patients = tmp_path / "patients.csv"
    patients.write_text(PATIENTS + PATIENT.format(n=1), encoding="utf-8")
    args = ["patients", "import", "--provider", "clinic-1", "--config", str(cfg_file)]
    assert cli.main([*args, "--by", "op7", str(patients)]) == 0
    bad = roster_file(tmp_path, [2], name="bad.csv", bad="06139998,12,9,01,x,カ,1985-04-31,,,,3\n")
    assert cli.main(["insurance", "import", "--config", str(cfg_file), str(bad)]) == 1
    events = [(e.action, e.ok, e.provider_id, e.actor) for e in AuditLog(store).recent()]
    assert sorted(events) == [
        ("insurance.import", True, "demo-clinic", "op7"),
        ("patients.import", True, "clinic-1", "op7"),
    ]  # the refused load changed nothing, and is not recorded as a load

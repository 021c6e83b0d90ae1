"""Audit retention: the operator's period, `kiosk audit purge`, and append-only for the rest.

Rows older than the period are removed by the purge, and only by it: the purge first appends
its own audit row (who, what, how many, the cutoff; no personal data), and the database lets
a DELETE through only for rows older than the cutoff that row names, and never for a row
younger than the floor (`PURGE_FLOOR_DAYS`). UPDATE stays refused, and so does any other
DELETE. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import DatabaseError

from kiosk import cli, config
from kiosk.config import AUDIT_RETENTION_DAYS, ConfigError
from kiosk.store.audit import PURGE_FLOOR_DAYS, AuditLog
from kiosk.store.engine import Database
from kiosk.store.errors import AuditFieldRefused, StoreError

DAY = timedelta(days=1)


def now() -> datetime:
    # the database's clock judges the floor, so the rows' times follow the wall clock
    return datetime.now(UTC).replace(microsecond=0)


def append(log: AuditLog, at: datetime, action: str = "user_proof") -> None:
    log.append(at=at, provider_id="clinic", terminal_id="kiosk-1", action=action, ok=True, serial=7)


def actions_by_age(log: AuditLog, at: datetime) -> list[tuple[str, int]]:
    """(action, age in days) of every row, oldest first (then by action)."""
    return sorted(
        ((e.action, (at - e.at).days) for e in log.recent(1000)), key=lambda r: (-r[1], r[0])
    )


def refused(db: Database, statement: str) -> bool:
    """Whether the database refuses the statement as a change to the append-only log."""
    try:
        with db.writing() as conn:
            conn.exec_driver_sql(statement)
    except DatabaseError as e:
        assert "append-only" in str(e)
        return True
    return False


def test_rows_older_than_the_period_go_newer_stay_and_the_purge_is_audited(db):
    log, t = AuditLog(db), now()
    for age in (800, 400, 366, 364, 100, 0):
        append(log, t - age * DAY)

    removed = log.purge(before=t - 365 * DAY, at=t, provider_id="clinic", terminal_id="kiosk-1",
                        actor="ops-1")  # fmt: skip

    assert removed == 3
    assert actions_by_age(log, t) == [
        ("user_proof", 364),
        ("user_proof", 100),
        ("audit.purge", 0),
        ("user_proof", 0),
    ]
    purge = log.recent(1)[0]
    assert (purge.action, purge.ok, purge.provider_id, purge.terminal_id) == (
        "audit.purge",
        True,
        "clinic",
        "kiosk-1",
    )
    assert (purge.actor, purge.affected_rows, purge.cutoff_at) == ("ops-1", 3, t - 365 * DAY)
    assert (purge.reason, purge.issuer_key_id, purge.serial) == (None, None, None)


def test_a_purge_with_nothing_to_remove_is_audited_too(db):
    log, t = AuditLog(db), now()
    append(log, t - 10 * DAY)
    assert log.purge(before=t - 365 * DAY, at=t, provider_id="c", terminal_id="k", actor="a") == 0
    assert [(e.action, e.affected_rows) for e in log.recent()] == [
        ("audit.purge", 0),
        ("user_proof", None),
    ]


def test_append_only_holds_for_every_other_statement(db):
    log, t = AuditLog(db), now()
    for age in (800, 400, 10, 0):
        append(log, t - age * DAY)
    # before any purge: no UPDATE, no DELETE, however old the row
    assert refused(db, "UPDATE audit_log SET ok = NOT ok")
    assert refused(db, "DELETE FROM audit_log")
    assert refused(db, "DELETE FROM audit_log WHERE event_id = (SELECT min(event_id) FROM "
                       "audit_log)")  # fmt: skip
    log.purge(before=t - 365 * DAY, at=t, provider_id="c", terminal_id="k", actor="a")
    # after it: still no UPDATE (of the purge's own row either), no DELETE of a fresh row
    assert refused(db, "UPDATE audit_log SET ok = NOT ok")
    assert refused(db, "UPDATE audit_log SET affected_rows = 0 WHERE action = 'audit.purge'")
    assert refused(db, "DELETE FROM audit_log")
    # a back-dated row appended after the purge: its DELETE has no purge row of its own
    append(log, t - 900 * DAY)
    assert refused(db, "DELETE FROM audit_log WHERE action = 'user_proof'")
    assert len(log.recent(1000)) == 4


def test_a_hand_made_purge_row_cannot_remove_fresh_rows(db):
    """Even a purge row appended by hand with a cutoff in the future lets no row younger than
    the floor go: the database judges their age by its own clock."""
    log, t = AuditLog(db), now()
    append(log, t - (PURGE_FLOOR_DAYS - 2) * DAY)
    append(log, t)
    with db.writing() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_log (at, provider_id, terminal_id, action, ok, cutoff_at) "
            f"VALUES ('{t:%Y-%m-%d %H:%M:%S}', 'c', 'k', 'audit.purge', "
            f"{'true' if db.engine.dialect.name == 'postgresql' else 1}, "
            f"'{t + 30 * DAY:%Y-%m-%d %H:%M:%S}')"
        )
    assert refused(db, "DELETE FROM audit_log WHERE action = 'user_proof'")
    assert len(log.recent()) == 3


@pytest.mark.postgres
def test_truncate_is_still_refused_on_postgresql(postgres_db_url):
    db = Database(postgres_db_url)
    try:
        append(AuditLog(db), now() - 800 * DAY)
        assert refused(db, "TRUNCATE audit_log")
    finally:
        db.dispose()


def test_the_purge_refuses_a_cutoff_inside_the_floor(db):
    log, t = AuditLog(db), now()
    append(log, t - 100 * DAY)
    with pytest.raises(StoreError, match=f"{PURGE_FLOOR_DAYS} days"):
        log.purge(before=t - (PURGE_FLOOR_DAYS - 1) * DAY, at=t, provider_id="c",
                  terminal_id="k", actor="a")  # fmt: skip
    assert [e.action for e in log.recent()] == ["user_proof"]  # not even audited


@pytest.mark.parametrize("actor", ["山田 太郎", "ops 1", "", "x" * 65])
def test_who_purged_is_an_identifier_never_free_text(db, actor):
    t = now()
    with pytest.raises(AuditFieldRefused):
        AuditLog(db).purge(before=t - 365 * DAY, at=t, provider_id="c", terminal_id="k",
                           actor=actor)  # fmt: skip
    assert AuditLog(db).recent() == []


# --- the configuration -------------------------------------------------------------------


def test_the_default_period_is_three_years_and_the_operator_may_change_it():
    assert config.Config().audit_retention_days == AUDIT_RETENTION_DAYS == 3 * 365 + 1
    assert config.load(None, env={"KIOSK_AUDIT_RETENTION_DAYS": "400"}).audit_retention_days == 400
    assert config.from_mapping({"audit_retention_days": 90}).audit_retention_days == 90
    assert config.from_mapping({"audit_retention_days": 3660}).audit_retention_days == 3660


def test_the_floor_of_the_period_is_the_databases_floor():
    assert config.AUDIT_RETENTION_MIN_DAYS == PURGE_FLOOR_DAYS


@pytest.mark.parametrize("value", [0, -1, 89, 3661, "soon", "1.5", True, 365.0])
def test_a_period_out_of_bounds_or_not_whole_is_refused(value):
    with pytest.raises(ConfigError, match="'audit_retention_days' must be"):
        config.from_mapping({"audit_retention_days": value})


# --- the command -------------------------------------------------------------------------


def test_kiosk_audit_purge_removes_expired_rows_and_says_so(tmp_path, capsys, monkeypatch):
    cfg_file = tmp_path / "kiosk.toml"
    cfg_file.write_text(
        f'data_dir = "{tmp_path}"\naudit_retention_days = 365\n'
        'provider_id = "clinic"\nterminal_id = "kiosk-7"\n'
    )
    cfg = config.load(cfg_file, env={})
    db = Database(cfg.effective_database_url)
    try:
        db.upgrade()
        log, t = AuditLog(db), now()
        for age in (800, 400, 10):
            append(log, t - age * DAY)
        db.dispose()
        monkeypatch.setattr("kiosk.commands.audit.utc_now", lambda: t)

        assert cli.main(["audit", "purge", "--config", str(cfg_file), "--by", "ops-1"]) == 0

        out = capsys.readouterr().out
        assert "removed 2 audit rows" in out and "365 days" in out
        purge = log.recent(1)[0]
        assert (purge.action, purge.actor, purge.affected_rows) == ("audit.purge", "ops-1", 2)
        assert (purge.provider_id, purge.terminal_id) == ("clinic", "kiosk-7")
        assert (purge.at, purge.cutoff_at) == (t, t - 365 * DAY)
        assert f"older than {t - 365 * DAY:%Y-%m-%d %H:%M:%S} UTC" in out
        assert [e.action for e in log.recent()] == ["audit.purge", "user_proof"]
    finally:
        db.dispose()


def test_kiosk_audit_purge_names_the_operator_by_login_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "kiosk-admin")
    cfg_file = tmp_path / "kiosk.toml"
    cfg_file.write_text(f'data_dir = "{tmp_path}"\n')
    assert cli.main(["audit", "purge", "--config", str(cfg_file)]) == 0
    db = Database(config.load(cfg_file, env={}).effective_database_url)
    try:
        assert AuditLog(db).recent(1)[0].actor == "kiosk-admin"
    finally:
        db.dispose()


def test_kiosk_audit_purge_refuses_an_operator_name_that_is_not_an_identifier(tmp_path, capsys):
    cfg_file = tmp_path / "kiosk.toml"
    cfg_file.write_text(f'data_dir = "{tmp_path}"\n')
    assert cli.main(["audit", "purge", "--config", str(cfg_file), "--by", "山田 太郎"]) == 2
    assert "identifier" in capsys.readouterr().err

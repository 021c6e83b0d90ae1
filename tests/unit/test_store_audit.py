"""The audit log: codes only, append-only, no column for a PIN or the basic 4 info."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import DatabaseError

from kiosk.store.audit import AuditLog
from kiosk.store.errors import AuditFieldRefused

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
FOUR_INFO_AND_SECRETS = (
    "name",
    "address",
    "birth",
    "sex",
    "gender",
    "pin",
    "password",
    "text",
    "message",
    "detail",
    "note",
)


def test_append_and_read_back(db):
    log = AuditLog(db)
    log.append(
        at=AT,
        provider_id="demo-clinic",
        terminal_id="kiosk-1",
        action="user_proof",
        ok=True,
        issuer_key_id="ab12",
        serial=(1 << 150) + 7,
    )
    log.append(
        at=AT,
        provider_id="demo-clinic",
        terminal_id="kiosk-1",
        action="user_proof",
        ok=False,
        reason="challenge_replayed",
    )
    newest, oldest = log.recent()
    assert (newest.ok, newest.reason, newest.serial) == (False, "challenge_replayed", None)
    assert (oldest.ok, oldest.serial, oldest.issuer_key_id, oldest.at) == (
        True,
        (1 << 150) + 7,
        "ab12",
        AT,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "1234"),  # a PIN
        ("reason", "ABC123"),  # a signature password
        ("action", "verify for 山田 太郎"),  # a name
        ("reason", "moved to 東京都千代田区"),
        ("provider_id", "clinic with spaces"),
        ("issuer_key_id", "not hex"),
        ("reason", "x" * 65),
    ],
)
def test_free_text_is_refused(db, field, value):
    fields = dict(at=AT, provider_id="p", terminal_id="t", action="user_proof", ok=False)
    fields[field] = value
    with pytest.raises(AuditFieldRefused):
        AuditLog(db).append(**fields)
    assert AuditLog(db).recent() == []


def test_no_column_could_hold_a_pin_or_the_four_info(db):
    with db.engine.connect() as conn:
        columns = inspect(conn).get_columns("audit_log")
    names = {c["name"] for c in columns}
    assert names == {
        "event_id",
        "at",
        "provider_id",
        "terminal_id",
        "action",
        "ok",
        "reason",
        "issuer_key_id",
        "serial",
        "actor",  # an identifier (a staff id, an operator's login)
        "affected_rows",
        "cutoff_at",
    }
    assert not [n for n in names for word in FOUR_INFO_AND_SECRETS if word in n]
    for column in columns:  # every text column is short
        length = getattr(column["type"], "length", None)
        assert length is None or length <= 128


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET ok = NOT ok", "DELETE FROM audit_log"])
def test_the_database_refuses_changes_to_the_log(db, statement):
    AuditLog(db).append(at=AT, provider_id="p", terminal_id="t", action="user_proof", ok=True)
    with pytest.raises(DatabaseError, match="append-only"), db.writing() as conn:
        conn.exec_driver_sql(statement)
    assert len(AuditLog(db).recent()) == 1

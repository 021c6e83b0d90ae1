"""No PIN, no signature password and none of the basic 4 info in the outbox rows, the audit
table or the logs of a hand-off to the reception (delivered over HTTP after a failure, and
dropped as a file); and no patient number in the audit or the logs (SQLite and PostgreSQL).

The scan helpers follow tests/unit/test_law_data_rules.py (every cell of the tables, every
log record as a handler would write it, with its arguments)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from reception_support import AT, PATIENT_NUMBER, TOKEN, message, secrets_in, serving
from sqlalchemy import text

from kiosk.cli import main
from kiosk.services.outbox_sender import deliver_due
from kiosk.services.reception import build_bundle
from kiosk.services.reception_delivery import FileDropReception, HttpReception
from kiosk.store.engine import Database
from kiosk.store.outbox import Outbox, VisitAudit

AUDIT = VisitAudit("service.insurance", True, "demo-clinic", "kiosk-1")


def cells(db: Database, table: str) -> list[tuple[str, str]]:
    """(column, value as text) for every cell of `table`; bytes are decoded as UTF-8."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(f'SELECT * FROM "{table}"')).mappings().all()  # noqa: S608
    out = []
    for row in rows:
        for column, value in row.items():
            if isinstance(value, bytes | memoryview):
                value = bytes(value).decode("utf-8", "replace")
            out.append((column, "" if value is None else str(value)))
    return out


def log_text(records: list[logging.LogRecord]) -> list[str]:
    """Each record as a handler would write it, and its arguments."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [line for r in records for line in (formatter.format(r), repr(r.args))]


@pytest.fixture
def handed_off(store_url, tmp_path, caplog, capsys):
    """Two hand-offs: one over HTTP (the receiver down, then back), one dropped as a file;
    then `kiosk outbox list`. The database and what the command printed."""
    caplog.set_level(logging.DEBUG)
    db = Database(store_url)
    outbox = Outbox(db)
    first, second = message(), message()
    for m in (first, second):
        outbox.enqueue(m.message_id, "reception", build_bundle(m), AT, audit=AUDIT)
    with serving() as receiver:
        http = HttpReception(receiver.url, TOKEN, 5.0)
        receiver.stop()
        deliver_due(outbox, http, AT, limit=1)  # fails: connect_failed
        receiver.start()
        deliver_due(outbox, http, AT + timedelta(minutes=1), limit=1)
        http.close()
    deliver_due(outbox, FileDropReception(tmp_path), AT + timedelta(minutes=2))
    conf = tmp_path / "kiosk.toml"
    conf.write_text(f'data_dir = "{tmp_path / "kiosk"}"\ndatabase_url = "{store_url}"\n')
    assert main(["outbox", "list", "--config", str(conf)]) == 0
    try:
        yield db, capsys.readouterr().out
    finally:
        db.dispose()


def test_no_pin_password_or_4_info_in_the_outbox_audit_or_logs(handed_off, caplog):
    db, printed = handed_off
    outbox_cells = cells(db, "outbox")
    audit_cells = cells(db, "audit_log")
    records = [*caplog.get_records("setup"), *caplog.records]
    lines = log_text(records)
    # the scan reads what is there: the bodies (which name the patient) and the log
    bodies = [v for c, v in outbox_cells if c == "body"]
    assert len(bodies) == 2 and all(PATIENT_NUMBER in b for b in bodies)
    assert any("not delivered: connect_failed" in line for line in lines)
    assert any(r.levelno == logging.DEBUG for r in records)
    for column, value in [*outbox_cells, *audit_cells]:
        assert secrets_in(value) == [], column
    for line in [*lines, *printed.splitlines()]:
        assert secrets_in(line) == [], line
    # the patient number goes to the reception only: not in the audit, the log or the listing
    assert [c for c, v in audit_cells if PATIENT_NUMBER in v] == []
    assert [line for line in lines if PATIENT_NUMBER in line] == []
    assert PATIENT_NUMBER not in printed

"""`kiosk outbox list|retry` over the configured store (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from reception_support import AT, PATIENT_NUMBER, message

from kiosk.cli import main
from kiosk.services.reception import build_bundle
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.outbox import Outbox, VisitAudit

AUDIT = VisitAudit("service.insurance", True, "demo-clinic", "kiosk-1")


@pytest.fixture
def conf(store_url, tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path / "kiosk"}"\ndatabase_url = "{store_url}"\n')
    return str(path)


def enqueue(db: Database, at=AT) -> str:
    m = message()
    Outbox(db).enqueue(m.message_id, "reception", build_bundle(m), at, audit=AUDIT)
    return str(m.message_id)


def test_list_shows_each_message_s_state_and_never_its_content(db, conf, capsys):
    waiting = enqueue(db)
    done = enqueue(db, AT + timedelta(seconds=1))
    outbox = Outbox(db)
    outbox.mark_failed(waiting, AT, "connect_failed", AT + timedelta(seconds=5))
    outbox.mark_delivered(done, AT + timedelta(seconds=2))
    assert main(["outbox", "list", "--config", conf]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert lines[waiting].split()[2:5] == ["waiting", "1", "connect_failed"]
    assert lines[done].split()[2:5] == ["delivered", "0", "-"]
    assert out.splitlines()[-1] == "1 waiting"
    assert PATIENT_NUMBER not in out and "06123456" not in out


def test_list_pending_leaves_the_delivered_out(db, conf, capsys):
    waiting = enqueue(db)
    done = enqueue(db)
    Outbox(db).mark_delivered(done, AT)
    assert main(["outbox", "list", "--pending", "--config", conf]) == 0
    out = capsys.readouterr().out
    assert waiting in out and done not in out


def test_retry_makes_a_waiting_message_due_now_and_is_audited(db, conf, capsys):
    mid = enqueue(db)
    later = AT + timedelta(days=365 * 10)  # far after the test runs
    Outbox(db).mark_failed(mid, AT, "http_503", later)
    assert main(["outbox", "retry", mid, "--by", "staff-7", "--config", conf]) == 0
    assert "1 message due now" in capsys.readouterr().out
    assert Outbox(db).get(mid).next_attempt_at < later
    retry = AuditLog(db).recent()[0]
    assert (retry.action, retry.actor, retry.ok) == ("outbox.retry", "staff-7", True)


def test_retry_all(db, conf, capsys):
    for mid in (enqueue(db), enqueue(db)):
        Outbox(db).mark_failed(mid, AT, "timeout", AT + timedelta(days=3650))
    assert main(["outbox", "retry", "--all", "--by", "staff-7", "--config", conf]) == 0
    assert "2 messages due now" in capsys.readouterr().out


def test_retry_of_a_delivered_or_unknown_message_says_so(db, conf, capsys):
    done = enqueue(db)
    Outbox(db).mark_delivered(done, AT)
    assert main(["outbox", "retry", done, "--by", "staff-7", "--config", conf]) == 2
    assert "delivered already" in capsys.readouterr().err
    unknown = str(uuid.uuid4())
    assert main(["outbox", "retry", unknown, "--by", "staff-7", "--config", conf]) == 2
    assert "not in the outbox" in capsys.readouterr().err
    assert main(["outbox", "retry", "nonsense", "--by", "staff-7", "--config", conf]) == 2
    assert [e.action for e in AuditLog(db).recent()] == ["service.insurance"]


def test_retry_needs_an_id_or_all(conf):
    with pytest.raises(SystemExit):
        main(["outbox", "retry", "--config", conf])

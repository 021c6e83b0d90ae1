"""The outbox in the store: the message and the visit's audit in one transaction, due
messages handed out in order, idempotent marking, retries (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database, alembic_config
from kiosk.store.errors import AuditFieldRefused, DuplicateKey, StoreError
from kiosk.store.outbox import Outbox, VisitAudit

AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
AUDIT = VisitAudit("service.insurance", True, "demo-clinic", "kiosk-1")


@pytest.fixture
def outbox(db):
    return Outbox(db)


def enqueue(outbox: Outbox, at: datetime = AT, destination: str = "reception") -> str:
    mid = str(uuid.uuid4())
    outbox.enqueue(mid, destination, b'{"resourceType":"Bundle"}', at, audit=AUDIT)
    return mid


def test_enqueue_writes_the_message_and_the_visit_s_audit_together(db, outbox):
    mid = enqueue(outbox)
    message = outbox.get(mid)
    assert message is not None
    assert (message.destination, message.provider_id, message.body) == (
        "reception",
        "demo-clinic",
        b'{"resourceType":"Bundle"}',
    )
    assert (message.attempts, message.next_attempt_at, message.delivered) == (0, AT, False)
    (event,) = AuditLog(db).recent()
    assert (event.action, event.ok, event.provider_id, event.terminal_id, event.at) == (
        "service.insurance",
        True,
        "demo-clinic",
        "kiosk-1",
        AT,
    )


def test_a_refused_audit_row_writes_no_message_either(db, outbox):
    mid = str(uuid.uuid4())
    bad = VisitAudit("insurance for 試験 太郎", True, "demo-clinic", "kiosk-1")
    with pytest.raises(AuditFieldRefused):
        outbox.enqueue(mid, "reception", b"{}", AT, audit=bad)
    assert outbox.get(mid) is None and AuditLog(db).recent() == []


def test_a_message_id_taken_already_writes_neither_row(db, outbox):
    mid = enqueue(outbox)
    with pytest.raises(DuplicateKey):
        outbox.enqueue(mid, "reception", b"other", AT, audit=AUDIT)
    assert len(AuditLog(db).recent()) == 1
    assert outbox.get(mid).body == b'{"resourceType":"Bundle"}'


@pytest.mark.parametrize("mid", ["", "42", "not-a-uuid"])
def test_a_message_id_is_a_uuid(outbox, mid):
    with pytest.raises(StoreError, match="uuid"):
        outbox.enqueue(mid, "reception", b"{}", AT, audit=AUDIT)


def test_due_hands_out_the_longest_waiting_of_its_destination(outbox):
    first = enqueue(outbox, AT)
    second = enqueue(outbox, AT + timedelta(seconds=1))
    later = enqueue(outbox, AT + timedelta(minutes=5))
    enqueue(outbox, AT, destination="elsewhere")
    now = AT + timedelta(seconds=2)
    assert [m.message_id for m in outbox.due(now, 10, "reception")] == [first, second]
    assert [m.message_id for m in outbox.due(now, 1, "reception")] == [first]
    assert later in [m.message_id for m in outbox.due(AT + timedelta(minutes=5), 10, "reception")]


def test_a_failed_attempt_is_counted_once_and_waits_for_its_next_attempt(outbox):
    mid = enqueue(outbox)
    retry_at = AT + timedelta(seconds=5)
    assert outbox.mark_failed(mid, AT, "connect_refused", retry_at)
    assert not outbox.mark_failed(mid, AT, "connect_refused", retry_at)  # the same attempt
    message = outbox.get(mid)
    assert (message.attempts, message.last_error, message.next_attempt_at) == (
        1,
        "connect_refused",
        retry_at,
    )
    assert outbox.due(AT + timedelta(seconds=4), 10, "reception") == ()
    assert outbox.mark_failed(mid, retry_at, "http_503", retry_at + timedelta(seconds=10))
    assert (outbox.get(mid).attempts, outbox.get(mid).last_error) == (2, "http_503")


def test_an_error_code_is_a_short_code(outbox):
    mid = enqueue(outbox)
    with pytest.raises(StoreError):
        outbox.mark_failed(mid, AT, "Connection refused by 127.0.0.1", AT)


def test_delivered_is_final_and_marking_it_again_changes_nothing(outbox):
    mid = enqueue(outbox)
    done = AT + timedelta(seconds=1)
    assert outbox.mark_delivered(mid, done)
    assert not outbox.mark_delivered(mid, done + timedelta(seconds=1))
    assert not outbox.mark_failed(mid, done + timedelta(seconds=2), "timeout", done)
    assert not outbox.retry(mid, done)
    message = outbox.get(mid)
    assert (message.delivered_at, message.attempts) == (done, 0)
    assert outbox.due(done + timedelta(days=1), 10, "reception") == ()


def test_retry_makes_a_waiting_message_due_now(outbox):
    waiting = enqueue(outbox)
    other = enqueue(outbox)
    for mid in (waiting, other):
        outbox.mark_failed(mid, AT, "timeout", AT + timedelta(minutes=5))
    now = AT + timedelta(seconds=30)
    assert outbox.retry(waiting, now)
    assert [m.message_id for m in outbox.due(now, 10, "reception")] == [waiting]
    assert not outbox.retry(str(uuid.uuid4()), now)
    assert outbox.retry_all(now) == 2
    assert {m.message_id for m in outbox.due(now, 10, "reception")} == {waiting, other}


def test_list_shows_the_newest_first_and_the_pending_ones(outbox):
    old = enqueue(outbox, AT)
    new = enqueue(outbox, AT + timedelta(seconds=1))
    outbox.mark_delivered(old, AT + timedelta(seconds=2))
    assert [m.message_id for m in outbox.list()] == [new, old]
    assert [m.message_id for m in outbox.list(pending_only=True)] == [new]
    assert outbox.pending() == 1


def test_the_repr_of_a_message_shows_no_body(outbox):
    mid = enqueue(outbox)
    assert "Bundle" not in repr(outbox.get(mid))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_0006_goes_down_and_up_again(empty_url):
    db = Database(empty_url)
    try:
        db.upgrade("0006")
        enqueue(Outbox(db))
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
        with db.engine.connect() as conn:
            assert "outbox" not in inspect(conn).get_table_names()
        db.upgrade("0006")
        assert Outbox(db).list() == ()
    finally:
        db.dispose()

"""Sending the outbox to a real reception system on 127.0.0.1: a message waits while the
receiver is down and arrives once it is back, exactly once after deduplication by Bundle.id
even when it was answered 2xx twice; a killed kiosk loses nothing; the sender's thread never
lets anything escape (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from reception_support import AT, PATIENT_NUMBER, TOKEN, message, serving

from kiosk.services.outbox_sender import (
    BACKOFF_CAP,
    BACKOFF_FIRST,
    OutboxSender,
    PassReport,
    backoff,
    deliver_due,
)
from kiosk.services.reception import build_bundle
from kiosk.services.reception_delivery import DeliveryFailed, HttpReception
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.outbox import Outbox, VisitAudit

AUDIT = VisitAudit("service.insurance", True, "demo-clinic", "kiosk-1")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver():
    with serving() as running:
        yield running


@pytest.fixture
def outbox(db):
    return Outbox(db)


@pytest.fixture
def http(receiver):
    delivery = HttpReception(receiver.url, TOKEN, 5.0)
    yield delivery
    delivery.close()


def enqueue(outbox: Outbox) -> str:
    m = message()
    outbox.enqueue(m.message_id, "reception", build_bundle(m), AT, audit=AUDIT)
    return str(m.message_id)


def test_backoff_doubles_from_5_seconds_to_at_most_5_minutes():
    waits = [backoff(n) for n in range(1, 10)]
    assert waits[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert waits[-1] == BACKOFF_CAP == timedelta(minutes=5)
    assert backoff(0) == BACKOFF_FIRST and backoff(10_000) == BACKOFF_CAP
    assert waits == sorted(waits)


def test_a_message_waits_while_the_receiver_is_down_and_arrives_once_it_is_back(
    outbox, receiver, http
):
    mid = enqueue(outbox)
    receiver.stop()
    assert deliver_due(outbox, http, AT) == PassReport(failed=1)
    waiting = outbox.get(mid)
    assert (waiting.delivered, waiting.attempts, waiting.last_error) == (
        False,
        1,
        "connect_failed",
    )
    assert waiting.next_attempt_at == AT + BACKOFF_FIRST
    # not tried again before its time
    assert deliver_due(outbox, http, AT + timedelta(seconds=4)) == PassReport()
    assert deliver_due(outbox, http, AT + BACKOFF_FIRST) == PassReport(failed=1)
    assert outbox.get(mid).next_attempt_at == AT + BACKOFF_FIRST + timedelta(seconds=10)

    receiver.start()
    back = AT + timedelta(seconds=15)
    assert deliver_due(outbox, http, back) == PassReport(delivered=1)
    assert outbox.get(mid).delivered_at == back
    assert deliver_due(outbox, http, back + timedelta(hours=1)) == PassReport()
    (got,) = receiver.received.deduplicated()
    assert (got.bundle_id, got.patient_number) == (mid, PATIENT_NUMBER)


def test_a_refusal_waits_too_and_is_never_marked_delivered(outbox, receiver, http):
    mid = enqueue(outbox)
    receiver.status = 503
    assert deliver_due(outbox, http, AT) == PassReport(failed=1)
    assert (outbox.get(mid).delivered, outbox.get(mid).last_error) == (False, "http_503")
    receiver.status = 201
    assert deliver_due(outbox, http, AT + BACKOFF_FIRST) == PassReport(delivered=1)
    assert len(receiver.received.bundles) == 2  # it did arrive the first time, refused
    assert len(receiver.received.deduplicated()) == 1


@dataclass
class ForgetfulOutbox:
    """An outbox whose first `mark_delivered` is lost, as if the kiosk died right after the
    receiver's 2xx: the message stays due and is sent again."""

    outbox: Outbox
    lost: list[str] = field(default_factory=list)

    def due(self, now, limit, destination):
        return self.outbox.due(now, limit, destination)

    def mark_delivered(self, message_id, at):
        if not self.lost:
            self.lost.append(message_id)
            raise StoreError("the database is unavailable (OperationalError)")
        return self.outbox.mark_delivered(message_id, at)

    def mark_failed(self, message_id, at, error_code, next_attempt_at):
        return self.outbox.mark_failed(message_id, at, error_code, next_attempt_at)


def test_a_message_answered_2xx_twice_is_in_the_receiver_s_log_once(outbox, receiver, http):
    mid = enqueue(outbox)
    forgetful = ForgetfulOutbox(outbox)
    with pytest.raises(StoreError):
        deliver_due(forgetful, http, AT)
    assert forgetful.lost == [mid] and not outbox.get(mid).delivered
    assert deliver_due(forgetful, http, AT + timedelta(seconds=1)) == PassReport(delivered=1)
    assert [b.bundle_id for b in receiver.received.bundles] == [mid, mid]
    assert [b.bundle_id for b in receiver.received.deduplicated()] == [mid]
    assert outbox.get(mid).delivered


def test_the_sender_thread_delivers_what_is_enqueued_when_woken(outbox, receiver, http):
    passes: list[PassReport] = []
    delivered = threading.Event()

    def on_pass(report: PassReport) -> None:
        passes.append(report)
        if report.delivered:
            delivered.set()

    # an interval far longer than the test: only wake() makes it send
    sender = OutboxSender(outbox, http, lambda: AT, interval_s=3600, on_pass=on_pass)
    sender.start()
    try:
        mid = enqueue(outbox)
        sender.wake()
        assert delivered.wait(30), passes
    finally:
        sender.stop()
    assert outbox.get(mid).delivered
    assert [b.bundle_id for b in receiver.received.deduplicated()] == [mid]


class Broken:
    destination = "reception"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    def due(self, now, limit, destination):
        raise self.error

    def deliver(self, message_id, body):
        raise self.error

    def close(self):
        self.closed = True


@pytest.mark.parametrize("error", [StoreError("unavailable"), RuntimeError("a bug")])
def test_nothing_escapes_a_pass_of_the_sender(error, caplog):
    broken = Broken(error)
    sender = OutboxSender(broken, broken, lambda: AT)
    assert sender.run_once() == PassReport()
    assert caplog.records  # said so in the log
    sender.stop()
    assert broken.closed


def test_a_delivery_that_raises_is_caught_by_the_pass_and_the_message_stays_due(outbox):
    mid = enqueue(outbox)
    broken = Broken(RuntimeError("a bug in an adapter"))
    assert OutboxSender(outbox, broken, lambda: AT).run_once() == PassReport()
    assert outbox.get(mid).attempts == 0 and not outbox.get(mid).delivered
    assert [m.message_id for m in outbox.due(AT, 10, "reception")] == [mid]


_ENQUEUE_THEN_HANG = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime

    from kiosk.services.reception import ReceptionMessage, build_bundle
    from kiosk.store.engine import Database
    from kiosk.store.outbox import Outbox, VisitAudit

    at = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
    m = ReceptionMessage.new("demo-clinic", "kiosk-1", "P-000417", None, (), at)
    audit = VisitAudit("service.insurance", True, "demo-clinic", "kiosk-1")
    outbox = Outbox(Database(sys.argv[1]))
    outbox.enqueue(m.message_id, "reception", build_bundle(m), at, audit=audit)
    print(m.message_id, flush=True)
    sys.stdin.read()  # the kiosk goes on with its day, until it is killed
    """
)


def test_a_kiosk_killed_between_enqueue_and_delivery_loses_nothing(store_url, receiver):
    child = subprocess.Popen(
        [sys.executable, "-c", _ENQUEUE_THEN_HANG, store_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        mid = child.stdout.readline().decode().strip()
        assert uuid.UUID(mid)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdin.close()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    db = Database(store_url)  # the kiosk restarts
    http = HttpReception(receiver.url, TOKEN, 5.0)
    try:
        outbox = Outbox(db)
        assert deliver_due(outbox, http, AT + timedelta(minutes=1)) == PassReport(delivered=1)
        assert outbox.get(mid).delivered
        assert [e.action for e in AuditLog(db).recent()] == ["service.insurance"]
    finally:
        http.close()
        db.dispose()
    assert [b.bundle_id for b in receiver.received.deduplicated()] == [mid]


def test_a_failure_code_is_what_the_outbox_shows(outbox):
    class Refusing:
        destination = "reception"

        def deliver(self, message_id, body):
            return DeliveryFailed("http_401")

        def close(self):
            pass

    mid = enqueue(outbox)
    deliver_due(outbox, Refusing(), AT)
    assert outbox.get(mid).last_error == "http_401"

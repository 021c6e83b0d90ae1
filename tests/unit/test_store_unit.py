"""Database.unit: the hot path's statements in one transaction, committed once or not at all."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.ports import ChallengeClaim, LedgerEntry

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
EXPIRES_US = (AT + timedelta(seconds=120) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
    microseconds=1
)
VERDICT = LedgerEntry(
    AT, "p", "t", "user_proof", True, "ok", challenge=ChallengeClaim(bytes(range(32)), EXPIRES_US)
)


def audit(db):
    AuditLog(db).append(at=AT, provider_id="p", terminal_id="t", action="user_proof", ok=True)


def audit_entries(db):
    """The audit log's own entries (recent() also lists the recorded verdicts)."""
    return [e for e in AuditLog(db).recent() if e.event_id is not None]


def seen_from_another_thread(db):
    """(challenge used?, audit entries) as another connection sees them now."""
    out = []

    def look():
        other = Database(db.url)
        try:
            entries = len(audit_entries(other))
            used = not SqlVerificationStore(other).record(VERDICT)  # records it, if new
            out.append((used, entries))
        finally:
            other.dispose()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(30)
    return out[0]


def test_a_unit_commits_at_its_end(db):
    with db.unit():
        assert SqlVerificationStore(db).record(VERDICT) is True
        audit(db)
        with db.unit():  # nested units join the outer one
            audit(db)
    assert seen_from_another_thread(db) == (True, 2)


def test_a_failed_unit_leaves_nothing(db):
    with pytest.raises(RuntimeError), db.unit():
        assert SqlVerificationStore(db).record(VERDICT) is True
        audit(db)
        raise RuntimeError("verification crashed")
    assert len(AuditLog(db).recent()) == 0  # neither the audit entry nor the verdict
    assert seen_from_another_thread(db) == (False, 0)


def test_sqlalchemy_writes_are_refused_inside_a_unit(db):
    with db.unit(), pytest.raises(StoreError, match="unit"), db.writing():
        pass


def test_threads_that_end_leave_no_connection_behind(db):
    """A server's worker threads come and go (anyio retires idle ones): each used `one()` on a
    connection of its own, and once it has ended that connection is closed, not kept until
    the store is disposed — 300 short threads end with as few connections as live threads."""

    def use_and_end() -> None:
        assert db.one(db.sql("select 1"), ()) == (1,)

    for _ in range(300):
        thread = threading.Thread(target=use_and_end)
        thread.start()
        thread.join()
    assert db.open_drivers == 1  # the last thread's, closed by the next one to open
    use_and_end()  # this (live) thread's own
    assert db.open_drivers == 1
    # and a thread still running keeps its connection
    started, stop = threading.Event(), threading.Event()

    def use_and_wait() -> None:
        use_and_end()
        started.set()
        stop.wait()

    worker = threading.Thread(target=use_and_wait)
    worker.start()
    started.wait()
    assert db.open_drivers == 2
    stop.set()
    worker.join()
    assert db.one(db.sql("select 1"), ()) == (1,)  # the main thread's still works

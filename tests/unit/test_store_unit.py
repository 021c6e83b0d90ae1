"""Database.unit: the hot path's statements in one transaction, committed once or not at all."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store.audit import AuditLog
from kiosk.store.challenges import SqlChallengeStore
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
NONCE = bytes(range(32))
EXPIRES = AT + timedelta(seconds=120)


@pytest.fixture
def db(store_url):
    database = Database(store_url)
    yield database
    database.dispose()


def audit(db):
    AuditLog(db).append(at=AT, provider_id="p", terminal_id="t", action="user_proof", ok=True)


def seen_from_another_thread(db):
    """(challenge used?, audit entries) as another connection sees them now."""
    out = []

    def look():
        other = Database(db.url)
        try:
            earlier = SqlChallengeStore(other).record_use(NONCE, AT, EXPIRES)  # records it, if new
            out.append((earlier is not None, len(AuditLog(other).recent())))
        finally:
            other.dispose()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(30)
    return out[0]


def test_a_unit_commits_at_its_end(db):
    with db.unit():
        assert SqlChallengeStore(db).record_use(NONCE, AT, EXPIRES) is None
        audit(db)
        with db.unit():  # nested units join the outer one
            audit(db)
    assert seen_from_another_thread(db) == (True, 2)


def test_a_failed_unit_leaves_nothing(db):
    with pytest.raises(RuntimeError), db.unit():
        SqlChallengeStore(db).record_use(NONCE, AT, EXPIRES)
        audit(db)
        raise RuntimeError("verification crashed")
    assert len(AuditLog(db).recent()) == 0
    assert SqlChallengeStore(db).record_use(NONCE, AT, EXPIRES) is None


def test_sqlalchemy_writes_are_refused_inside_a_unit(db):
    with db.unit(), pytest.raises(StoreError, match="unit"), db.writing():
        pass

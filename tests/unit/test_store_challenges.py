"""The challenge-use store: single use, atomically, even with concurrent redeemers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store.audit import AuditLog
from kiosk.store.challenges import SqlChallengeStore
from kiosk.store.engine import Database
from kiosk.store.links import LinkRepository
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.verdict import Reason, Refused

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
KEY = bytes(range(32))


@pytest.fixture
def db(store_url):
    database = Database(store_url)
    yield database
    database.dispose()


def cid(n: int) -> bytes:
    return bytes([n]) * 32


def expiry(ttl: int = 120) -> datetime:
    return AT + timedelta(seconds=ttl)


def test_record_once_then_report_the_first_use(db):
    store = SqlChallengeStore(db)
    assert store.record_use(cid(1), AT + timedelta(seconds=5), expiry()) is None
    assert store.record_use(cid(1), AT + timedelta(seconds=9), expiry()) == AT + timedelta(
        seconds=5
    )
    assert store.record_use(cid(2), AT + timedelta(seconds=9), expiry()) is None


def test_purge_removes_only_expired_uses(db):
    store = SqlChallengeStore(db)
    store.record_use(cid(1), AT, expiry(60))
    store.record_use(cid(2), AT, expiry(600))
    assert store.purge(AT + timedelta(seconds=300)) == 1
    assert store.record_use(cid(1), AT, expiry(60)) is None  # forgotten
    assert store.record_use(cid(2), AT, expiry(600)) == AT


def redeem_concurrently(db: Database, nonce: bytes, redeemers: int) -> list[str]:
    """Each thread redeems `nonce` in its own unit with an audit entry; their outcomes."""
    service = ChallengeService(SqlChallengeStore(db), keys=[KEY])
    audit = AuditLog(db)
    barrier = threading.Barrier(redeemers)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def redeem() -> None:
        try:
            barrier.wait(30)
            with db.unit():
                try:
                    service.redeem(nonce, "demo-clinic", "kiosk-1", AT)
                    outcome = "ok"
                except Refused as e:
                    outcome = e.reason.value
                audit.append(
                    at=AT, provider_id="demo-clinic", terminal_id="kiosk-1", action="t", ok=True
                )
            outcomes.append(outcome)
        except BaseException as e:  # reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=redeem) for _ in range(redeemers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return outcomes


def test_concurrent_redeems_exactly_one_wins(db):
    issuer = ChallengeService(SqlChallengeStore(db), keys=[KEY])
    for _ in range(5):
        nonce = issuer.issue("demo-clinic", "kiosk-1", AT).nonce
        outcomes = redeem_concurrently(db, nonce, 4)
        assert sorted(outcomes) == [Reason.CHALLENGE_REPLAYED.value] * 3 + ["ok"]
    assert len(AuditLog(db).recent()) == 20


def test_a_use_in_a_failed_unit_is_not_recorded(db):
    store = SqlChallengeStore(db)
    with pytest.raises(RuntimeError), db.unit():
        assert store.record_use(cid(1), AT, expiry()) is None
        raise RuntimeError("verification crashed")
    assert store.record_use(cid(1), AT, expiry()) is None


def test_writes_after_reads_on_a_pooled_connection_are_committed(store_url):
    db = Database(store_url)
    store = SqlChallengeStore(db)
    for n in range(3):  # reads through Core, writes through the driver, same pool
        SqlRevocationIndex(db).crl_info("00")
        LinkRepository(db).provider("nobody")
        store.record_use(cid(n), AT, expiry())
    db.dispose()
    other = Database(store_url)
    try:
        assert [SqlChallengeStore(other).record_use(cid(n), AT, expiry()) for n in range(3)] == [
            AT
        ] * 3
    finally:
        other.dispose()

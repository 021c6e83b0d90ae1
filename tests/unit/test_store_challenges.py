"""The challenge store: single use, atomically, even with concurrent takers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store.challenges import SqlChallengeStore
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.links import LinkRepository
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.ports import IssuedChallenge

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(store_url):
    database = Database(store_url)
    yield database
    database.dispose()


def challenge(n: int, ttl=120) -> IssuedChallenge:
    return IssuedChallenge(
        bytes([n]) * 32, "demo-clinic", "kiosk-1", AT, AT + timedelta(seconds=ttl)
    )


def test_take_once_then_report_the_first_use(db):
    store = SqlChallengeStore(db)
    issued = challenge(1)
    store.add(issued)
    first = store.take(issued.nonce, AT + timedelta(seconds=5))
    assert first.challenge == issued and first.previously_used_at is None
    second = store.take(issued.nonce, AT + timedelta(seconds=9))
    assert second.challenge == issued
    assert second.previously_used_at == AT + timedelta(seconds=5)


def test_unknown_nonce(db):
    store = SqlChallengeStore(db)
    store.add(challenge(1))
    assert store.take(bytes([2]) * 32, AT) is None


def test_a_nonce_is_issued_once(db):
    store = SqlChallengeStore(db)
    store.add(challenge(1))
    with pytest.raises(StoreError, match="already issued"):
        store.add(challenge(1))


def test_purge_removes_only_expired_challenges(db):
    store = SqlChallengeStore(db)
    store.add(challenge(1, ttl=60))
    store.add(challenge(2, ttl=600))
    assert store.purge(AT + timedelta(seconds=300)) == 1
    assert store.take(challenge(1).nonce, AT) is None
    assert store.take(challenge(2).nonce, AT) is not None


def test_concurrent_takers_exactly_one_wins(db):
    store = SqlChallengeStore(db)
    rounds, takers = 10, 4
    for n in range(rounds):
        store.add(challenge(n))
    results: list[list[bool]] = [[] for _ in range(rounds)]
    barrier = threading.Barrier(takers)
    errors: list[BaseException] = []

    def take_all() -> None:
        try:
            for n in range(rounds):
                barrier.wait(30)
                taken = store.take(challenge(n).nonce, AT + timedelta(seconds=1))
                results[n].append(taken.previously_used_at is None)
        except BaseException as e:  # reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=take_all) for _ in range(takers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert [sorted(r) for r in results] == [[False] * (takers - 1) + [True]] * rounds


def test_writes_after_reads_on_a_pooled_connection_are_committed(store_url):
    db = Database(store_url)
    store = SqlChallengeStore(db)
    for n in range(3):  # reads through Core, writes through the driver, same pool
        SqlRevocationIndex(db).crl_info("00")
        LinkRepository(db).provider("nobody")
        store.add(challenge(n))
        store.take(challenge(n).nonce, AT)
    db.dispose()
    other = Database(store_url)
    try:
        assert [
            SqlChallengeStore(other).take(challenge(n).nonce, AT).previously_used_at
            for n in range(3)
        ] == [AT] * 3
    finally:
        other.dispose()

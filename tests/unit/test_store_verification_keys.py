"""Verification keys: made from the challenge, so a replay meets its own challenge; two
challenges that share a key (same µs of expiry, same 11 bits) both get recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.ports import ChallengeClaim, LedgerEntry

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
EXPIRES_US = 1_775_037_720_000_000  # 2026-04-01 10:02 UTC


def claim(first_two: bytes, rest: int, expires_us: int = EXPIRES_US) -> ChallengeClaim:
    """A claim whose random part starts with `first_two` (the key's 11 bits come from there)."""
    return ChallengeClaim(first_two + rest.to_bytes(30, "big"), expires_us)


def entry(c: ChallengeClaim | None, reason: str = "ok") -> LedgerEntry:
    return LedgerEntry(AT, "demo-clinic", "kiosk-1", "user_proof", reason == "ok", reason,
                       "ab" * 20, 12345, c)  # fmt: skip


def keys(db: Database) -> list[tuple[int, bytes]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT verification_key, challenge_id FROM verifications ORDER BY 1")
        )
        return [(k, bytes(c)) for k, c in rows]


def test_the_key_is_the_expiry_and_11_bits_of_the_challenge(db):
    store = SqlVerificationStore(db)
    c = claim(b"\xff\xe0", 1)  # top 11 bits all ones
    assert store.record(entry(c))
    assert keys(db) == [(EXPIRES_US << 11 | 0x7FF, c.challenge_id)]


def test_challenges_sharing_a_key_are_all_recorded_and_each_replay_is_caught(db):
    store = SqlVerificationStore(db)
    sharing = [claim(b"\x12\x34", n) for n in range(5)]  # same expiry, same top 11 bits
    assert [store.record(entry(c)) for c in sharing] == [True] * 5
    base = EXPIRES_US << 11 | 0x1234 >> 5
    assert keys(db) == [(base + n, c.challenge_id) for n, c in enumerate(sharing)]
    # each replay finds its own challenge, however far along it was put; nothing is written
    assert [store.record(entry(c, "bad_signature")) for c in reversed(sharing)] == [False] * 5
    assert len(keys(db)) == 5


def test_a_challenge_whose_key_was_taken_by_a_later_one_is_still_caught(db):
    store = SqlVerificationStore(db)
    early = claim(b"\x00\x00", 1)
    assert store.record(entry(early))
    neighbour = claim(b"\x00\x20", 2)  # top 11 bits = 1: the key after early's
    assert store.record(entry(neighbour))
    collider = claim(b"\x00\x00", 3)  # early's key is taken, and the next by neighbour
    assert store.record(entry(collider))
    base = EXPIRES_US << 11
    assert keys(db) == [
        (base, early.challenge_id),
        (base + 1, neighbour.challenge_id),
        (base + 2, collider.challenge_id),
    ]
    assert not store.record(entry(collider)) and not store.record(entry(neighbour))


def test_expiry_beyond_the_key_range_is_refused(db):
    store = SqlVerificationStore(db)
    with pytest.raises(StoreError, match="out of range"):
        store.record(entry(claim(b"\x00\x00", 1, expires_us=1 << 52)))
    assert keys(db) == []


def test_a_replay_is_caught_at_the_last_key_tried(db):
    from kiosk.store.verification import _PROBES

    store = SqlVerificationStore(db)
    crowd = [claim(b"\x00\x00", n) for n in range(_PROBES)]  # fill every key tried
    assert all(store.record(entry(c)) for c in crowd)
    assert not store.record(entry(crowd[-1]))  # held by itself at the last key
    with pytest.raises(StoreError, match="no free"):  # one more cannot be placed: fail closed
        store.record(entry(claim(b"\x00\x00", _PROBES)))
    assert len(keys(db)) == _PROBES

"""Challenge uses: one row per redeemed challenge, inserted once, atomically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.store.engine import Database

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# ON CONFLICT DO NOTHING: one row inserted means first use. Of two concurrent callers exactly
# one inserts (PostgreSQL makes the second wait for the first's commit, then conflict; SQLite
# runs writers one by one); the loser then reads the winner's time. The row count, not
# RETURNING: SQLite buffers RETURNING rows in a temporary table (2 µs more an insert).
_RECORD = (
    "INSERT INTO challenge_uses (expires_at, challenge_id, used_at) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_USED_AT = "SELECT used_at FROM challenge_uses WHERE expires_at = ? AND challenge_id = ?"
_PURGE = "DELETE FROM challenge_uses WHERE expires_at < ?"


class SqlChallengeStore:
    """The verifier's `ChallengeStore` over the store (in the caller's `Database.unit()`)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._record, self._used_at = db.sql(_RECORD), db.sql(_USED_AT)
        self._purge = db.sql(_PURGE)

    def record_use(
        self, challenge_id: bytes, used_at: datetime, expires_at: datetime
    ) -> datetime | None:
        """Record the use; the earlier use's time on a replay (None: first use)."""
        db = self._db
        expiry = _micros(expires_at)
        if db.count(self._record, (expiry, challenge_id, _micros(used_at))) == 1:
            return None
        row = db.one(self._used_at, (expiry, challenge_id))
        # No row: purged in between, which only happens once it expired; still a second use.
        return used_at if row is None else _EPOCH + row[0] * _MICROSECOND

    def purge(self, expired_before: datetime) -> int:
        """Forget uses of challenges that expired before that time; return how many."""
        return self._db.count(self._purge, (_micros(expired_before),))


def _micros(at: datetime) -> int:
    """Microseconds since the Unix epoch, as the table stores times."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass a UTC-aware one")
    return (at - _EPOCH) // _MICROSECOND

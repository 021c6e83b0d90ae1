"""Challenges: stored before they are handed out, taken once, atomically."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from kiosk.store.engine import Database
from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.models import ChallengeRow
from kiosk.verify.ports import IssuedChallenge, TakenChallenge

_t = ChallengeRow.__table__
_ADD = (
    "INSERT INTO challenges (nonce, provider_id, terminal_id, issued_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
# UPDATE … WHERE used_at IS NULL … RETURNING: of two concurrent takers exactly one gets the row
# (PostgreSQL re-checks the condition after the first commits; SQLite runs writers one by one).
_TAKE = (
    "UPDATE challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL "
    "RETURNING provider_id, terminal_id, issued_at, expires_at"
)
_GET = (
    "SELECT provider_id, terminal_id, issued_at, expires_at, used_at FROM challenges "
    "WHERE nonce = ?"
)


class SqlChallengeStore:
    """The verifier's `ChallengeStore` over the store."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._add, self._take, self._get = db.sql(_ADD), db.sql(_TAKE), db.sql(_GET)

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge (committed before it is handed out)."""
        db = self._db
        try:
            db.one(
                self._add,
                (
                    challenge.nonce,
                    challenge.provider_id,
                    challenge.terminal_id,
                    db.bind_time(challenge.issued_at),
                    db.bind_time(challenge.expires_at),
                ),
            )
        except DuplicateKey as e:
            raise StoreError("this challenge was already issued") from e

    def take(self, nonce: bytes, used_at: datetime) -> TakenChallenge | None:
        """Mark the challenge used, atomically; None when the nonce was never issued."""
        # No transaction needed: the UPDATE is atomic on its own, and used_at, once set, never
        # changes, so the SELECT after a lost race reads the winner's time.
        db = self._db
        row = db.one(self._take, (db.bind_time(used_at), nonce))
        previous = None
        if row is None:
            row = db.one(self._get, (nonce,))
            if row is None:
                return None
            previous = db.read_time(row[4])
        provider_id, terminal_id, issued_at, expires_at = row[:4]
        challenge = IssuedChallenge(
            nonce, provider_id, terminal_id, db.read_time(issued_at), db.read_time(expires_at)
        )
        return TakenChallenge(challenge, previous)

    def purge(self, expired_before: datetime) -> int:
        """Delete challenges that expired before the given time; return how many."""
        with self._db.engine.begin() as conn:
            return conn.execute(delete(_t).where(_t.c.expires_at < expired_before)).rowcount

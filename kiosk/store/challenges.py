"""Challenges: stored before they are handed out, taken once, atomically."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import ChallengeRow
from kiosk.verify.ports import IssuedChallenge, TakenChallenge

_t = ChallengeRow.__table__
_COLUMNS = (_t.c.nonce, _t.c.provider_id, _t.c.terminal_id, _t.c.issued_at, _t.c.expires_at)
_ADD = insert(_t)
# UPDATE … WHERE used_at IS NULL … RETURNING: of two concurrent takers exactly one gets the row
# (PostgreSQL re-checks the condition after the first commits; SQLite runs writers one by one).
_TAKE = (
    update(_t)
    .where(_t.c.nonce == bindparam("n"), _t.c.used_at.is_(None))
    .values(used_at=bindparam("used_at"))
    .returning(*_COLUMNS)
)
_GET = select(*_COLUMNS, _t.c.used_at).where(_t.c.nonce == bindparam("n"))


def _challenge(row: object) -> IssuedChallenge:
    nonce, provider_id, terminal_id, issued_at, expires_at = tuple(row)[:5]  # type: ignore[call-overload]
    return IssuedChallenge(bytes(nonce), provider_id, terminal_id, issued_at, expires_at)


class SqlChallengeStore:
    """The verifier's `ChallengeStore` over the store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, challenge: IssuedChallenge) -> None:
        """Store a newly issued challenge (committed before it is handed out)."""
        try:
            with self._db.autocommit.connect() as conn:
                conn.execute(
                    _ADD,
                    {
                        "nonce": challenge.nonce,
                        "provider_id": challenge.provider_id,
                        "terminal_id": challenge.terminal_id,
                        "issued_at": challenge.issued_at,
                        "expires_at": challenge.expires_at,
                        "used_at": None,
                    },
                )
        except IntegrityError as e:
            raise StoreError("this challenge was already issued") from e

    def take(self, nonce: bytes, used_at: datetime) -> TakenChallenge | None:
        """Mark the challenge used, atomically; None when the nonce was never issued."""
        # No transaction needed: the UPDATE is atomic on its own, and used_at, once set, never
        # changes, so the SELECT after a lost race reads the winner's time.
        with self._db.autocommit.connect() as conn:
            row = conn.execute(_TAKE, {"n": nonce, "used_at": used_at}).first()
            if row is not None:
                return TakenChallenge(_challenge(row), None)
            row = conn.execute(_GET, {"n": nonce}).first()
        if row is None:
            return None
        return TakenChallenge(_challenge(row), row.used_at)

    def purge(self, expired_before: datetime) -> int:
        """Delete challenges that expired before the given time; return how many."""
        with self._db.engine.begin() as conn:
            return conn.execute(delete(_t).where(_t.c.expires_at < expired_before)).rowcount

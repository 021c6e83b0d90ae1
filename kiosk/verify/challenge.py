"""Challenges: 32 random bytes, single use, bound to one provider's terminal, short-lived."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

from kiosk.verify.ports import ChallengeStore, IssuedChallenge
from kiosk.verify.verdict import Reason, Refused

NONCE_BYTES = 32


class ChallengeService:
    """Issues challenges and redeems each one at most once, for the terminal that asked."""

    def __init__(
        self,
        store: ChallengeStore,
        ttl_s: int = 120,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._store = store
        self._ttl = timedelta(seconds=ttl_s)
        self._random = random

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        """Make, store and return a fresh challenge for that provider's terminal."""
        nonce = self._random(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("the random source returned the wrong number of bytes")
        challenge = IssuedChallenge(nonce, provider_id, terminal_id, now, now + self._ttl)
        self._store.add(challenge)
        return challenge

    def redeem(
        self, nonce: bytes, provider_id: str, terminal_id: str, now: datetime
    ) -> IssuedChallenge:
        """Use up the challenge, or raise Refused (unknown, replayed, foreign or expired)."""
        taken = self._store.take(nonce, now)
        if taken is None:
            raise Refused(Reason.CHALLENGE_UNKNOWN, "This challenge was never issued.")
        if taken.previously_used_at is not None:
            raise Refused(Reason.CHALLENGE_REPLAYED, "This challenge has already been used.")
        challenge = taken.challenge
        if (challenge.provider_id, challenge.terminal_id) != (provider_id, terminal_id):
            raise Refused(
                Reason.CHALLENGE_FOREIGN, "This challenge was issued to another terminal."
            )
        if now >= challenge.expires_at:
            raise Refused(Reason.CHALLENGE_EXPIRED, "This challenge has expired.")
        return challenge

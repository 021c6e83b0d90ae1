"""Challenges: stateless, self-authenticating tokens, single use, bound to one terminal.

A challenge is `version ‖ 32 random bytes ‖ expiry ‖ issued tag ‖ bound tag` (73 bytes, see
docs/proof-format.md §1). Both tags are HMAC-SHA-256 under the service's key, cut to 16 bytes:
the issued tag covers version, random bytes and expiry (so a token we did not make is
`challenge_unknown`); the bound tag also covers the provider and terminal it was issued to (so a
token of ours presented elsewhere is `challenge_foreign`). Issuing stores nothing; redeeming
records the *use* (keyed by the random bytes), so a second use is `challenge_replayed`.
"""

from __future__ import annotations

import hmac
import itertools
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from kiosk.verify.ports import ChallengeStore, IssuedChallenge
from kiosk.verify.verdict import Reason, Refused

NONCE_BYTES = 32  # the random part of a challenge
KEY_BYTES = 32
VERSION = 1
TAG_BYTES = 16
_EXPIRY_BYTES = 8  # microseconds since the Unix epoch, big-endian
_BODY = 1 + NONCE_BYTES + _EXPIRY_BYTES
TOKEN_BYTES = _BODY + 2 * TAG_BYTES
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ISSUED, _BOUND = b"jpki-kiosk/challenge-issued\x00", b"jpki-kiosk/challenge-bound\x00"


def _origin(provider_id: str, terminal_id: str) -> bytes:
    """Provider and terminal as the bound tag covers them: each a 4-byte length and UTF-8."""
    provider, terminal = provider_id.encode("utf-8"), terminal_id.encode("utf-8")
    return len(provider).to_bytes(4, "big") + provider + len(terminal).to_bytes(4, "big") + terminal


def _tag(mac: hmac.HMAC, message: bytes) -> bytes:
    mac = mac.copy()  # the key and the tag's label are absorbed already
    mac.update(message)
    return mac.digest()[:TAG_BYTES]


class ChallengeService:
    """Issues challenges and redeems each one at most once, for the terminal that asked."""

    def __init__(
        self,
        store: ChallengeStore,
        ttl_s: int = 120,
        random: Callable[[int], bytes] = os.urandom,
        keys: Sequence[bytes] | None = None,
        purge_every: int = 1000,
    ) -> None:
        """`keys`: HMAC keys, the first signs, all are accepted (rotation); None: one made
        from `random`, good for this process only. Every `purge_every` redeems, uses of
        challenges that expired more than a ttl ago are forgotten."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if purge_every <= 0:
            raise ValueError("purge_every must be positive")
        keys = [random(KEY_BYTES)] if keys is None else list(keys)
        if not keys or any(len(k) < KEY_BYTES for k in keys):
            raise ValueError(f"challenge keys must be at least {KEY_BYTES} bytes")
        self._store = store
        self._ttl = timedelta(seconds=ttl_s)
        self._random = random
        self._macs = [
            (hmac.new(key, _ISSUED, "sha256"), hmac.new(key, _BOUND, "sha256")) for key in keys
        ]
        self._purge_every = purge_every
        self._redeemed = itertools.count(1)

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        """Make a fresh challenge for that provider's terminal (nothing is stored)."""
        nonce = self._random(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("the random source returned the wrong number of bytes")
        expires_at = now + self._ttl
        micros = (expires_at - _EPOCH) // _MICROSECOND
        body = bytes([VERSION]) + nonce + micros.to_bytes(_EXPIRY_BYTES, "big")
        issued_mac, bound_mac = self._macs[0]
        token = (
            body
            + _tag(issued_mac, body)
            + _tag(bound_mac, body + _origin(provider_id, terminal_id))
        )
        return IssuedChallenge(token, provider_id, terminal_id, now, expires_at)

    def redeem(
        self, nonce: bytes, provider_id: str, terminal_id: str, now: datetime
    ) -> IssuedChallenge:
        """Use up the challenge, or raise Refused (unknown, foreign, expired or replayed).

        Checked in that order; only a challenge that is ours, for this terminal and not
        expired is recorded as used (so a foreign attempt does not spoil it for its terminal).
        `issued_at` of the result is its expiry minus this service's ttl."""
        body = nonce[:_BODY]
        if len(nonce) != TOKEN_BYTES or nonce[0] != VERSION:
            raise Refused(Reason.CHALLENGE_UNKNOWN, "This challenge was never issued.")
        issued_tag, bound_tag = nonce[_BODY : _BODY + TAG_BYTES], nonce[_BODY + TAG_BYTES :]
        macs = next(
            (m for m in self._macs if hmac.compare_digest(_tag(m[0], body), issued_tag)), None
        )
        if macs is None:
            raise Refused(Reason.CHALLENGE_UNKNOWN, "This challenge was never issued.")
        bound = _tag(macs[1], body + _origin(provider_id, terminal_id))
        if not hmac.compare_digest(bound, bound_tag):
            raise Refused(
                Reason.CHALLENGE_FOREIGN, "This challenge was issued to another terminal."
            )
        micros = int.from_bytes(body[1 + NONCE_BYTES :], "big")
        expires_at = _EPOCH + micros * _MICROSECOND
        if now >= expires_at:
            raise Refused(Reason.CHALLENGE_EXPIRED, "This challenge has expired.")
        if next(self._redeemed) % self._purge_every == 0:
            self.purge(now)
        if self._store.record_use(body[1 : 1 + NONCE_BYTES], now, expires_at) is not None:
            raise Refused(Reason.CHALLENGE_REPLAYED, "This challenge has already been used.")
        return IssuedChallenge(nonce, provider_id, terminal_id, expires_at - self._ttl, expires_at)

    def purge(self, now: datetime) -> int:
        """Forget uses of challenges that expired more than a ttl before `now`; how many.

        An expired challenge is refused before its use is looked up, so forgetting is safe;
        the ttl of slack covers clocks of several workers that disagree by less than that."""
        return self._store.purge(now - self._ttl)

"""Challenges: stateless, self-authenticating tokens, single use, bound to one terminal.

A challenge is `version ‖ 32 random bytes ‖ expiry ‖ issued tag ‖ bound tag` (73 bytes, see
docs/proof-format.md §1). Both tags are 16-byte keyed BLAKE2s (RFC 7693's MAC mode) under the
service's 32-byte key, each with its own personalisation:
the issued tag covers version, random bytes and expiry (so a token we did not make is
`challenge_unknown`); the bound tag also covers the provider and terminal it was issued to (so a
token of ours presented elsewhere is `challenge_foreign`). Issuing stores nothing; `check`
stores nothing either and hands back a `ChallengeClaim`: the verifier records its verdict with
it (`VerificationStore.record`, keyed by expiry and random bytes), so a challenge is used up by
exactly one recorded verdict and a second use is `challenge_replayed`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from kiosk.verify.ports import ChallengeClaim, IssuedChallenge
from kiosk.verify.verdict import Reason, Refused

NONCE_BYTES = 32  # the random part of a challenge
KEY_BYTES = 32
VERSION = 2  # 1 had HMAC-SHA-256 tags
TAG_BYTES = 16
_EXPIRY_BYTES = 8  # microseconds since the Unix epoch, big-endian
_BODY = 1 + NONCE_BYTES + _EXPIRY_BYTES
TOKEN_BYTES = _BODY + 2 * TAG_BYTES
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_ORIGINS_KEPT = 4096  # (provider, terminal) pairs whose encoding is remembered
#: BLAKE2s personalisations (8 bytes) of the two tags, so neither can stand for the other.
_ISSUED, _BOUND = b"jk-issue", b"jk-bound"


def _origin(provider_id: str, terminal_id: str) -> bytes:
    """Provider and terminal as the bound tag covers them: each a 4-byte length and UTF-8."""
    provider, terminal = provider_id.encode("utf-8"), terminal_id.encode("utf-8")
    return len(provider).to_bytes(4, "big") + provider + len(terminal).to_bytes(4, "big") + terminal


#: What a provider or terminal id may look like (they are recorded with every verdict).
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _mac(key: bytes, person: bytes) -> hashlib.blake2s:
    return hashlib.blake2s(key=key, digest_size=TAG_BYTES, person=person)


def _tag(mac: hashlib.blake2s, message: bytes) -> bytes:
    """A 16-byte keyed BLAKE2s tag (RFC 7693 keyed mode, a MAC), from a prepared state."""
    mac = mac.copy()  # the key and the personalisation are absorbed already
    mac.update(message)
    return mac.digest()


class ChallengeService:
    """Issues challenges and checks them for the terminal that asked (stateless)."""

    def __init__(
        self,
        ttl_s: int = 120,
        random: Callable[[int], bytes] = os.urandom,
        keys: Sequence[bytes] | None = None,
    ) -> None:
        """`keys`: 32-byte MAC keys, the first signs, all are accepted (rotation); None: one made
        from `random`, good for this process only."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        keys = [random(KEY_BYTES)] if keys is None else list(keys)
        if not keys or any(len(k) != KEY_BYTES for k in keys):
            raise ValueError(f"challenge keys must be {KEY_BYTES} bytes")
        self._ttl = timedelta(seconds=ttl_s)
        self._random = random
        self._macs = [(_mac(key, _ISSUED), _mac(key, _BOUND)) for key in keys]
        self._origins: dict[tuple[str, str], bytes] = {}

    def _origin(self, provider_id: str, terminal_id: str) -> bytes:
        """The ids' encoding, remembered for the ids this service issues to (bounded)."""
        if len(self._origins) >= _ORIGINS_KEPT:
            self._origins.clear()
        origin = self._origins[(provider_id, terminal_id)] = _origin(provider_id, terminal_id)
        return origin

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        """Make a fresh challenge for that provider's terminal (nothing is stored).

        The ids must be identifiers (ValueError otherwise): a verdict records them."""
        origin = self._origins.get((provider_id, terminal_id))
        if origin is None:
            if (
                IDENTIFIER.fullmatch(provider_id) is None
                or IDENTIFIER.fullmatch(terminal_id) is None
            ):
                raise ValueError("provider and terminal ids must be short identifiers")
            origin = self._origin(provider_id, terminal_id)
        nonce = self._random(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("the random source returned the wrong number of bytes")
        expires_at = now + self._ttl
        micros = (expires_at - _EPOCH) // _MICROSECOND
        body = bytes([VERSION]) + nonce + micros.to_bytes(_EXPIRY_BYTES, "big")
        issued_mac, bound_mac = self._macs[0]
        token = body + _tag(issued_mac, body) + _tag(bound_mac, body + origin)
        return IssuedChallenge(token, provider_id, terminal_id, now, expires_at)

    def check(
        self, nonce: bytes, provider_id: str, terminal_id: str, now: datetime
    ) -> ChallengeClaim:
        """The claim on a challenge that is ours, for this terminal and not expired; else
        raise Refused (unknown, foreign or expired, checked in that order).

        Whether it was used before is the store's answer when the verdict is recorded, so a
        foreign or expired attempt never spoils a challenge for its own terminal."""
        body = nonce[:_BODY]
        if len(nonce) != TOKEN_BYTES or nonce[0] != VERSION:
            raise Refused(Reason.CHALLENGE_UNKNOWN, "This challenge was never issued.")
        issued_tag, bound_tag = nonce[_BODY : _BODY + TAG_BYTES], nonce[_BODY + TAG_BYTES :]
        for issued_mac, bound_mac in self._macs:  # noqa: B007 (bound_mac is used below)
            if hmac.compare_digest(_tag(issued_mac, body), issued_tag):
                break
        else:
            raise Refused(Reason.CHALLENGE_UNKNOWN, "This challenge was never issued.")
        origin = self._origins.get((provider_id, terminal_id))
        if origin is None:
            origin = _origin(provider_id, terminal_id)  # not remembered: it may be anything
        if not hmac.compare_digest(_tag(bound_mac, body + origin), bound_tag):
            raise Refused(
                Reason.CHALLENGE_FOREIGN, "This challenge was issued to another terminal."
            )
        micros = int.from_bytes(body[1 + NONCE_BYTES :], "big")
        if (now - _EPOCH) // _MICROSECOND >= micros:
            raise Refused(Reason.CHALLENGE_EXPIRED, "This challenge has expired.")
        return ChallengeClaim(body[1 : 1 + NONCE_BYTES], micros)


def expiry_of(claim: ChallengeClaim) -> datetime:
    """A claim's expiry as a UTC datetime."""
    return _EPOCH + claim.expires_us * _MICROSECOND

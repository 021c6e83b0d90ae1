"""Who is calling: a terminal's credential, or a provider's own token.

Two kinds of bearer token reach the platform:

- a **terminal credential** (kiosk.store.credentials): it names one kiosk terminal and the
  providers that kiosk may act for (a clinic's kiosk that also takes payments acts for two).
  It is issued, rotated and revoked by the operator (`kiosk platform credential`, the
  console) while the platform runs;
- a **provider's own token** (`[platform_tokens]`: provider id -> SHA-256): it speaks for
  that provider and any of its terminals. Peer platforms relay with these.

The request boundary (kiosk.platform.edge) asks `Callers` who the token is before it reads a
body, and each route checks that the body's provider and terminal are the caller's
(`may_act`): 403 `provider_not_allowed` or `terminal_not_allowed`. An unknown token is 401
`unauthorized`, a revoked credential 401 `credential_revoked`, a credential over its allowance
429 `rate_limited` with Retry-After (kiosk.platform.ratelimit).

This runs on every request, so a credential is looked up in memory: the store is asked (one
statement, `Database.one()`) only when a token's digest is not cached or its entry is older
than `cache_s` (2 s by default). A revocation or rotation made elsewhere (the CLI, another
worker) takes effect within that time; one made through `Callers.revoke`/`rotate` takes effect
at once in this process. Provider tokens' digests are compared in constant time, every one of
them, so the time of an answer says nothing about those tokens. No token is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kiosk.platform.edge import ApiError, noted_caller

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.platform.ratelimit import TokenBuckets
    from kiosk.store.credentials import TerminalCredential, TerminalCredentials
    from kiosk.store.engine import Database

log = logging.getLogger(__name__)

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
#: Seconds a looked-up credential (or an unknown token) is trusted without asking the store.
DEFAULT_CACHE_S = 2.0
#: Token digests kept at most; beyond it the least recently looked up go.
MAX_CACHED = 100_000

#: Declares the bearer scheme in the OpenAPI schema (the boundary has checked the token).
_bearer = HTTPBearer(
    auto_error=False, description="the terminal's credential or the provider's bearer token"
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request's bearer token speaks for."""

    #: The credential id ("tc-…") or, for a provider's own token, the provider id: safe to log.
    who: str
    #: The providers it may act for.
    providers: frozenset[str]
    #: The one terminal it may act as; None for a provider's own token (any of its terminals).
    terminal_id: str | None = None

    def may_act(self, provider_id: str, terminal_id: str) -> None:
        """ApiError 403 unless the body's provider and terminal are this caller's."""
        if provider_id not in self.providers:
            raise ApiError(
                403,
                "provider_not_allowed",
                "The bearer token may not act for the provider the body names.",
            )
        if self.terminal_id is not None and not hmac.compare_digest(
            self.terminal_id.encode("utf-8"), terminal_id.encode("utf-8", "surrogatepass")
        ):
            raise ApiError(
                403,
                "terminal_not_allowed",
                "The bearer token belongs to another terminal than the one the body names.",
            )


@dataclass(frozen=True, slots=True)
class _Cached:
    """A token digest's answer from the store, and when (monotonic seconds) it was asked:
    the caller its credential makes (built once, not per request), or None when unknown."""

    at: float
    caller: Caller | None
    revoked: bool = False


def _cached(at: float, credential: TerminalCredential | None) -> _Cached:
    """A lookup's answer as the cache keeps it."""
    if credential is None:
        return _Cached(at, None)
    caller = Caller(
        credential.credential_id, frozenset(credential.providers), credential.terminal_id
    )
    return _Cached(at, caller, revoked=credential.revoked_at is not None)


class Callers:
    """Who a bearer token speaks for (the boundary's `ProviderOf`): a provider's own token,
    else a terminal credential from the store, cached for `cache_s` seconds of `ticks`."""

    def __init__(
        self,
        tokens: Mapping[str, str],
        credentials: TerminalCredentials | None = None,
        *,
        limits: TokenBuckets | None = None,
        cache_s: float = DEFAULT_CACHE_S,
        ticks: Callable[[], float] = time.monotonic,
        max_cached: int = MAX_CACHED,
    ) -> None:
        self._digests = [
            (bytes.fromhex(h), Caller(provider, frozenset((provider,))))
            for provider, h in tokens.items()
        ]
        if len({d for d, _ in self._digests}) != len(self._digests):
            raise ValueError("each provider needs its own token")  # it would speak for both
        self._credentials = credentials
        self._limits = limits
        self._cache_s = cache_s
        self._ticks = ticks
        self._max = max_cached
        self._cache: dict[bytes, _Cached] = {}
        self._lock = threading.Lock()  # held for dict operations only, never for the store

    def __call__(self, authorization: str | None) -> Caller:
        """The caller the header's bearer token speaks for; else ApiError 401 (no token, an
        unknown one, a revoked credential) or 429 (a credential over its allowance)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "A bearer token is required.", _UNAUTHORIZED)
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found = None
        for expected, provider in self._digests:  # every one, so timing says nothing
            if hmac.compare_digest(digest, expected):
                found = provider
        if found is not None:
            return found
        known = self._looked_up(digest)
        if known.caller is None:
            raise ApiError(401, "unauthorized", "The bearer token is not known.", _UNAUTHORIZED)
        if known.revoked:
            raise ApiError(
                401,
                "credential_revoked",
                "This terminal's credential has been revoked.",
                _UNAUTHORIZED,
            )
        self._within_allowance(known.caller.who)
        return known.caller

    def revoke(self, credential_id: str, now: datetime) -> bool:
        """Revoke a credential in the store and refuse it here at once (other processes
        within `cache_s`); False when it is unknown or revoked already."""
        revoked = self._store().revoke(credential_id, now)
        self.forget(credential_id)
        return revoked

    def rotate(self, credential_id: str, now: datetime) -> tuple[TerminalCredential, str]:
        """A new token for a credential (the store's `rotate`); the old one is refused here
        at once (in other processes within `cache_s`)."""
        rotated = self._store().rotate(credential_id, now)
        self.forget(credential_id)
        return rotated

    def forget(self, credential_id: str) -> None:
        """Drop what is cached about a credential: its next request asks the store."""
        with self._lock:
            stale = [
                digest
                for digest, cached in self._cache.items()
                if cached.caller is not None and cached.caller.who == credential_id
            ]
            for digest in stale:
                del self._cache[digest]

    def _store(self) -> TerminalCredentials:
        if self._credentials is None:
            raise RuntimeError("this platform has no terminal credentials store")
        return self._credentials

    def _looked_up(self, digest: bytes) -> _Cached:
        """What the store says about this token digest, from the cache while it is fresh,
        else asked again (an unknown digest is cached too: a flood of made-up tokens costs
        the store one lookup each per `cache_s`, and the cache keeps at most MAX_CACHED)."""
        now = self._ticks()
        if self._credentials is None:
            return _Cached(now, None)
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached.at < self._cache_s:
            return cached
        found = _cached(now, self._credentials.lookup(digest))  # StoreError: 503, fail closed
        with self._lock:
            self._cache.pop(digest, None)  # re-inserted last: the most recently asked
            self._cache[digest] = found
            while len(self._cache) > self._max:
                del self._cache[next(iter(self._cache))]
        return found

    def _within_allowance(self, credential_id: str) -> None:
        """ApiError 429 when the credential has used up its allowance for now."""
        if self._limits is None:
            return
        wait = self._limits.take(credential_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests from this terminal; try again in {seconds} s.",
                {"Retry-After": str(seconds)},
            )


async def caller(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Caller:
    """Who the (already checked) token speaks for. A route's `caller` parameter defaults to
    it so that the OpenAPI schema declares the bearer scheme; on a request the boundary
    (kiosk.platform.edge `_Call`) hands the caller in itself, and FastAPI never calls this."""
    return cast(Caller, noted_caller(request))


#: The routes' parameter default: `caller: auth.Caller = auth.CALLER`.
CALLER: Caller = Depends(caller)


def may_act(caller: Caller, provider_id: str, terminal_id: str) -> None:
    """ApiError 403 unless the caller may act for this provider as this terminal."""
    caller.may_act(provider_id, terminal_id)


def callers_from_config(cfg: Config, db: Database) -> Callers:
    """The platform's callers: the provider tokens of `[platform_tokens]`, the terminal
    credentials in the store, their allowance (`[platform_limits]`) and how long a lookup is
    trusted (`platform_credential_cache_s`)."""
    from kiosk.platform.ratelimit import TokenBuckets
    from kiosk.store.credentials import TerminalCredentials

    return Callers(
        cfg.platform_tokens,
        TerminalCredentials(db),
        limits=TokenBuckets(cfg.platform_limits.per_s, cfg.platform_limits.burst),
        cache_s=float(cfg.platform_credential_cache_s),
    )

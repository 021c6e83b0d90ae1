"""TEST adapter of the login service: login codes in memory, and the demo's service."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.services.login import (
    CODE_DIGITS,
    CODE_TTL,
    LoginCodeExpired,
    LoginCodeUnknown,
    LoginCodeUsed,
    LoginService,
    LoginTicket,
    LoginUnavailable,
    normalise_code,
)


@dataclass(slots=True)
class _Issued:
    account_ref: str
    expires_at: datetime
    used: bool = False


class MemoryLoginSessions:
    """TEST adapter: login codes in memory (tests and the demo; no real online service).

    Codes come from `secrets` unless a `randbelow` is injected (tests). A new code for an
    account supersedes that account's earlier unused one. `reachable = False` makes every call
    raise LoginUnavailable, as an unreachable provider would.
    """

    def __init__(
        self,
        ttl: timedelta = CODE_TTL,
        digits: int = CODE_DIGITS,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        if digits < 6:
            raise ValueError("a login code needs at least 6 digits")
        self.ttl = ttl
        self.digits = digits
        self.reachable = True
        self._randbelow = randbelow
        self._issued: dict[tuple[str, str], _Issued] = {}

    def _check_reachable(self) -> None:
        if not self.reachable:
            raise LoginUnavailable("the login service cannot be reached")

    def start(self, provider_id: str, account_ref: str, now: datetime) -> LoginTicket:
        """A fresh code for the account (any earlier unused code of the account is dropped)."""
        self._check_reachable()
        self._forget_old(now)
        for key, issued in list(self._issued.items()):
            if key[0] == provider_id and issued.account_ref == account_ref and not issued.used:
                del self._issued[key]
        for _ in range(100):
            code = f"{self._randbelow(10**self.digits):0{self.digits}d}"
            if (provider_id, code) not in self._issued:  # never reissue a remembered code
                break
        else:
            raise LoginUnavailable("no free login code could be drawn")
        expires_at = now + self.ttl
        self._issued[(provider_id, code)] = _Issued(account_ref, expires_at)
        return LoginTicket(code, expires_at)

    def redeem(self, provider_id: str, code: str, now: datetime) -> str:
        """The account the code signs in to; the code cannot be used again."""
        self._check_reachable()
        issued = self._issued.get((provider_id, normalise_code(code)))
        if issued is None:
            raise LoginCodeUnknown("this login code is not known")
        if issued.used:
            raise LoginCodeUsed("this login code has already been used")
        if now >= issued.expires_at:
            raise LoginCodeExpired("this login code has expired")
        issued.used = True
        return issued.account_ref

    def live_codes(self, provider_id: str, now: datetime) -> int:
        """How many codes of that provider could still be redeemed (tests)."""
        return sum(
            1
            for (pid, _), issued in self._issued.items()
            if pid == provider_id and not issued.used and now < issued.expires_at
        )

    def _forget_old(self, now: datetime) -> None:
        """Drop codes expired for a day (kept that long only to answer 'expired')."""
        horizon = now - timedelta(days=1)
        for key in [k for k, v in self._issued.items() if v.expires_at < horizon]:
            del self._issued[key]


def demo_login_service() -> LoginService:
    """The login service over its TEST in-memory adapter (tests and the demo)."""
    return LoginService(MemoryLoginSessions())

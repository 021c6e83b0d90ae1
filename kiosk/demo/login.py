"""TEST adapter of the login broker: the OpenID Provider's waiting sign-ins in memory, and
the demo's login service over it.

`MemoryLoginBroker.open` plays the online service sending a person's browser to the
provider's authorization page: it returns the binding code that page would show. The kiosk's
login service then asks what the code stands for and approves it, as it does with the real
provider (kiosk.oidc, or the platform over HTTP). Nothing here is a real online service.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.clock import utc_now
from kiosk.services.login import LoginService
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingUnknown,
    BindingUsed,
    LinkRefused,
    LoginUnavailable,
    PendingLogin,
)

#: How long a binding code waits for a kiosk, and how many digits it has.
CODE_TTL = timedelta(minutes=5)
CODE_DIGITS = 8
#: Wrong codes a terminal may type before it must wait, and how long.
MAX_WRONG = 5
LOCKOUT = timedelta(seconds=60)
#: The demo's terminal (kiosk.app's default).
DEMO_TERMINAL = "kiosk-1"


@dataclass(frozen=True, slots=True)
class Approval:
    """What the online service learns from an approved sign-in (tests read it)."""

    client_id: str
    provider_id: str
    terminal_id: str
    account_ref: str
    auth_time: datetime
    approved_at: datetime


@dataclass(slots=True)
class _Waiting:
    pending: PendingLogin
    providers: frozenset[str]
    expires_at: datetime
    approval: Approval | None = None


@dataclass(slots=True)
class _Terminal:
    wrong: int = 0
    locked_until: datetime | None = None


class MemoryLoginBroker:
    """TEST, in memory: sign-ins waiting under binding codes, approved once at a kiosk.

    Codes come from `secrets` unless a `randbelow` is injected (tests). A terminal that types
    `max_wrong` unknown codes waits `lockout` before the next one is looked at (a right code
    included, as at a real provider). `reachable = False` makes every call raise
    LoginUnavailable; an account in `refused_accounts` has a link that cannot sign in."""

    def __init__(
        self,
        ttl: timedelta = CODE_TTL,
        max_wrong: int = MAX_WRONG,
        lockout: timedelta = LOCKOUT,
        clock: Callable[[], datetime] = utc_now,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self.ttl = ttl
        self.max_wrong = max_wrong
        self.lockout = lockout
        self.reachable = True
        self.refused_accounts: set[str] = set()
        self._clock = clock
        self._randbelow = randbelow
        self._waiting: dict[str, _Waiting] = {}
        self._terminals: dict[str, _Terminal] = {}
        self._opened = 0

    def open(
        self,
        client_name: str,
        providers: Iterable[str],
        *,
        client_id: str = "",
        claims: tuple[str, ...] = (),
        now: datetime | None = None,
    ) -> str:
        """An online service's sign-in, waiting for a kiosk of one of `providers`: the
        binding code its authorization page shows."""
        now = now or self._clock()
        self._opened += 1
        for _ in range(100):
            code = f"{self._randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            if code not in self._waiting:  # never reissue a remembered code
                break
        else:
            raise LoginUnavailable("no free binding code could be drawn")
        pending = PendingLogin(
            login_id=f"test-login-{self._opened}",
            client_id=client_id or f"test-client-{self._opened}",
            client_name=client_name,
            claims=claims,
            expires_at=now + self.ttl,
        )
        self._waiting[code] = _Waiting(pending, frozenset(providers), now + self.ttl)
        return code

    def pending(
        self, provider_id: str, terminal_id: str, binding_code: str, now: datetime
    ) -> PendingLogin:
        """The sign-in waiting under this code for a service of this provider."""
        self._check_reachable()
        terminal = self._terminals.setdefault(terminal_id, _Terminal())
        if terminal.locked_until is not None and now < terminal.locked_until:
            wait = math.ceil((terminal.locked_until - now).total_seconds())
            raise BindingRateLimited("too many wrong codes at this terminal", wait)
        waiting = self._waiting.get(_digits(binding_code))
        if waiting is None:
            self._wrong(terminal, now)
            raise BindingUnknown("no sign-in waits with this code")
        self._usable(waiting, provider_id, now)
        return waiting.pending

    def approve(
        self,
        pending: PendingLogin,
        provider_id: str,
        terminal_id: str,
        account_ref: str,
        auth_time: datetime,
        now: datetime,
    ) -> None:
        """The card holder agreed: the sign-in is answered for `account_ref`, once."""
        self._check_reachable()
        waiting = next(
            (w for w in self._waiting.values() if w.pending.login_id == pending.login_id), None
        )
        if waiting is None:
            raise BindingUnknown("no such sign-in")
        self._usable(waiting, provider_id, now)
        if account_ref in self.refused_accounts:
            raise LinkRefused("the link cannot sign in")
        waiting.approval = Approval(
            pending.client_id, provider_id, terminal_id, account_ref, auth_time, now
        )

    def approval(self, binding_code: str) -> Approval | None:
        """The approval of the sign-in opened with this code, if made (the online service's
        side: tests and the demo)."""
        waiting = self._waiting.get(_digits(binding_code))
        return None if waiting is None else waiting.approval

    @property
    def approvals(self) -> tuple[Approval, ...]:
        """Every approval made, in no particular order (tests)."""
        return tuple(w.approval for w in self._waiting.values() if w.approval is not None)

    def _check_reachable(self) -> None:
        if not self.reachable:
            raise LoginUnavailable("the provider cannot be reached")

    def _usable(self, waiting: _Waiting, provider_id: str, now: datetime) -> None:
        if waiting.approval is not None:
            raise BindingUsed("this code has been used")
        if now >= waiting.expires_at:
            raise BindingExpired("this code has expired")
        if provider_id not in waiting.providers:
            raise BindingOtherProvider("the service does not sign in through this provider")

    def _wrong(self, terminal: _Terminal, now: datetime) -> None:
        terminal.wrong += 1
        if terminal.wrong >= self.max_wrong:
            terminal.wrong, terminal.locked_until = 0, now + self.lockout


def _digits(code: str) -> str:
    """A code as typed, without the spaces and hyphens between its groups."""
    return "".join(c for c in code if c not in " -\u3000")


def demo_login_service(
    broker: MemoryLoginBroker | None = None, terminal_id: str = DEMO_TERMINAL
) -> LoginService:
    """The login service over the TEST in-memory broker (tests and the demo)."""
    return LoginService(broker or MemoryLoginBroker(), terminal_id)

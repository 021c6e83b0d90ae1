"""The port between the kiosk's login service and the OpenID Provider (issue 13).

An online service sends the person's browser to the provider's authorization page, which shows
a short one-time **binding code**. At the kiosk the person picks ログイン, proves with the card
and PIN, and types the code: the login service asks the broker what the code stands for
(`pending`: which online service, what it will receive) and shows it before the person agrees;
on agreement it `approve`s the login for the account linked to the card, and the waiting
authorization page sends the browser back to the online service with its authorization code.

Adapters: the platform's HTTP API (kiosk.platform.client), and the provider in-process for a
single-box operator with local verification (kiosk.oidc). Codes are credentials: no message,
log line or repr carries one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from kiosk.errors import KioskError


class LoginError(KioskError):
    """Base of the broker's errors; messages never carry a binding code."""

    code = "login_error"


class LoginUnavailable(LoginError):
    """The provider (the platform) cannot be reached."""

    code = "login_unavailable"


class BindingRefused(LoginError):
    """A binding code the provider will not take (base of the refusals the screen says)."""

    code = "login_binding_refused"


class BindingUnknown(BindingRefused):
    """No authorization request waits with this code (mistyped, or never issued)."""

    code = "login_binding_unknown"


class BindingExpired(BindingRefused):
    """The code's few minutes are over: start again at the online service."""

    code = "login_binding_expired"


class BindingUsed(BindingRefused):
    """The code has been used already (a login is approved once)."""

    code = "login_binding_used"


class BindingOtherProvider(BindingRefused):
    """The online service does not sign people in through this kiosk's provider."""

    code = "login_binding_other_provider"


class BindingRateLimited(BindingRefused):
    """Too many wrong codes at this kiosk: wait a little before the next try."""

    code = "login_binding_rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LinkRefused(LoginError):
    """The card's link cannot sign in (revoked, or it must be made again by enrolment)."""

    code = "login_link_refused"


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What a binding code stands for, shown to the person before they agree."""

    login_id: str = field(repr=False)  # the broker's handle of the authorization request
    client_id: str
    client_name: str  # the online service as it is registered (shown on the screen)
    claims: tuple[str, ...] = ()  # what it will receive beyond the pairwise identifier
    expires_at: datetime | None = None


class LoginBroker(Protocol):
    """The OpenID Provider as the kiosk's login service uses it."""

    def pending(
        self, provider_id: str, terminal_id: str, binding_code: str, now: datetime
    ) -> PendingLogin:
        """The login waiting under this code for a service of this provider. Raises
        BindingUnknown, BindingExpired, BindingUsed, BindingOtherProvider,
        BindingRateLimited (a wrong code counts against the terminal) or LoginUnavailable."""
        ...

    def approve(
        self,
        pending: PendingLogin,
        provider_id: str,
        terminal_id: str,
        account_ref: str,
        auth_time: datetime,
        now: datetime,
    ) -> None:
        """The card holder of `account_ref` (the link at `provider_id`, proved with the card
        at `auth_time`) agreed: the authorization request may now be answered. Raises the
        binding refusals (it may have expired or been used meanwhile), LinkRefused or
        LoginUnavailable."""
        ...

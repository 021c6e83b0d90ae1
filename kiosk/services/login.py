"""The service ログイン (sign in online): a one-time login code for the linked account.

The person verifies with the card at the stand; the service asks the provider's online
service (the `LoginSessions` port) for a one-time login code for the account linked to the
card. The code is shown large on the result screen, valid a few minutes and good for one
sign-in: the person types it on their phone or computer (or the stand's own screen session
uses it). The provider redeems it (`LoginSessions.redeem`), which refuses an unknown, expired
or already used code.

A login must be the card holder's own: there is no staff-assisted path. The code is a
credential: it is never logged, and no error message or repr carries it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from kiosk.clock import JST, utc_now
from kiosk.errors import KioskError
from kiosk.i18n import Text
from kiosk.services.base import ConsentItem, ResultRow, ServiceContext, ServiceResult

log = logging.getLogger(__name__)

#: The consent item: signing in to the provider's online service as the linked account.
CONSENT_SIGN_IN = "sign_in"
#: How long a login code stays valid, and how many digits it has.
CODE_TTL = timedelta(minutes=5)
CODE_DIGITS = 8


class LoginError(KioskError):
    """Base of the login port's errors; messages never carry a login code."""

    code = "login_error"


class LoginUnavailable(LoginError):
    """The provider's login service cannot be reached."""

    code = "login_unavailable"


class LoginCodeRefused(LoginError):
    """A code the provider will not accept (base of the redeem errors)."""

    code = "login_code_refused"


class LoginCodeUnknown(LoginCodeRefused):
    """No such code was issued for this provider (or it was superseded by a newer one)."""

    code = "login_code_unknown"


class LoginCodeExpired(LoginCodeRefused):
    """The code was issued but its few minutes are over."""

    code = "login_code_expired"


class LoginCodeUsed(LoginCodeRefused):
    """The code has already been used to sign in once."""

    code = "login_code_used"


@dataclass(frozen=True, slots=True)
class LoginTicket:
    """A one-time login code and when it stops being valid (the code is kept out of repr)."""

    code: str = field(repr=False)
    expires_at: datetime


class LoginSessions(Protocol):
    """The provider's online-service login: the kiosk starts one, the provider redeems it."""

    def start(self, provider_id: str, account_ref: str, now: datetime) -> LoginTicket:
        """Issue a fresh one-time code for the account; raises LoginUnavailable."""
        ...

    def redeem(self, provider_id: str, code: str, now: datetime) -> str:
        """Use a code once: the account it signs in to. Raises LoginCodeUnknown,
        LoginCodeExpired, LoginCodeUsed, or LoginUnavailable."""
        ...


def normalise_code(typed: str) -> str:
    """A code as a person types it: spaces and hyphens dropped ("1234 5678" -> "12345678")."""
    return "".join(c for c in typed if c not in " -\u3000")


def display_code(code: str) -> str:
    """The code in groups of four, easier to read off the screen and type."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


_ASSISTED = ServiceResult(
    ok=False,
    title=Text(
        "係員による手続きではログインできません",
        "Sign-in is not available with staff assistance",
        "かかりの ひとの てつづきでは ログイン できません",
    ),
    message=Text(
        "ログインはカードをお持ちのご本人だけが行えます。"
        "ご本人がカードと暗証番号でお手続きください。",
        "Only the card holder can sign in. Please use your own card and PIN.",
        "ログインは カードの ほんにん だけが できます。"
        "ほんにんが カードと あんしょうばんごうで して ください。",
    ),
    assisted=True,
)

_NOT_CONSENTED = ServiceResult(
    ok=False,
    title=Text("ログインしませんでした", "You were not signed in", "ログイン しません でした"),
    message=Text(
        "ログインへの同意がなかったため、ログインコードは発行していません。",
        "No sign-in code was issued, because you did not agree to sign in.",
        "ログインに どういが なかったので ばんごうは だして いません。",
    ),
)

_UNAVAILABLE = ServiceResult(
    ok=False,
    title=Text(
        "ただいまログインコードを発行できません",
        "A sign-in code cannot be issued right now",
        "いま ログインの ばんごうを だせません",
    ),
    message=Text(
        "オンラインサービスに接続できませんでした。しばらくしてからもう一度お試しください。",
        "The online service could not be reached. Please try again later.",
        "サービスに つながりません。すこし まってから もういちど して ください。",
    ),
)


@dataclass(frozen=True, slots=True)
class LoginService:
    """ログイン: a one-time code to sign in to the online service as the linked account."""

    sessions: LoginSessions
    clock: Callable[[], datetime] = utc_now
    id: str = "login"
    title: Text = Text(
        "オンラインサービスへのログイン",
        "Sign in to the online service",
        "インターネットの サービスに ログイン",
    )
    description: Text = Text(
        "マイナンバーカードで本人確認して、スマートフォンやパソコンで使うログインコードを発行します",
        "Confirm who you are with your card and get a one-time code to sign in "
        "on your phone or computer",
        "カードで ほんにんか たしかめて スマホや パソコンで つかう ばんごうを だします",
    )
    needs_link: bool = True
    consent_items: tuple[ConsentItem, ...] = (
        ConsentItem(
            CONSENT_SIGN_IN,
            Text(
                "この利用者番号でオンラインサービスにログインすること",
                "Signing in to the online service as this account",
                "この ばんごうで インターネットの サービスに ログイン する こと",
            ),
            required=True,
        ),
    )

    def run(self, context: ServiceContext) -> ServiceResult:
        """Issue a login code for the linked account (never for a staff-assisted visit)."""
        if context.assisted:
            return _ASSISTED
        if CONSENT_SIGN_IN not in context.consented:
            return _NOT_CONSENTED
        if context.link is None:
            raise ValueError("a login needs a linked account")
        account_ref, now = context.link.account_ref, self.clock()
        try:
            ticket = self.sessions.start(context.provider_id, account_ref, now)
        except LoginUnavailable as e:
            log.warning("login service for %s: %s", context.provider_id, e.code)
            return _UNAVAILABLE
        minutes = max(1, round((ticket.expires_at - now).total_seconds() / 60))
        until = ticket.expires_at.astimezone(JST).strftime("%H:%M")
        return ServiceResult(
            ok=True,
            title=Text(
                "ログインコードを発行しました",
                "Your one-time sign-in code",
                "ログインの ばんごう です",
            ),
            message=Text(
                f"{minutes}分以内に、スマートフォンやパソコンのログイン画面で入力してください。"
                "使えるのは1回だけです。他の人には教えないでください。",
                f"Enter it on the sign-in screen of your phone or computer within {minutes} "
                "minutes. It works once only. Do not share it with anyone.",
                f"{minutes}ふん いないに スマホや パソコンで いれて ください。"
                "1かい だけ つかえます。ほかの ひとに おしえないで ください。",
            ),
            rows=(
                ResultRow(
                    Text("ログインコード", "Sign-in code", "ログインの ばんごう"),
                    display_code(ticket.code),
                ),
                ResultRow(
                    Text("有効期限", "Valid until", "つかえる じかん"),
                    f"{until} ({JST.tzname(None)})",
                ),
                ResultRow(Text("利用者番号", "Account", "りようしゃ ばんごう"), account_ref),
            ),
        )

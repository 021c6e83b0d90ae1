"""The service ログイン (sign in online): the card holder signs in to an online service.

The person starts at the online service on their phone or computer; its sign-in page (the
provider's authorization page) shows a one-time **binding code**. At the kiosk they pick
ログイン, prove who they are with the card and PIN (enrolling first if needed) and type the
code on the keypad (kiosk.flow). `prepare` asks the provider what the code stands for
(`LoginBroker.pending`) and shows which online service it is and what it will receive; when
the person agrees, `run` approves the sign-in for the account linked to the card, as proved at
the visit's verification time (`LoginBroker.approve`), and the waiting page on their phone or
computer goes back to the online service, signed in.

A refused code is raised from `prepare` as the broker's own `BindingRefused`: the flow says
why and lets the person type again. Whatever goes wrong at `run` ends the visit with its own
result. A login must be the card holder's own: there is no staff-assisted path. The code is a
credential: it is never logged, and no error message, result or repr carries it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kiosk.clock import utc_now
from kiosk.i18n import Text, plain
from kiosk.services.base import (
    ConsentItem,
    ResultRow,
    ServiceContext,
    ServicePreview,
    ServiceResult,
)
from kiosk.services.login_broker import (
    BindingExpired,
    BindingRefused,
    BindingUsed,
    LinkRefused,
    LoginBroker,
    LoginUnavailable,
    PendingLogin,
)

log = logging.getLogger(__name__)

#: The consent item: signing in to the online service shown, as the card's linked account.
CONSENT_SIGN_IN = "sign_in"
#: What the preview's reference starts with (the rest: a digest of the login shown).
_REFERENCE_PREFIX = "login:"

#: What an online service may receive beyond its own identifier of the person (the standard
#: OpenID Connect claim names), as the person reads them; any other is shown by its name.
CLAIM_NAMES: dict[str, Text] = {
    "name": Text("氏名", "name", "なまえ"),
    "address": Text("住所", "address", "じゅうしょ"),
    "birthdate": Text("生年月日", "date of birth", "うまれた ひ"),
    "gender": Text("性別", "sex", "せいべつ"),
}

_LABEL_SERVICE = Text("ログイン先", "Signing in to", "ログイン する ところ")


def preview_reference(pending: PendingLogin) -> str:
    """The preview's reference: names the login shown (its handle, service and claims) by a
    digest, so the handle itself stays out of the flow's state and its reprs."""
    shown = "\0".join((pending.login_id, pending.client_id, *pending.claims))
    return _REFERENCE_PREFIX + hashlib.sha256(shown.encode()).hexdigest()[:32]


def receives(claims: tuple[str, ...]) -> Text:
    """What the online service will receive, in a sentence: its own identifier of the person
    (pairwise: no other service gets the same), and any claim listed."""
    if not claims:
        return Text(
            "受け取る情報: このサービス専用の利用者番号だけです(氏名・住所などは渡しません)",
            "It receives: only an identifier made for this service alone (not your name, "
            "address or other details)",
            "わたす もの: この サービス だけの ばんごう だけ です"
            "(なまえや じゅうしょは わたしません)",
        )
    names = [CLAIM_NAMES.get(claim, plain(claim)) for claim in claims]
    return Text(
        "受け取る情報: このサービス専用の利用者番号と、" + "・".join(n.ja for n in names),
        "It receives: an identifier made for this service alone, and your "
        + ", ".join(n.en for n in names),
        "わたす もの: この サービス だけの ばんごうと、" + "・".join(n.easy for n in names),
    )


def _preview(pending: PendingLogin) -> ServicePreview:
    name = pending.client_name
    return ServicePreview(
        title=Text(f"{name} にログインします", f"Sign in to {name}", f"{name} に ログイン します"),
        rows=(ResultRow(_LABEL_SERVICE, name), ResultRow(receives(pending.claims), "")),
        reference=preview_reference(pending),
    )


def _signed_in(pending: PendingLogin) -> ServiceResult:
    name = pending.client_name
    return ServiceResult(
        ok=True,
        title=Text(
            f"{name} にログインしました",
            f"You are signed in to {name}",
            f"{name} に ログイン しました",
        ),
        message=Text(
            "ログインしました。お手元のスマートフォンやパソコンの画面に戻ってください。",
            "Return to your phone or computer: you are signed in there.",
            "ログイン しました。スマホや パソコンの がめんに もどって ください。",
        ),
        rows=(ResultRow(_LABEL_SERVICE, name),),
    )


_NOT_SIGNED_IN = Text("ログインしていません", "You were not signed in", "ログイン して いません")

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
    title=_NOT_SIGNED_IN,
    message=Text(
        "ログインへの同意がなかったため、ログインしていません。",
        "You were not signed in, because you did not agree to sign in.",
        "ログインに どういが なかったので ログイン して いません。",
    ),
)

_UNAVAILABLE = ServiceResult(
    ok=False,
    title=Text(
        "ただいまログインできません",
        "Sign-in is not available right now",
        "いま ログイン できません",
    ),
    message=Text(
        "ログインの確認先に接続できませんでした。ログインしていません。"
        "しばらくしてからもう一度お試しください。",
        "The sign-in service could not be reached, and you were not signed in. "
        "Please try again later.",
        "ログインの サービスに つながりません。ログイン して いません。"
        "すこし まってから もういちど して ください。",
    ),
)

_EXPIRED = ServiceResult(
    ok=False,
    title=Text(
        "ログインコードの有効期限が切れました",
        "The sign-in code has expired",
        "ばんごうの じかんが すぎました",
    ),
    message=Text(
        "ログインしていません。スマートフォンやパソコンでログインをやり直してください。",
        "You were not signed in. Please start the sign-in again on your phone or computer.",
        "ログイン して いません。スマホや パソコンで はじめから して ください。",
    ),
)

_USED = ServiceResult(
    ok=False,
    title=Text(
        "このログインコードは使用済みです",
        "This sign-in code has been used",
        "この ばんごうは もう つかわれました",
    ),
    message=Text(
        "このコードでのログインは、すでに済んでいるか取り消されています。"
        "必要ならスマートフォンやパソコンでやり直してください。",
        "A sign-in with this code was already made or cancelled. If you still need to sign "
        "in, start again on your phone or computer.",
        "この ばんごうは もう つかえません。スマホや パソコンで はじめから して ください。",
    ),
)

_REFUSED = ServiceResult(
    ok=False,
    title=_NOT_SIGNED_IN,
    message=Text(
        "ログインの確認先がこのコードを受け付けませんでした。"
        "スマートフォンやパソコンでログインをやり直してください。",
        "The sign-in service did not take this code. Please start the sign-in again on your "
        "phone or computer.",
        "この ばんごうは つかえません でした。スマホや パソコンで はじめから して ください。",
    ),
)

_CHANGED = ServiceResult(
    ok=False,
    title=_NOT_SIGNED_IN,
    message=Text(
        "確認した内容と、ログインの内容が一致しませんでした。"
        "スマートフォンやパソコンでログインをやり直してください。",
        "The sign-in no longer matches what you checked. Please start again on your phone "
        "or computer.",
        "たしかめた ないようと ちがいます。スマホや パソコンで はじめから して ください。",
    ),
)

_LINK_REFUSED = ServiceResult(
    ok=False,
    title=Text(
        "このカードではログインできません",
        "This card cannot sign in",
        "この カードでは ログイン できません",
    ),
    message=Text(
        "カードの登録が無効になっているか、登録し直しが必要です。ログインしていません。"
        "係員にお尋ねください。",
        "The card's registration was revoked or must be made again; you were not signed "
        "in. Please ask a member of staff.",
        "カードの とうろくが つかえません。ログイン して いません。"
        "かかりの ひとに きいて ください。",
    ),
)


@dataclass(frozen=True, slots=True)
class LoginService:
    """ログイン: the card holder signs in to the online service their binding code names."""

    broker: LoginBroker
    terminal_id: str
    clock: Callable[[], datetime] = utc_now
    id: str = "login"
    title: Text = Text(
        "オンラインサービスへのログイン",
        "Sign in to an online service",
        "インターネットの サービスに ログイン",
    )
    description: Text = Text(
        "スマートフォンやパソコンに表示されたログインコードを入力し、"
        "マイナンバーカードで本人確認してログインします",
        "Confirm who you are with your card and type the sign-in code shown on your phone "
        "or computer",
        "カードで ほんにんか たしかめて、スマホや パソコンに でた ばんごうを いれます",
    )
    needs_link: bool = True
    asks_code: bool = True
    consent_items: tuple[ConsentItem, ...] = (
        ConsentItem(
            CONSENT_SIGN_IN,
            Text(
                "表示されたサービスに、この利用者としてログインすること",
                "Signing in to the service shown, as this card's account",
                "でている サービスに この カードの ひととして ログイン する こと",
            ),
            required=True,
        ),
    )

    def prepare(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """Which online service the binding code signs in to, and what it will receive.
        A code the provider refuses is raised (BindingRefused): the person types again."""
        if context.assisted:
            return _ASSISTED
        code = _needed_code(context)
        try:
            pending = self.broker.pending(context.provider_id, self.terminal_id, code, self.clock())
        except LoginUnavailable as e:
            log.warning(
                "login at %s: the provider is unavailable (%s)", context.provider_id, e.code
            )
            return _UNAVAILABLE
        except BindingRefused as e:
            log.info("login at %s: binding code refused (%s)", context.provider_id, e.code)
            raise
        return _preview(pending)

    def run(self, context: ServiceContext) -> ServiceResult:
        """Approve the sign-in shown in the preview for the card's linked account, as proved
        at the visit's verification time (never for a staff-assisted visit)."""
        if context.assisted:
            return _ASSISTED
        if CONSENT_SIGN_IN not in context.consented:
            return _NOT_CONSENTED
        if context.link is None or context.auth_time is None:
            raise ValueError("a login needs the linked account and the time it was proved")
        code, preview = _needed_code(context), context.preview
        if preview is None or not preview.reference.startswith(_REFERENCE_PREFIX):
            raise ValueError("a login needs the preview the person agreed to")
        provider_id, now = context.provider_id, self.clock()
        try:
            pending = self.broker.pending(provider_id, self.terminal_id, code, now)
            if preview_reference(pending) != preview.reference:
                log.warning("login at %s: the login is not the one shown", provider_id)
                return _CHANGED
            self.broker.approve(
                pending,
                provider_id,
                self.terminal_id,
                context.link.account_ref,
                context.auth_time,
                now,
            )
        except LoginUnavailable as e:
            log.warning("login at %s: the provider is unavailable (%s)", provider_id, e.code)
            return _UNAVAILABLE
        except LinkRefused as e:
            log.info("login at %s: the link cannot sign in (%s)", provider_id, e.code)
            return _LINK_REFUSED
        except BindingRefused as e:  # expired or used since the preview, most likely
            log.info("login at %s: binding code refused at approval (%s)", provider_id, e.code)
            return _refused_result(e)
        return _signed_in(pending)


def _needed_code(context: ServiceContext) -> str:
    """The binding code the flow put in the context (its shape checked there)."""
    if not context.binding_code:
        raise ValueError("a login needs the binding code typed at the kiosk")
    return context.binding_code


def _refused_result(error: BindingRefused) -> ServiceResult:
    if isinstance(error, BindingExpired):
        return _EXPIRED
    if isinstance(error, BindingUsed):
        return _USED
    return _REFUSED

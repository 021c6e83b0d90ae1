"""The service お支払い (pay at a shop counter): pay a pending purchase with the card.

The cashier rings up the purchase on the POS, which registers a pending payment request for
this kiosk's terminal at the shop (the provider). The person verifies with the card at the
kiosk; `prepare` asks the shop's payment gateway (the `PaymentGateway` port) for the
terminal's pending request and shows the amount, the shop's order reference and the shop
before consent. When the person agrees to pay (consent item "pay"), `run` charges exactly the
request and amount that were shown (the preview's `reference`) to the account linked to the
card at this shop, with an idempotency key derived from them, so a retried run never charges
twice. The result is the receipt: receipt number, amount and time (in Japan time).

If the POS changed or cancelled the request in the meantime, nothing is charged and the person
is asked to start again. Declines (balance, limit, closed account) and an unreachable gateway
are clear not-ok results. A payment must be the card holder's own: there is no staff-assisted
path. Amounts are whole yen (int > 0), never floats.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kiosk.clock import JST, utc_now
from kiosk.errors import KioskError
from kiosk.i18n import Text
from kiosk.services.base import (
    ConsentItem,
    ResultRow,
    ServiceContext,
    ServicePreview,
    ServiceResult,
)

log = logging.getLogger(__name__)

#: The consent item: paying the amount shown.
CONSENT_PAY = "pay"
#: What the preview's reference starts with (the rest: request id and amount).
_REFERENCE_PREFIX = "payment:"


def whole_yen(amount: object) -> int:
    """`amount` if it is a whole number of yen above zero (never a float or a bool)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("an amount is a whole number of yen above zero")
    return amount


def yen(amount: int) -> str:
    """An amount as shown: ¥1,280."""
    return f"¥{whole_yen(amount):,}"


# --- errors ------------------------------------------------------------------------------


class PaymentError(KioskError):
    """Base of the payment port's errors; messages never carry personal data."""

    code = "payment_error"


class PaymentUnavailable(PaymentError):
    """The shop's payment gateway cannot be reached."""

    code = "payment_unavailable"


class PaymentRequestChanged(PaymentError):
    """The request is no longer pending with that amount (changed, cancelled or paid)."""

    code = "payment_request_changed"


class PaymentKeyReused(PaymentError):
    """An idempotency key came back with another payment (a fault, never the person's)."""

    code = "payment_key_reused"


class PaymentDeclined(PaymentError):
    """The account was not charged (base of the declines)."""

    code = "payment_declined"


class InsufficientFunds(PaymentDeclined):
    """The account's balance is below the amount."""

    code = "payment_insufficient_funds"


class LimitExceeded(PaymentDeclined):
    """The amount is above what the account may pay at once."""

    code = "payment_limit_exceeded"


class AccountClosed(PaymentDeclined):
    """The linked account is closed."""

    code = "payment_account_closed"


# --- the port ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A purchase the POS rang up for one terminal, waiting to be paid."""

    request_id: str  # the gateway's id of this request (a changed amount is a new request)
    amount_yen: int
    order_ref: str  # the shop's own order reference, shown to the person
    shop: str  # the shop's name as shown

    def __post_init__(self) -> None:
        whole_yen(self.amount_yen)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A completed payment."""

    receipt_no: str
    request_id: str
    amount_yen: int
    order_ref: str
    shop: str
    paid_at: datetime

    def __post_init__(self) -> None:
        whole_yen(self.amount_yen)


class PaymentGateway(Protocol):
    """The shop's payment gateway: the POS registers requests, the kiosk pays them."""

    def pending(self, provider_id: str, terminal_id: str) -> PaymentRequest | None:
        """The request waiting at that terminal of the shop, if any.
        Raises PaymentUnavailable."""
        ...

    def charge(
        self,
        provider_id: str,
        account_ref: str,
        request_id: str,
        amount_yen: int,
        idempotency_key: str,
        now: datetime,
    ) -> Receipt:
        """Charge the account for the request, which must still be pending with exactly
        that amount. The same key with the same payment returns the first receipt without
        charging again. Raises PaymentRequestChanged, PaymentDeclined (InsufficientFunds,
        LimitExceeded, AccountClosed), PaymentKeyReused or PaymentUnavailable."""
        ...


def preview_reference(request: PaymentRequest) -> str:
    """The preview's reference: names the request and the amount shown."""
    return f"{_REFERENCE_PREFIX}{request.request_id}:{request.amount_yen}"


def parse_reference(reference: str) -> tuple[str, int] | None:
    """(request id, amount) from a preview's reference; None if it is not one."""
    if not reference.startswith(_REFERENCE_PREFIX):
        return None
    request_id, sep, amount = reference[len(_REFERENCE_PREFIX) :].rpartition(":")
    if not sep or not request_id or not amount.isascii() or not amount.isdigit():
        return None
    if int(amount) <= 0 or amount != str(int(amount)):
        return None
    return request_id, int(amount)


def idempotency_key(
    provider_id: str, terminal_id: str, account_ref: str, request_id: str, amount_yen: int
) -> str:
    """The charge's key: the same payment (shop, terminal, account, request, amount) always
    has the same key, so running it again can never charge twice."""
    parts = (provider_id, terminal_id, account_ref, request_id, str(amount_yen))
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"kiosk-pay-{digest[:32]}"


# --- texts -------------------------------------------------------------------------------

_LABEL_AMOUNT = Text("金額", "Amount", "きんがく")
_LABEL_ORDER = Text("注文番号", "Order reference", "ちゅうもん ばんごう")
_LABEL_SHOP = Text("お店", "Shop", "おみせ")
_LABEL_RECEIPT = Text("領収番号", "Receipt number", "りょうしゅう ばんごう")
_LABEL_PAID_AT = Text("お支払い日時", "Paid at", "はらった じかん")
_NOT_CHARGED = Text(
    "お支払いはされていません。",
    "You have not been charged.",
    "おかねは はらわれて いません。",
)


def _not_ok(title: Text, message: Text, *, assisted: bool = False) -> ServiceResult:
    return ServiceResult(ok=False, title=title, message=message, assisted=assisted)


def _declined(title: Text, advice: Text) -> ServiceResult:
    message = Text(
        _NOT_CHARGED.ja + advice.ja,
        f"{_NOT_CHARGED.en} {advice.en}",
        f"{_NOT_CHARGED.easy} {advice.easy}",
    )
    return _not_ok(title, message)


_ASK_COUNTER = Text(
    "レジでほかのお支払い方法をご相談ください。",
    "Please ask at the counter about another way to pay.",
    "レジで ほかの はらいかたを きいて ください。",
)

ASSISTED_RESULT = _not_ok(
    Text(
        "係員による手続きではお支払いできません",
        "Payment is not available with staff assistance",
        "かかりの ひとの てつづきでは はらえません",
    ),
    Text(
        "お支払いはカードをお持ちのご本人だけが行えます。"
        "ご本人がカードと暗証番号でお手続きいただくか、レジでお支払いください。",
        "Only the card holder can pay here. Please use your own card and PIN, "
        "or pay at the counter.",
        "カードで はらえるのは カードの ほんにん だけ です。"
        "ほんにんが カードと あんしょうばんごうで するか レジで はらって ください。",
    ),
    assisted=True,
)

NOTHING_TO_PAY_RESULT = _not_ok(
    Text("お支払いするものがありません", "Nothing to pay", "はらう ものが ありません"),
    Text(
        "この端末へのお支払いの依頼がありません。レジでお申し出ください。",
        "There is nothing to pay at this kiosk. Please ask at the counter.",
        "この きかいで はらう ものが ありません。レジで きいて ください。",
    ),
)

NOT_CONSENTED_RESULT = _declined(
    Text("お支払いしませんでした", "You did not pay", "はらいません でした"),
    Text(
        "お支払いへの同意がありませんでした。",
        "You did not agree to pay.",
        "はらう ことに どういが ありません でした。",
    ),
)

CHANGED_RESULT = _declined(
    Text(
        "金額が変わりました",
        "The amount changed",
        "きんがくが かわりました",
    ),
    Text(
        "レジでお支払いの内容が変更または取り消されました。最初からやり直してください。",
        "The counter changed or cancelled this payment. Please start again.",
        "レジで はらう ないようが かわりました。はじめから やりなおして ください。",
    ),
)

NO_PREVIEW_RESULT = _declined(
    Text(
        "お支払い内容を確認できませんでした",
        "The payment could not be confirmed",
        "はらう ないようが わかりません",
    ),
    Text(
        "最初からやり直してください。",
        "Please start again.",
        "はじめから やりなおして ください。",
    ),
)

INSUFFICIENT_FUNDS_RESULT = _declined(
    Text("残高が足りません", "Not enough balance", "おかねが たりません"),
    _ASK_COUNTER,
)

LIMIT_EXCEEDED_RESULT = _declined(
    Text(
        "ご利用限度額を超えています",
        "The amount is above your limit",
        "つかえる きんがくを こえて います",
    ),
    _ASK_COUNTER,
)

ACCOUNT_CLOSED_RESULT = _declined(
    Text(
        "このお支払い口座はご利用になれません",
        "This payment account cannot be used",
        "この こうざは つかえません",
    ),
    _ASK_COUNTER,
)

DECLINED_RESULT = _declined(
    Text("お支払いできませんでした", "The payment was declined", "はらえません でした"),
    _ASK_COUNTER,
)

UNAVAILABLE_RESULT = _not_ok(
    Text(
        "ただいまお支払いを受け付けできません",
        "Payment is not available right now",
        "いま はらう ことが できません",
    ),
    Text(
        "決済サービスに接続できませんでした。"
        "しばらくしてからもう一度お試しいただくか、レジでお申し出ください。",
        "The payment service could not be reached. Please try again later, or ask at the counter.",
        "はらう サービスに つながりません。"
        "すこし まってから もういちど するか レジで きいて ください。",
    ),
)

CHARGE_UNAVAILABLE_RESULT = _not_ok(
    UNAVAILABLE_RESULT.title,
    Text(
        "決済サービスに接続できませんでした。しばらくしてからもう一度お試しください。"
        "お支払いが済んだかどうかはレジでご確認いただけます。"
        "もう一度お試しになっても、二重に支払われることはありません。",
        "The payment service could not be reached. Please try again later. "
        "The counter can tell you whether the payment went through. "
        "Trying again will never charge you twice.",
        "はらう サービスに つながりません。すこし まってから もういちど して ください。"
        "はらえたか どうかは レジで きいて ください。"
        "もういちど しても 2かい はらう ことは ありません。",
    ),
)

#: Declines, most specific first.
_DECLINES: tuple[tuple[type[PaymentDeclined], ServiceResult], ...] = (
    (InsufficientFunds, INSUFFICIENT_FUNDS_RESULT),
    (LimitExceeded, LIMIT_EXCEEDED_RESULT),
    (AccountClosed, ACCOUNT_CLOSED_RESULT),
    (PaymentDeclined, DECLINED_RESULT),
)


def _paid_at(moment: datetime) -> str:
    return f"{moment.astimezone(JST):%Y-%m-%d %H:%M} ({JST.tzname(None)})"


# --- the service -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentService:
    """お支払い: pay the purchase rung up for this kiosk's terminal from the linked account."""

    gateway: PaymentGateway
    terminal_id: str  # the kiosk's configured terminal (the POS rings up for it)
    clock: Callable[[], datetime] = utc_now
    id: str = "payment"
    title: Text = Text("お支払い", "Pay for your purchase", "おかいものの しはらい")
    description: Text = Text(
        "レジで登録したお買い物の代金を、マイナンバーカードで本人確認してお支払いします",
        "Confirm who you are with your card and pay for the purchase rung up at the counter",
        "レジで かった ものの おかねを カードで ほんにんか たしかめて はらいます",
    )
    needs_link: bool = True  # the account at this shop that is charged
    consent_items: tuple[ConsentItem, ...] = (
        ConsentItem(
            CONSENT_PAY,
            Text(
                "表示された金額をこのお店の口座から支払う",
                "Pay the amount shown from your account at this shop",
                "みせて いる きんがくを この おみせの こうざから はらう",
            ),
            required=True,
        ),
    )

    def prepare(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """The terminal's pending request as a preview (amount, order, shop), or why not."""
        if context.assisted:
            return ASSISTED_RESULT
        try:
            request = self.gateway.pending(context.provider_id, self.terminal_id)
        except PaymentUnavailable as e:
            log.warning("payment gateway for %s: %s", context.provider_id, e.code)
            return UNAVAILABLE_RESULT
        if request is None:
            log.info("payment at %s/%s: nothing pending", context.provider_id, self.terminal_id)
            return NOTHING_TO_PAY_RESULT
        return ServicePreview(
            title=Text("お支払い内容", "Payment details", "はらう ないよう"),
            rows=(
                ResultRow(_LABEL_AMOUNT, yen(request.amount_yen)),
                ResultRow(_LABEL_ORDER, request.order_ref),
                ResultRow(_LABEL_SHOP, request.shop),
            ),
            reference=preview_reference(request),
        )

    def run(self, context: ServiceContext) -> ServiceResult:
        """Charge exactly what the preview showed, once, and return the receipt."""
        if context.assisted:
            return ASSISTED_RESULT
        if CONSENT_PAY not in context.consented:
            return NOT_CONSENTED_RESULT
        if context.link is None:
            raise ValueError("a payment needs a linked account")
        shown = None if context.preview is None else parse_reference(context.preview.reference)
        if shown is None:
            log.warning("payment at %s: no payment preview to act on", context.provider_id)
            return NO_PREVIEW_RESULT
        request_id, amount = shown
        account_ref = context.link.account_ref
        key = idempotency_key(
            context.provider_id, self.terminal_id, account_ref, request_id, amount
        )
        try:
            receipt = self.gateway.charge(
                context.provider_id, account_ref, request_id, amount, key, self.clock()
            )
        except PaymentUnavailable as e:
            log.warning("payment %s at %s: %s", request_id, context.provider_id, e.code)
            return CHARGE_UNAVAILABLE_RESULT
        except PaymentRequestChanged as e:
            log.info("payment %s at %s: %s", request_id, context.provider_id, e.code)
            return CHANGED_RESULT
        except PaymentDeclined as e:
            log.info("payment %s at %s: %s", request_id, context.provider_id, e.code)
            return next(result for kind, result in _DECLINES if isinstance(e, kind))
        if receipt.request_id != request_id or receipt.amount_yen != amount:
            raise PaymentError("the gateway's receipt is not for the payment shown")
        log.info("payment %s at %s: paid", request_id, context.provider_id)
        return ServiceResult(
            ok=True,
            title=Text("お支払いが完了しました", "Payment complete", "はらい おわりました"),
            message=Text(
                "ありがとうございました。レジで領収番号をお伝えください。",
                "Thank you. Please show the receipt number at the counter.",
                "ありがとう ございました。レジで りょうしゅう ばんごうを みせて ください。",
            ),
            rows=(
                ResultRow(_LABEL_RECEIPT, receipt.receipt_no),
                ResultRow(_LABEL_AMOUNT, yen(receipt.amount_yen)),
                ResultRow(_LABEL_PAID_AT, _paid_at(receipt.paid_at)),
                ResultRow(_LABEL_ORDER, receipt.order_ref),
                ResultRow(_LABEL_SHOP, receipt.shop),
            ),
        )

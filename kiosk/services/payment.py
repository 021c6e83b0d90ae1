"""The service お支払い (pay at a shop counter): pay the purchase the POS rang up, with the card.

The cashier rings up the purchase on the shop's POS, which opens a payment request for this
kiosk's terminal through the POS API (kiosk.pos.api; kept in kiosk.store.payment_requests).
The person verifies with the card; `prepare` shows the terminal's open request (amount, the
shop's order reference, the shop) before consent. When the person agrees to pay (consent item
"pay"), `run` charges exactly the request and amount that were shown (the preview's
`reference`) to the account linked to the card at this shop, in this order:

1. the request must still be open with that amount (the POS may have cancelled it);
2. the ledger row is written, pending, before the card company is asked
   (kiosk.store.ledger: the limits per payment and per day are checked in that transaction,
   and the idempotency key is unique in the database);
3. the card company's gateway (`CardGateway`) charges once per key; its answer moves the row
   to settled or declined, and a lost answer (timeout, 5xx) to unknown, which a status query
   resolves before anything is charged again;
4. the request is marked paid, the POS is told (`PaymentNotices`), and the receipt is shown
   and printed (a printer that fails is a warning for staff: the payment stands).

The idempotency key names the shop, terminal, account, request, amount and the attempt: a run
repeated for the same request finds the row its key already has (settled: the first receipt;
pending or unknown: the card company's status first), so a request is never charged twice.
Only after a decline does a new attempt (a new key) begin. A kiosk killed between two steps
leaves a pending row, which `kiosk.services.payment_desk.reconcile` settles at start.

Declines carry the reason the screen says: a limit (per payment, the account's or the
terminal's day), the account suspended or closed, a link the card company no longer knows
(enrol again), or a decline without a reason. A payment must be the card holder's own: there
is no staff-assisted path. Amounts are whole yen (int > 0), never floats.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
from kiosk.services.card_gateway import (
    Approved,
    CardGateway,
    Declined,
    DeclineReason,
    GatewayRefused,
    PaymentKeyReused,
    SafeToRetry,
    Unknown,
    Voided,
    resolve,
)
from kiosk.services.money import Receipt, whole_yen, yen
from kiosk.services.receipt import (
    NoReceiptPrinter,
    PrintOutcome,
    ReceiptPrinter,
    mask_account,
    receipt_data,
)
from kiosk.store.errors import StoreError
from kiosk.store.ledger import (
    Begun,
    ChargeAttempt,
    LedgerEntry,
    LedgerKeyReused,
    LedgerState,
    LimitRefused,
    PaymentLedger,
)
from kiosk.store.payment_requests import (
    PaymentRequest,
    PaymentRequests,
    RequestClosed,
    UnknownRequest,
)

__all__ = ["PaymentKeyReused", "whole_yen", "yen"]

log = logging.getLogger(__name__)

#: The consent item: paying the amount shown.
CONSENT_PAY = "pay"
#: What the preview's reference starts with (the rest: request id and amount).
_REFERENCE_PREFIX = "payment:"
#: Attempts one person may make at one request (each after a decline) before the kiosk sends
#: them to the counter.
MAX_ATTEMPTS = 5
#: Decline reasons the kiosk writes itself (beside the card company's `DeclineReason`s).
REFUSED_BY_GATEWAY = "gateway_refused"  # a 4xx: the card company did nothing
KEY_REUSED = "key_reused"  # the card company knows the key for another payment
NOT_SENT = "not_sent"  # reconciliation: the card company never saw the key


class PaymentError(KioskError):
    """Base of the payment service's errors; messages never carry personal data."""

    code = "payment_error"


class PaymentNotices(Protocol):
    """Tells the shop's POS that its request was paid (the POS may also poll the POS API).
    Never raises: a notice that cannot be sent now is sent later or polled."""

    def paid(self, request: PaymentRequest, at: datetime) -> None: ...


def preview_reference(request_id: str, amount_yen: int) -> str:
    """The preview's reference: names the request and the amount shown."""
    return f"{_REFERENCE_PREFIX}{request_id}:{whole_yen(amount_yen)}"


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
    provider_id: str,
    terminal_id: str,
    account_ref: str,
    request_id: str,
    amount_yen: int,
    attempt: int = 1,
) -> str:
    """The charge's key: the same payment (shop, terminal, account, request, amount) and
    attempt always has the same key, so running it again can never charge twice."""
    parts = (provider_id, terminal_id, account_ref, request_id, str(amount_yen), str(attempt))
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"kiosk-pay-{digest[:32]}"


def void_key(charge_key: str) -> str:
    """The idempotency key of a charge's void (one void per charge)."""
    return f"void-{charge_key}"


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

_LABEL_ACCOUNT = Text("お支払い口座", "Account", "はらう こうざ")
_LABEL_PRINTER = Text("レシート", "Paper receipt", "レシート")

ACCOUNT_SUSPENDED_RESULT = _declined(
    Text(
        "このお支払い口座は現在ご利用いただけません",
        "This payment account is suspended",
        "この こうざは いま つかえません",
    ),
    Text(
        "口座のカード会社にお問い合わせいただくか、レジでほかのお支払い方法をご相談ください。",
        "Please contact the card company of your account, or ask at the counter about "
        "another way to pay.",
        "カードの かいしゃに きくか レジで ほかの はらいかたを きいて ください。",
    ),
)

RELINK_RESULT = _declined(
    Text(
        "カードの登録をし直してください",
        "Your card needs to be registered again",
        "カードの とうろくを もういちど して ください",
    ),
    Text(
        "カード会社がこのカードに登録された口座を確認できませんでした。"
        "レジで口座とカードの登録をし直してください。",
        "The card company no longer knows the account this card is registered to. Please "
        "register your card with your account again at the counter.",
        "カードの かいしゃが この カードの こうざを わかりません。"
        "レジで カードの とうろくを もういちど して ください。",
    ),
)

DAILY_LIMIT_RESULT = _declined(
    Text(
        "本日のご利用限度額を超えます",
        "This would pass today's limit",
        "きょう つかえる きんがくを こえます",
    ),
    _ASK_COUNTER,
)

TERMINAL_LIMIT_RESULT = _declined(
    Text(
        "この端末の本日のお支払い限度額を超えます",
        "This kiosk's limit for today would be passed",
        "この きかいで きょう はらえる きんがくを こえます",
    ),
    _ASK_COUNTER,
)

TOO_MANY_ATTEMPTS_RESULT = _declined(
    Text(
        "お支払いできませんでした",
        "The payment could not be made",
        "はらえません でした",
    ),
    _ASK_COUNTER,
)

FAULT_RESULT = _not_ok(
    Text(
        "お支払いできませんでした",
        "The payment could not be made",
        "はらえません でした",
    ),
    Text(
        "お支払いはされていません。端末の不具合のため、レジでお申し出ください。",
        "You have not been charged. Something is wrong with this kiosk: please ask at the counter.",
        "おかねは はらわれて いません。きかいの ぐあいが わるいので レジで いって ください。",
    ),
)

#: What the screen says for each decline reason in the ledger.
DECLINE_RESULTS: Mapping[str, ServiceResult] = {
    DeclineReason.INSUFFICIENT.value: INSUFFICIENT_FUNDS_RESULT,
    DeclineReason.LIMIT.value: LIMIT_EXCEEDED_RESULT,
    DeclineReason.ACCOUNT_SUSPENDED.value: ACCOUNT_SUSPENDED_RESULT,
    DeclineReason.ACCOUNT_CLOSED.value: ACCOUNT_CLOSED_RESULT,
    DeclineReason.ACCOUNT_UNKNOWN.value: RELINK_RESULT,
    DeclineReason.GATEWAY_DECLINED.value: DECLINED_RESULT,
    REFUSED_BY_GATEWAY: FAULT_RESULT,
    KEY_REUSED: FAULT_RESULT,
    NOT_SENT: CHARGE_UNAVAILABLE_RESULT,
}

#: What the screen says for each limit the ledger refused.
LIMIT_RESULTS: Mapping[str, ServiceResult] = {
    "per_payment_limit": LIMIT_EXCEEDED_RESULT,
    "daily_limit_account": DAILY_LIMIT_RESULT,
    "daily_limit_terminal": TERMINAL_LIMIT_RESULT,
}

PAID_TITLE = Text("お支払いが完了しました", "Payment complete", "はらい おわりました")
PAID_MESSAGE = Text(
    "ありがとうございました。レジで領収番号をお伝えください。",
    "Thank you. Please show the receipt number at the counter.",
    "ありがとう ございました。レジで りょうしゅう ばんごうを みせて ください。",
)


def _paid_at(moment: datetime) -> str:
    return f"{moment.astimezone(JST):%Y-%m-%d %H:%M} ({JST.tzname(None)})"


def decline_result(reason: str | None) -> ServiceResult:
    """What the screen says for a declined ledger row."""
    return DECLINE_RESULTS.get(reason or "", DECLINED_RESULT)


# --- the service -------------------------------------------------------------------------


class NoNotices:
    """No push to the POS: it polls the POS API for its request's state."""

    def paid(self, request: PaymentRequest, at: datetime) -> None:
        """Nothing is pushed."""


@dataclass(frozen=True, slots=True)
class PaymentService:
    """お支払い: pay the purchase rung up for this kiosk's terminal from the linked account."""

    requests: PaymentRequests  # what the POS rang up (the POS API's store)
    ledger: PaymentLedger
    gateway: CardGateway  # the card company's
    terminal_id: str  # the kiosk's configured terminal (the POS rings up for it)
    printer: ReceiptPrinter = field(default_factory=NoReceiptPrinter)
    notices: PaymentNotices = field(default_factory=NoNotices)
    #: The shops' names as printed and shown, by provider id (else the POS's shop code).
    shop_names: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = utc_now
    #: One run at a time: a run repeated while the first is still charging (a retry) waits
    #: for it and then finds the settled row, so one payment prints one paper receipt.
    #: Across processes the ledger's unique key still charges once.
    _running: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
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

    def _shop(self, request: PaymentRequest) -> str:
        return self.shop_names.get(request.provider_id) or request.shop

    def prepare(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """The terminal's open request as a preview (amount, order, shop), or why not."""
        if context.assisted:
            return ASSISTED_RESULT
        try:
            request = self.requests.open_for(context.provider_id, self.terminal_id, self.clock())
        except StoreError as e:
            log.warning("payment requests at %s: %s", context.provider_id, e.code)
            return UNAVAILABLE_RESULT
        if request is None:
            log.info("payment at %s/%s: nothing open", context.provider_id, self.terminal_id)
            return NOTHING_TO_PAY_RESULT
        return ServicePreview(
            title=Text("お支払い内容", "Payment details", "はらう ないよう"),
            rows=(
                ResultRow(_LABEL_AMOUNT, yen(request.amount_yen)),
                ResultRow(_LABEL_ORDER, request.order_ref),
                ResultRow(_LABEL_SHOP, self._shop(request)),
            ),
            reference=preview_reference(request.request_id, request.amount_yen),
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
        try:
            with self._running:
                return self._pay(context.provider_id, context.link.account_ref, request_id, amount)
        except StoreError as e:
            # the ledger cannot be written: nothing was charged after a row that is not there,
            # and a row that is there is reconciled with the card company
            log.warning("payment %s at %s: store: %s", request_id, context.provider_id, e.code)
            return CHARGE_UNAVAILABLE_RESULT

    # --- the steps ---------------------------------------------------------------------

    def _pay(
        self, provider_id: str, account_ref: str, request_id: str, amount: int
    ) -> ServiceResult:
        now = self.clock()
        try:
            request = self.requests.get(provider_id, request_id, now)
        except UnknownRequest:
            return CHANGED_RESULT
        every = self.ledger.attempts_of(provider_id, request_id)
        attempts = [e for e in every if e.account_ref == account_ref]
        settled = [e for e in attempts if e.state is LedgerState.SETTLED]
        if settled:  # a run repeated after the payment went through: its first receipt
            return self._paid(settled[0], request, account_ref, printed=None)
        others = [e for e in every if e.account_ref != account_ref]
        if any(e.state in (LedgerState.PENDING, LedgerState.UNKNOWN) for e in others):
            # another card's charge for this request may have gone through: not before the
            # card company has answered for it (the reconciliation asks)
            log.info("payment %s at %s: another card's charge is open", request_id, provider_id)
            return CHARGE_UNAVAILABLE_RESULT
        if any(e.state is LedgerState.SETTLED for e in others):
            return CHANGED_RESULT  # paid with another card already
        if not request.open or request.amount_yen != amount:
            log.info("payment %s at %s: the request is %s", request_id, provider_id, request.state)
            return CHANGED_RESULT
        attempt = 1 + sum(1 for e in attempts if e.state is LedgerState.DECLINED)
        if attempt > MAX_ATTEMPTS:
            return TOO_MANY_ATTEMPTS_RESULT
        key = idempotency_key(
            provider_id, self.terminal_id, account_ref, request_id, amount, attempt
        )
        charge = ChargeAttempt(
            provider_id, self.terminal_id, account_ref, request_id, amount, key, self.gateway.code
        )
        try:
            begun = self.ledger.begin(charge, now)
        except LedgerKeyReused:
            log.error(
                "payment %s at %s: the ledger key names another payment", request_id, provider_id
            )
            return FAULT_RESULT
        if isinstance(begun, LimitRefused):
            log.info("payment %s at %s: refused, %s", request_id, provider_id, begun.reason)
            return LIMIT_RESULTS[begun.reason]
        return self._charge(begun, request, account_ref)

    def _charge(self, begun: Begun, request: PaymentRequest, account_ref: str) -> ServiceResult:
        entry = begun.entry
        key = entry.idempotency_key
        if not begun.new:  # another run wrote this row: what became of it comes first
            if entry.state is LedgerState.DECLINED:
                return decline_result(entry.reason)
            if entry.state is LedgerState.VOIDED:
                return CHANGED_RESULT
            earlier = resolve(self.gateway, key)
            if not isinstance(earlier, SafeToRetry):
                return self._record(entry, earlier, request, account_ref)
        try:
            outcome = self.gateway.authorise_and_capture(
                key,
                entry.provider_id,
                entry.terminal_id,
                account_ref,
                entry.amount_yen,
                entry.request_id,
            )
        except GatewayRefused as e:
            log.error(
                "payment %s: the card company refused the request (%s)", entry.request_id, e.status
            )
            self.ledger.decline(entry.entry_id, REFUSED_BY_GATEWAY, self.clock())
            return FAULT_RESULT
        except PaymentKeyReused:
            log.error(
                "payment %s: the card company knows the key for another payment", entry.request_id
            )
            self.ledger.decline(entry.entry_id, KEY_REUSED, self.clock())
            return FAULT_RESULT
        if isinstance(outcome, Unknown):
            log.warning(
                "payment %s: the card company's answer was lost (%s)", entry.request_id, outcome.why
            )
            self.ledger.mark_unknown(entry.entry_id, self.clock())
            resolution = resolve(self.gateway, key)  # asked once now; else at the next start
            if isinstance(resolution, SafeToRetry):
                return CHARGE_UNAVAILABLE_RESULT
            return self._record(entry, resolution, request, account_ref)
        return self._record(entry, outcome, request, account_ref)

    def _record(
        self,
        entry: LedgerEntry,
        outcome: Approved | Declined | Voided | Unknown,
        request: PaymentRequest,
        account_ref: str,
    ) -> ServiceResult:
        """Write what the card company answered, and say it."""
        now = self.clock()
        if isinstance(outcome, Approved):
            settled = self.ledger.settle(entry.entry_id, outcome.transaction_id, now)
            return self._paid(settled, request, account_ref, printed=outcome.approved_at)
        if isinstance(outcome, Declined):
            declined = self.ledger.decline(entry.entry_id, outcome.reason.value, now)
            log.info("payment %s: declined, %s", entry.request_id, outcome.reason.value)
            return decline_result(declined.reason)
        if isinstance(outcome, Voided):  # charged and voided at the card company already
            self.ledger.settle(entry.entry_id, outcome.transaction_id, now)
            self.ledger.void(entry.entry_id, "card-company", now)
            return CHANGED_RESULT
        self.ledger.mark_unknown(entry.entry_id, now)
        return CHARGE_UNAVAILABLE_RESULT

    def _paid(
        self,
        entry: LedgerEntry,
        request: PaymentRequest,
        account_ref: str,
        *,
        printed: datetime | None,
    ) -> ServiceResult:
        """The settled charge's receipt: the request marked paid and the POS told, the
        receipt printed when `printed` (the approval time) is given (a repeated run shows
        its receipt again without printing it again)."""
        now = self.clock()
        receipt_no = entry.receipt_no or ""
        try:
            paid = self.requests.mark_paid(request.provider_id, request.request_id, receipt_no, now)
        except RequestClosed as e:
            # the POS cancelled it while the card company charged: the ledger keeps the charge
            # and the settlement shows it, for staff to void
            log.error("payment %s: charged, but the request is %s", request.request_id, e.state)
        else:
            self.notices.paid(paid, now)
        paid_at = printed or entry.updated_at
        receipt = Receipt(
            receipt_no,
            request.request_id,
            entry.amount_yen,
            request.order_ref,
            self._shop(request),
            paid_at,
        )
        rows = [
            ResultRow(_LABEL_RECEIPT, receipt_no),
            ResultRow(_LABEL_AMOUNT, yen(entry.amount_yen)),
            ResultRow(_LABEL_PAID_AT, _paid_at(paid_at)),
            ResultRow(_LABEL_ORDER, request.order_ref),
            ResultRow(_LABEL_SHOP, receipt.shop),
            ResultRow(_LABEL_ACCOUNT, mask_account(account_ref)),
        ]
        if printed is not None:
            outcome = self._print(receipt, account_ref)
            warning = outcome.staff_text
            if warning is not None:
                rows.append(ResultRow(_LABEL_PRINTER, warning.ja))  # for staff, in Japanese
        log.info("payment %s at %s: paid", request.request_id, request.provider_id)
        return ServiceResult(ok=True, title=PAID_TITLE, message=PAID_MESSAGE, rows=tuple(rows))

    def _print(self, receipt: Receipt, account_ref: str) -> PrintOutcome:
        data = receipt_data(
            receipt,
            terminal_id=self.terminal_id,
            account_ref=account_ref,
            test=self.gateway.test,
        )
        return self.printer.print(data)

"""A card company's payment gateway over HTTP: authorise-and-capture, void, status.

`HttpCardGateway` speaks the JSON API in docs/payment-gateway.md with the shop's bearer token:

- `POST {base}/v1/charges` charges an account once per idempotency key;
- `POST {base}/v1/charges/status` says what became of a key (approved, declined, voided or
  not found);
- `POST {base}/v1/charges/void` voids an approved charge.

What a charge came to is a typed result, never an exception: `Approved`, `Declined` (with a
`DeclineReason`) or `Unknown`. A timeout, a connection that fails, a 5xx, a redirect (never
followed) or an answer that is not the contract's JSON all leave the charge **unknown**: the
gateway may have charged the account and only a status query can say. An unknown charge is
never shown or recorded as declined, and nothing is retried before `resolve` asks the status:
a key the gateway has never seen (`SafeToRetry`) may be sent again, with the same key; every
other answer is the charge's outcome. A 4xx is the contract's "nothing was done" and a fault
of ours (token, request), raised as `GatewayRefused`; a key sent with another payment is
`PaymentKeyReused`.

`CardGatewayPayments` puts this gateway behind the payment service's `PaymentGateway` port.

Every byte of an answer is untrusted and read at one boundary (`read_outcome`): at most
`MAX_ANSWER_BYTES`, `application/json`, exactly the contract's fields and types (pydantic,
strict, no extra fields), the key asked echoed. Transport: https only, except plain http to
this machine; every phase of a request bounded by `timeout_s` and reading the answer by
`total_s`; the token is never logged or put in a message.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.services.bearer import (
    AnswerRefused,
    AnswerTooSlow,
    JsonClient,
)
from kiosk.services.payment import (
    AccountClosed,
    InsufficientFunds,
    LimitExceeded,
    PaymentDeclined,
    PaymentError,
    PaymentKeyReused,
    PaymentRequest,
    PaymentRequestChanged,
    PaymentUnavailable,
    Receipt,
    whole_yen,
)

log = logging.getLogger(__name__)

#: The largest answer read (bytes); a true answer is a few hundred.
MAX_ANSWER_BYTES = 8 * 1024
CHARGE_PATH = "/v1/charges"
STATUS_PATH = "/v1/charges/status"
VOID_PATH = "/v1/charges/void"

#: Keys, ids and references: printable ASCII without spaces, bounded.
_ID = r"[\x21-\x7e]{1,64}"
_ID_RE = re.compile(_ID)


class DeclineReason(StrEnum):
    """Why the card company declined a charge (the account was not charged)."""

    INSUFFICIENT = "insufficient"  # the balance is below the amount
    LIMIT = "limit"  # above what the account may pay (at once or today)
    ACCOUNT_SUSPENDED = "account_suspended"  # the card company stopped the account for now
    ACCOUNT_CLOSED = "account_closed"
    GATEWAY_DECLINED = "gateway_declined"  # declined, no reason given (or one we do not know)


# --- outcomes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approved:
    """The account was charged (authorised and captured)."""

    idempotency_key: str
    transaction_id: str
    amount_yen: int
    order_ref: str
    approved_at: datetime


@dataclass(frozen=True, slots=True)
class Declined:
    """The account was not charged."""

    idempotency_key: str
    reason: DeclineReason


@dataclass(frozen=True, slots=True)
class Voided:
    """The charge was approved and then voided (the money is back on the account)."""

    idempotency_key: str
    transaction_id: str
    amount_yen: int
    voided_at: datetime


@dataclass(frozen=True, slots=True)
class NotFound:
    """The gateway has never seen this key: nothing was charged with it."""

    idempotency_key: str


@dataclass(frozen=True, slots=True)
class SafeToRetry:
    """`resolve`'s answer for a key the gateway never saw: send the charge again, same key."""

    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """No readable answer: the charge (or void) may or may not have happened.
    `why`: "timeout", "unreachable", "server_error", "redirect" or "bad_answer"."""

    idempotency_key: str
    why: str


ChargeOutcome = Approved | Declined | Unknown
StatusOutcome = Approved | Declined | Voided | NotFound | Unknown
Resolution = Approved | Declined | Voided | SafeToRetry | Unknown
VoidOutcome = Voided | Unknown


# --- errors ---------------------------------------------------------------------------------


class GatewayRefused(PaymentError):
    """The gateway answered 4xx: it did nothing, and says our request or token is wrong
    (400/401/403/422), or the transaction to void is unknown (404) or cannot be voided (409)."""

    code = "payment_gateway_refused"

    def __init__(self, status: int, error: str = "") -> None:
        detail = f" ({error})" if error else ""
        super().__init__(f"the payment gateway refused the request: status {status}{detail}")
        self.status = status
        self.error = error


# --- the answer's shape ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _ApprovedAnswer(_Strict):
    outcome: Literal["approved"]
    idempotency_key: str = Field(pattern=f"^{_ID}$")
    transaction_id: str = Field(pattern=f"^{_ID}$")
    amount_yen: int = Field(gt=0, le=100_000_000)
    order_ref: str = Field(max_length=64)
    approved_at: str = Field(max_length=40)


class _DeclinedAnswer(_Strict):
    outcome: Literal["declined"]
    idempotency_key: str = Field(pattern=f"^{_ID}$")
    reason: str = Field(pattern=r"^[a-z_]{1,32}$")


class _VoidedAnswer(_Strict):
    outcome: Literal["voided"]
    idempotency_key: str = Field(pattern=f"^{_ID}$")
    transaction_id: str = Field(pattern=f"^{_ID}$")
    amount_yen: int = Field(gt=0, le=100_000_000)
    voided_at: str = Field(max_length=40)


class _NotFoundAnswer(_Strict):
    outcome: Literal["not_found"]
    idempotency_key: str = Field(pattern=f"^{_ID}$")


class _Answer(_Strict):
    answer: _ApprovedAnswer | _DeclinedAnswer | _VoidedAnswer | _NotFoundAnswer = Field(
        discriminator="outcome"
    )


class _ErrorAnswer(_Strict):
    error: str = Field(pattern=r"^[a-z_]{1,32}$")


class _BadAnswer(Exception):
    """The answer is not the contract's (internal: becomes Unknown("bad_answer"))."""


def _moment(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise _BadAnswer(f"{name} is not ISO 8601") from e
    if moment.tzinfo is None:
        raise _BadAnswer(f"{name} has no time zone")
    return moment


def read_outcome(body: bytes, idempotency_key: str) -> Approved | Declined | Voided | NotFound:
    """The gateway's answer about `idempotency_key`, checked whole; `_BadAnswer` otherwise.
    A decline reason this kiosk does not know is still a decline: GATEWAY_DECLINED."""
    if len(body) > MAX_ANSWER_BYTES:
        raise _BadAnswer("too large")
    try:
        answer = _Answer.model_validate_json(b'{"answer":' + body + b"}").answer
    except (ValidationError, ValueError) as e:  # never the body in a message: it is theirs
        raise _BadAnswer("not the contract's JSON") from e
    if answer.idempotency_key != idempotency_key:
        raise _BadAnswer("an answer about another key")
    if isinstance(answer, _ApprovedAnswer):
        return Approved(
            answer.idempotency_key,
            answer.transaction_id,
            answer.amount_yen,
            answer.order_ref,
            _moment(answer.approved_at, "approved_at"),
        )
    if isinstance(answer, _DeclinedAnswer):
        try:
            reason = DeclineReason(answer.reason)
        except ValueError:
            reason = DeclineReason.GATEWAY_DECLINED
        return Declined(answer.idempotency_key, reason)
    if isinstance(answer, _VoidedAnswer):
        return Voided(
            answer.idempotency_key,
            answer.transaction_id,
            answer.amount_yen,
            _moment(answer.voided_at, "voided_at"),
        )
    return NotFound(answer.idempotency_key)


def _check_id(value: str, name: str) -> str:
    if not isinstance(value, str) or _ID_RE.fullmatch(value) is None:
        raise ValueError(f"{name} must be 1-64 printable ASCII characters without spaces")
    return value


# --- the adapter ----------------------------------------------------------------------------


class HttpCardGateway(JsonClient):
    """A card company's payment gateway over HTTP (JSON), one shop's token."""

    what = "the payment gateway"
    max_answer_bytes = MAX_ANSWER_BYTES

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        total_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            base_url,
            token,
            timeout_s=timeout_s,
            total_s=total_s,
            transport=transport,
            monotonic=monotonic,
        )

    def authorise_and_capture(
        self,
        idempotency_key: str,
        merchant_id: str,
        terminal_id: str,
        account_ref: str,
        amount_yen: int,
        order_ref: str,
    ) -> ChargeOutcome:
        """Charge `amount_yen` to the account, once per key: the same key again answers the
        first outcome without charging again. Unknown when there is no readable answer
        (`resolve` it before anything is retried). Raises GatewayRefused, PaymentKeyReused."""
        payload = {
            "idempotency_key": _check_id(idempotency_key, "the idempotency key"),
            "merchant_id": _check_id(merchant_id, "the merchant id"),
            "terminal_id": _check_id(terminal_id, "the terminal id"),
            "account_ref": _check_id(account_ref, "the account reference"),
            "amount_yen": whole_yen(amount_yen),
            "order_ref": _check_id(order_ref, "the order reference"),
        }
        outcome = self._ask(CHARGE_PATH, payload, idempotency_key)
        if isinstance(outcome, Voided | NotFound):
            log.warning("payment gateway: a charge answered %s", type(outcome).__name__)
            return Unknown(idempotency_key, "bad_answer")
        if isinstance(outcome, Approved) and outcome.amount_yen != amount_yen:
            log.warning("payment gateway: a charge approved with another amount")
            return Unknown(idempotency_key, "bad_answer")
        return outcome

    def status(self, idempotency_key: str) -> StatusOutcome:
        """What became of the charge sent with this key (NotFound: the gateway never saw it)."""
        payload = {"idempotency_key": _check_id(idempotency_key, "the idempotency key")}
        return self._ask(STATUS_PATH, payload, idempotency_key)

    def resolve(self, idempotency_key: str) -> Resolution:
        """The rule for an unknown charge: ask the status before anything is retried. A key
        the gateway never saw is SafeToRetry (with the same key); Unknown means still unknown
        (do not charge again: ask again later)."""
        outcome = self.status(idempotency_key)
        if isinstance(outcome, NotFound):
            return SafeToRetry(idempotency_key)
        return outcome

    def void(self, transaction_id: str, idempotency_key: str) -> VoidOutcome:
        """Void an approved charge (the same key again answers the first void). Unknown when
        there is no readable answer (ask `status` of the charge's key before voiding again).
        Raises GatewayRefused (404: no such transaction; 409: it cannot be voided)."""
        payload = {
            "transaction_id": _check_id(transaction_id, "the transaction id"),
            "idempotency_key": _check_id(idempotency_key, "the idempotency key"),
        }
        outcome = self._ask(VOID_PATH, payload, idempotency_key)
        if isinstance(outcome, Voided) and outcome.transaction_id == transaction_id:
            return outcome
        if isinstance(outcome, Unknown):
            return outcome
        log.warning("payment gateway: a void answered %s", type(outcome).__name__)
        return Unknown(idempotency_key, "bad_answer")

    # the transport

    def _ask(
        self, path: str, payload: Mapping[str, Any], key: str
    ) -> Approved | Declined | Voided | NotFound | Unknown:
        deadline = self._deadline()
        try:
            with self._client.stream("POST", path, json=payload) as response:
                status = response.status_code
                if 400 <= status < 500:
                    self._refuse(path, response, deadline)
                if not 200 <= status < 300:
                    log.warning("payment gateway %s: status %d", path, status)
                    return Unknown(key, "server_error" if status >= 500 else "redirect")
                return read_outcome(self._read(response, deadline), key)
        except _BadAnswer as e:
            log.warning("payment gateway %s: the answer is not the contract's (%s)", path, e)
            return Unknown(key, "bad_answer")
        except AnswerTooSlow:
            log.warning("payment gateway %s: the answer took too long", path)
            return Unknown(key, "timeout")
        except httpx.TimeoutException:
            log.warning("payment gateway %s: timed out", path)
            return Unknown(key, "timeout")
        except httpx.HTTPError as e:  # refused connections, TLS, protocol errors
            log.warning("payment gateway %s: %s", path, type(e).__name__)
            return Unknown(key, "unreachable")

    def _refuse(self, path: str, response: httpx.Response, deadline: float) -> None:
        """Raise what a 4xx says (its body names the error, when it is readable)."""
        status = response.status_code
        try:
            error = _ErrorAnswer.model_validate_json(self._read(response, deadline)).error
        except (_BadAnswer, AnswerTooSlow, ValidationError, ValueError):
            error = ""
        log.warning("payment gateway %s: refused with status %d %s", path, status, error)
        if status == 409 and error == "key_reused":
            raise PaymentKeyReused("this idempotency key was used for another payment")
        raise GatewayRefused(status, error)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        try:
            return self._read_json(response, deadline)
        except AnswerRefused as e:
            raise _BadAnswer(e.why) from e


# --- behind the payment service's port ------------------------------------------------------


class PendingRequests(Protocol):
    """Where the POS's payment requests wait (the POS API's store, issue 12 part 1)."""

    def pending(self, provider_id: str, terminal_id: str) -> PaymentRequest | None:
        """The request waiting at that terminal of the shop, if any."""
        ...


_DECLINE_ERRORS: Mapping[DeclineReason, type[PaymentDeclined]] = {
    DeclineReason.INSUFFICIENT: InsufficientFunds,
    DeclineReason.LIMIT: LimitExceeded,
    DeclineReason.ACCOUNT_CLOSED: AccountClosed,
    DeclineReason.ACCOUNT_SUSPENDED: PaymentDeclined,  # the port has no "suspended" yet
    DeclineReason.GATEWAY_DECLINED: PaymentDeclined,
}


@dataclass
class CardGatewayPayments:
    """The `PaymentGateway` port over a card company's gateway: the pending request comes
    from the POS's requests, the charge goes to the card company (its order reference: the
    request id; the receipt shows the shop's own order reference), an unknown charge is
    resolved by a status query before the service hears of it, and a retry of a charge
    already approved answers its first receipt."""

    gateway: HttpCardGateway
    requests: PendingRequests
    terminal_id: str
    _shops: dict[str, str] = field(default_factory=dict, repr=False)

    def pending(self, provider_id: str, terminal_id: str) -> PaymentRequest | None:
        """The POS's request for that terminal. Raises PaymentUnavailable."""
        request = self.requests.pending(provider_id, terminal_id)
        if request is not None:
            self._shops[provider_id] = request.shop
        return request

    def charge(
        self,
        provider_id: str,
        account_ref: str,
        request_id: str,
        amount_yen: int,
        idempotency_key: str,
        now: datetime,
    ) -> Receipt:
        """Charge the request once (see `PaymentGateway.charge`). `now` is unused: the
        receipt's time is the card company's approval time."""
        current = self.requests.pending(provider_id, self.terminal_id)
        if current is None or (current.request_id, current.amount_yen) != (request_id, amount_yen):
            return self._earlier(provider_id, request_id, amount_yen, idempotency_key)
        outcome: ChargeOutcome | Resolution = self.gateway.authorise_and_capture(
            idempotency_key, provider_id, self.terminal_id, account_ref, amount_yen, request_id
        )
        if isinstance(outcome, Unknown):
            outcome = self.gateway.resolve(idempotency_key)
        return self._receipt(outcome, request_id, amount_yen, current.order_ref, current.shop)

    def _earlier(self, provider_id: str, request_id: str, amount: int, key: str) -> Receipt:
        """The request is no longer pending as shown: a retry of a charge already made
        answers its receipt; otherwise the POS changed it."""
        outcome = self.gateway.resolve(key)
        if isinstance(outcome, Approved | Unknown):
            shop = self._shops.get(provider_id, provider_id)
            return self._receipt(outcome, request_id, amount, request_id, shop)
        raise PaymentRequestChanged("the payment request is not pending with this amount")

    @staticmethod
    def _receipt(
        outcome: ChargeOutcome | Resolution,
        request_id: str,
        amount: int,
        order_ref: str,
        shop: str,
    ) -> Receipt:
        """The receipt of an approved charge for exactly this request and amount, or the
        port's error for any other outcome."""
        if isinstance(outcome, Approved):
            if outcome.order_ref != request_id or outcome.amount_yen != amount:
                raise PaymentKeyReused("the key's charge is for another payment")
            return Receipt(
                outcome.transaction_id, request_id, amount, order_ref, shop, outcome.approved_at
            )
        if isinstance(outcome, Declined):
            raise _DECLINE_ERRORS[outcome.reason](f"declined: {outcome.reason.value}")
        if isinstance(outcome, Voided):
            raise PaymentRequestChanged("the charge with this key was voided")
        # Unknown (still) or SafeToRetry (never charged): the person may try again; the same
        # key is used, so that can never charge twice.
        raise PaymentUnavailable(f"the charge for {request_id} is not confirmed")

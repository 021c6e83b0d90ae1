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

It implements the payment service's port, `kiosk.services.card_gateway.CardGateway`.

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
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.services.bearer import (
    AnswerRefused,
    AnswerTooSlow,
    JsonClient,
)
from kiosk.services.card_gateway import (
    Approved,
    ChargeOutcome,
    Declined,
    DeclineReason,
    GatewayRefused,
    NotFound,
    PaymentKeyReused,
    Resolution,
    StatusOutcome,
    Unknown,
    Voided,
    VoidOutcome,
    resolve,
)
from kiosk.services.money import whole_yen

log = logging.getLogger(__name__)

#: The largest answer read (bytes); a true answer is a few hundred.
MAX_ANSWER_BYTES = 8 * 1024
CHARGE_PATH = "/v1/charges"
STATUS_PATH = "/v1/charges/status"
VOID_PATH = "/v1/charges/void"

#: Keys, ids and references: printable ASCII without spaces, bounded.
_ID = r"[\x21-\x7e]{1,64}"
_ID_RE = re.compile(_ID)


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
    test = False
    max_answer_bytes = MAX_ANSWER_BYTES

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        code: str = "card",
        timeout_s: float = 10.0,
        total_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.code = code  # the card company's code in the ledger and the settlement
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
        """`card_gateway.resolve` with this gateway: the status before anything is retried."""
        return resolve(self, idempotency_key)

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

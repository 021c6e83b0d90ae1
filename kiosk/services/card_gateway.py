"""The card company's payment gateway as the payment service sees it: the port and its
outcomes.

A gateway charges an account once per idempotency key (authorise and capture in one step),
answers what became of a key (`status`), and voids an approved charge. What a call came to is
a typed outcome, never an exception: `Approved`, `Declined` (with a `DeclineReason`),
`Voided`, `NotFound` (the gateway never saw the key: nothing was charged with it) or
`Unknown` (no readable answer: the charge may or may not have happened, and only a status
query can say). An unknown charge is never shown or recorded as declined, and nothing is
charged again before the status has been asked.

Adapters: `kiosk.services.gateway_http.HttpCardGateway` (a card company's JSON API,
docs/payment-gateway.md) and the demo wing's TEST gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from kiosk.errors import KioskError


class DeclineReason(StrEnum):
    """Why the card company declined a charge (the account was not charged)."""

    INSUFFICIENT = "insufficient"  # the balance is below the amount
    LIMIT = "limit"  # above what the account may pay (at once or today)
    ACCOUNT_SUSPENDED = "account_suspended"  # the card company stopped the account for now
    ACCOUNT_CLOSED = "account_closed"
    #: the card company does not know the account the card is linked to (it was replaced or
    #: moved): the person must link the card again (enrol) before paying with it
    ACCOUNT_UNKNOWN = "account_unknown"
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


class GatewayRefused(KioskError):
    """The gateway answered 4xx: it did nothing, and says our request or token is wrong
    (400/401/403/422), or the transaction to void is unknown (404) or cannot be voided (409)."""

    code = "payment_gateway_refused"

    def __init__(self, status: int, error: str = "") -> None:
        detail = f" ({error})" if error else ""
        super().__init__(f"the payment gateway refused the request: status {status}{detail}")
        self.status = status
        self.error = error


class PaymentKeyReused(KioskError):
    """An idempotency key came back with another payment (a fault, never the person's)."""

    code = "payment_key_reused"


class CardGateway(Protocol):
    """A card company's gateway: charge once per key, ask a key's status, void a charge."""

    @property
    def code(self) -> str:
        """The card company's code, kept with each ledger row (the settlement groups by it)."""
        ...

    @property
    def test(self) -> bool:
        """True for a TEST gateway (nothing is really charged; receipts say TEST)."""
        ...

    def authorise_and_capture(
        self,
        idempotency_key: str,
        merchant_id: str,
        terminal_id: str,
        account_ref: str,
        amount_yen: int,
        order_ref: str,
    ) -> ChargeOutcome:
        """Charge the account once per key; the same key again answers the first outcome.
        Raises GatewayRefused (the gateway did nothing: our request is wrong) or
        PaymentKeyReused."""
        ...

    def status(self, idempotency_key: str) -> StatusOutcome:
        """What became of the charge sent with this key."""
        ...

    def void(self, transaction_id: str, idempotency_key: str) -> VoidOutcome:
        """Void an approved charge; the same key again answers the first void.
        Raises GatewayRefused (404: no such transaction; 409: it cannot be voided)."""
        ...


def resolve(gateway: CardGateway, idempotency_key: str) -> Resolution:
    """The rule for an unknown charge: ask the status before anything is retried. A key the
    gateway never saw is SafeToRetry (with the same key); Unknown means still unknown (do not
    charge again: ask again later)."""
    outcome = gateway.status(idempotency_key)
    if isinstance(outcome, NotFound):
        return SafeToRetry(idempotency_key)
    return outcome

"""TEST adapter of the payment service: an in-memory payment gateway and the demo's service.

The POS side (ring up, amend, cancel), accounts with TEST balances, and the kiosk side the
`PaymentGateway` port asks for (the pending request, the charge), all deterministic and
obviously fake (REQ-TEST-…, R-TEST-…).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from kiosk.services.payment import (
    AccountClosed,
    InsufficientFunds,
    LimitExceeded,
    PaymentKeyReused,
    PaymentRequest,
    PaymentRequestChanged,
    PaymentService,
    PaymentUnavailable,
    Receipt,
    whole_yen,
)

#: TEST: the balance an account the test gateway has not seen starts with.
TEST_OPENING_BALANCE = 10_000
#: TEST: the most one account may pay at once.
TEST_CHARGE_LIMIT = 50_000


@dataclass(slots=True)
class _Rung:
    request: PaymentRequest
    provider_id: str
    terminal_id: str
    state: str = "pending"  # "pending", "paid" or "cancelled"


@dataclass(frozen=True, slots=True)
class _Charged:
    account_ref: str
    request_id: str
    amount_yen: int
    receipt: Receipt


@dataclass
class MemoryPaymentGateway:
    """TEST adapter: an in-memory, deterministic payment gateway (no real money or accounts).

    The POS side: `ring_up` registers a pending request for a terminal (replacing that
    terminal's earlier pending one), `amend` changes a request's amount, `cancel` withdraws
    it. Accounts unknown to the gateway start with `opening_balance` TEST yen; `set_balance`,
    `close_account` and `limit_yen` make declines. Request ids (REQ-TEST-…) and receipt numbers
    (R-TEST-…) are obviously fake. Set `reachable = False` to have every call raise
    PaymentUnavailable.
    """

    __test__ = False  # not a pytest test class

    opening_balance: int = TEST_OPENING_BALANCE
    limit_yen: int = TEST_CHARGE_LIMIT
    reachable: bool = True
    receipts: list[Receipt] = field(default_factory=list)  # every charge made, in order
    _requests: dict[tuple[str, str], _Rung] = field(default_factory=dict, repr=False)
    _balances: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _closed: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _keys: dict[tuple[str, str], _Charged] = field(default_factory=dict, repr=False)
    _next_request: int = field(default=1, repr=False)

    def _reach(self) -> None:
        if not self.reachable:
            raise PaymentUnavailable("the payment gateway cannot be reached")

    # the POS side

    def ring_up(
        self, provider_id: str, terminal_id: str, amount_yen: int, order_ref: str, shop: str = ""
    ) -> PaymentRequest:
        """TEST POS: a new pending request for the terminal (its earlier one is cancelled)."""
        self._reach()
        for rung in self._requests.values():
            if (rung.provider_id, rung.terminal_id, rung.state) == (
                provider_id,
                terminal_id,
                "pending",
            ):
                rung.state = "cancelled"
        request_id = f"REQ-TEST-{self._next_request:04d}"
        self._next_request += 1
        request = PaymentRequest(request_id, whole_yen(amount_yen), order_ref, shop or provider_id)
        self._requests[(provider_id, request_id)] = _Rung(request, provider_id, terminal_id)
        return request

    def amend(self, provider_id: str, request_id: str, amount_yen: int) -> PaymentRequest:
        """TEST POS: the cashier corrected the amount of a pending request (same id)."""
        self._reach()
        rung = self._requests.get((provider_id, request_id))
        if rung is None or rung.state != "pending":
            raise PaymentRequestChanged("no such pending payment request")
        rung.request = replace(rung.request, amount_yen=whole_yen(amount_yen))
        return rung.request

    def cancel(self, provider_id: str, request_id: str) -> bool:
        """TEST POS: withdraw a pending request; False if it was not pending."""
        self._reach()
        rung = self._requests.get((provider_id, request_id))
        if rung is None or rung.state != "pending":
            return False
        rung.state = "cancelled"
        return True

    # the accounts

    def balance(self, provider_id: str, account_ref: str) -> int:
        """TEST: what the account holds now."""
        return self._balances.get((provider_id, account_ref), self.opening_balance)

    def set_balance(self, provider_id: str, account_ref: str, amount_yen: int) -> None:
        """TEST: give the account this balance (0 allowed)."""
        if isinstance(amount_yen, bool) or not isinstance(amount_yen, int) or amount_yen < 0:
            raise ValueError("a balance is a whole number of yen, at least zero")
        self._balances[(provider_id, account_ref)] = amount_yen

    def close_account(self, provider_id: str, account_ref: str) -> None:
        """TEST: the account is closed (every charge to it is declined)."""
        self._closed.add((provider_id, account_ref))

    # the kiosk side

    def pending(self, provider_id: str, terminal_id: str) -> PaymentRequest | None:
        """The terminal's pending request at that shop, if any."""
        self._reach()
        for rung in self._requests.values():
            if (rung.provider_id, rung.terminal_id, rung.state) == (
                provider_id,
                terminal_id,
                "pending",
            ):
                return rung.request
        return None

    def charge(
        self,
        provider_id: str,
        account_ref: str,
        request_id: str,
        amount_yen: int,
        idempotency_key: str,
        now: datetime,
    ) -> Receipt:
        """Charge once per key; the request must be pending with exactly this amount."""
        self._reach()
        whole_yen(amount_yen)
        earlier = self._keys.get((provider_id, idempotency_key))
        if earlier is not None:
            if (earlier.account_ref, earlier.request_id, earlier.amount_yen) != (
                account_ref,
                request_id,
                amount_yen,
            ):
                raise PaymentKeyReused("this idempotency key was used for another payment")
            return earlier.receipt  # a retry: the first receipt, nothing charged again
        rung = self._requests.get((provider_id, request_id))
        if rung is None or rung.state != "pending" or rung.request.amount_yen != amount_yen:
            raise PaymentRequestChanged("the payment request is not pending with this amount")
        account = (provider_id, account_ref)
        if account in self._closed:
            raise AccountClosed("the account is closed")
        if amount_yen > self.limit_yen:
            raise LimitExceeded("the amount is above the account's limit")
        balance = self.balance(provider_id, account_ref)
        if balance < amount_yen:
            raise InsufficientFunds("the account's balance is below the amount")
        self._balances[account] = balance - amount_yen
        rung.state = "paid"
        receipt = Receipt(
            f"R-TEST-{len(self.receipts) + 1:06d}",
            request_id,
            amount_yen,
            rung.request.order_ref,
            rung.request.shop,
            now,
        )
        self.receipts.append(receipt)
        self._keys[(provider_id, idempotency_key)] = _Charged(
            account_ref, request_id, amount_yen, receipt
        )
        return receipt


def demo_payment_service(
    terminal_id: str = "kiosk-1", provider_id: str = "demo-clinic"
) -> PaymentService:
    """The payment service over its TEST gateway, with one TEST purchase (¥1,280) rung up
    for `terminal_id` at `provider_id` so the demo has something to pay."""
    gateway = MemoryPaymentGateway()
    gateway.ring_up(provider_id, terminal_id, 1_280, "TEST-ORDER-0001", "TEST ショップ")
    return PaymentService(gateway, terminal_id)

"""TEST adapter of the payment service: an in-memory card company's gateway, and the demo's
payment service over the kiosk's store with one TEST purchase rung up.

`MemoryCardGateway` implements `kiosk.services.card_gateway.CardGateway` deterministically
and obviously fake (transaction ids T-TEST-…, accounts with TEST balances): a charge once per
idempotency key, the status of a key, a void once per transaction. For tests it can decline
(`set_balance`, `suspend`, `close_account`, `forget_account`, `limit_yen`), be unreachable
(`reachable = False`: every answer Unknown, nothing done) and lose the answer of a charge it
made (`lose_answers = n`: the next n charges are made but answered Unknown).
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from kiosk.clock import utc_now
from kiosk.services.card_gateway import (
    Approved,
    ChargeOutcome,
    Declined,
    DeclineReason,
    GatewayRefused,
    NotFound,
    PaymentKeyReused,
    StatusOutcome,
    Unknown,
    Voided,
    VoidOutcome,
)
from kiosk.services.money import whole_yen
from kiosk.services.payment import PaymentService
from kiosk.store.engine import Database
from kiosk.store.ledger import LedgerLimits, PaymentLedger
from kiosk.store.payment_requests import PaymentRequests

#: TEST: the balance an account the test gateway has not seen starts with.
TEST_OPENING_BALANCE = 50_000
#: TEST: the most one account may pay at once at the card company.
TEST_CHARGE_LIMIT = 50_000
#: The demo's TEST purchase.
DEMO_AMOUNT_YEN = 1_280
DEMO_ORDER_REF = "TEST-ORDER-0001"
DEMO_SHOP = "TEST-SHOP"


@dataclass(frozen=True, slots=True)
class _Charge:
    merchant_id: str
    account_ref: str
    amount_yen: int
    order_ref: str
    outcome: Approved | Declined


@dataclass
class MemoryCardGateway:
    """TEST adapter: an in-memory, deterministic card company (no real money or accounts)."""

    __test__ = False  # not a pytest test class

    code: str = "test"
    test: bool = True
    opening_balance: int = TEST_OPENING_BALANCE
    limit_yen: int = TEST_CHARGE_LIMIT
    reachable: bool = True
    lose_answers: int = 0
    clock: Callable[[], datetime] = utc_now
    charges: list[Approved] = field(default_factory=list)  # every charge made, in order
    _balances: dict[str, int] = field(default_factory=dict, repr=False)
    _suspended: set[str] = field(default_factory=set, repr=False)
    _closed: set[str] = field(default_factory=set, repr=False)
    _unknown: set[str] = field(default_factory=set, repr=False)
    _keys: dict[str, _Charge] = field(default_factory=dict, repr=False)
    _voids: dict[str, Voided] = field(default_factory=dict, repr=False)  # by transaction
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # the accounts

    def balance(self, account_ref: str) -> int:
        """TEST: what the account holds now."""
        return self._balances.get(account_ref, self.opening_balance)

    def set_balance(self, account_ref: str, amount_yen: int) -> None:
        """TEST: give the account this balance (0 allowed)."""
        if isinstance(amount_yen, bool) or not isinstance(amount_yen, int) or amount_yen < 0:
            raise ValueError("a balance is a whole number of yen, at least zero")
        self._balances[account_ref] = amount_yen

    def suspend(self, account_ref: str) -> None:
        """TEST: the card company stopped the account for now."""
        self._suspended.add(account_ref)

    def close_account(self, account_ref: str) -> None:
        """TEST: the account is closed."""
        self._closed.add(account_ref)

    def forget_account(self, account_ref: str) -> None:
        """TEST: the card company no longer knows the account (the link must be made again)."""
        self._unknown.add(account_ref)

    @property
    def charged_yen(self) -> int:
        """TEST: what was charged and not voided, in total."""
        voided = {v.transaction_id for v in self._voids.values()}
        return sum(c.amount_yen for c in self.charges if c.transaction_id not in voided)

    # the port

    def authorise_and_capture(
        self,
        idempotency_key: str,
        merchant_id: str,
        terminal_id: str,
        account_ref: str,
        amount_yen: int,
        order_ref: str,
    ) -> ChargeOutcome:
        """Charge once per key (the same key again answers the first outcome)."""
        if not self.reachable:
            return Unknown(idempotency_key, "unreachable")
        whole_yen(amount_yen)
        with self._lock:
            earlier = self._keys.get(idempotency_key)
            if earlier is not None:
                if (earlier.merchant_id, earlier.account_ref, earlier.amount_yen) != (
                    merchant_id,
                    account_ref,
                    amount_yen,
                ) or earlier.order_ref != order_ref:
                    raise PaymentKeyReused("this idempotency key was used for another payment")
                return earlier.outcome
            outcome = self._decide(idempotency_key, account_ref, amount_yen, order_ref)
            self._keys[idempotency_key] = _Charge(
                merchant_id, account_ref, amount_yen, order_ref, outcome
            )
            if self.lose_answers > 0:
                self.lose_answers -= 1
                return Unknown(idempotency_key, "timeout")
            return outcome

    def _decide(
        self, key: str, account_ref: str, amount_yen: int, order_ref: str
    ) -> Approved | Declined:
        reasons = (
            (account_ref in self._unknown, DeclineReason.ACCOUNT_UNKNOWN),
            (account_ref in self._closed, DeclineReason.ACCOUNT_CLOSED),
            (account_ref in self._suspended, DeclineReason.ACCOUNT_SUSPENDED),
            (amount_yen > self.limit_yen, DeclineReason.LIMIT),
            (self.balance(account_ref) < amount_yen, DeclineReason.INSUFFICIENT),
        )
        for declined, reason in reasons:
            if declined:
                return Declined(key, reason)
        self._balances[account_ref] = self.balance(account_ref) - amount_yen
        approved = Approved(
            key, f"T-TEST-{len(self.charges) + 1:06d}", amount_yen, order_ref, self.clock()
        )
        self.charges.append(approved)
        return approved

    def status(self, idempotency_key: str) -> StatusOutcome:
        """What became of the key's charge."""
        if not self.reachable:
            return Unknown(idempotency_key, "unreachable")
        with self._lock:
            earlier = self._keys.get(idempotency_key)
            if earlier is None:
                return NotFound(idempotency_key)
            outcome = earlier.outcome
            if isinstance(outcome, Approved) and outcome.transaction_id in self._voids:
                v = self._voids[outcome.transaction_id]
                return Voided(idempotency_key, v.transaction_id, v.amount_yen, v.voided_at)
            return outcome

    def void(self, transaction_id: str, idempotency_key: str) -> VoidOutcome:
        """Void an approved charge once (the money goes back to the account)."""
        if not self.reachable:
            return Unknown(idempotency_key, "unreachable")
        with self._lock:
            if transaction_id in self._voids:
                return self._voids[transaction_id]
            charged = next(
                (
                    (c, k)
                    for k, c in self._keys.items()
                    if isinstance(c.outcome, Approved)
                    and c.outcome.transaction_id == transaction_id
                ),
                None,
            )
            if charged is None:
                raise GatewayRefused(404, "unknown_transaction")
            charge, _key = charged
            self._balances[charge.account_ref] = self.balance(charge.account_ref) + (
                charge.amount_yen
            )
            voided = Voided(idempotency_key, transaction_id, charge.amount_yen, self.clock())
            self._voids[transaction_id] = voided
            return voided


def ring_up_demo_purchase(
    requests: PaymentRequests, provider_id: str, terminal_id: str, at: datetime
) -> None:
    """TEST POS: one TEST purchase (¥1,280) open for the terminal, unless one is open already
    (it stays open for a day)."""
    if requests.open_for(provider_id, terminal_id, at) is None:
        requests.create(
            provider_id,
            terminal_id,
            DEMO_AMOUNT_YEN,
            DEMO_ORDER_REF,
            DEMO_SHOP,
            int(timedelta(days=1).total_seconds()),
            at,
        )


def scratch_payment_store(terminal_id: str, provider_id: str) -> Database:
    """TEST: a migrated store of its own (a temporary SQLite file, removed with the store)
    with one TEST purchase open for the terminal, for a payment service built without one
    (tests, screenshots)."""
    scratch = tempfile.TemporaryDirectory(prefix="kiosk-demo-payments-")
    db = Database(f"sqlite:///{Path(scratch.name) / 'payments.sqlite3'}")
    db.upgrade()
    weakref.finalize(db, scratch.cleanup)
    ring_up_demo_purchase(PaymentRequests(db), provider_id, terminal_id, utc_now())
    return db


def demo_payment_service(
    db: Database,
    terminal_id: str = "kiosk-1",
    provider_id: str = "demo-clinic",
    *,
    gateway: MemoryCardGateway | None = None,
    limits: LedgerLimits | None = None,
) -> PaymentService:
    """The payment service over the store `db` and a TEST card company (`kiosk demo` and
    `scratch_payment_store` ring up the TEST purchase; nothing here touches the store)."""
    return PaymentService(
        PaymentRequests(db),
        PaymentLedger(db, limits),
        gateway or MemoryCardGateway(),
        terminal_id,
        shop_names={provider_id: "TEST ショップ"},
    )

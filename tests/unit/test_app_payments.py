"""The composition root's payment: built from `[payment]`, `[pos]` and `[receipt]`, over the
store, and what starts beside it once the store is migrated (the reconciliation)."""

from __future__ import annotations

import time

from kiosk import app
from kiosk.clock import utc_now
from kiosk.config import from_mapping
from kiosk.demo.payment import MemoryCardGateway
from kiosk.services.gateway_http import HttpCardGateway
from kiosk.services.payment import PaymentService, idempotency_key
from kiosk.services.receipt import EscposReceiptPrinter, NoReceiptPrinter
from kiosk.store.ledger import ChargeAttempt, LedgerState, PaymentLedger
from kiosk.store.payment_requests import PaymentRequests


def _payment(cfg, db, closers) -> PaymentService:
    service = app.configured_services(cfg, db, closers)["payment"]
    assert isinstance(service, PaymentService)
    return service


def test_the_payment_is_built_from_its_configuration(db):
    cfg = from_mapping(
        {
            "services": ["payment"],
            "terminal_id": "till-7",
            "providers": {"shop-1": "みなと商店"},
            "payment": {
                "gateway": "http",
                "card_company": "acme-card",
                "url": "http://127.0.0.1:9/",
                "token": "t",
                "per_payment_yen": 5_000,
                "daily_account_yen": 12_000,
                "daily_terminal_yen": 90_000,
            },
            "receipt": {"printer": "file", "path": "/dev/null"},
        }
    )
    closers: list = []
    service = _payment(cfg, db, closers)
    assert isinstance(service.gateway, HttpCardGateway)
    assert (service.gateway.code, service.terminal_id) == ("acme-card", "till-7")
    limits = service.ledger.limits
    assert (limits.per_payment_yen, limits.daily_account_yen, limits.daily_terminal_yen) == (
        5_000,
        12_000,
        90_000,
    )
    assert service.requests.max_amount_yen == 5_000  # the POS cannot ring up more
    assert isinstance(service.printer, EscposReceiptPrinter)
    assert service.shop_names == {"shop-1": "みなと商店"}
    for close in closers:
        close()


def test_without_configuration_the_payment_is_the_test_card_company_on_screen_only(db):
    cfg = from_mapping({"services": ["payment"]})
    service = _payment(cfg, db, [])
    assert isinstance(service.gateway, MemoryCardGateway) and service.gateway.test
    assert isinstance(service.printer, NoReceiptPrinter)


def test_a_row_a_stopped_kiosk_left_pending_is_settled_when_payments_start(db):
    cfg = from_mapping({"services": ["payment"], "provider_id": "shop-1", "terminal_id": "t1"})
    payments = app.Payments.build(cfg, db, [])
    gateway = payments.gateway
    assert isinstance(gateway, MemoryCardGateway)
    request = PaymentRequests(db).create("shop-1", "t1", 700, "o-1", "c-1", 600, utc_now())
    key = idempotency_key("shop-1", "t1", "acct-1", request.request_id, 700)
    attempt = ChargeAttempt("shop-1", "t1", "acct-1", request.request_id, 700, key, "test")
    begun = PaymentLedger(db).begin(attempt, utc_now())
    # the kiosk asked the card company, which charged, and was stopped before it heard back
    gateway.authorise_and_capture(key, "shop-1", "t1", "acct-1", 700, request.request_id)
    closers: list = []
    payments.start(closers)
    reconciler = payments.reconciler
    assert reconciler is not None
    deadline = time.monotonic() + 30
    while reconciler.passes == 0 and time.monotonic() < deadline:  # bounded wait, no timing
        time.sleep(0.01)
    for close in reversed(closers):
        close()
    row = PaymentLedger(db).get(begun.entry.entry_id)  # type: ignore[union-attr]
    assert row is not None and row.state is LedgerState.SETTLED
    assert row.receipt_no == gateway.charges[0].transaction_id
    assert PaymentRequests(db).get("shop-1", request.request_id, utc_now()).state == "paid"

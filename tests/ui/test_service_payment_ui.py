"""The shop payment in the kiosk window, from the POS's request to the printed receipt.

The POS rings up over the POS API (the FastAPI app over the store, called over HTTP in
process); the person picks お支払い, inserts the card, types the PIN, enrols, sees the amount
before agreeing, agrees, and gets the receipt on screen and on the (python-escpos Dummy)
printer. The ledger, the request and the TEST card company then all say: paid once."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from escpos.printer import Dummy
from fastapi.testclient import TestClient
from PySide6.QtWidgets import QCheckBox
from test_kiosk_flows import texts

from kiosk.clock import utc_now
from kiosk.demo.payment import MemoryCardGateway
from kiosk.flow.machine import Screen
from kiosk.pos.api import create_pos_app
from kiosk.services.payment import PaymentService
from kiosk.services.receipt import EscposReceiptPrinter
from kiosk.store.engine import Database
from kiosk.store.ledger import LedgerState, PaymentLedger, business_day
from kiosk.store.payment_requests import PaymentRequests

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
POS_TOKEN = "pos-token-for-the-test"  # noqa: S105 - a test token


class _Printed:
    """A receipt printer over python-escpos's Dummy device, keeping each receipt's bytes."""

    def __init__(self) -> None:
        self.receipts: list[bytes] = []

    def connect(self) -> Dummy:
        printer = Dummy()
        original_close = printer.close

        def close() -> None:
            self.receipts.append(printer.output)
            original_close()

        printer.close = close  # type: ignore[method-assign]
        return printer


@pytest.fixture
def shop(tmp_path):
    """The store, the POS API over it, the TEST card company and a printer."""
    db = Database(f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    db.upgrade()
    requests = PaymentRequests(db)
    digest = hashlib.sha256(POS_TOKEN.encode()).hexdigest()
    pos = TestClient(create_pos_app(requests, {PROVIDER: digest}, utc_now))
    pos.headers["Authorization"] = f"Bearer {POS_TOKEN}"
    gateway = MemoryCardGateway()
    printed = _Printed()
    service = PaymentService(
        requests,
        PaymentLedger(db),
        gateway,
        TERMINAL,
        printer=EscposReceiptPrinter(printed.connect, check_paper=False),
        shop_names={PROVIDER: "TEST ショップ"},
    )
    yield db, pos, gateway, printed, service
    pos.close()
    db.dispose()


def _enrol_to_consent(kiosk) -> str:
    kiosk.pin_then_enrol()
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    return texts(kiosk.page())


def test_a_pos_request_is_picked_paid_once_and_its_receipt_printed(make_kiosk, shop):
    db, pos, gateway, printed, service = shop
    rung = pos.post(
        f"/v1/terminals/{TERMINAL}/payment-requests",
        json={"amount_yen": 1280, "order_ref": "ORDER-0042", "shop": "counter-1"},
    )
    assert rung.status_code == 201, rung.text
    request_id = rung.json()["request_id"]

    kiosk = make_kiosk(extra_services={"payment": service}, services=("identity", "payment"))
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    kiosk.click("service-payment")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    shown = _enrol_to_consent(kiosk)
    assert "¥1,280" in shown and "ORDER-0042" in shown and "TEST ショップ" in shown
    assert gateway.charges == [] and printed.receipts == []  # nothing before agreeing

    kiosk.page().findChild(QCheckBox, "consent-pay").setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)
    result = kiosk.controller.state.result
    assert result.ok
    [charge] = gateway.charges
    on_screen = texts(kiosk.page())
    assert "¥1,280" in on_screen and charge.transaction_id in on_screen

    [paper] = printed.receipts
    assert b"JPY 1,280" in paper and charge.transaction_id.encode() in paper
    state = pos.get(f"/v1/payment-requests/{request_id}").json()
    assert (state["state"], state["receipt_no"]) == ("paid", charge.transaction_id)
    [row] = PaymentLedger(db).attempts_of(PROVIDER, request_id, row_account(db, request_id))
    assert (row.state, row.receipt_no, row.amount_yen) == (
        LedgerState.SETTLED,
        charge.transaction_id,
        1280,
    )


def row_account(db: Database, request_id: str) -> str:
    """The account the ledger charged for the request (the link's, made at enrolment)."""
    rows = PaymentLedger(db).entries_of_day(business_day(utc_now()), PROVIDER)
    return next(r.account_ref for r in rows if r.request_id == request_id)


def test_nothing_rung_up_says_so_and_charges_nothing(make_kiosk, shop):
    _db, _pos, gateway, printed, service = shop
    kiosk = make_kiosk(extra_services={"payment": service}, services=("payment",))
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    kiosk.pin_then_enrol()
    kiosk.wait_screen(Screen.RESULT)  # straight to the result: there is nothing to agree to
    assert not kiosk.controller.state.result.ok
    assert gateway.charges == [] and printed.receipts == []


def test_a_printer_that_fails_leaves_the_payment_paid_and_tells_staff(make_kiosk, shop):
    db, pos, gateway, _printed, service = shop

    def broken() -> Dummy:
        raise OSError("the printer is off")

    service = replace(service, printer=EscposReceiptPrinter(broken, check_paper=False))
    pos.post(
        f"/v1/terminals/{TERMINAL}/payment-requests",
        json={"amount_yen": 500, "order_ref": "ORDER-0043", "shop": "counter-1"},
    ).raise_for_status()
    kiosk = make_kiosk(extra_services={"payment": service}, services=("payment",))
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    _enrol_to_consent(kiosk)
    kiosk.page().findChild(QCheckBox, "consent-pay").setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)
    assert kiosk.controller.state.result.ok
    assert len(gateway.charges) == 1
    assert "レシート" in texts(kiosk.page())  # the staff warning row

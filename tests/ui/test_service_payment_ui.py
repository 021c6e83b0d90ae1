"""The shop payment in the kiosk window: enrol, see the amount before agreeing, pay it once."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox
from test_kiosk_flows import start_to_pin, texts

from kiosk.demo.payment import MemoryPaymentGateway
from kiosk.flow.machine import Screen
from kiosk.services.payment import PaymentService

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"


def paying_kiosk(make_kiosk, gateway: MemoryPaymentGateway):
    service = PaymentService(gateway, TERMINAL)
    return make_kiosk(extra_services={"payment": service}, services=("payment",))


def enrol_then_consent(kiosk) -> str:
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    kiosk.click("confirm-info")
    kiosk.wait_screen(Screen.ENROL_CONSENT)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    return texts(kiosk.page())


def test_the_amount_is_shown_then_paid_once(make_kiosk):
    gateway = MemoryPaymentGateway()
    gateway.ring_up(PROVIDER, TERMINAL, 1_280, "TEST-ORDER-0042", "TEST ショップ")
    kiosk = paying_kiosk(make_kiosk, gateway)
    start_to_pin(kiosk)
    shown = enrol_then_consent(kiosk)
    assert "¥1,280" in shown and "TEST-ORDER-0042" in shown
    assert gateway.receipts == []  # nothing is charged before the person agrees
    kiosk.page().findChild(QCheckBox, "consent-pay").setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)
    assert kiosk.controller.state.result.ok
    assert "¥1,280" in texts(kiosk.page())
    assert len(gateway.receipts) == 1


def test_nothing_rung_up_says_so_and_charges_nothing(make_kiosk):
    gateway = MemoryPaymentGateway()
    kiosk = paying_kiosk(make_kiosk, gateway)
    start_to_pin(kiosk)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    kiosk.click("confirm-info")
    kiosk.wait_screen(Screen.ENROL_CONSENT)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)  # straight to the result: there is nothing to agree to
    assert not kiosk.controller.state.result.ok
    assert gateway.receipts == []

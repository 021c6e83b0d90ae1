"""The picker with every service this build offers still fits a 1280×800 kiosk screen."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton

from kiosk.flow.machine import Screen

ALL = ("identity", "insurance", "login", "payment")


def test_four_services_fit_the_screen_and_each_can_be_picked(make_kiosk):
    kiosk = make_kiosk(services=ALL)
    assert kiosk.window.minimumSizeHint().height() <= 800
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    for service in ALL:
        assert kiosk.page().findChild(QPushButton, f"service-{service}").isVisible()
    kiosk.click("service-payment")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert kiosk.controller.state.service_id == "payment"

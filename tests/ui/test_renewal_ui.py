"""Expiry ahead on the kiosk's screens (issue 16, part 4), driven like a person would over the
in-process virtual card and the local verifier, with the visit's clock fixed (the injected
clock: the notice is reckoned from the verdict's time, never from the wall clock).

The result screen says when the user certificate expires within 90 days, and where and from
when to renew, in each language; at 91 days it says nothing; an expired certificate is refused
with the renewal guidance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton

from kiosk.app import available_services, build_window
from kiosk.card.reader import InProcessReader
from kiosk.clock import JST, utc_now
from kiosk.config import Config
from kiosk.demo.audit import MemoryAudit
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.flow.machine import Screen
from kiosk.services.visit import Visit
from kiosk.simcard.applet import VirtualCard
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.verifier import Verifier

FIVE_YEARS = timedelta(days=5 * 365)


class Driver:
    """The kiosk window and what a test drives it with."""

    def __init__(self, qtbot, window, controller, reader) -> None:
        self.qtbot, self.window, self.controller, self.reader = qtbot, window, controller, reader

    @property
    def screen(self) -> Screen:
        return self.controller.state.screen

    def wait_screen(self, screen: Screen) -> None:
        self.qtbot.waitUntil(lambda: self.screen is screen, timeout=5000)
        self.qtbot.waitUntil(lambda: self.window.current_page() is self.window.pages[screen])

    def click(self, name: str) -> None:
        page = self.window.current_page()
        button = page.findChild(QPushButton, name) or self.window.findChild(QPushButton, name)
        assert button is not None and button.isVisible(), name
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def type_secret(self, secret: str) -> None:
        for key in secret:
            self.click(f"key-{key}")
        self.click("ok")

    def texts(self) -> str:
        page = self.window.current_page()
        return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())

    def visit_with(self, card_file) -> None:
        """Start, insert the card, the PIN, and (a first visit) enrol with the password."""
        self.click("start")
        self.wait_screen(Screen.INSERT_CARD)
        self.reader.insert(VirtualCard(card_file))
        self.wait_screen(Screen.PIN)
        self.type_secret("1234")


@pytest.fixture
def now():
    """The visit's fixed time (whole seconds, as certificate times are)."""
    return utc_now().replace(microsecond=0)


@pytest.fixture
def kiosk(qtbot, test_pki, trust, now):
    index = MemoryVerificationStore()
    for which in ("auth", "sign"):
        index.import_crl(verify_crl_in(test_pki.crl_der(which), trust, now))
    challenges = ChallengeService()
    reader = InProcessReader()
    services = available_services()
    backend = Visit(
        reader.connect,
        Verifier(trust, index, challenges),
        challenges,
        MemoryAudit(),
        services,
        "kiosk-1",
        lambda: now,  # the injected clock: fixed
    )
    window, controller = build_window(
        Config(sound=False), reader, backend, windowed=False, services=services
    )
    qtbot.addWidget(window)
    window.show_kiosk()
    qtbot.waitExposed(window)
    yield Driver(qtbot, window, controller, reader)
    controller.stop()
    window.staff_exit()


def expiring(test_pki, now, left: timedelta):
    """A card whose certificates were issued five years before they expire, `left` from now."""
    return test_pki.issue_card(validity=(now + left - FIVE_YEARS, now + left))


def to_result(kiosk: Driver) -> None:
    kiosk.wait_screen(Screen.PASSWORD)
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    kiosk.click("confirm-info")
    kiosk.wait_screen(Screen.ENROL_CONSENT)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)


def test_the_result_says_the_certificate_expires_within_90_days_and_where_to_renew(
    kiosk, test_pki, now
):
    card = expiring(test_pki, now, timedelta(days=90))
    kiosk.visit_with(card)
    to_result(kiosk)

    day = (now + timedelta(days=90)).astimezone(JST).date()
    shown = kiosk.texts()
    assert f"有効期限は{day.year}年{day.month}月{day.day}日です(あと90日)" in shown
    assert "3か月前から" in shown and "市区町村の窓口で更新できます" in shown

    kiosk.click("lang-en")
    kiosk.qtbot.waitUntil(lambda: f"expires on {day.isoformat()} (90 days left)" in kiosk.texts())
    assert "renew it at your municipal office" in kiosk.texts()
    kiosk.click("lang-ja-easy")
    kiosk.qtbot.waitUntil(lambda: "あと 90にち" in kiosk.texts())
    assert "まどぐちで あたらしく できます" in kiosk.texts()


def test_at_91_days_the_result_says_nothing_of_expiry(kiosk, test_pki, now):
    kiosk.visit_with(expiring(test_pki, now, timedelta(days=91)))
    to_result(kiosk)

    assert "ご本人と確認できました" in kiosk.texts()
    assert "更新できます" not in kiosk.texts() and "日)" not in kiosk.texts()
    assert not kiosk.window.current_page().expiry.isVisible()


def test_an_expired_certificate_is_refused_with_the_renewal_guidance(kiosk, test_pki, now):
    kiosk.visit_with(expiring(test_pki, now, timedelta(seconds=-1)))

    kiosk.wait_screen(Screen.ERROR)
    shown = kiosk.texts()
    assert "電子証明書の有効期限が切れています" in shown
    assert "マイナンバーカードと暗証番号を持って" in shown
    assert "市区町村の窓口で電子証明書を更新" in shown
    kiosk.click("lang-en")
    kiosk.qtbot.waitUntil(lambda: "cannot be used" in kiosk.texts())
    assert "card and its PINs to your municipal office to renew" in kiosk.texts()

"""The login service in the real kiosk window, over the virtual card and the TEST login port."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit

from kiosk.clock import utc_now
from kiosk.demo.login import demo_login_service
from kiosk.flow.machine import Screen
from kiosk.services.login import LoginCodeUsed


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def start_login(kiosk) -> None:
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    kiosk.click("service-login")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    kiosk.type_secret("1234")


def enrol(kiosk) -> None:
    kiosk.wait_screen(Screen.PASSWORD)
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    kiosk.click("confirm-info")
    kiosk.wait_screen(Screen.ENROL_CONSENT)
    kiosk.click("agree")


def consent_to_sign_in(kiosk) -> None:
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    box = kiosk.page().findChild(QCheckBox, "consent-sign_in")
    assert box is not None and "オンラインサービスにログイン" in box.text()
    box.setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)


@pytest.fixture
def login_kiosk(make_kiosk):
    service = demo_login_service()
    kiosk = make_kiosk(extra_services={"login": service}, services=("identity", "login"))
    return kiosk, service


def test_login_enrols_then_shows_a_one_time_code_the_provider_redeems_once(login_kiosk):
    kiosk, service = login_kiosk
    start_login(kiosk)
    enrol(kiosk)
    consent_to_sign_in(kiosk)

    result = kiosk.controller.state.result
    assert result.ok
    shown = {r.label.en: r.value for r in result.rows}
    on_screen = texts(kiosk.page())
    assert "ログインコードを発行しました" in on_screen
    assert shown["Sign-in code"] in on_screen and shown["Account"] in on_screen
    assert shown["Account"].startswith("K-")
    code = shown["Sign-in code"].replace(" ", "")
    assert len(code) == 8 and code.isdigit()
    assert [r.action for r in kiosk.audit.records] == ["service.login"]
    assert code not in repr(kiosk.audit.records) and code not in repr(kiosk.verdicts.entries)

    provider = kiosk.controller.state.provider_id
    assert service.sessions.redeem(provider, code, utc_now()) == shown["Account"]
    with pytest.raises(LoginCodeUsed):
        service.sessions.redeem(provider, code, utc_now())

    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)
    assert code not in texts(kiosk.window)  # wiped from the result page
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.ATTRACT)

    start_login(kiosk)  # linked now: straight to the consent, a new code
    consent_to_sign_in(kiosk)
    again = {r.label.en: r.value for r in kiosk.controller.state.result.rows}
    assert again["Account"] == shown["Account"] and again["Sign-in code"] != shown["Sign-in code"]


def test_declining_the_sign_in_issues_nothing(login_kiosk):
    kiosk, service = login_kiosk
    start_login(kiosk)
    enrol(kiosk)
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    provider = kiosk.controller.state.provider_id
    assert provider
    kiosk.click("agree")  # the required box left unticked
    kiosk.qtbot.waitUntil(lambda: kiosk.screen is not Screen.SERVICE_CONSENT)
    assert kiosk.controller.state.result is None
    assert service.sessions.live_codes(provider, utc_now()) == 0
    assert not [r for r in kiosk.audit.records if r.action == "service.login"]


def test_staff_cannot_sign_someone_in(login_kiosk):
    kiosk, service = login_kiosk
    kiosk.staff_login()
    kiosk.click("staff-assist")
    kiosk.wait_screen(Screen.STAFF_ASSIST)
    kiosk.click("service-login")
    kiosk.page().findChild(QLineEdit, "insurer").setText("06123456")
    kiosk.page().findChild(QLineEdit, "member").setText("12-345")
    kiosk.click("staff-confirm")
    kiosk.wait_screen(Screen.RESULT)
    result = kiosk.controller.state.result
    assert not result.ok and result.assisted and result.rows == ()
    assert "係員による手続きではログインできません" in texts(kiosk.page())
    audited = [(r.action, r.ok, r.actor) for r in kiosk.audit.records]
    assert audited == [("staff.login", True, "1021"), ("staff_assisted.login", False, "1021")]
    provider = kiosk.controller.state.provider_id
    assert service.sessions.live_codes(provider, utc_now()) == 0

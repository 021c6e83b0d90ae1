"""The login in the real kiosk window, over the virtual card and the TEST login broker: the
online service opens a sign-in (its binding code), the person picks ログイン, proves with the
card and PIN (enrolling first), types the code on the keypad, sees which service they sign in
to, agrees, and the sign-in is approved for their account at the time the card proved them."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit

from kiosk.demo.login import MemoryLoginBroker, demo_login_service
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import Screen
from kiosk.ui.keypad_widget import code_pad

SHOP = "TEST ネットショップ"


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


def type_code(kiosk, code: str) -> None:
    """Type the code on the kiosk's keypad; it shows as typed, in groups of four."""
    kiosk.wait_screen(Screen.BINDING_CODE)
    kiosk.type_secret(code, submit=False)
    assert kiosk.page().pad.mask.text() == f"{code[:4]} {code[4:]}".strip()
    kiosk.click("ok")


def agree(kiosk) -> None:
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    box = kiosk.page().findChild(QCheckBox, "consent-sign_in")
    assert box is not None
    box.setChecked(True)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)


@pytest.fixture
def login_kiosk(make_kiosk):
    broker = MemoryLoginBroker()
    kiosk = make_kiosk(
        extra_services={"login": demo_login_service(broker)}, services=("identity", "login")
    )
    return kiosk, broker


def test_a_person_signs_in_to_the_service_they_see_with_card_pin_and_code(login_kiosk):
    kiosk, broker = login_kiosk
    code = broker.open(SHOP, [kiosk.controller.flow.config.providers[0].id])
    start_login(kiosk)
    enrol(kiosk)
    kiosk.wait_screen(Screen.BINDING_CODE)
    assert "ログインコード(数字8桁)" in texts(kiosk.page())
    type_code(kiosk, code)

    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    shown = texts(kiosk.page())
    assert f"{SHOP} にログインします" in shown  # which service, before the person agrees
    assert "このサービス専用の利用者番号だけ" in shown  # and what it receives
    assert broker.approval(code) is None
    agree(kiosk)

    state = kiosk.controller.state
    assert state.result.ok
    assert "お手元のスマートフォンやパソコンの画面に戻ってください" in texts(kiosk.page())
    assert f"{SHOP} にログインしました" in texts(kiosk.page())
    approval = broker.approval(code)
    assert approval is not None and approval.terminal_id == "kiosk-1"
    assert approval.account_ref == state.link.account_ref and approval.account_ref.startswith("K-")
    proved = [e.at for e in kiosk.verdicts.entries if e.action == "authenticate" and e.ok]
    assert approval.auth_time == state.authenticated.verified_at == proved[-1]
    assert [r.action for r in kiosk.audit.records] == ["service.login"]
    assert code not in repr(kiosk.audit.records) and code not in repr(kiosk.verdicts.entries)
    assert code not in repr(state)

    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)
    assert kiosk.controller.state.binding_code == ""
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.ATTRACT)

    again = broker.open("TEST 図書館", [kiosk.controller.flow.config.providers[0].id])
    start_login(kiosk)  # linked now: straight to the code
    type_code(kiosk, again)
    agree(kiosk)
    assert broker.approval(again).account_ref == approval.account_ref


def test_a_wrong_code_is_said_on_the_keypad_and_costs_the_card_nothing(login_kiosk):
    kiosk, broker = login_kiosk
    code = broker.open(SHOP, [kiosk.controller.flow.config.providers[0].id])
    wrong = "00000000" if code != "00000000" else "11111111"
    start_login(kiosk)
    enrol(kiosk)
    tries = kiosk.controller.state.card.auth_retries

    kiosk.wait_screen(Screen.BINDING_CODE)
    kiosk.type_secret("1234567")  # one digit short: refused before anything is asked
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.problem is not None)
    assert kiosk.controller.state.problem == Problem(ProblemCode.LOGIN_CODE_FORMAT)
    assert "ログインコードは数字8桁です" in texts(kiosk.page())

    type_code(kiosk, wrong)
    kiosk.qtbot.waitUntil(
        lambda: kiosk.controller.state.problem == Problem(ProblemCode.LOGIN_CODE_UNKNOWN)
    )
    kiosk.wait_screen(Screen.BINDING_CODE)
    assert "このログインコードは見つかりません" in texts(kiosk.page())
    assert kiosk.page().pad.mask.text().strip() == ""  # typed afresh
    assert kiosk.controller.state.card.auth_retries == tries

    type_code(kiosk, code)
    agree(kiosk)
    assert kiosk.controller.state.result.ok and broker.approval(code) is not None


def test_declining_signs_nobody_in(login_kiosk):
    kiosk, broker = login_kiosk
    code = broker.open(SHOP, [kiosk.controller.flow.config.providers[0].id])
    start_login(kiosk)
    enrol(kiosk)
    type_code(kiosk, code)
    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    kiosk.click("decline")
    kiosk.wait_screen(Screen.TAKE_CARD)
    assert broker.approvals == ()
    assert not [r for r in kiosk.audit.records if r.action == "service.login"]


def test_staff_cannot_sign_someone_in(login_kiosk):
    kiosk, broker = login_kiosk
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
    assert broker.approvals == ()


def test_the_code_pad_shows_the_digits_in_groups_and_forgets_them(qtbot):
    pad = code_pad()
    qtbot.addWidget(pad)
    got: list[str] = []
    pad.submitted.connect(got.append)
    for key in "1234567890":
        pad.press(key)
    assert pad.mask.text() == "1234 5678" and pad.length == 8  # never longer than 8
    assert pad.key_order() == list("1234567890")  # a phone pad, never shuffled
    pad.ok_button.click()
    assert got == ["12345678"] and pad.length == 0 and pad.mask.text().strip() == ""

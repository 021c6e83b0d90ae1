"""Every flow of the kiosk window, driven like a person would, over the virtual card."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.flow.machine import Screen
from kiosk.simcard.applet import VirtualCard
from kiosk.ui.style import touch_px

STAFF_ID, STAFF_PIN = "1021", "24681357"  # the member of staff the ui conftest configures


class ForeignCard:
    """A contact card with no JPKI application (answers 6A82 to everything)."""

    atr = bytes.fromhex("3b8f8001")

    def power_on(self): ...

    def power_off(self): ...

    def reset(self): ...

    def transmit(self, apdu: bytes) -> bytes:
        return bytes.fromhex("6a82")


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def start_to_pin(kiosk, card_file=None):
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    card = kiosk.insert(card_file)
    kiosk.wait_screen(Screen.PIN)
    return card


def enrol(kiosk) -> str:
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    assert "試験\u3000太郎" in texts(kiosk.page())
    kiosk.click("confirm-info")
    kiosk.wait_screen(Screen.ENROL_CONSENT)
    kiosk.click("agree")
    kiosk.wait_screen(Screen.RESULT)
    return kiosk.controller.state.result.rows[0].value


def test_identity_check_enrols_on_the_first_visit_then_goes_straight_through(kiosk):
    start_to_pin(kiosk)
    assert "残り3回" in texts(kiosk.page())
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)
    account = enrol(kiosk)
    assert account.startswith("K-") and account in texts(kiosk.page())
    assert "ご本人と確認できました" in texts(kiosk.page())
    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)
    assert kiosk.window.sound.played[-1] == "take_card"
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.ATTRACT)

    start_to_pin(kiosk)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.RESULT)
    assert account in texts(kiosk.page())
    assert [r.action for r in kiosk.audit.records] == ["service.identity"] * 2
    verdicts = [(e.action, e.ok) for e in kiosk.verdicts.entries]
    assert verdicts == [("authenticate", True), ("enrol", True), ("authenticate", True)]


def test_wrong_pin_then_right_pin(kiosk):
    card = start_to_pin(kiosk)
    kiosk.type_secret("9999")
    kiosk.qtbot.waitUntil(lambda: "残り2回" in texts(kiosk.page()))
    kiosk.wait_screen(Screen.PIN)
    assert "暗証番号が違います" in texts(kiosk.page())
    assert card.card.auth.retries_left == 2
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)
    assert card.card.auth.retries_left == 3


def test_malformed_pin_never_reaches_the_card(kiosk):
    card = start_to_pin(kiosk)
    kiosk.type_secret("12")
    assert kiosk.screen is Screen.PIN
    assert "数字4桁" in texts(kiosk.page())
    assert card.card.auth.retries_left == 3


def test_the_block_with_the_last_try_warning(kiosk, card_file):
    card = start_to_pin(kiosk, card_file.with_retries(auth=1))
    page_text = texts(kiosk.page())
    assert "あと1回間違えるとロックされます" in page_text
    kiosk.click("call-staff")  # no channel is configured: nobody is said to be coming
    kiosk.qtbot.waitUntil(lambda: "受付までお越しください" in texts(kiosk.page()))
    assert "係員を呼びました" not in texts(kiosk.page())
    kiosk.type_secret("9999")
    kiosk.wait_screen(Screen.BLOCKED)
    blocked = texts(kiosk.page())
    assert "市区町村の窓口" in blocked and "コンビニ" in blocked
    assert not kiosk.page().findChild(QPushButton, "retry").isVisible()
    assert card.card.auth.retries_left == 0
    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)


def test_a_blocked_card_never_shows_the_pad(kiosk, card_file):
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert(card_file.with_retries(auth=0))
    kiosk.wait_screen(Screen.BLOCKED)


def test_card_pulled_during_pin_entry_then_put_back(kiosk):
    start_to_pin(kiosk)
    pad = kiosk.page().pad
    kiosk.type_secret("12", submit=False)
    assert pad.length == 2 and pad.mask.text() == "●●"
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.PUT_BACK)
    assert pad.length == 0
    assert "30秒" in texts(kiosk.page())
    kiosk.clock.advance(10)
    kiosk.qtbot.waitUntil(lambda: "20秒" in texts(kiosk.page()))
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    assert pad.length == 0
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)


def test_card_not_put_back_in_time_returns_to_start(kiosk):
    start_to_pin(kiosk)
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.PUT_BACK)
    kiosk.clock.advance(31)
    kiosk.wait_screen(Screen.ATTRACT)


class GatedCard(VirtualCard):
    """A virtual card that stops before signing until the test lets it go on."""

    def __init__(self, card_file):
        super().__init__(card_file)
        self.signing = threading.Event()
        self.go_on = threading.Event()

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[:2] == b"\x80\x2a":
            self.signing.set()
            self.go_on.wait(10)
        return super().transmit(apdu)


def test_card_pulled_during_signing_aborts_and_the_window_stays_live(kiosk, card_file):
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    card = GatedCard(card_file)
    kiosk.reader.insert(card)
    kiosk.wait_screen(Screen.PIN)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.WORKING)
    kiosk.qtbot.waitUntil(card.signing.is_set)
    kiosk.click("lang-en")  # the GUI answers while the card is busy
    kiosk.qtbot.waitUntil(lambda: "Checking your identity" in texts(kiosk.page()))
    kiosk.reader.pull()
    kiosk.wait_screen(Screen.ERROR)
    assert kiosk.controller.state.problem.code is ProblemCode.CARD_REMOVED
    assert "The card was removed" in texts(kiosk.page())
    late: list[int] = []  # the signing job's own answer, after the abort
    kiosk.controller.worker.done.connect(lambda work_id, _: late.append(work_id))
    kiosk.controller.worker.failed.connect(lambda work_id, _: late.append(work_id))
    card.go_on.set()
    kiosk.qtbot.waitUntil(lambda: bool(late))  # it arrived, and must change nothing:
    QCoreApplication.processEvents()  # the controller's queued slot was posted before ours ran
    assert late[0] < kiosk.controller.state.work_id
    assert kiosk.screen is Screen.ERROR and kiosk.controller.state.authenticated is None
    kiosk.click("done")
    kiosk.wait_screen(Screen.ATTRACT)


def test_idle_timeout_shows_a_countdown_and_wipes_the_session(kiosk):
    start_to_pin(kiosk)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    review = kiosk.page()
    assert "試験\u3000太郎" in texts(review)
    kiosk.clock.advance(52)
    kiosk.qtbot.waitUntil(lambda: kiosk.window.countdown.isVisible())
    assert "8秒" in kiosk.window.countdown.text()
    kiosk.clock.advance(8)
    kiosk.wait_screen(Screen.ATTRACT)
    state = kiosk.controller.state
    assert state.candidate is None and state.authenticated is None and state.card is None
    assert all("太郎" not in v.text() for v in review.values.values())
    assert not kiosk.window.countdown.isVisible()


def test_language_switch_mid_flow_keeps_the_place(kiosk):
    start_to_pin(kiosk)
    kiosk.type_secret("12", submit=False)
    kiosk.click("lang-en")
    kiosk.qtbot.waitUntil(lambda: "Enter your 4-digit PIN" in texts(kiosk.page()))
    assert "3 tries left" in texts(kiosk.page())
    assert kiosk.page().pad.length == 2 and kiosk.screen is Screen.PIN
    assert kiosk.window.language_buttons["en"].isChecked()
    kiosk.click("lang-ja-easy")
    kiosk.qtbot.waitUntil(lambda: "あんしょうばんごう" in texts(kiosk.page()))
    kiosk.type_secret("34")
    kiosk.wait_screen(Screen.PASSWORD)
    assert "パスワード" in texts(kiosk.page())


def test_escape_keys_and_close_are_ignored_in_kiosk_mode(kiosk):
    start_to_pin(kiosk)
    window = kiosk.window
    before = kiosk.controller.state
    for key, mods in (
        (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier),
        (Qt.Key.Key_Tab, Qt.KeyboardModifier.AltModifier),
    ):
        kiosk.qtbot.keyClick(window, key, mods)
        kiosk.qtbot.keyClick(kiosk.page().pad, key, mods)
    assert not window.close()
    assert window.isVisible() and kiosk.controller.state == before
    assert window.isFullScreen() or window.geometry() == window.screen().geometry()


def test_kiosk_mode_is_frameless_and_takes_the_screen(kiosk):
    flags = kiosk.window.windowFlags()
    assert flags & Qt.WindowType.FramelessWindowHint
    assert kiosk.window.geometry().size() == kiosk.window.screen().geometry().size()


def test_not_a_my_number_card_is_named_on_the_insert_screen(kiosk):
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    assert "カードリーダー準備完了" in texts(kiosk.page())
    kiosk.reader.insert(ForeignCard())
    kiosk.qtbot.waitUntil(lambda: "マイナンバーカードではありません" in texts(kiosk.page()))
    assert kiosk.screen is Screen.INSERT_CARD
    kiosk.reader.pull()
    kiosk.qtbot.waitUntil(lambda: "カードリーダー準備完了" in texts(kiosk.page()))


def test_staff_mode_assisted_check_and_exit(kiosk):
    kiosk.open_staff_login()
    kiosk.type_staff(STAFF_ID, "11111111")
    kiosk.qtbot.waitUntil(lambda: "係員番号または暗証番号が違います" in texts(kiosk.page()))
    kiosk.type_staff(STAFF_ID, STAFF_PIN)
    kiosk.wait_screen(Screen.STAFF_MENU)
    assert "カードリーダー準備完了" in texts(kiosk.page())
    kiosk.click("staff-assist")
    kiosk.wait_screen(Screen.STAFF_ASSIST)
    kiosk.page().findChild(QLineEdit, "insurer").setText("06123456")
    kiosk.page().findChild(QLineEdit, "member").setText("12-345")
    kiosk.click("staff-confirm")
    kiosk.wait_screen(Screen.RESULT)
    assert "係員が本人確認しました" in texts(kiosk.page())
    assert (kiosk.audit.records[-1].action, kiosk.audit.records[-1].actor) == (
        "staff_assisted.identity",
        STAFF_ID,
    )
    assert "06123456" not in repr(kiosk.audit.records)
    kiosk.click("done")
    kiosk.wait_screen(Screen.ATTRACT)

    kiosk.staff_login()
    kiosk.click("staff-exit")
    kiosk.qtbot.waitUntil(lambda: not kiosk.window.isVisible())
    assert [(r.action, r.ok, r.actor) for r in kiosk.audit.records if "login" in r.action] == [
        ("staff.login", False, STAFF_ID),
        ("staff.login", True, STAFF_ID),
        ("staff.login", True, STAFF_ID),
    ]
    assert (kiosk.audit.records[-1].action, kiosk.audit.records[-1].actor) == (
        "staff.exit",
        STAFF_ID,
    )
    assert STAFF_PIN not in repr(kiosk.audit.records)


def test_a_short_tap_in_the_corner_does_nothing(kiosk):
    corner = kiosk.window.staff_corner
    kiosk.qtbot.mousePress(corner, Qt.MouseButton.LeftButton)
    assert corner.holding
    kiosk.qtbot.mouseRelease(corner, Qt.MouseButton.LeftButton)
    assert not corner.holding  # nothing left to fire later
    assert kiosk.screen is Screen.ATTRACT


def test_every_button_is_a_touch_target(kiosk):
    minimum = touch_px(kiosk.window.screen())
    for page in set(kiosk.window.pages.values()):
        for button in page.findChildren(QPushButton):
            assert button.minimumWidth() >= minimum and button.minimumHeight() >= minimum
    for button in kiosk.window.language_buttons.values():
        assert button.minimumHeight() >= minimum


def test_high_contrast_toggle(kiosk):
    before = kiosk.window.styleSheet()
    kiosk.click("contrast")
    assert kiosk.window.high_contrast and kiosk.window.styleSheet() != before
    assert "#ffff00" in kiosk.window.styleSheet()


def test_result_screen_is_steady_between_ticks_and_follows_the_language(kiosk):
    start_to_pin(kiosk)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)
    enrol(kiosk)
    page = kiosk.page()
    first = page.rows[0][1]
    kiosk.tick()
    kiosk.tick()
    assert page.rows[0][1] is first
    account = first.text()
    kiosk.click("lang-en")
    kiosk.qtbot.waitUntil(lambda: "Account" in texts(page))
    assert "Identity confirmed" in texts(page) and "利用者番号" not in texts(page)
    assert page.rows[0][1].text() == account


def test_a_press_anywhere_counts_as_activity(kiosk):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    start_to_pin(kiosk)
    kiosk.clock.advance(30)
    before = kiosk.controller.state.idle_deadline
    press = QMouseEvent(
        QEvent.Type.MouseButtonPress,
        QPointF(5, 5),
        QPointF(5, 5),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    assert kiosk.window.eventFilter(kiosk.window.windowHandle(), press) is False  # not eaten
    assert kiosk.controller.state.idle_deadline == before + 30

"""Staff in the real window: the two-entry login over the real staff desk (scrypt, lockout on
the test's clock), and "call staff" over a real HTTP counter on 127.0.0.1 — the screen says
staff are coming only when the counter acknowledged the call."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import NotifyStaff, Screen, StaffCall, StartWork, Work
from kiosk.flow.ports import CallOutcome, FlowProblem
from kiosk.ui.controller import StaffWorker
from tests.counter_support import serve_counter

STAFF_ID, STAFF_PIN = "1021", "24681357"  # the member of staff the ui conftest configures
WRONG = "11111111"


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def at_last_try(kiosk, card_file):
    kiosk.click("start")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert(card_file.with_retries(auth=1))
    kiosk.wait_screen(Screen.PIN)


def test_staff_are_said_to_be_coming_once_the_counter_took_the_call(make_kiosk, card_file):
    with serve_counter() as counter:
        kiosk = make_kiosk(staff_call_url=counter.url, terminal_id="kiosk-7")
        at_last_try(kiosk, card_file)
        kiosk.click("call-staff")
        kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.staff_call is StaffCall.DELIVERED)
        kiosk.qtbot.waitUntil(lambda: "係員を呼びました" in texts(kiosk.page()))
        assert not kiosk.page().findChild(QPushButton, "call-staff").isVisible()
        (body,) = counter.bodies
        assert (body["kiosk"], body["reason"]) == ("kiosk-7", "pin")


def test_a_call_the_counter_refused_sends_the_person_to_the_counter(make_kiosk, card_file):
    with serve_counter() as counter:
        counter.status = 500
        kiosk = make_kiosk(staff_call_url=counter.url, language="en")
        at_last_try(kiosk, card_file)
        kiosk.click("call-staff")
        kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.staff_call is StaffCall.NOT_DELIVERED)
        kiosk.qtbot.waitUntil(lambda: "Staff could not be reached" in texts(kiosk.page()))
        assert "on the way" not in texts(kiosk.page())
        assert len(counter.bodies) == 1


def test_a_call_from_the_blocked_screen_names_the_problem(make_kiosk, card_file):
    with serve_counter() as counter:
        kiosk = make_kiosk(staff_call_url=counter.url)
        at_last_try(kiosk, card_file)
        kiosk.type_secret("9999")
        kiosk.wait_screen(Screen.BLOCKED)
        kiosk.click("call-staff")
        kiosk.qtbot.waitUntil(lambda: "係員を呼びました" in texts(kiosk.page()))
        assert counter.bodies[0]["reason"] == "pin_blocked"


def test_three_wrong_pins_lock_the_staff_login_with_a_countdown(kiosk):
    kiosk.open_staff_login()
    for _ in range(2):
        kiosk.type_staff(STAFF_ID, WRONG)
        kiosk.qtbot.waitUntil(lambda: "係員番号または暗証番号が違います" in texts(kiosk.page()))
        kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.work is None)
    kiosk.type_staff(STAFF_ID, WRONG)
    kiosk.qtbot.waitUntil(lambda: "あと30秒お待ちください" in texts(kiosk.page()))
    pad = kiosk.page().pad
    assert not pad.isEnabled()
    kiosk.clock.advance(12)
    kiosk.tick()
    kiosk.qtbot.waitUntil(lambda: "あと18秒お待ちください" in texts(kiosk.page()))
    kiosk.clock.advance(18)
    kiosk.tick()
    kiosk.qtbot.waitUntil(pad.isEnabled)
    kiosk.type_staff(STAFF_ID, STAFF_PIN)
    kiosk.wait_screen(Screen.STAFF_MENU)
    actions = [(r.action, r.reason, r.actor) for r in kiosk.audit.records]
    assert actions == [
        ("staff.login", "wrong_pin", STAFF_ID),
        ("staff.login", "wrong_pin", STAFF_ID),
        ("staff.login", "wrong_pin", STAFF_ID),
        ("staff.lockout", "locked_30s", None),
        ("staff.login", None, STAFF_ID),
    ]
    assert WRONG not in repr(kiosk.audit.records) and STAFF_PIN not in repr(kiosk.audit.records)


def test_back_on_the_pin_returns_to_the_staff_number(kiosk):
    kiosk.open_staff_login()
    assert not kiosk.page().back.isVisible()
    kiosk.type_secret(STAFF_ID)
    kiosk.qtbot.waitUntil(lambda: f"係員番号 {STAFF_ID}" in texts(kiosk.page()))
    kiosk.click("back")
    kiosk.qtbot.waitUntil(lambda: not kiosk.controller.state.staff_login_id)
    assert "係員番号を入力してください" in texts(kiosk.page())
    assert kiosk.audit.records == []


class _Port:
    """A StaffPort whose sign-in and call raise what the test says."""

    def __init__(self, sign_in_error: Exception, call_error: Exception) -> None:
        self.sign_in_error = sign_in_error
        self.call_error = call_error

    def sign_in(self, staff_id: str, secret: str) -> str:
        raise self.sign_in_error

    def record_exit(self, staff_id: str) -> None:
        raise self.sign_in_error

    def call(self, reason: str) -> CallOutcome:
        raise self.call_error


def test_the_staff_worker_turns_every_failure_into_a_refusal(qtbot, caplog):
    wrong = FlowProblem.of(ProblemCode.STAFF_PIN_WRONG)
    worker = StaffWorker(_Port(wrong, RuntimeError("network stack")))
    failed, called = [], []
    worker.failed.connect(lambda work_id, problem: failed.append((work_id, problem)))
    worker.called.connect(lambda call_id, outcome: called.append((call_id, outcome)))
    worker.run(StartWork(3, Work.STAFF_SIGN_IN, staff_id=STAFF_ID, secret=STAFF_PIN))
    worker.run(NotifyStaff(4, "pin"))
    assert failed == [(3, Problem(ProblemCode.STAFF_PIN_WRONG))]
    assert called == [(4, CallOutcome.NOT_DELIVERED)]  # a channel that raises delivered nothing
    worker = StaffWorker(_Port(RuntimeError("store down"), RuntimeError("x")))
    worker.failed.connect(lambda work_id, problem: failed.append((work_id, problem)))
    worker.run(StartWork(5, Work.STAFF_EXIT, staff_id=STAFF_ID))
    assert failed[-1] == (5, Problem(ProblemCode.INTERNAL))  # no exit without its record
    assert STAFF_PIN not in caplog.text

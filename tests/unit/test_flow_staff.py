"""Staff in the pure flow: the two-entry login as staff work, lockout, the audited exit, and
calls for staff whose outcome the screen reports truthfully."""

from __future__ import annotations

import pytest

from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.machine import (
    STAFF_CALL_TEXT,
    Back,
    CallStaff,
    Cancel,
    ConfirmInfo,
    Consent,
    ExitApp,
    NotifyStaff,
    PlaySound,
    ReaderChanged,
    ReaderStatus,
    Screen,
    Sound,
    StaffAssist,
    StaffCall,
    StaffCallDone,
    StaffExit,
    StaffLink,
    StaffRequest,
    Start,
    StartWork,
    SubmitAssist,
    SubmitPassword,
    SubmitPatientNumber,
    SubmitPin,
    SubmitStaffId,
    SubmitStaffPin,
    Tick,
    Work,
    WorkDone,
    WorkFailed,
    staff_wait_s,
)
from kiosk.flow.ports import CallOutcome
from kiosk.flow.texts import TEXTS
from kiosk.services.visit import CardStatus
from tests.unit.test_flow import (
    AUTH_UNLINKED,
    CANDIDATE,
    LINK,
    NOW,
    Driver,
    at_pin,
    make_flow,
)

STAFF_ID, STAFF_PIN = "1021", "24681357"


def staff_flow(**kw):
    return make_flow(staff_enabled=True, **kw)


def at_login(**kw) -> Driver:
    return Driver(staff_flow(**kw)).send(StaffRequest())


def asking_pin(**kw) -> Driver:
    return at_login(**kw).send(SubmitStaffId(STAFF_ID))


def signed_in(**kw) -> Driver:
    return asking_pin(**kw).send(SubmitStaffPin(STAFF_PIN)).finish_work(STAFF_ID)


# --- login ---------------------------------------------------------------------------------


def test_the_staff_number_then_the_pin_start_one_check_on_the_staff_worker():
    d = at_login()
    assert d.screen is Screen.STAFF_LOGIN and not d.state.staff_login_id
    d.send(SubmitStaffId(STAFF_ID))
    assert d.state.staff_login_id == STAFF_ID and d.effects == ()
    d.send(SubmitStaffPin(STAFF_PIN))
    work = d.work()
    assert (work.kind, work.staff_id, work.secret) == (Work.STAFF_SIGN_IN, STAFF_ID, STAFF_PIN)
    assert STAFF_PIN not in repr(work) and STAFF_PIN not in repr(d.state)
    assert d.screen is Screen.STAFF_LOGIN and d.state.work is Work.STAFF_SIGN_IN
    d.finish_work(STAFF_ID)
    assert d.screen is Screen.STAFF_MENU and d.state.staff_id == STAFF_ID
    assert not d.state.staff_login_id and d.state.problem is None


@pytest.mark.parametrize("typed", ["", "12a", "12345678901"])
def test_a_staff_number_of_the_wrong_shape_is_refused_at_once(typed):
    d = at_login().send(SubmitStaffId(typed))
    assert d.state.problem == Problem(ProblemCode.STAFF_FORMAT)
    assert not d.state.staff_login_id and d.effects == ()


@pytest.mark.parametrize("typed", ["", "1234", "12345", "1234567890123"])
def test_a_pin_of_the_wrong_shape_is_refused_without_a_check(typed):
    d = asking_pin().send(SubmitStaffPin(typed))
    assert d.state.problem == Problem(ProblemCode.STAFF_FORMAT) and d.effects == ()
    assert d.state.staff_login_id == STAFF_ID  # the PIN is asked again


def test_nothing_more_is_taken_while_a_check_runs():
    d = asking_pin().send(SubmitStaffPin(STAFF_PIN))
    busy = d.state
    for event in (SubmitStaffPin(STAFF_PIN), SubmitStaffId("9"), Back(), StaffRequest()):
        d.send(event)
        assert d.state == busy and d.effects == ()


def test_back_goes_from_the_pin_to_the_staff_number_then_to_the_start():
    d = asking_pin().send(Back())
    assert d.screen is Screen.STAFF_LOGIN and not d.state.staff_login_id
    d.send(Back())
    assert d.screen is Screen.ATTRACT


def test_a_wrong_pin_asks_for_the_staff_number_again():
    d = asking_pin().send(SubmitStaffPin("99999999")).fail_work(ProblemCode.STAFF_PIN_WRONG)
    assert d.screen is Screen.STAFF_LOGIN and not d.state.staff_login_id
    assert d.state.problem.code is ProblemCode.STAFF_PIN_WRONG and d.state.work is None
    assert PlaySound(Sound.ERROR) in d.effects and not d.state.staff


def test_a_sign_in_that_comes_back_after_cancel_signs_nobody_in():
    d = asking_pin().send(SubmitStaffPin(STAFF_PIN))
    late = d.state.work_id
    d.send(Cancel())
    assert d.screen is Screen.ATTRACT
    d.send(WorkDone(late, STAFF_ID))
    assert d.screen is Screen.ATTRACT and not d.state.staff
    d.send(StaffRequest()).send(WorkDone(late, STAFF_ID))  # not on the next login either
    assert d.screen is Screen.STAFF_LOGIN and not d.state.staff


def test_staff_mode_ends_with_the_visit():
    d = signed_in().send(Cancel())
    assert d.screen is Screen.ATTRACT and not d.state.staff_id
    d = signed_in().send(Tick(), at=NOW + 61)  # idle on the menu
    assert d.screen is Screen.ATTRACT and not d.state.staff_id


# --- lockout -------------------------------------------------------------------------------


def locked(wait_s: int = 30) -> Driver:
    d = asking_pin().send(SubmitStaffPin("99999999"))
    return d.send(WorkFailed(d.state.work_id, Problem(ProblemCode.STAFF_LOCKED, wait_s=wait_s)))


def test_a_lockout_is_shown_with_the_seconds_left():
    d = locked(30)
    assert d.state.problem.code is ProblemCode.STAFF_LOCKED
    assert d.state.staff_locked_until == NOW + 30
    assert staff_wait_s(d.state, NOW) == 30
    assert staff_wait_s(d.state, NOW + 29.2) == 1
    assert staff_wait_s(d.state, NOW + 30) == 0


def test_while_locked_no_pin_is_checked_and_after_it_one_is():
    d = locked(30).send(SubmitStaffId(STAFF_ID)).send(SubmitStaffPin(STAFF_PIN), at=NOW + 10)
    assert d.effects == ()
    assert d.state.problem == Problem(ProblemCode.STAFF_LOCKED, wait_s=20)
    d.send(SubmitStaffId(STAFF_ID)).send(SubmitStaffPin(STAFF_PIN), at=NOW + 30)
    assert d.work().kind is Work.STAFF_SIGN_IN


def test_the_lockout_outlives_the_visit():
    d = locked(60).send(Cancel())
    assert d.screen is Screen.ATTRACT and d.state.staff_locked_until == NOW + 60
    d.send(Tick(), at=NOW + 1).send(StaffRequest())
    assert d.screen is Screen.STAFF_LOGIN and staff_wait_s(d.state, NOW + 1) == 59
    d.send(SubmitStaffId(STAFF_ID)).send(SubmitStaffPin(STAFF_PIN))
    assert d.effects == ()


def test_a_good_sign_in_clears_the_lockout():
    d = locked(30).send(SubmitStaffId(STAFF_ID)).send(SubmitStaffPin(STAFF_PIN), at=NOW + 31)
    d.finish_work(STAFF_ID)
    assert d.screen is Screen.STAFF_MENU and d.state.staff_locked_until is None


# --- exit and assisted checks ----------------------------------------------------------------


def test_the_kiosk_closes_only_after_the_exit_is_recorded():
    d = signed_in().send(StaffExit())
    work = d.work()
    assert (work.kind, work.staff_id) == (Work.STAFF_EXIT, STAFF_ID)
    assert ExitApp() not in d.effects
    d.send(StaffExit()).send(StaffAssist())  # the menu waits for the record
    assert d.effects == () and d.screen is Screen.STAFF_MENU
    d.finish_work(STAFF_ID)
    assert d.effects == (ExitApp(),)


def test_an_exit_that_cannot_be_recorded_does_not_close_the_kiosk():
    d = signed_in().send(StaffExit()).fail_work(ProblemCode.INTERNAL)
    assert ExitApp() not in d.effects
    assert d.screen is Screen.STAFF_MENU and d.state.problem.code is ProblemCode.INTERNAL


def test_an_assisted_check_carries_who_checked():
    d = signed_in().send(StaffAssist()).send(SubmitAssist("06123456", "12-34"))
    work = d.work()
    assert work.kind is Work.ASSISTED and work.staff_id == STAFF_ID


# --- linking a patient number staff confirmed --------------------------------------------------


def test_a_patient_number_of_the_wrong_shape_is_refused_on_the_staff_screen():
    d = signed_in().send(StaffLink())
    assert d.screen is Screen.STAFF_LINK
    d.send(SubmitPatientNumber("P 0417!"))
    assert d.screen is Screen.STAFF_LINK
    assert d.state.problem.code is ProblemCode.PATIENT_NUMBER_FORMAT and d.state.staff


def test_staff_confirm_the_number_then_the_person_links_their_card_to_that_record():
    d = signed_in().send(StaffLink()).send(SubmitPatientNumber(" p-0417 "))
    assert not d.state.staff  # staff mode ends: the person takes over at the card
    assert (d.state.staff_record, d.state.staff_record_by) == ("P-0417", STAFF_ID)
    assert "P-0417" not in repr(d.state)
    d.send(ReaderChanged(ReaderStatus.CARD)).finish_work(CardStatus(3, 5))
    d.send(SubmitPin("1234")).finish_work(AUTH_UNLINKED)
    assert d.screen is Screen.PASSWORD  # enrolled, whatever the service needs
    d.send(SubmitPassword("ABC123")).finish_work(CANDIDATE)
    d.send(ConfirmInfo()).send(Consent())
    work = d.work()
    assert work.kind is Work.ENROL and (work.record, work.staff_id) == ("P-0417", STAFF_ID)
    assert "P-0417" not in repr(work)
    d.finish_work(LINK)
    d.send(Cancel())
    assert d.state.staff_record == "" and d.state.staff_record_by == ""  # one visit only


def test_a_person_who_enrols_alone_sends_no_record():
    d = at_pin().send(SubmitPin("1234")).finish_work(AUTH_UNLINKED)
    d.send(SubmitPassword("ABC123")).finish_work(CANDIDATE)
    d.send(ConfirmInfo()).send(Consent())
    assert d.work().kind is Work.ENROL and d.work().record == "" and d.work().staff_id == ""


# --- calling staff -------------------------------------------------------------------------


def test_with_no_channel_the_person_is_sent_to_the_counter_at_once():
    d = at_pin(make_flow(), retries=1).send(CallStaff())
    assert d.state.staff_call is StaffCall.NO_CHANNEL
    assert not [e for e in d.effects if isinstance(e, NotifyStaff)]


def test_staff_are_said_to_be_coming_only_once_the_call_is_delivered():
    d = at_pin(make_flow(staff_channel=True), retries=1).send(CallStaff())
    assert d.state.staff_call is StaffCall.CALLING
    (call,) = [e for e in d.effects if isinstance(e, NotifyStaff)]
    assert call.reason == "pin"
    d.send(StaffCallDone(call.call_id, CallOutcome.DELIVERED))
    assert d.state.staff_call is StaffCall.DELIVERED


def test_a_call_that_did_not_get_through_says_so():
    d = at_pin(make_flow(staff_channel=True), retries=1).send(CallStaff())
    d.send(StaffCallDone(d.state.staff_call_id, CallOutcome.NOT_DELIVERED))
    assert d.state.staff_call is StaffCall.NOT_DELIVERED
    assert PlaySound(Sound.ERROR) in d.effects
    d.send(CallStaff())
    assert d.effects == ()  # once per visit: the screen says where to go instead


def test_a_call_from_the_error_screen_names_the_problem():
    d = at_pin(make_flow(staff_channel=True), retries=1).send(SubmitPin("1111"))
    d.fail_work(ProblemCode.PIN_BLOCKED, 0)
    assert d.screen is Screen.BLOCKED
    d.send(CallStaff())
    (call,) = [e for e in d.effects if isinstance(e, NotifyStaff)]
    assert call.reason == "pin_blocked"


def test_a_late_outcome_of_the_last_visit_tells_the_next_person_nothing():
    flow = make_flow(staff_channel=True)
    d = at_pin(flow, retries=1).send(CallStaff())
    first = d.state.staff_call_id
    d.send(Cancel()).send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ATTRACT and d.state.staff_call is StaffCall.NONE
    d.send(StaffCallDone(first, CallOutcome.DELIVERED))
    assert d.state.staff_call is StaffCall.NONE
    # the next person calls too; the old call's answer is not theirs
    d.send(Start()).send(ReaderChanged(ReaderStatus.CARD)).finish_work(CardStatus(1, 5)).send(
        CallStaff()
    )
    assert d.state.staff_call_id == first + 1
    d.send(StaffCallDone(first, CallOutcome.DELIVERED))
    assert d.state.staff_call is StaffCall.CALLING
    d.send(StaffCallDone(first + 1, CallOutcome.NOT_DELIVERED))
    assert d.state.staff_call is StaffCall.NOT_DELIVERED


def test_every_call_state_has_a_line_in_every_language():
    assert set(STAFF_CALL_TEXT) == set(StaffCall) - {StaffCall.NONE}
    assert STAFF_CALL_TEXT[StaffCall.DELIVERED] == "staff.called"
    for key in STAFF_CALL_TEXT.values():
        assert key in TEXTS
    assert "受付" in TEXTS["staff.not_delivered"].ja
    assert "counter" in TEXTS["staff.no_channel"].en


def test_start_work_keeps_the_staff_pin_out_of_its_repr():
    work = StartWork(1, Work.STAFF_SIGN_IN, staff_id=STAFF_ID, secret=STAFF_PIN)
    assert STAFF_PIN not in repr(work) and STAFF_ID in repr(work)

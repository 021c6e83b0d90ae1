"""Every transition of the kiosk flow, without Qt and without a card."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from kiosk.flow.errors_catalogue import CATALOGUE, Problem, ProblemCode
from kiosk.flow.machine import (
    Back,
    CallStaff,
    Cancel,
    ChooseProvider,
    ChooseService,
    CloseCard,
    ConfirmInfo,
    Consent,
    Decline,
    Done,
    ExitApp,
    Flow,
    FlowConfig,
    FlowState,
    NotifyStaff,
    PlaySound,
    Provider,
    ReaderChanged,
    ReaderStatus,
    Retry,
    Screen,
    ServiceInfo,
    SetLanguage,
    Sound,
    StaffAssist,
    StaffExit,
    StaffRequest,
    Start,
    StartWork,
    SubmitAssist,
    SubmitPassword,
    SubmitPin,
    SubmitStaffId,
    SubmitStaffPin,
    Tick,
    Touch,
    Work,
    WorkDone,
    WorkFailed,
)
from kiosk.i18n import LANGUAGES, Text
from kiosk.services.base import ConsentItem, Link, ResultRow, ServicePreview, ServiceResult
from kiosk.services.identity import IdentityService
from kiosk.services.visit import Authenticated, CardStatus, EnrolmentCandidate, FourInfo

STAFF_ID, STAFF_PIN = "7", "246813"
IDENTITY = IdentityService()
IDENTITY_INFO = ServiceInfo(IDENTITY.id, IDENTITY.title, IDENTITY.description, True)
SHARING = ServiceInfo(
    "sharing",
    Text("共有", "Sharing"),
    Text("", ""),
    needs_link=False,
    consent_items=(
        ConsentItem("basic", Text("基本", "Basic"), required=True),
        ConsentItem("extra", Text("追加", "Extra")),
    ),
)
CLINIC = Provider("clinic", Text("診療所", "Clinic"))
PHARMACY = Provider("pharmacy", Text("薬局", "Pharmacy"))
NOW = 1000.0
LINK = Link("acct-42", datetime(2026, 1, 1, tzinfo=UTC))
AUTH_LINKED = Authenticated("SUBJ1", datetime(2030, 2, 17, tzinfo=UTC), LINK)
AUTH_UNLINKED = Authenticated("SUBJ1", datetime(2030, 2, 17, tzinfo=UTC), None)
CANDIDATE = EnrolmentCandidate(FourInfo("山田 花子", "東京都", "1980-02-17", "女"), object())
RESULT = ServiceResult(True, Text("OK", "OK"), Text("", ""))


def make_flow(services=(IDENTITY_INFO,), providers=(CLINIC,), **kw) -> Flow:
    cfg = FlowConfig(services=services, providers=providers, idle_timeout_s=60, **kw)
    return Flow(cfg)


class Driver:
    """Feeds events, keeps the state and the effects of the last step."""

    def __init__(self, flow: Flow, state: FlowState | None = None, now: float = NOW) -> None:
        self.flow = flow
        self.state = state or flow.initial(ReaderStatus.READY)
        self.now = now
        self.effects: tuple = ()

    def send(self, event, at: float | None = None) -> Driver:
        if at is not None:
            self.now = at
        t = self.flow.step(self.state, event, self.now)
        self.state, self.effects = t.state, t.effects
        return self

    @property
    def screen(self) -> Screen:
        return self.state.screen

    def work(self) -> StartWork:
        works = [e for e in self.effects if isinstance(e, StartWork)]
        assert len(works) == 1, self.effects
        return works[0]

    def finish_work(self, value) -> Driver:
        return self.send(WorkDone(self.state.work_id, value))

    def fail_work(self, code: ProblemCode, retries: int | None = None) -> Driver:
        return self.send(WorkFailed(self.state.work_id, Problem(code, retries)))


def at_pin(flow: Flow | None = None, retries: int = 3) -> Driver:
    d = Driver(flow or make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    return d.finish_work(CardStatus(retries, 5))


def at_password() -> Driver:
    d = at_pin().send(SubmitPin("1234"))
    return d.finish_work(AUTH_UNLINKED)


# --- picking -----------------------------------------------------------------------------


def test_single_service_and_provider_go_straight_to_insert_card():
    d = Driver(make_flow()).send(Start())
    assert d.screen is Screen.INSERT_CARD
    assert (d.state.service_id, d.state.provider_id) == ("identity", "clinic")
    assert d.state.idle_deadline == NOW + 60


def test_picker_and_provider_choice_when_several_and_back_walks_back():
    flow = make_flow(services=(IDENTITY_INFO, SHARING), providers=(CLINIC, PHARMACY))
    d = Driver(flow).send(Start())
    assert d.screen is Screen.SERVICES
    d.send(ChooseService("sharing"))
    assert d.screen is Screen.PROVIDERS and d.state.service_id == "sharing"
    d.send(ChooseProvider("pharmacy"))
    assert d.screen is Screen.INSERT_CARD and d.state.provider_id == "pharmacy"
    d.send(Back())
    assert d.screen is Screen.PROVIDERS and d.state.provider_id == ""
    d.send(Back())
    assert d.screen is Screen.SERVICES and d.state.service_id == ""
    d.send(Back())
    assert d.screen is Screen.ATTRACT


def test_unknown_service_or_provider_is_a_programming_error():
    flow = make_flow(services=(IDENTITY_INFO, SHARING), providers=(CLINIC, PHARMACY))
    d = Driver(flow).send(Start())
    with pytest.raises(KeyError):
        d.send(ChooseService("nope"))
    d.send(ChooseService("identity"))
    with pytest.raises(KeyError):
        d.send(ChooseProvider("nope"))


def test_back_from_insert_card_with_one_service_returns_to_attract():
    d = Driver(make_flow()).send(Start()).send(Back())
    assert d.screen is Screen.ATTRACT and d.state.service_id == ""


def test_flow_needs_a_service():
    with pytest.raises(ValueError):
        make_flow(services=())


# --- reading the card --------------------------------------------------------------------


def test_inserting_the_card_reads_it_before_the_pin_pad():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    assert d.screen is Screen.READING
    assert d.work().kind is Work.READ_CARD and d.work().work_id == d.state.work_id
    d.finish_work(CardStatus(2, 5))
    assert d.screen is Screen.PIN and d.state.card.auth_retries == 2
    assert not any(isinstance(e, PlaySound) for e in d.effects)


def test_card_already_in_the_reader_is_read_on_start():
    flow = make_flow()
    d = Driver(flow, flow.initial(ReaderStatus.CARD, card=True)).send(Start())
    assert d.screen is Screen.READING


def test_one_try_left_warns_with_a_sound():
    d = at_pin(retries=1)
    assert d.screen is Screen.PIN and d.effects == (PlaySound(Sound.ATTENTION),)


def test_zero_tries_goes_to_blocked_without_the_pad():
    d = at_pin(retries=0)
    assert d.screen is Screen.BLOCKED and d.state.problem.code is ProblemCode.PIN_BLOCKED


def test_not_a_my_number_card_stays_on_insert_with_the_status():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.fail_work(ProblemCode.NOT_MY_NUMBER_CARD)
    assert d.screen is Screen.INSERT_CARD
    assert d.state.reader is ReaderStatus.NOT_MY_NUMBER
    assert d.state.problem.code is ProblemCode.NOT_MY_NUMBER_CARD
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.state.reader is ReaderStatus.READY and not d.state.card_present


def test_card_pulled_while_reading_returns_to_insert_and_ignores_the_late_read():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    stale = d.state.work_id
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.INSERT_CARD
    d.send(WorkDone(stale, CardStatus(3, 5)))
    assert d.screen is Screen.INSERT_CARD


def test_card_removed_reported_by_the_read_returns_to_insert():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.fail_work(ProblemCode.CARD_REMOVED)
    assert d.screen is Screen.INSERT_CARD and not d.state.card_present


@pytest.mark.parametrize("code", [ProblemCode.READER_MISSING, ProblemCode.PCSC_DOWN])
def test_reader_errors_show_the_error_screen_and_retry_returns_to_insert(code):
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.fail_work(code)
    assert d.screen is Screen.ERROR and d.state.problem.code is code
    assert PlaySound(Sound.ERROR) in d.effects
    d.send(ReaderChanged(ReaderStatus.READY)).send(Retry())
    assert d.screen is Screen.INSERT_CARD and d.state.service_id == "identity"


def test_retry_with_the_card_still_in_reads_it_again():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.fail_work(ProblemCode.CARD_ERROR)
    d.send(Retry())
    assert d.screen is Screen.READING


def test_retry_on_a_final_error_ends_the_visit():
    d = at_pin().send(SubmitPin("1234"))
    d.fail_work(ProblemCode.CERT_REVOKED)
    assert d.screen is Screen.ERROR
    d.send(Retry())
    assert d.screen is Screen.TAKE_CARD and d.state.authenticated is None


# --- PIN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["", "123", "12345", "12a4", "１２３４"])
def test_malformed_pin_is_never_sent(pin):
    d = at_pin().send(SubmitPin(pin))
    assert d.screen is Screen.PIN and d.effects == ()
    assert d.state.problem.code is ProblemCode.PIN_FORMAT


def test_pin_goes_to_one_authenticate_call_and_never_into_reprs():
    d = at_pin().send(SubmitPin("4321"))
    work = d.work()
    assert d.screen is Screen.WORKING and work.kind is Work.AUTHENTICATE
    assert work.secret == "4321"
    assert "4321" not in repr(work) and "4321" not in repr(SubmitPin("4321"))
    assert "4321" not in repr(d.state)


def test_wrong_pin_then_right_pin():
    d = at_pin().send(SubmitPin("1111"))
    d.fail_work(ProblemCode.PIN_INCORRECT, 2)
    assert d.screen is Screen.PIN and d.state.card.auth_retries == 2
    assert d.state.problem == Problem(ProblemCode.PIN_INCORRECT, 2)
    d.send(SubmitPin("1234"))
    assert d.state.problem is None
    d.finish_work(AUTH_LINKED)
    assert d.work().kind is Work.RUN_SERVICE


def test_last_try_left_after_a_miss_warns():
    d = at_pin(retries=2).send(SubmitPin("1111"))
    d.fail_work(ProblemCode.PIN_INCORRECT, 1)
    assert PlaySound(Sound.ATTENTION) in d.effects and d.state.card.auth_retries == 1


@pytest.mark.parametrize(
    ("code", "retries"), [(ProblemCode.PIN_INCORRECT, 0), (ProblemCode.PIN_BLOCKED, None)]
)
def test_the_block(code, retries):
    d = at_pin(retries=1).send(SubmitPin("1111"))
    d.fail_work(code, retries)
    assert d.screen is Screen.BLOCKED and d.state.problem.code is ProblemCode.PIN_BLOCKED
    d.send(Done())
    assert d.screen is Screen.TAKE_CARD
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ATTRACT


def test_call_staff_notifies_once():
    d = at_pin(make_flow(staff_channel=True), retries=1).send(CallStaff())
    assert NotifyStaff(1, "pin") in d.effects and d.state.staff_called
    d.send(CallStaff())
    assert d.effects == ()


def test_cancel_on_the_pin_pad_ends_the_visit():
    d = at_pin().send(Cancel())
    assert d.screen is Screen.TAKE_CARD and d.state.card is None


# --- identity check, result, take-your-card ----------------------------------------------


def test_identity_happy_path():
    d = at_pin().send(SubmitPin("1234")).finish_work(AUTH_LINKED)
    work = d.work()
    assert work.kind is Work.RUN_SERVICE
    assert work.context.link == LINK and work.context.subject == "SUBJ1"
    assert work.context.service_id == "identity" and not work.context.assisted
    assert (work.service_id, work.provider_id) == ("identity", "clinic")
    d.finish_work(IDENTITY.run(work.context))
    assert d.screen is Screen.RESULT and d.state.result.ok
    assert PlaySound(Sound.DONE) in d.effects
    d.send(Done())
    assert d.screen is Screen.TAKE_CARD and PlaySound(Sound.TAKE_CARD) in d.effects
    assert d.state.result is None and d.state.authenticated is None
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ATTRACT


def test_result_with_the_card_already_taken_ends_at_attract():
    d = at_pin().send(SubmitPin("1234")).finish_work(AUTH_LINKED).finish_work(RESULT)
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.RESULT
    d.send(Done())
    assert d.screen is Screen.ATTRACT


def test_failed_result_plays_the_error_cue():
    d = at_pin().send(SubmitPin("1234")).finish_work(AUTH_LINKED)
    d.finish_work(replace(RESULT, ok=False))
    assert d.screen is Screen.RESULT and PlaySound(Sound.ERROR) in d.effects


def test_take_card_reminder_repeats_while_the_card_stays():
    d = at_pin().send(Cancel())
    assert d.screen is Screen.TAKE_CARD
    d.send(Tick(), at=NOW + 9)
    assert d.effects == ()
    d.send(Tick(), at=NOW + 10)
    assert d.effects == (PlaySound(Sound.TAKE_CARD),) and d.screen is Screen.TAKE_CARD


@pytest.mark.parametrize(
    "code",
    [
        ProblemCode.CERT_EXPIRED,
        ProblemCode.CERT_REVOKED,
        ProblemCode.UNTRUSTED_ISSUER,
        ProblemCode.PLATFORM_UNREACHABLE,
        ProblemCode.REVOCATION_UNKNOWN,
    ],
)
def test_verification_problems_show_the_error_screen(code):
    d = at_pin().send(SubmitPin("1234"))
    d.fail_work(code)
    assert d.screen is Screen.ERROR and d.state.problem.code is code


def test_service_failure_shows_the_error_screen():
    d = at_pin().send(SubmitPin("1234")).finish_work(AUTH_LINKED)
    d.fail_work(ProblemCode.SERVICE_FAILED)
    assert d.screen is Screen.ERROR


# --- enrolment ---------------------------------------------------------------------------


def test_enrolment_when_no_link_exists():
    d = at_password()
    assert d.screen is Screen.PASSWORD
    d.send(SubmitPassword("abc"))
    assert d.state.problem.code is ProblemCode.PASSWORD_FORMAT and d.effects == ()
    d.send(SubmitPassword("ABC123"))
    work = d.work()
    assert work.kind is Work.READ_SIGNER and work.secret == "ABC123"
    assert work.authenticated == AUTH_UNLINKED and "ABC123" not in repr(work)
    d.finish_work(CANDIDATE)
    assert d.screen is Screen.REVIEW and d.state.candidate == CANDIDATE
    assert "山田" not in repr(d.state)
    d.send(ConfirmInfo())
    assert d.screen is Screen.ENROL_CONSENT
    d.send(Consent())
    assert d.work().kind is Work.ENROL and d.work().candidate == CANDIDATE
    d.finish_work(LINK)
    assert d.state.candidate is None and d.work().kind is Work.RUN_SERVICE
    assert d.work().context.link == LINK
    d.finish_work(RESULT)
    assert d.screen is Screen.RESULT


@pytest.mark.parametrize("password", ["ABCDE", "A" * 17, "abcdef", "ABC-123"])
def test_malformed_password_is_never_sent(password):
    d = at_password().send(SubmitPassword(password))
    assert d.effects == () and d.state.problem.code is ProblemCode.PASSWORD_FORMAT


def test_wrong_password_then_block():
    d = at_password().send(SubmitPassword("WRONG1"))
    d.fail_work(ProblemCode.PASSWORD_INCORRECT, 4)
    assert d.screen is Screen.PASSWORD and d.state.card.sign_retries == 4
    d.send(SubmitPassword("WRONG2")).fail_work(ProblemCode.PASSWORD_INCORRECT, 0)
    assert d.screen is Screen.BLOCKED
    assert d.state.problem.code is ProblemCode.PASSWORD_BLOCKED


def test_needs_reenrolment_asks_for_the_password():
    d = at_pin().send(SubmitPin("1234"))
    d.finish_work(replace(AUTH_UNLINKED, needs_reenrolment=True))
    assert d.screen is Screen.PASSWORD
    assert d.state.problem.code is ProblemCode.NEEDS_REENROLMENT


def test_no_sign_cert_or_blocked_password_stops_enrolment():
    flow = make_flow()
    d = (
        Driver(flow)
        .send(Start())
        .send(ReaderChanged(ReaderStatus.CARD))
        .finish_work(CardStatus(3, 5, False))
    )
    d.send(SubmitPin("1234")).finish_work(AUTH_UNLINKED)
    assert d.screen is Screen.ERROR and d.state.problem.code is ProblemCode.NO_SIGN_CERT
    d = (
        Driver(flow)
        .send(Start())
        .send(ReaderChanged(ReaderStatus.CARD))
        .finish_work(CardStatus(3, 0))
    )
    d.send(SubmitPin("1234")).finish_work(AUTH_UNLINKED)
    assert d.screen is Screen.BLOCKED


def test_declining_enrolment_ends_the_visit_and_wipes_the_4_info():
    d = at_password().send(SubmitPassword("ABC123")).finish_work(CANDIDATE)
    d.send(ConfirmInfo()).send(Decline())
    assert d.screen is Screen.TAKE_CARD and d.state.candidate is None


def test_cancel_on_review_ends_the_visit():
    d = at_password().send(SubmitPassword("ABC123")).finish_work(CANDIDATE).send(Cancel())
    assert d.screen is Screen.TAKE_CARD and d.state.candidate is None


# --- service consent ---------------------------------------------------------------------


def sharing_flow_after_auth() -> Driver:
    flow = make_flow(services=(IDENTITY_INFO, SHARING))
    d = (
        Driver(flow)
        .send(Start())
        .send(ChooseService("sharing"))
        .send(ReaderChanged(ReaderStatus.CARD))
    )
    d.finish_work(CardStatus(3, 5)).send(SubmitPin("1234")).finish_work(AUTH_UNLINKED)
    return d


def test_service_consent_item_by_item():
    d = sharing_flow_after_auth()
    assert d.screen is Screen.SERVICE_CONSENT
    d.send(Consent(frozenset({"basic", "unknown"})))
    assert d.work().context.consented == frozenset({"basic"})


def test_declining_a_required_item_ends_the_visit():
    d = sharing_flow_after_auth().send(Consent(frozenset({"extra"})))
    assert d.screen is Screen.ATTRACT and d.state.authenticated is None


def test_decline_on_service_consent():
    d = sharing_flow_after_auth().send(Decline())
    assert d.screen is Screen.TAKE_CARD


# --- card pulled -------------------------------------------------------------------------


def test_card_pulled_during_pin_entry_pauses_then_resumes():
    d = at_pin(retries=2).send(ReaderChanged(ReaderStatus.READY), at=NOW + 5)
    assert d.screen is Screen.PUT_BACK and d.state.countdown_deadline == NOW + 35
    assert d.state.idle_deadline is None and PlaySound(Sound.ATTENTION) in d.effects
    d.send(Tick(), at=NOW + 34)
    assert d.screen is Screen.PUT_BACK
    d.send(ReaderChanged(ReaderStatus.CARD), at=NOW + 20)
    assert d.screen is Screen.READING and d.state.countdown_deadline is None
    d.finish_work(CardStatus(2, 5))
    assert d.screen is Screen.PIN and d.state.service_id == "identity"


def test_card_not_put_back_in_time_returns_to_attract():
    d = at_pin().send(ReaderChanged(ReaderStatus.READY), at=NOW).send(Tick(), at=NOW + 30)
    assert d.screen is Screen.ATTRACT and d.state.card is None and d.state.service_id == ""


def test_cancel_while_waiting_for_the_card():
    d = at_pin().send(ReaderChanged(ReaderStatus.READY)).send(Cancel())
    assert d.screen is Screen.ATTRACT


def test_reader_lost_during_pin_entry_counts_as_a_pull():
    d = at_pin().send(ReaderChanged(ReaderStatus.NO_READER))
    assert d.screen is Screen.PUT_BACK and d.state.reader is ReaderStatus.NO_READER


def test_card_pulled_during_signing_aborts_and_ignores_the_late_result():
    d = at_pin().send(SubmitPin("1234"))
    stale = d.state.work_id
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ERROR and d.state.problem.code is ProblemCode.CARD_REMOVED
    assert d.state.card is None and d.state.authenticated is None
    d.send(WorkDone(stale, AUTH_LINKED))
    assert d.screen is Screen.ERROR and d.state.authenticated is None
    d.send(Retry())
    assert d.screen is Screen.INSERT_CARD and d.state.service_id == "identity"
    d.send(ReaderChanged(ReaderStatus.CARD))
    assert d.screen is Screen.READING


@pytest.mark.parametrize("where", ["password", "review", "consent"])
def test_card_pulled_during_enrolment_aborts_and_wipes(where):
    d = at_password()
    if where != "password":
        d.send(SubmitPassword("ABC123")).finish_work(CANDIDATE)
    if where == "consent":
        d.send(ConfirmInfo())
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ERROR
    assert d.state.candidate is None and d.state.authenticated is None


def test_card_removed_reported_by_the_work_aborts():
    d = at_pin().send(SubmitPin("1234"))
    d.fail_work(ProblemCode.CARD_REMOVED)
    assert d.screen is Screen.ERROR and d.state.card is None
    d.send(Done())  # the monitor has not said the card is out yet
    assert d.screen is Screen.TAKE_CARD
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ATTRACT and d.state.service_id == ""


def test_cancel_during_work_ignores_the_late_result():
    d = at_pin().send(SubmitPin("1234"))
    stale = d.state.work_id
    d.send(Cancel())
    assert d.screen is Screen.TAKE_CARD
    d.send(WorkDone(stale, AUTH_LINKED))
    assert d.screen is Screen.TAKE_CARD and d.state.authenticated is None


# --- idle --------------------------------------------------------------------------------


def test_idle_timeout_wipes_the_session():
    d = at_password().send(SubmitPassword("ABC123")).finish_work(CANDIDATE)
    d.send(SetLanguage("en"), at=NOW + 1)
    deadline = d.state.idle_deadline
    assert deadline == NOW + 61
    d.send(Tick(), at=deadline - 0.1)
    assert d.screen is Screen.REVIEW
    d.send(Tick(), at=deadline)
    assert d.screen is Screen.ATTRACT
    initial = d.flow.initial(ReaderStatus.CARD, card=True)
    assert d.state == replace(initial, work_id=d.state.work_id)
    assert d.state.language == "ja"


def test_touch_postpones_the_idle_timeout():
    d = at_pin()
    d.send(Touch(), at=NOW + 50)
    d.send(Tick(), at=NOW + 100)
    assert d.screen is Screen.PIN
    d.send(Tick(), at=NOW + 110)
    assert d.screen is Screen.ATTRACT


def test_idle_on_the_result_reminds_to_take_the_card():
    d = at_pin().send(SubmitPin("1234")).finish_work(AUTH_LINKED).finish_work(RESULT)
    d.send(Tick(), at=NOW + 60)
    assert d.screen is Screen.TAKE_CARD and d.state.result is None


def test_no_idle_timeout_on_attract_or_while_working():
    d = Driver(make_flow()).send(Touch()).send(Tick(), at=NOW + 1e6)
    assert d.screen is Screen.ATTRACT and d.state.idle_deadline is None
    d = at_pin().send(SubmitPin("1234"))
    assert d.state.idle_deadline is None
    d.send(Tick(), at=NOW + 1e6)
    assert d.screen is Screen.WORKING


# --- language, ignored events ------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_switch_keeps_the_screen_and_session(language):
    d = at_pin(retries=2)
    before = d.state
    d.send(SetLanguage(language))
    assert d.state == replace(before, language=language)


def test_events_that_mean_nothing_here_are_ignored():
    d = at_pin()
    before = d.state
    for event in (Start(), Done(), ConfirmInfo(), WorkDone(0, None), Consent(), Retry()):
        d.send(event)
        assert d.state == before and d.effects == ()


def test_the_flow_decides_from_the_reader_status_whether_a_card_went_in_or_out():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    assert d.screen is Screen.READING and d.work().kind is Work.READ_CARD
    reading = d.state.work_id
    d.send(ReaderChanged(ReaderStatus.CARD))  # the same status again is no new card
    assert d.state.work_id == reading and d.effects == ()
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.INSERT_CARD and not d.state.card_present


def test_card_events_off_the_card_screens_only_track_presence():
    d = Driver(make_flow()).send(ReaderChanged(ReaderStatus.CARD))
    assert d.screen is Screen.ATTRACT and d.state.card_present
    d.send(ReaderChanged(ReaderStatus.NO_SERVICE))
    assert d.state.reader is ReaderStatus.NO_SERVICE and not d.state.card_present


# --- staff -------------------------------------------------------------------------------


def staff_flow(**kw) -> Flow:
    return make_flow(staff_enabled=True, **kw)


def sign_in(d: Driver, staff_id: str = STAFF_ID) -> Driver:
    """From anywhere: the hidden request, the staff number, the PIN, the desk says yes."""
    d.send(StaffRequest()).send(SubmitStaffId(staff_id)).send(SubmitStaffPin(STAFF_PIN))
    return d.finish_work(staff_id)


def test_staff_mode_needs_configured_staff():
    d = Driver(make_flow()).send(StaffRequest())
    assert d.screen is Screen.ATTRACT


def test_staff_login_exit_and_wrong_pin():
    d = Driver(staff_flow()).send(Start()).send(StaffRequest())
    assert d.screen is Screen.STAFF_LOGIN and d.state.service_id == ""
    d.send(SubmitStaffId(STAFF_ID)).send(SubmitStaffPin("999999"))
    assert d.work().kind is Work.STAFF_SIGN_IN
    d.fail_work(ProblemCode.STAFF_PIN_WRONG)
    assert d.screen is Screen.STAFF_LOGIN
    assert d.state.problem.code is ProblemCode.STAFF_PIN_WRONG
    sign_in(d)
    assert d.screen is Screen.STAFF_MENU and d.state.staff and d.state.staff_id == STAFF_ID
    d.send(StaffExit())
    assert d.work().kind is Work.STAFF_EXIT and d.work().staff_id == STAFF_ID
    d.finish_work(STAFF_ID)
    assert d.effects == (ExitApp(),)


def test_staff_cannot_interrupt_card_work():
    d = at_pin(staff_flow()).send(SubmitPin("1234")).send(StaffRequest())
    assert d.screen is Screen.WORKING


def test_staff_assisted_path():
    d = sign_in(Driver(staff_flow()))
    d.send(StaffAssist())
    assert d.screen is Screen.STAFF_ASSIST and d.state.service_id == "identity"
    d.send(SubmitAssist("1234", "12-34"))
    assert d.state.problem.code is ProblemCode.ASSIST_FORMAT and d.effects == ()
    d.send(SubmitAssist("06123456", " "))
    assert d.effects == ()
    d.send(SubmitAssist(" 06123456 ", "12-34 "))
    work = d.work()
    assert work.kind is Work.ASSISTED and work.staff_id == STAFF_ID
    assert (work.context.insurer, work.context.member) == ("06123456", "12-34")
    assert work.context.assisted and work.context.subject == ""
    d.finish_work(IDENTITY.run(work.context))
    assert d.screen is Screen.RESULT and d.state.result.assisted


def test_staff_menu_cancel_returns_to_attract():
    d = sign_in(Driver(staff_flow())).send(Cancel())
    assert d.screen is Screen.ATTRACT and not d.state.staff


def test_staff_can_choose_the_service_for_assistance():
    flow = staff_flow(services=(IDENTITY_INFO, SHARING))
    d = sign_in(Driver(flow)).send(StaffAssist())
    d.send(ChooseService("sharing"))
    assert d.state.service_id == "sharing"


# --- catalogue, service ------------------------------------------------------------------


@pytest.mark.parametrize("code", list(ProblemCode))
def test_every_problem_has_a_catalogue_entry_in_every_language(code):
    entry = CATALOGUE[code]
    for language in LANGUAGES:
        assert entry.title.get(language).strip()
        assert entry.text.format(language, retries=2).strip()


def test_blocked_entry_says_where_to_reset():
    text = CATALOGUE[ProblemCode.PIN_BLOCKED].text
    assert "市区町村" in text.get("ja") and "コンビニ" in text.get("ja")
    assert "municipal office" in text.get("en") and "convenience-store" in text.get("en")


def test_identity_service_needs_a_link_unless_assisted():
    work = at_pin().send(SubmitPin("1234")).finish_work(AUTH_LINKED).work()
    result = IDENTITY.run(work.context)
    assert [r.value for r in result.rows] == ["acct-42", "2026-01-01", "2030-02-17"]
    with pytest.raises(ValueError):
        IDENTITY.run(replace(work.context, link=None))


def test_the_card_session_is_closed_when_the_visit_ends():
    d = at_pin()
    assert CloseCard() not in d.effects
    d.send(Cancel())
    assert CloseCard() in d.effects
    d = at_pin().send(Tick(), at=NOW + 60)
    assert d.screen is Screen.ATTRACT and CloseCard() in d.effects


def test_the_language_stays_while_the_same_person_is_there():
    d = (
        at_pin()
        .send(SetLanguage("en"))
        .send(SubmitPin("1234"))
        .send(ReaderChanged(ReaderStatus.READY))
    )
    assert d.screen is Screen.ERROR and d.state.language == "en"
    d = at_pin().send(SetLanguage("en")).send(Cancel())
    assert d.screen is Screen.TAKE_CARD and d.state.language == "en"
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ATTRACT and d.state.language == "ja"


# --- a service that shows a preview before consent (e.g. the amount to pay) ---------------

PAYING = ServiceInfo(
    "paying",
    Text("支払い", "Payment"),
    Text("", ""),
    needs_link=True,
    consent_items=(ConsentItem("pay", Text("支払う", "Pay"), required=True),),
    prepares=True,
)
PREVIEW = ServicePreview(
    Text("お支払い", "Payment"), (ResultRow(Text("金額", "Amount"), "¥1,280"),), "req-7:1280"
)


def paying_after_auth() -> Driver:
    d = at_pin(make_flow(services=(PAYING,))).send(SubmitPin("1234"))
    return d.finish_work(AUTH_LINKED)


def test_a_preparing_service_shows_its_preview_then_acts_on_exactly_that():
    d = paying_after_auth()
    assert d.screen is Screen.WORKING and d.work().kind is Work.PREPARE
    assert d.work().context.link == LINK and d.work().context.preview is None
    d.finish_work(PREVIEW)
    assert d.screen is Screen.SERVICE_CONSENT and d.state.preview == PREVIEW
    d.send(Consent(frozenset({"pay"})))
    run = d.work()
    assert run.kind is Work.RUN_SERVICE and run.context.preview == PREVIEW
    assert run.context.consented == frozenset({"pay"})
    d.finish_work(RESULT).send(Done())
    assert d.state.preview is None  # gone with the visit


def test_a_preview_that_ends_the_visit_shows_its_result():
    nothing = ServiceResult(False, Text("お支払いはありません", "Nothing to pay"), Text("", ""))
    d = paying_after_auth().finish_work(nothing)
    assert d.screen is Screen.RESULT and d.state.result == nothing
    assert PlaySound(Sound.ERROR) in d.effects


def test_a_failed_preview_is_an_error_and_declining_it_pays_nothing():
    d = paying_after_auth().fail_work(ProblemCode.SERVICE_FAILED)
    assert d.screen is Screen.ERROR
    d = paying_after_auth().finish_work(PREVIEW).send(Decline())
    assert d.screen is Screen.TAKE_CARD and d.state.preview is None


def test_a_preparing_service_without_consent_items_runs_after_the_preview():
    quiet = replace(PAYING, consent_items=())
    d = at_pin(make_flow(services=(quiet,))).send(SubmitPin("1234")).finish_work(AUTH_LINKED)
    d.finish_work(PREVIEW)
    assert d.work().kind is Work.RUN_SERVICE and d.work().context.preview == PREVIEW


def test_card_pulled_while_the_preview_shows_pays_nothing():
    d = paying_after_auth().finish_work(PREVIEW).send(ReaderChanged(ReaderStatus.READY))
    assert not [e for e in d.effects if isinstance(e, StartWork)]
    assert d.state.preview is None and d.state.authenticated is None
    late = paying_after_auth()
    work_id = late.state.work_id
    late.send(ReaderChanged(ReaderStatus.READY)).send(
        WorkDone(work_id, PREVIEW)
    )  # the preview comes too late
    assert late.state.preview is None and late.screen is not Screen.SERVICE_CONSENT


# --- checks that hold under `python -O` ----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a string", None, CardStatus(3, 5)],  # none of them is an Authenticated
    ids=["str", "none", "card-status"],
)
def test_work_answered_with_the_wrong_kind_of_value_ends_on_the_internal_problem(value):
    d = at_pin().send(SubmitPin("1234")).finish_work(value)
    assert d.screen is Screen.ERROR and d.state.problem.code is ProblemCode.INTERNAL
    assert d.state.authenticated is None


def test_a_card_read_answered_with_something_else_is_the_internal_problem():
    d = Driver(make_flow()).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.finish_work(AUTH_LINKED)
    assert d.screen is Screen.ERROR and d.state.problem.code is ProblemCode.INTERNAL


def test_a_handler_reached_with_another_event_type_is_a_wiring_bug():
    from kiosk.flow.machine import Misrouted, _read_done

    flow = make_flow()
    with pytest.raises(Misrouted):
        _read_done(flow, flow.initial(ReaderStatus.READY), Start(), NOW)

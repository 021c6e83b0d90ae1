"""The binding code's screen in the flow: a service that asks a code (the login) has the
person type it after the card proved them (and enrolment, if needed) and before its preview;
the code's shape is checked before any work, a refused code is said inline and typed again
(three refusals end the visit), a rate limit shows its wait, and the code goes with the visit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from kiosk.flow.errors_catalogue import Problem, ProblemCode, entry
from kiosk.flow.machine import (
    ABORT_ON_REMOVAL,
    IDLE_SCREENS,
    MAX_CODE_REFUSALS,
    Cancel,
    CloseCard,
    ConfirmInfo,
    Consent,
    Decline,
    Done,
    PlaySound,
    ReaderChanged,
    ReaderStatus,
    Retry,
    Screen,
    ServiceInfo,
    Sound,
    Start,
    StartWork,
    SubmitBindingCode,
    SubmitPassword,
    SubmitPin,
    Tick,
    Work,
    WorkFailed,
)
from kiosk.i18n import Text
from kiosk.services.base import ConsentItem, Link, ResultRow, ServicePreview, ServiceResult
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingRefused,
    BindingUnknown,
    BindingUsed,
)
from kiosk.services.visit import Authenticated, CardStatus, EnrolmentCandidate, FourInfo
from kiosk.ui.problems import problem_for
from tests.unit.test_flow import NOW, Driver, make_flow

CODE = "12345678"
VERIFIED_AT = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
LINK = Link("acct-42", datetime(2026, 1, 1, tzinfo=UTC))
AUTH = Authenticated("SUBJ1", datetime(2030, 2, 17, tzinfo=UTC), LINK, verified_at=VERIFIED_AT)
AUTH_UNLINKED = replace(AUTH, link=None)
CANDIDATE = EnrolmentCandidate(FourInfo("山田 花子", "東京都", "1980-02-17", "女"), object())
LOGIN = ServiceInfo(
    "login",
    Text("ログイン", "Sign in", "ログイン"),
    Text("", "", ""),
    needs_link=True,
    consent_items=(ConsentItem("sign_in", Text("ログイン", "Sign in", "ログイン"), True),),
    prepares=True,
    asks_code=True,
)
PREVIEW = ServicePreview(
    Text("TEST ショップ にログインします", "Sign in to TEST Shop", "TEST ショップ に ログイン"),
    (ResultRow(Text("ログイン先", "Signing in to", "ログイン する ところ"), "TEST Shop"),),
    reference="login:abc",
)
SIGNED_IN = ServiceResult(True, Text("済", "Done", "おわり"), Text("", "", ""))
#: The broker's refusals of a code, as the person is told them (the rate limit apart).
REFUSALS = (
    ProblemCode.LOGIN_CODE_UNKNOWN,
    ProblemCode.LOGIN_CODE_EXPIRED,
    ProblemCode.LOGIN_CODE_USED,
    ProblemCode.LOGIN_CODE_OTHER_PROVIDER,
    ProblemCode.LOGIN_CODE_REFUSED,
)


def at_code(auth: Authenticated = AUTH) -> Driver:
    """A login visit whose card proved the person (linked): the code's screen."""
    d = Driver(make_flow(services=(LOGIN,))).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.finish_work(CardStatus(3, 5)).send(SubmitPin("1234"))
    return d.finish_work(auth)


def refused(d: Driver, code: ProblemCode, wait_s: int | None = None) -> Driver:
    """Type the code and have the broker refuse it."""
    d.send(SubmitBindingCode(CODE))
    assert d.work().kind is Work.PREPARE
    return d.send(WorkFailed(d.state.work_id, Problem(code, wait_s=wait_s)))


def test_a_service_that_asks_a_code_needs_a_preview_to_show():
    with pytest.raises(ValueError, match="prepare"):
        replace(LOGIN, prepares=False)


def test_the_code_is_asked_after_the_card_proved_the_person_and_nothing_is_started():
    d = at_code()
    assert d.screen is Screen.BINDING_CODE
    assert d.effects == () and d.state.work is None
    assert d.state.idle_deadline == NOW + 60  # a screen a person acts on
    assert Screen.BINDING_CODE in IDLE_SCREENS and Screen.BINDING_CODE in ABORT_ON_REMOVAL


def test_the_code_is_asked_after_enrolment_too():
    d = at_code(AUTH_UNLINKED)
    assert d.screen is Screen.PASSWORD
    d.send(SubmitPassword("ABC123")).finish_work(CANDIDATE).send(ConfirmInfo()).send(Consent())
    assert d.work().kind is Work.ENROL
    d.finish_work(LINK)
    assert d.screen is Screen.BINDING_CODE and d.effects == ()
    assert d.state.link == LINK


@pytest.mark.parametrize(
    "typed", ["", "1234567", "123456789", "1234567a", "１２３４５６７８", "12-34"]
)
def test_a_code_of_the_wrong_shape_is_refused_on_the_screen_before_any_work(typed):
    d = at_code()
    d.send(SubmitBindingCode(typed))
    assert d.screen is Screen.BINDING_CODE
    assert d.effects == ()  # nothing asked of the broker, nothing of the card
    assert d.state.problem == Problem(ProblemCode.LOGIN_CODE_FORMAT)
    assert d.state.code_refusals == 0 and d.state.binding_code == ""


@pytest.mark.parametrize("typed", [CODE, "1234 5678", " 1234 5678 ", "1234-5678", "1234\u30005678"])
def test_a_code_of_eight_digits_goes_to_the_service_preview_with_the_verification_time(typed):
    d = at_code()
    d.send(SubmitBindingCode(typed))
    (work,) = d.effects  # the service's preview, and nothing else
    assert isinstance(work, StartWork) and work.kind is Work.PREPARE
    assert d.screen is Screen.WORKING
    assert work.secret == ""  # nothing for the card: a wrong code costs no PIN try
    context = work.context
    assert context is not None
    assert context.binding_code == CODE  # as the broker takes it: the digits alone
    assert context.auth_time == VERIFIED_AT and context.link == LINK
    assert CODE not in repr(context) and CODE not in repr(work) and CODE not in repr(d.state)


def test_an_accepted_code_shows_the_preview_then_runs_on_consent_with_the_code():
    d = at_code().send(SubmitBindingCode(CODE)).finish_work(PREVIEW)
    assert d.screen is Screen.SERVICE_CONSENT and d.state.preview == PREVIEW
    d.send(Consent(frozenset({"sign_in"})))
    work = d.work()
    assert work.kind is Work.RUN_SERVICE
    assert work.context.binding_code == CODE and work.context.preview == PREVIEW
    assert work.context.consented == {"sign_in"} and work.context.auth_time == VERIFIED_AT
    d.finish_work(SIGNED_IN)
    assert d.screen is Screen.RESULT and d.state.binding_code == ""


def test_declining_the_preview_ends_the_visit_and_forgets_the_code():
    d = at_code().send(SubmitBindingCode(CODE)).finish_work(PREVIEW).send(Decline())
    assert d.screen is Screen.TAKE_CARD
    assert d.state.binding_code == "" and d.state.preview is None and d.state.code_refusals == 0
    assert CloseCard() in d.effects


@pytest.mark.parametrize("code", REFUSALS)
def test_a_refused_code_is_said_inline_and_the_person_types_again(code):
    d = refused(at_code(), code)
    assert d.screen is Screen.BINDING_CODE
    assert d.state.problem == Problem(code)
    assert d.state.code_refusals == 1 and d.state.binding_code == "" and d.state.work is None
    assert PlaySound(Sound.ERROR) in d.effects
    assert entry(code).retry  # typing again helps
    d.send(SubmitBindingCode("87654321"))
    assert d.work().context.binding_code == "87654321"


def test_the_third_refused_code_ends_the_visit_with_a_clear_result():
    d = at_code()
    for _ in range(MAX_CODE_REFUSALS - 1):
        refused(d, ProblemCode.LOGIN_CODE_UNKNOWN)
        assert d.screen is Screen.BINDING_CODE
    refused(d, ProblemCode.LOGIN_CODE_EXPIRED)
    assert MAX_CODE_REFUSALS == 3
    assert d.screen is Screen.ERROR
    assert d.state.problem == Problem(ProblemCode.LOGIN_CODE_TOO_MANY)
    assert not entry(ProblemCode.LOGIN_CODE_TOO_MANY).retry  # start again at the online service
    assert d.state.binding_code == ""
    d.send(Retry())  # not offered; were it sent, it only ends the visit
    assert d.screen is Screen.TAKE_CARD
    assert d.state.code_refusals == 0


def test_a_wrong_shape_does_not_count_as_a_refusal():
    d = at_code()
    refused(d, ProblemCode.LOGIN_CODE_UNKNOWN)
    for _ in range(5):
        d.send(SubmitBindingCode("1"))
    assert d.screen is Screen.BINDING_CODE and d.state.code_refusals == 1


def test_a_rate_limit_shows_the_wait_and_the_code_is_not_sent_before_it_is_over():
    d = at_code()
    refused(d, ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=30)
    assert d.screen is Screen.BINDING_CODE
    assert d.state.problem == Problem(ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=30)
    assert d.state.code_refusals == 1
    d.send(SubmitBindingCode(CODE), at=NOW + 10)
    assert d.effects == () and d.screen is Screen.BINDING_CODE
    assert d.state.problem == Problem(ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=20)
    d.send(SubmitBindingCode(CODE), at=NOW + 30)
    assert d.work().kind is Work.PREPARE


def test_other_failures_of_the_preview_end_the_visit_as_before():
    d = at_code().send(SubmitBindingCode(CODE))
    d.fail_work(ProblemCode.SERVICE_FAILED)
    assert d.screen is Screen.ERROR and d.state.problem == Problem(ProblemCode.SERVICE_FAILED)
    assert d.state.binding_code == ""


def test_a_preview_that_ends_the_visit_forgets_the_code():
    ended = ServiceResult(False, Text("不可", "No", "だめ"), Text("", "", ""))
    d = at_code().send(SubmitBindingCode(CODE)).finish_work(ended)
    assert d.screen is Screen.RESULT and d.state.binding_code == ""


def test_cancel_on_the_code_screen_ends_the_visit():
    d = at_code().send(Cancel())
    assert d.screen is Screen.TAKE_CARD and d.state.authenticated is None
    assert CloseCard() in d.effects


def test_pulling_the_card_on_the_code_screen_aborts_the_visit():
    d = at_code().send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.ERROR and d.state.problem == Problem(ProblemCode.CARD_REMOVED)
    assert d.state.authenticated is None and d.state.link is None


def test_idling_on_the_code_screen_returns_to_the_start():
    d = at_code().send(Tick(), at=NOW + 61)
    assert d.screen is Screen.ATTRACT and d.state.authenticated is None


def test_the_result_done_wipes_the_visit_code_and_count():
    d = at_code()
    refused(d, ProblemCode.LOGIN_CODE_UNKNOWN)
    d.send(SubmitBindingCode(CODE)).finish_work(PREVIEW).send(Consent(frozenset({"sign_in"})))
    d.finish_work(SIGNED_IN).send(Done())
    assert d.screen is Screen.TAKE_CARD
    assert d.state.binding_code == "" and d.state.code_refusals == 0
    assert d.state.code_wait_until is None


def test_a_service_without_a_code_prepares_at_once():
    plain = replace(LOGIN, id="payment", asks_code=False)
    d = Driver(make_flow(services=(plain,))).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.finish_work(CardStatus(3, 5)).send(SubmitPin("1234")).finish_work(AUTH)
    assert d.work().kind is Work.PREPARE and d.work().context.binding_code == ""


@pytest.mark.parametrize(
    "error,code",
    [
        (BindingUnknown("x"), ProblemCode.LOGIN_CODE_UNKNOWN),
        (BindingExpired("x"), ProblemCode.LOGIN_CODE_EXPIRED),
        (BindingUsed("x"), ProblemCode.LOGIN_CODE_USED),
        (BindingOtherProvider("x"), ProblemCode.LOGIN_CODE_OTHER_PROVIDER),
        (BindingRefused("x"), ProblemCode.LOGIN_CODE_REFUSED),
    ],
)
def test_the_brokers_refusals_are_told_as_their_own_problems(error, code):
    assert problem_for(error) == Problem(code)


def test_a_rate_limit_is_told_with_its_wait():
    limited = BindingRateLimited("slow down", retry_after_s=42)
    assert problem_for(limited) == Problem(ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=42)


def test_a_refusal_from_a_service_that_asks_no_code_ends_the_visit():
    plain = replace(LOGIN, id="payment", asks_code=False)
    d = Driver(make_flow(services=(plain,))).send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    d.finish_work(CardStatus(3, 5)).send(SubmitPin("1234")).finish_work(AUTH)
    d.fail_work(ProblemCode.LOGIN_CODE_UNKNOWN)
    assert d.screen is Screen.ERROR and d.state.code_refusals == 0

"""The flow for tokens other than today's card: phones, face-authentication cards, unknown
tokens (pure transitions, no Qt, no card)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.flow.machine import (
    CallStaff,
    Cancel,
    CloseCard,
    ConfirmedOnPhone,
    Done,
    NotifyStaff,
    PlaySound,
    ReaderChanged,
    ReaderStatus,
    Screen,
    ServiceInfo,
    Sound,
    Start,
    StartWork,
    SubmitPin,
    TokenRefusal,
    Work,
)
from kiosk.i18n import Text
from kiosk.services.base import Link, ServiceResult
from kiosk.services.visit import Authenticated, AwaitingConfirmation, CardStatus, TokenKind
from tests.unit.test_flow import Driver, make_flow

NO_LINK = ServiceInfo("lookup", Text("照会", "Lookup"), Text("", ""), needs_link=False)
NEEDS_LINK = ServiceInfo("identity", Text("本人確認", "Identity"), Text("", ""), needs_link=True)
LINK = Link("acct-1", datetime(2026, 1, 1, tzinfo=UTC))
AUTH = Authenticated("SUBJ", datetime(2030, 1, 1, tzinfo=UTC), LINK)
RESULT = ServiceResult(True, Text("OK", "OK"), Text("", ""))

ANDROID = CardStatus(3, 5, True, TokenKind.ANDROID)
IPHONE = CardStatus(0, 0, True, TokenKind.IPHONE)
FACE_AUTH = CardStatus(0, 0, False, TokenKind.FACE_AUTH)
UNKNOWN = CardStatus(0, 0, False, TokenKind.UNKNOWN)


def read(token: CardStatus, *, phones: bool = True, service: ServiceInfo = NO_LINK) -> Driver:
    d = Driver(make_flow(services=(service,), accept_phones=phones))
    d.send(Start()).send(ReaderChanged(ReaderStatus.CARD))
    assert d.work().kind is Work.READ_CARD
    return d.finish_work(token)


@pytest.mark.parametrize(
    ("token", "phones", "refusal"),
    [
        (FACE_AUTH, True, TokenRefusal.FACE_AUTH),
        (UNKNOWN, True, TokenRefusal.UNKNOWN),
        (ANDROID, False, TokenRefusal.PHONES_OFF),
        (IPHONE, False, TokenRefusal.PHONES_OFF),
    ],
)
def test_a_token_that_cannot_be_used_gets_its_screen(
    token: CardStatus, phones: bool, refusal: TokenRefusal
) -> None:
    d = read(token, phones=phones)
    assert d.screen is Screen.TOKEN_REFUSED
    assert d.state.token_refusal is refusal
    assert d.state.problem is None  # not an error: no try was counted, nothing failed
    assert PlaySound(Sound.ERROR) in d.effects
    assert not [e for e in d.effects if isinstance(e, StartWork)]


def test_the_face_auth_screen_ends_the_visit_and_wipes_the_reason() -> None:
    d = read(FACE_AUTH).send(Done())
    assert d.screen is Screen.TAKE_CARD  # the card is still in
    assert d.state.token_refusal is None
    assert CloseCard() in d.effects


def test_the_refusal_screen_can_call_staff() -> None:
    d = Driver(make_flow(services=(NO_LINK,), staff_channel=True))
    d.send(Start()).send(ReaderChanged(ReaderStatus.CARD)).finish_work(FACE_AUTH)
    d.send(CallStaff())
    assert NotifyStaff(1, "token_refused") in d.effects


def test_an_android_phone_is_asked_its_pin_when_phones_are_taken() -> None:
    d = read(ANDROID)
    assert d.screen is Screen.PIN
    d.send(SubmitPin("1234"))
    work = d.work()
    assert (work.kind, work.secret) == (Work.AUTHENTICATE, "1234")
    d.finish_work(AUTH)
    assert d.work().kind is Work.RUN_SERVICE


def test_an_iphone_is_tried_at_once_then_asked_to_confirm() -> None:
    d = read(IPHONE)
    work = d.work()
    assert (work.kind, work.secret) == (Work.CONFIRM_PHONE, "")
    assert d.screen is Screen.WORKING
    d.finish_work(AwaitingConfirmation())
    assert d.screen is Screen.CONFIRM_ON_PHONE
    assert PlaySound(Sound.ATTENTION) in d.effects
    d.send(ConfirmedOnPhone())
    assert d.work().kind is Work.CONFIRM_PHONE
    d.finish_work(AUTH)
    assert d.state.authenticated == AUTH
    run = d.work()
    assert run.kind is Work.RUN_SERVICE
    d.finish_work(RESULT)
    assert d.screen is Screen.RESULT


def test_an_iphone_confirmed_before_the_tap_goes_straight_through() -> None:
    d = read(IPHONE).finish_work(AUTH)
    assert d.work().kind is Work.RUN_SERVICE


def test_an_iphone_cannot_register() -> None:
    unlinked = Authenticated("SUBJ", datetime(2030, 1, 1, tzinfo=UTC), None)
    d = read(IPHONE, service=NEEDS_LINK).finish_work(unlinked)
    assert d.screen is Screen.TOKEN_REFUSED
    assert d.state.token_refusal is TokenRefusal.IPHONE_ENROL


def test_a_linked_iphone_uses_a_service_that_needs_the_link() -> None:
    d = read(IPHONE, service=NEEDS_LINK).finish_work(AUTH)
    assert d.work().kind is Work.RUN_SERVICE


def test_the_iphone_taken_away_to_confirm_is_put_back_and_tried_again() -> None:
    d = read(IPHONE).finish_work(AwaitingConfirmation())
    d.send(ReaderChanged(ReaderStatus.READY))
    assert d.screen is Screen.PUT_BACK
    d.send(ReaderChanged(ReaderStatus.CARD))
    d.finish_work(IPHONE)
    assert d.work().kind is Work.CONFIRM_PHONE


def test_cancel_on_the_confirm_screen_ends_the_visit() -> None:
    d = read(IPHONE).finish_work(AwaitingConfirmation()).send(Cancel())
    assert d.screen is Screen.TAKE_CARD


def test_a_card_is_unchanged() -> None:
    d = read(CardStatus(3, 5), phones=False)
    assert d.screen is Screen.PIN


def test_a_pin_entered_for_a_token_is_never_in_the_state_or_repr() -> None:
    d = read(ANDROID).send(SubmitPin("1234"))
    assert "1234" not in repr(d.state) and "1234" not in repr(d.effects)


def test_a_confirm_result_of_the_wrong_kind_is_an_internal_problem() -> None:
    d = read(IPHONE).finish_work("nonsense")
    assert d.screen is Screen.ERROR

"""The login service: one-time codes for the linked account, the TEST port, no staff path."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.demo.audit import MemoryAudit
from kiosk.demo.login import MemoryLoginSessions, demo_login_service
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.services.base import Link, ServiceContext, ServiceResult
from kiosk.services.login import (
    CONSENT_SIGN_IN,
    LoginCodeExpired,
    LoginCodeRefused,
    LoginCodeUnknown,
    LoginCodeUsed,
    LoginService,
    LoginTicket,
    LoginUnavailable,
)
from kiosk.services.visit import Visit
from kiosk.ui.problems import problem_for

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 15:00 in Japan
PROVIDER = "demo-bank"
ACCOUNT = "K-TEST0001"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def draws(*values: int):
    """A randbelow that returns these values in turn (then fails the test)."""
    it = iter(values)

    def randbelow(n: int) -> int:
        assert n == 10**8
        return next(it)

    return randbelow


class RecordingSessions:
    """A port that records calls and answers or raises what it is told to."""

    def __init__(self, answer: LoginTicket | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, datetime]] = []

    def start(self, provider_id: str, account_ref: str, now: datetime) -> LoginTicket:
        self.calls.append((provider_id, account_ref, now))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def redeem(self, provider_id: str, code: str, now: datetime) -> str:
        raise AssertionError("the kiosk never redeems")


def context(**overrides) -> ServiceContext:
    values = dict(
        service_id="login",
        provider_id=PROVIDER,
        language="ja",
        subject="CN=TEST",
        cert_not_after=T0 + timedelta(days=365),
        link=Link(ACCOUNT, T0 - timedelta(days=3)),
        consented=frozenset({CONSENT_SIGN_IN}),
    )
    values.update(overrides)
    return ServiceContext(**values)


def row(result: ServiceResult, en_label: str) -> str:
    return next(r.value for r in result.rows if r.label.en == en_label)


def all_texts(result: ServiceResult) -> str:
    parts = [result.title, result.message, *(r.label for r in result.rows)]
    return "\n".join(t.get(lang) for t in parts for lang in ("ja", "en", "ja-easy"))


def three_languages(result: ServiceResult) -> None:
    for text in (result.title, result.message):
        assert text.ja and text.en and text.easy and text.easy != text.ja


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions() -> MemoryLoginSessions:
    return MemoryLoginSessions()


@pytest.fixture
def service(sessions, clock) -> LoginService:
    return LoginService(sessions, clock)


# --- what the picker and the flow see -------------------------------------------------


def test_declares_login_with_a_link_and_one_required_consent_item():
    service = demo_login_service()
    assert service.id == "login" and service.needs_link is True
    (item,) = service.consent_items
    assert item.id == CONSENT_SIGN_IN and item.required
    for text in (service.title, service.description, item.label):
        assert text.ja and text.en and text.easy and text.easy != text.ja
    assert isinstance(service.sessions, MemoryLoginSessions)


# --- run ------------------------------------------------------------------------------


def test_issues_a_code_for_the_linked_account_that_the_provider_redeems_once(
    service, sessions, clock
):
    result = service.run(context())
    assert result.ok and not result.assisted
    three_languages(result)
    shown = row(result, "Sign-in code")
    code = shown.replace(" ", "")
    assert len(code) == 8 and code.isdigit() and shown == f"{code[:4]} {code[4:]}"
    assert row(result, "Valid until") == "15:05 (JST)"
    assert row(result, "Account") == ACCOUNT
    assert "5分以内" in result.message.ja and "5 minutes" in result.message.en
    clock.now += timedelta(minutes=2)
    assert sessions.redeem(PROVIDER, shown, clock.now) == ACCOUNT  # typed as shown
    with pytest.raises(LoginCodeUsed):
        sessions.redeem(PROVIDER, code, clock.now)


def test_each_run_issues_a_new_code_and_the_earlier_one_stops_working(service, sessions, clock):
    first = row(service.run(context()), "Sign-in code")
    second = row(service.run(context()), "Sign-in code")
    assert first != second
    assert sessions.live_codes(PROVIDER, clock.now) == 1
    with pytest.raises(LoginCodeUnknown):
        sessions.redeem(PROVIDER, first, clock.now)
    assert sessions.redeem(PROVIDER, second, clock.now) == ACCOUNT


def test_a_staff_assisted_visit_gets_no_code_and_says_why():
    port = RecordingSessions(LoginTicket("12345678", T0))
    result = LoginService(port, Clock()).run(
        context(
            subject="",
            link=None,
            consented=frozenset(),
            assisted=True,
            insurer="06123456",
            member="12-345",
        )
    )
    assert not result.ok and result.assisted and result.rows == ()
    three_languages(result)
    assert "ご本人だけ" in result.message.ja and "card holder" in result.message.en
    assert port.calls == []
    assert "06123456" not in repr(result) and "12-345" not in repr(result)


def test_assisted_is_refused_even_with_a_link_and_consent():
    port = RecordingSessions(LoginTicket("12345678", T0))
    result = LoginService(port, Clock()).run(context(assisted=True, insurer="06123456"))
    assert not result.ok and result.assisted and port.calls == []


def test_without_the_sign_in_consent_nothing_is_issued():
    port = RecordingSessions(LoginTicket("12345678", T0))
    result = LoginService(port, Clock()).run(context(consented=frozenset({"something-else"})))
    assert not result.ok and result.rows == ()
    three_languages(result)
    assert port.calls == []


def test_the_port_gets_the_provider_the_linked_account_and_the_clock():
    port = RecordingSessions(LoginTicket("87654321", T0 + timedelta(minutes=3)))
    result = LoginService(port, Clock()).run(context())
    assert port.calls == [(PROVIDER, ACCOUNT, T0)]
    assert row(result, "Sign-in code") == "8765 4321"
    assert row(result, "Valid until") == "15:03 (JST)"
    assert "3分以内" in result.message.ja


def test_without_a_link_it_is_a_programming_error(service):
    with pytest.raises(ValueError):
        service.run(context(link=None))


def test_an_unreachable_login_service_is_a_plain_not_ok_result(service, sessions, clock, caplog):
    sessions.reachable = False
    with caplog.at_level(logging.DEBUG):
        result = service.run(context())
    assert not result.ok and result.rows == ()
    three_languages(result)
    assert "しばらくしてから" in result.message.ja and "try again later" in result.message.en
    assert "login_unavailable" in caplog.text
    sessions.reachable = True
    assert sessions.live_codes(PROVIDER, clock.now) == 0


def test_other_port_failures_reach_the_flow_as_service_failed():
    """Anything but 'unreachable' is not the person's to handle: the backend's error screen."""
    port = RecordingSessions(RuntimeError("boom"))
    audit = MemoryAudit()
    backend = Visit(
        connect=None,  # type: ignore[arg-type]
        verifier=None,  # type: ignore[arg-type]
        challenges=None,  # type: ignore[arg-type]
        audit=audit,
        services={"login": LoginService(port, Clock())},
        terminal_id="kiosk-1",
        clock=Clock(),
    )
    with pytest.raises(KioskError) as raised:
        backend.run_service(context())
    assert problem_for(raised.value).code is ProblemCode.SERVICE_FAILED
    assert [(r.action, r.ok) for r in audit.records] == [("service.login", False)]


def test_the_backend_audits_an_unreachable_login_as_not_ok(sessions):
    sessions.reachable = False
    audit = MemoryAudit()
    backend = Visit(
        connect=None,  # type: ignore[arg-type]
        verifier=None,  # type: ignore[arg-type]
        challenges=None,  # type: ignore[arg-type]
        audit=audit,
        services={"login": LoginService(sessions, Clock())},
        terminal_id="kiosk-1",
        clock=Clock(),
    )
    assert not backend.run_service(context()).ok
    assert [(r.action, r.ok) for r in audit.records] == [("service.login", False)]


def test_the_code_is_never_logged(service, sessions, clock, caplog):
    with caplog.at_level(logging.DEBUG):
        result = service.run(context())
        code = row(result, "Sign-in code").replace(" ", "")
        sessions.redeem(PROVIDER, code, clock.now)
        for attempt in (code, "00000000"):
            with pytest.raises(LoginCodeRefused) as refused:
                sessions.redeem(PROVIDER, attempt, clock.now)
            assert attempt not in str(refused.value) and attempt not in repr(refused.value)
    assert code not in caplog.text and code[:4] not in caplog.text
    assert code not in all_texts(result)  # only in the code's row value


def test_a_ticket_keeps_its_code_out_of_repr():
    ticket = LoginTicket("12345678", T0)
    assert "12345678" not in repr(ticket) and ticket.code == "12345678"


# --- the TEST adapter (the provider's side) ---------------------------------------------


def test_codes_are_eight_digits_from_the_injected_random():
    sessions = MemoryLoginSessions(randbelow=draws(42, 12345678))
    assert sessions.start(PROVIDER, "K-A", T0).code == "00000042"
    assert sessions.start(PROVIDER, "K-B", T0) == LoginTicket("12345678", T0 + timedelta(minutes=5))


def test_default_codes_come_from_secrets():
    sessions = MemoryLoginSessions()
    codes = {sessions.start(PROVIDER, f"K-{i}", T0).code for i in range(20)}
    assert len(codes) == 20 and all(len(c) == 8 and c.isdigit() for c in codes)


def test_a_code_in_use_is_never_drawn_twice():
    sessions = MemoryLoginSessions(randbelow=draws(7, 7, 7, 8))
    assert sessions.start(PROVIDER, "K-A", T0).code == "00000007"
    assert sessions.start(PROVIDER, "K-B", T0).code == "00000008"
    assert sessions.redeem(PROVIDER, "00000007", T0) == "K-A"
    assert sessions.redeem(PROVIDER, "00000008", T0) == "K-B"


def test_a_used_code_is_not_reissued_to_someone_else():
    sessions = MemoryLoginSessions(randbelow=draws(7, 7, 9))
    sessions.start(PROVIDER, "K-A", T0)
    sessions.redeem(PROVIDER, "00000007", T0)
    assert sessions.start(PROVIDER, "K-B", T0).code == "00000009"
    with pytest.raises(LoginCodeUsed):
        sessions.redeem(PROVIDER, "00000007", T0)


def test_no_free_code_is_unavailable_not_a_loop():
    sessions = MemoryLoginSessions(randbelow=lambda n: 5)
    sessions.start(PROVIDER, "K-A", T0)
    with pytest.raises(LoginUnavailable):
        sessions.start(PROVIDER, "K-B", T0)


def test_the_same_code_at_two_providers_is_two_codes():
    sessions = MemoryLoginSessions(randbelow=draws(7, 7))
    sessions.start(PROVIDER, "K-A", T0)
    sessions.start("other-bank", "K-Z", T0)
    assert sessions.redeem("other-bank", "00000007", T0) == "K-Z"
    assert sessions.redeem(PROVIDER, "00000007", T0) == "K-A"


def test_a_code_is_valid_until_just_before_its_expiry():
    sessions = MemoryLoginSessions(ttl=timedelta(minutes=3), randbelow=draws(1, 2))
    first = sessions.start(PROVIDER, "K-A", T0)
    second = sessions.start(PROVIDER, "K-B", T0)
    assert first.expires_at == T0 + timedelta(minutes=3)
    end = first.expires_at
    assert sessions.redeem(PROVIDER, first.code, end - timedelta(microseconds=1)) == "K-A"
    with pytest.raises(LoginCodeExpired):
        sessions.redeem(PROVIDER, second.code, end)
    assert sessions.live_codes(PROVIDER, end) == 0


def test_unknown_codes_and_another_providers_codes_are_refused():
    sessions = MemoryLoginSessions(randbelow=draws(1))
    ticket = sessions.start(PROVIDER, "K-A", T0)
    for provider, code in ((PROVIDER, "99999999"), (PROVIDER, ""), ("other-bank", ticket.code)):
        with pytest.raises(LoginCodeUnknown):
            sessions.redeem(provider, code, T0)
    assert sessions.redeem(PROVIDER, ticket.code, T0) == "K-A"  # the refusals used nothing


def test_typed_codes_may_carry_spaces_and_hyphens():
    sessions = MemoryLoginSessions(randbelow=draws(12345678))
    sessions.start(PROVIDER, "K-A", T0)
    assert sessions.redeem(PROVIDER, " 1234-5678\u3000", T0) == "K-A"


def test_codes_expired_for_a_day_are_forgotten():
    sessions = MemoryLoginSessions(randbelow=draws(1, 2))
    old = sessions.start(PROVIDER, "K-A", T0)
    later = T0 + timedelta(days=1, minutes=6)
    sessions.start(PROVIDER, "K-B", later)
    with pytest.raises(LoginCodeUnknown):
        sessions.redeem(PROVIDER, old.code, later)


def test_refusals_are_typed_kiosk_errors_with_codes():
    codes = {
        cls: cls.code
        for cls in (LoginUnavailable, LoginCodeUnknown, LoginCodeExpired, LoginCodeUsed)
    }
    assert all(issubclass(cls, KioskError) for cls in codes)
    assert len(set(codes.values())) == 4
    assert not issubclass(LoginUnavailable, LoginCodeRefused)


def test_an_unreachable_adapter_refuses_both_sides():
    sessions = MemoryLoginSessions(randbelow=draws(1))
    ticket = sessions.start(PROVIDER, "K-A", T0)
    sessions.reachable = False
    with pytest.raises(LoginUnavailable):
        sessions.start(PROVIDER, "K-A", T0)
    with pytest.raises(LoginUnavailable):
        sessions.redeem(PROVIDER, ticket.code, T0)
    sessions.reachable = True
    assert sessions.redeem(PROVIDER, ticket.code, T0) == "K-A"


def test_short_codes_are_refused():
    with pytest.raises(ValueError):
        MemoryLoginSessions(digits=4)

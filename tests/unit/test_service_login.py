"""The login service over the TEST broker: the preview names the online service and what it
receives, each refusal of a code is typed (and typed again at the kiosk), the approval is for
the card's account at the visit's verification time and only after consent, no staff path,
and no binding code in any log, result or repr."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.demo.login import Approval, MemoryLoginBroker, demo_login_service
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.i18n import LANGUAGES
from kiosk.services.base import Link, ServiceContext, ServicePreview, ServiceResult, asks_code
from kiosk.services.login import CONSENT_SIGN_IN, LoginService, preview_reference
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingRefused,
    BindingUnknown,
    BindingUsed,
    LoginUnavailable,
    PendingLogin,
)
from kiosk.services.visit import ServiceFailed, Visit
from kiosk.ui.problems import problem_for

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)  # 15:00 in Japan
VERIFIED_AT = T0 - timedelta(seconds=40)
PROVIDER = "demo-bank"
TERMINAL = "kiosk-7"
ACCOUNT = "K-TEST0001"
SHOP = "TEST ネットショップ"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(clock) -> MemoryLoginBroker:
    return MemoryLoginBroker(clock=clock)


@pytest.fixture
def service(broker, clock) -> LoginService:
    return LoginService(broker, TERMINAL, clock)


def context(code: str = "", **overrides) -> ServiceContext:
    values = dict(
        service_id="login",
        provider_id=PROVIDER,
        language="ja",
        subject="CN=TEST",
        cert_not_after=T0 + timedelta(days=365),
        link=Link(ACCOUNT, T0 - timedelta(days=3)),
        auth_time=VERIFIED_AT,
        binding_code=code,
    )
    values.update(overrides)
    return ServiceContext(**values)


def previewed(service: LoginService, code: str) -> ServiceContext:
    """The context after the preview of `code`, the person having agreed."""
    preview = service.prepare(context(code))
    assert isinstance(preview, ServicePreview)
    return context(code, preview=preview, consented=frozenset({CONSENT_SIGN_IN}))


def words(*texts) -> str:
    return "\n".join(t.get(lang) for t in texts for lang in LANGUAGES)


def all_words(result: ServiceResult) -> str:
    return words(result.title, result.message, *(r.label for r in result.rows))


def test_the_demo_service_runs_over_the_test_broker_and_asks_a_code():
    service = demo_login_service()
    assert isinstance(service.broker, MemoryLoginBroker)
    assert service.id == "login" and service.needs_link and asks_code(service)
    broker = MemoryLoginBroker()
    assert demo_login_service(broker, "kiosk-3").broker is broker
    assert demo_login_service(broker, "kiosk-3").terminal_id == "kiosk-3"


def test_the_preview_names_the_online_service_and_says_it_receives_only_its_own_identifier(
    service, broker
):
    code = broker.open(SHOP, [PROVIDER])
    assert len(code) == 8 and code.isdigit()
    preview = service.prepare(context(code))
    assert isinstance(preview, ServicePreview)
    assert preview.title.ja == f"{SHOP} にログインします"
    assert preview.title.en == f"Sign in to {SHOP}"
    assert SHOP in preview.title.easy
    (where, what) = preview.rows
    assert where.label.en == "Signing in to" and where.value == SHOP
    assert "only an identifier made for this service" in what.label.en
    assert "利用者番号だけ" in what.label.ja and what.label.easy
    assert preview.reference.startswith("login:")
    assert code not in repr(preview) and "test-login" not in repr(preview)
    assert broker.approvals == ()  # a preview approves nothing


def test_the_preview_lists_what_else_the_service_receives(service, broker):
    code = broker.open(SHOP, [PROVIDER], claims=("name", "birthdate", "x-test"))
    (_, what) = service.prepare(context(code)).rows
    assert what.label.ja.endswith("氏名・生年月日・x-test")
    assert what.label.en.endswith("and your name, date of birth, x-test")
    assert "なまえ" in what.label.easy


def test_a_code_typed_in_groups_is_the_same_code(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    grouped = f"{code[:4]} {code[4:]}"
    assert service.prepare(context(grouped)).title.en == f"Sign in to {SHOP}"


def test_an_unknown_code_is_raised_as_unknown(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    wrong = "00000000" if code != "00000000" else "11111111"
    with pytest.raises(BindingUnknown) as raised:
        service.prepare(context(wrong))
    assert problem_for(raised.value) == Problem(ProblemCode.LOGIN_CODE_UNKNOWN)
    assert wrong not in str(raised.value)


def test_a_code_of_a_service_of_another_provider_is_refused(service, broker):
    code = broker.open(SHOP, ["another-provider"])
    with pytest.raises(BindingOtherProvider) as raised:
        service.prepare(context(code))
    assert problem_for(raised.value) == Problem(ProblemCode.LOGIN_CODE_OTHER_PROVIDER)
    assert code not in str(raised.value)


def test_an_expired_code_is_refused(service, broker, clock):
    code = broker.open(SHOP, [PROVIDER])
    clock.now = T0 + timedelta(minutes=5)
    with pytest.raises(BindingExpired):
        service.prepare(context(code))


def test_a_used_code_is_refused(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    assert service.run(previewed(service, code)).ok
    with pytest.raises(BindingUsed):
        service.prepare(context(code))


def test_wrong_codes_rate_limit_the_terminal_then_it_may_try_again(service, broker, clock):
    code = broker.open(SHOP, [PROVIDER])
    wrong = "99999999" if code != "99999999" else "88888888"
    for _ in range(broker.max_wrong):
        with pytest.raises(BindingUnknown):
            service.prepare(context(wrong))
    with pytest.raises(BindingRateLimited) as limited:
        service.prepare(context(code))  # even the right one, while the terminal waits
    assert limited.value.retry_after_s == 60
    assert problem_for(limited.value) == Problem(ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=60)
    other_kiosk = LoginService(broker, "kiosk-8", clock)
    assert isinstance(other_kiosk.prepare(context(code)), ServicePreview)  # per terminal
    clock.now += timedelta(seconds=60)
    assert isinstance(service.prepare(context(code)), ServicePreview)


def test_an_unreachable_provider_ends_the_visit_with_its_own_result(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    broker.reachable = False
    result = service.prepare(context(code))
    assert isinstance(result, ServiceResult) and not result.ok
    assert result.title.en == "Sign-in is not available right now"


def test_a_preview_needs_the_code(service):
    with pytest.raises(ValueError, match="binding code"):
        service.prepare(context(""))


def test_the_agreed_login_is_approved_for_the_cards_account_at_the_verification_time(
    service, broker, clock
):
    code = broker.open(SHOP, [PROVIDER], client_id="shop-1")
    agreed = previewed(service, code)
    clock.now = T0 + timedelta(seconds=20)
    result = service.run(agreed)
    assert result.ok
    assert result.title.ja == f"{SHOP} にログインしました"
    assert result.title.en == f"You are signed in to {SHOP}"
    assert "お手元のスマートフォンやパソコンの画面に戻ってください" in result.message.ja
    assert "Return to your phone or computer" in result.message.en
    assert [(r.label.en, r.value) for r in result.rows] == [("Signing in to", SHOP)]
    assert broker.approval(code) == Approval(
        "shop-1", PROVIDER, TERMINAL, ACCOUNT, VERIFIED_AT, T0 + timedelta(seconds=20)
    )
    assert code not in all_words(result) and ACCOUNT not in all_words(result)


def test_nothing_is_approved_without_consent(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    result = service.run(replace(previewed(service, code), consented=frozenset()))
    assert not result.ok and result.title.en == "You were not signed in"
    assert broker.approval(code) is None


def test_staff_cannot_sign_someone_in(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    assisted = context(code, assisted=True, subject="", auth_time=None, insurer="06123456")
    for result in (service.prepare(assisted), service.run(assisted)):
        assert isinstance(result, ServiceResult)
        assert not result.ok and result.assisted and result.rows == ()
        assert "係員による手続きではログインできません" in result.title.ja
    assert broker.approvals == ()


def expire(broker: MemoryLoginBroker, clock: Clock) -> None:
    clock.now = T0 + timedelta(minutes=6)


def refuse_link(broker: MemoryLoginBroker, clock: Clock) -> None:
    broker.refused_accounts.add(ACCOUNT)


def cut_off(broker: MemoryLoginBroker, clock: Clock) -> None:
    broker.reachable = False


@pytest.mark.parametrize(
    "meanwhile,title",
    [
        (expire, "The sign-in code has expired"),
        (refuse_link, "This card cannot sign in"),
        (cut_off, "Sign-in is not available right now"),
    ],
)
def test_what_goes_wrong_at_approval_ends_the_visit_with_its_own_result(
    service, broker, clock, meanwhile, title
):
    code = broker.open(SHOP, [PROVIDER])
    agreed = previewed(service, code)
    meanwhile(broker, clock)
    result = service.run(agreed)
    assert not result.ok and result.title.en == title
    assert broker.approval(code) is None


def test_a_code_used_meanwhile_is_said_used(service, broker):
    code = broker.open(SHOP, [PROVIDER])
    agreed = previewed(service, code)
    assert service.run(agreed).ok
    again = service.run(agreed)
    assert not again.ok and again.title.en == "This sign-in code has been used"
    assert len(broker.approvals) == 1


class SwappingBroker(MemoryLoginBroker):
    """A broker whose code stands for another login once `swap` is set."""

    swap = False

    def pending(self, provider_id, terminal_id, binding_code, now) -> PendingLogin:
        found = super().pending(provider_id, terminal_id, binding_code, now)
        return replace(found, client_name="Someone else", client_id="other") if self.swap else found


def test_only_the_login_shown_is_approved(clock):
    broker = SwappingBroker(clock=clock)
    service = LoginService(broker, TERMINAL, clock)
    code = broker.open(SHOP, [PROVIDER])
    agreed = previewed(service, code)
    broker.swap = True
    result = service.run(agreed)
    assert not result.ok and "no longer matches" in result.message.en
    assert broker.approval(code) is None


@pytest.mark.parametrize(
    "missing",
    [{"link": None}, {"auth_time": None}, {"binding_code": ""}, {"preview": None}],
    ids=["link", "auth_time", "code", "preview"],
)
def test_a_run_without_what_the_flow_gives_is_a_bug_not_a_login(service, broker, missing):
    code = broker.open(SHOP, [PROVIDER])
    with pytest.raises(ValueError):
        service.run(replace(previewed(service, code), **missing))
    assert broker.approvals == ()


def test_the_reference_names_the_login_by_a_digest():
    pending = PendingLogin("secret-handle", "shop-1", SHOP, ("name",))
    reference = preview_reference(pending)
    assert "secret-handle" not in reference and reference.startswith("login:")
    assert reference != preview_reference(replace(pending, claims=()))
    assert reference != preview_reference(replace(pending, client_id="shop-2"))


def test_no_binding_code_is_logged_or_in_a_repr(service, broker, clock, caplog):
    caplog.set_level(logging.DEBUG)
    code = broker.open(SHOP, [PROVIDER])
    agreed = previewed(service, code)
    service.run(agreed)
    with pytest.raises(BindingUsed):
        service.prepare(context(code))
    broker.reachable = False
    service.prepare(context(code))
    assert caplog.records  # the refusals and the outage were logged, by their codes
    assert code not in caplog.text
    assert code not in repr(agreed) and code not in repr(broker)
    assert "test-login" not in repr(agreed)


def test_every_result_is_written_in_the_three_languages(service, broker, clock):
    code = broker.open(SHOP, [PROVIDER])
    agreed = previewed(service, code)
    results = [service.run(replace(agreed, consented=frozenset())), service.run(agreed)]
    results.append(service.run(agreed))  # used
    for result in results:
        for text in (result.title, result.message):
            assert text.ja and text.en and text.easy and text.easy != text.ja


class FailingService:
    """A login-like service whose prepare raises what it is told to."""

    id = "login"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def prepare(self, context):
        raise self.error


@pytest.mark.parametrize("error", [BindingUnknown("x"), BindingRateLimited("x", 5)])
def test_the_visit_passes_a_refused_code_on_as_itself(error):
    visit = Visit(None, None, None, None, {"login": FailingService(error)}, TERMINAL, Clock())
    with pytest.raises(BindingRefused) as raised:
        visit.prepare_service(context("12345678"))
    assert raised.value is error


def test_the_visit_still_turns_other_failures_into_a_service_failure():
    visit = Visit(None, None, None, None, {"login": FailingService(LoginUnavailable("x"))},
                  TERMINAL, Clock())  # fmt: skip
    with pytest.raises(ServiceFailed):
        visit.prepare_service(context("12345678"))

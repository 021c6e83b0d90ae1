"""The shop payment service: the pending request as a preview, one charge of exactly what was
shown, declines, an unreachable gateway, no staff path; and the TEST gateway."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.demo.audit import MemoryAudit
from kiosk.demo.payment import MemoryPaymentGateway, demo_payment_service
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.services.base import Link, ServiceContext, ServicePreview, ServiceResult, prepares
from kiosk.services.payment import (
    CONSENT_PAY,
    AccountClosed,
    InsufficientFunds,
    LimitExceeded,
    PaymentDeclined,
    PaymentKeyReused,
    PaymentRequest,
    PaymentRequestChanged,
    PaymentService,
    PaymentUnavailable,
    Receipt,
    idempotency_key,
    parse_reference,
    preview_reference,
    whole_yen,
    yen,
)
from kiosk.services.visit import Visit
from kiosk.ui.problems import problem_for

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 15:00 in Japan
SHOP = "demo-shop"
TERMINAL = "kiosk-7"
ACCOUNT = "K-TEST0001"


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingGateway:
    """A port that records calls and answers (or raises) what it is told to."""

    def __init__(
        self,
        pending: PaymentRequest | Exception | None = None,
        charge: Receipt | Exception | None = None,
    ) -> None:
        self.answers = {"pending": pending, "charge": charge}
        self.calls: list[tuple] = []

    def _answer(self, name: str, *args):
        self.calls.append((name, *args))
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def pending(self, provider_id: str, terminal_id: str) -> PaymentRequest | None:
        return self._answer("pending", provider_id, terminal_id)

    def charge(self, provider_id, account_ref, request_id, amount_yen, idempotency_key, now):
        return self._answer(
            "charge", provider_id, account_ref, request_id, amount_yen, idempotency_key, now
        )


def context(**overrides) -> ServiceContext:
    values = dict(
        service_id="payment",
        provider_id=SHOP,
        language="ja",
        subject="CN=TEST",
        cert_not_after=T0 + timedelta(days=365),
        link=Link(ACCOUNT, T0 - timedelta(days=3)),
        consented=frozenset({CONSENT_PAY}),
    )
    values.update(overrides)
    return ServiceContext(**values)


def row(shown: ServiceResult | ServicePreview, en_label: str) -> str:
    return next(r.value for r in shown.rows if r.label.en == en_label)


def three_languages(result: ServiceResult) -> None:
    for text in (result.title, result.message, *(r.label for r in result.rows)):
        assert text.ja and text.en and text.easy and text.easy != text.ja


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway() -> MemoryPaymentGateway:
    return MemoryPaymentGateway()


@pytest.fixture
def service(gateway, clock) -> PaymentService:
    return PaymentService(gateway, TERMINAL, clock)


def prepared(service: PaymentService, **overrides) -> ServiceContext:
    """The context `run` gets after the person saw the preview (and agreed, by default)."""
    preview = service.prepare(context(consented=frozenset()))
    assert isinstance(preview, ServicePreview)
    return context(preview=preview, **overrides)


def backend(service: PaymentService, audit: MemoryAudit) -> Visit:
    return Visit(
        connect=None,  # type: ignore[arg-type]
        verifier=None,  # type: ignore[arg-type]
        challenges=None,  # type: ignore[arg-type]
        audit=audit,
        services={"payment": service},
        terminal_id=TERMINAL,
        clock=Clock(),
    )


# --- what the picker and the flow see -------------------------------------------------


def test_declares_payment_with_a_link_a_preview_and_one_required_consent_item():
    service = demo_payment_service()
    assert service.id == "payment" and service.needs_link is True and prepares(service)
    assert service.terminal_id == "kiosk-1"
    (item,) = service.consent_items
    assert item.id == CONSENT_PAY == "pay" and item.required
    assert "支払う" in item.label.ja
    for text in (service.title, service.description, item.label):
        assert text.ja and text.en and text.easy and text.easy != text.ja
    assert isinstance(service.gateway, MemoryPaymentGateway)


def test_the_demo_has_one_test_purchase_at_its_terminal():
    service = demo_payment_service("kiosk-9")
    preview = service.prepare(context(provider_id="demo-clinic"))
    assert isinstance(preview, ServicePreview)
    assert row(preview, "Amount") == "¥1,280" and "TEST" in row(preview, "Order reference")
    other = demo_payment_service("kiosk-9", provider_id="demo-bank")
    assert isinstance(other.prepare(context(provider_id="demo-bank")), ServicePreview)
    assert not other.prepare(context(provider_id="demo-clinic")).ok  # type: ignore[union-attr]


# --- prepare --------------------------------------------------------------------------


def test_prepare_shows_the_terminals_pending_amount_order_and_shop(service, gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42", "TEST ショップ")
    gateway.ring_up(SHOP, "another-kiosk", 9_999, "TEST-ORDER-43")
    gateway.ring_up("other-shop", TERMINAL, 5_000, "TEST-ORDER-44")
    preview = service.prepare(context(consented=frozenset()))
    assert isinstance(preview, ServicePreview)
    assert [(r.label.en, r.value) for r in preview.rows] == [
        ("Amount", "¥1,280"),
        ("Order reference", "TEST-ORDER-42"),
        ("Shop", "TEST ショップ"),
    ]
    assert preview.title.ja and preview.title.en and preview.title.easy
    assert all(r.label.easy and r.label.easy != r.label.ja for r in preview.rows)
    assert parse_reference(preview.reference) == (request.request_id, 1_280)
    assert gateway.balance(SHOP, ACCOUNT) == 10_000 and gateway.receipts == []


def test_prepare_asks_the_port_for_this_service_terminal():
    request = PaymentRequest("REQ-X", 300, "TEST-ORDER-1", "TEST shop")
    port = RecordingGateway(pending=request)
    preview = PaymentService(port, "kiosk-42", Clock()).prepare(context())
    assert port.calls == [("pending", SHOP, "kiosk-42")]
    assert isinstance(preview, ServicePreview) and preview.reference == preview_reference(request)


def test_nothing_pending_ends_the_visit_with_ask_at_the_counter(service):
    result = service.prepare(context())
    assert isinstance(result, ServiceResult) and not result.ok and result.rows == ()
    three_languages(result)
    assert "nothing to pay" in result.title.en.lower()
    assert "ask at the counter" in result.message.en and "レジ" in result.message.ja


def test_prepare_with_an_unreachable_gateway_says_try_again_later(service, gateway, caplog):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    gateway.reachable = False
    with caplog.at_level(logging.DEBUG):
        result = service.prepare(context())
    assert isinstance(result, ServiceResult) and not result.ok
    three_languages(result)
    assert "try again later" in result.message.en and "しばらくしてから" in result.message.ja
    assert "payment_unavailable" in caplog.text


def test_prepare_on_a_staff_assisted_visit_does_not_ask_the_port():
    port = RecordingGateway(pending=PaymentRequest("REQ-X", 300, "TEST-ORDER-1", "TEST"))
    result = PaymentService(port, TERMINAL, Clock()).prepare(
        context(subject="", link=None, consented=frozenset(), assisted=True, insurer="06123456")
    )
    assert isinstance(result, ServiceResult) and not result.ok and result.assisted
    assert port.calls == []


def test_other_prepare_failures_reach_the_flow_as_service_failed():
    port = RecordingGateway(pending=RuntimeError("boom"))
    with pytest.raises(KioskError) as raised:
        backend(PaymentService(port, TERMINAL, Clock()), MemoryAudit()).prepare_service(context())
    assert problem_for(raised.value).code is ProblemCode.SERVICE_FAILED


# --- run ------------------------------------------------------------------------------


def test_run_charges_what_was_shown_and_returns_the_receipt(service, gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42", "TEST ショップ")
    result = service.run(prepared(service))
    assert result.ok and not result.assisted
    three_languages(result)
    assert [(r.label.en, r.value) for r in result.rows] == [
        ("Receipt number", "R-TEST-000001"),
        ("Amount", "¥1,280"),
        ("Paid at", "2026-11-25 15:00 (JST)"),
        ("Order reference", "TEST-ORDER-42"),
        ("Shop", "TEST ショップ"),
    ]
    assert gateway.balance(SHOP, ACCOUNT) == 10_000 - 1_280
    (receipt,) = gateway.receipts
    assert receipt.request_id == request.request_id and receipt.paid_at == T0
    assert gateway.pending(SHOP, TERMINAL) is None  # paid: the terminal has nothing left


def test_the_port_gets_the_shop_account_request_amount_a_key_and_the_clock():
    request = PaymentRequest("REQ-X", 300, "TEST-ORDER-1", "TEST shop")
    receipt = Receipt("R-1", "REQ-X", 300, "TEST-ORDER-1", "TEST shop", T0)
    port = RecordingGateway(pending=request, charge=receipt)
    service = PaymentService(port, TERMINAL, Clock(T0 + timedelta(minutes=1)))
    result = service.run(prepared(service))
    assert result.ok and row(result, "Receipt number") == "R-1"
    key = idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-X", 300)
    assert port.calls[-1] == ("charge", SHOP, ACCOUNT, "REQ-X", 300, key, T0 + timedelta(minutes=1))


def test_a_retried_run_never_charges_twice(service, gateway):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    ctx = prepared(service)
    first = service.run(ctx)
    again = service.run(ctx)
    assert first.ok and again.ok and first.rows == again.rows
    assert len(gateway.receipts) == 1 and gateway.balance(SHOP, ACCOUNT) == 8_720


def test_the_key_is_the_same_for_the_same_payment_and_differs_otherwise():
    key = idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 100)
    assert key == idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 100)
    others = {
        idempotency_key("other", TERMINAL, ACCOUNT, "REQ-1", 100),
        idempotency_key(SHOP, "kiosk-2", ACCOUNT, "REQ-1", 100),
        idempotency_key(SHOP, TERMINAL, "K-OTHER", "REQ-1", 100),
        idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-2", 100),
        idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 101),
    }
    assert key not in others and len(others) == 5


def test_a_changed_amount_is_not_charged_and_asks_to_start_again(service, gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    ctx = prepared(service)
    gateway.amend(SHOP, request.request_id, 2_280)  # the cashier corrected the amount
    result = service.run(ctx)
    assert not result.ok and result.rows == ()
    three_languages(result)
    assert "amount changed" in result.title.en and "start again" in result.message.en
    assert gateway.receipts == [] and gateway.balance(SHOP, ACCOUNT) == 10_000
    assert service.run(prepared(service)).ok  # a fresh preview shows and pays the new amount
    assert gateway.balance(SHOP, ACCOUNT) == 10_000 - 2_280


def test_a_new_ring_up_or_a_cancel_meanwhile_is_not_charged(service, gateway):
    first = gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    ctx = prepared(service)
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-43")  # same amount, another request
    assert not service.run(ctx).ok
    second = prepared(service)
    assert parse_reference(second.preview.reference)[0] != first.request_id  # type: ignore[index, union-attr]
    gateway.cancel(SHOP, parse_reference(second.preview.reference)[0])  # type: ignore[index, union-attr]
    result = service.run(second)
    assert not result.ok and result.title.en == "The amount changed"
    assert gateway.receipts == [] and gateway.balance(SHOP, ACCOUNT) == 10_000


SOME_TITLE = demo_payment_service().title


@pytest.mark.parametrize(
    "preview",
    [None, ServicePreview(SOME_TITLE), ServicePreview(SOME_TITLE, (), "order-7")],
)
def test_without_a_preview_of_a_payment_nothing_is_charged(preview):
    port = RecordingGateway(charge=Receipt("R-1", "REQ-X", 300, "TEST-ORDER-1", "TEST", T0))
    result = PaymentService(port, TERMINAL, Clock()).run(context(preview=preview))
    assert not result.ok and result.rows == ()
    three_languages(result)
    assert "start again" in result.message.en
    assert port.calls == []


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "REQ-X:300",
        "payment:REQ-X",
        "payment::300",
        "payment:REQ-X:0",
        "payment:REQ-X:-5",
        "payment:REQ-X:3.5",
        "payment:REQ-X:0300",
        "payment:REQ-X:３００",
    ],
)
def test_a_reference_that_names_no_request_and_amount_is_refused(reference):
    assert parse_reference(reference) is None


def test_references_round_trip_even_with_colons_in_the_request_id():
    request = PaymentRequest("pos:7:REQ", 1_280, "TEST-ORDER-1", "TEST")
    assert parse_reference(preview_reference(request)) == ("pos:7:REQ", 1_280)


def test_without_the_pay_consent_nothing_is_charged():
    port = RecordingGateway(charge=Receipt("R-1", "REQ-X", 300, "TEST-ORDER-1", "TEST", T0))
    service = PaymentService(port, TERMINAL, Clock())
    preview = ServicePreview(
        service.title, (), preview_reference(PaymentRequest("REQ-X", 300, "T", "T"))
    )
    for consented in (frozenset(), frozenset({"something-else"})):
        result = service.run(context(preview=preview, consented=consented))
        assert not result.ok and result.rows == ()
        three_languages(result)
        assert "did not agree" in result.message.en
    assert port.calls == []


def test_a_staff_assisted_visit_cannot_pay_and_the_port_is_not_called():
    port = RecordingGateway(charge=Receipt("R-1", "REQ-X", 300, "TEST-ORDER-1", "TEST", T0))
    preview = ServicePreview(
        demo_payment_service().title,
        (),
        preview_reference(PaymentRequest("REQ-X", 300, "T", "T")),
    )
    result = PaymentService(port, TERMINAL, Clock()).run(
        context(assisted=True, insurer="06123456", member="12-345", preview=preview)
    )
    assert not result.ok and result.assisted and result.rows == ()
    three_languages(result)
    assert "card holder" in result.message.en and "ご本人だけ" in result.message.ja
    assert port.calls == []
    assert "06123456" not in repr(result)


def test_without_a_link_it_is_a_programming_error(service, gateway):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    with pytest.raises(ValueError):
        service.run(prepared(service, link=None))
    assert gateway.receipts == []


@pytest.mark.parametrize(
    ("arrange", "title"),
    [
        (lambda g: g.set_balance(SHOP, ACCOUNT, 1_279), "Not enough balance"),
        (lambda g: setattr(g, "limit_yen", 1_000), "The amount is above your limit"),
        (lambda g: g.close_account(SHOP, ACCOUNT), "This payment account cannot be used"),
    ],
)
def test_declines_are_clear_not_ok_results_and_charge_nothing(
    service, gateway, arrange, title, caplog
):
    request = gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    ctx = prepared(service)
    arrange(gateway)
    before = gateway.balance(SHOP, ACCOUNT)
    with caplog.at_level(logging.DEBUG):
        result = service.run(ctx)
    assert not result.ok and result.rows == () and result.title.en == title
    three_languages(result)
    assert "not been charged" in result.message.en and "counter" in result.message.en
    assert gateway.receipts == [] and gateway.balance(SHOP, ACCOUNT) == before
    assert gateway.pending(SHOP, TERMINAL) == request  # still there to pay another way
    assert ACCOUNT not in caplog.text


def test_an_unknown_kind_of_decline_is_a_plain_decline():
    request = PaymentRequest("REQ-X", 300, "TEST-ORDER-1", "TEST")
    port = RecordingGateway(pending=request, charge=PaymentDeclined("declined by the bank"))
    service = PaymentService(port, TERMINAL, Clock())
    result = service.run(prepared(service))
    assert not result.ok and result.title.en == "The payment was declined"


def test_an_unreachable_gateway_at_charge_time_says_try_again_later(service, gateway, caplog):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    ctx = prepared(service)
    gateway.reachable = False
    with caplog.at_level(logging.DEBUG):
        result = service.run(ctx)
    assert not result.ok and result.rows == ()
    three_languages(result)
    assert "try again later" in result.message.en and "twice" in result.message.en
    assert "payment_unavailable" in caplog.text
    gateway.reachable = True
    assert service.run(ctx).ok and len(gateway.receipts) == 1  # the retry pays once


def test_a_receipt_for_another_payment_is_a_fault_not_a_success():
    request = PaymentRequest("REQ-X", 300, "TEST-ORDER-1", "TEST")
    wrong = Receipt("R-1", "REQ-X", 3_000, "TEST-ORDER-1", "TEST", T0)
    service = PaymentService(RecordingGateway(pending=request, charge=wrong), TERMINAL, Clock())
    with pytest.raises(KioskError):
        service.run(prepared(service))


# --- through the kiosk's backend --------------------------------------------------------


def test_the_backend_prepares_runs_and_audits_a_payment(service, gateway):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    audit = MemoryAudit()
    kiosk = backend(service, audit)
    preview = kiosk.prepare_service(context(consented=frozenset()))
    assert isinstance(preview, ServicePreview)
    result = kiosk.run_service(context(preview=preview))
    assert result.ok and row(result, "Amount") == "¥1,280"
    assert [(r.action, r.ok) for r in audit.records] == [("service.payment", True)]


def test_the_backend_audits_declines_and_an_unreachable_gateway_as_not_ok(service, gateway):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    audit = MemoryAudit()
    kiosk = backend(service, audit)
    ctx = prepared(service)
    gateway.set_balance(SHOP, ACCOUNT, 0)
    assert not kiosk.run_service(ctx).ok
    gateway.reachable = False
    assert not kiosk.run_service(ctx).ok
    assert [(r.action, r.ok) for r in audit.records] == [("service.payment", False)] * 2
    assert gateway.receipts == []


def test_the_backend_refuses_a_staff_assisted_payment(service, gateway):
    gateway.ring_up(SHOP, TERMINAL, 1_280, "TEST-ORDER-42")
    audit = MemoryAudit()
    result = backend(service, audit).run_assisted(
        context(subject="", link=None, consented=frozenset(), assisted=True, insurer="06123456"),
        staff_id="1021",
    )
    assert not result.ok and result.assisted and gateway.receipts == []
    assert [(r.action, r.ok, r.actor) for r in audit.records] == [
        ("staff_assisted.payment", False, "1021")
    ]


def test_other_charge_failures_reach_the_flow_as_service_failed():
    request = PaymentRequest("REQ-X", 300, "TEST-ORDER-1", "TEST")
    port = RecordingGateway(pending=request, charge=RuntimeError("boom"))
    service = PaymentService(port, TERMINAL, Clock())
    audit = MemoryAudit()
    with pytest.raises(KioskError) as raised:
        backend(service, audit).run_service(prepared(service))
    assert problem_for(raised.value).code is ProblemCode.SERVICE_FAILED
    assert [(r.action, r.ok) for r in audit.records] == [("service.payment", False)]


# --- amounts ----------------------------------------------------------------------------


def test_amounts_are_whole_yen_above_zero():
    assert whole_yen(1) == 1 and yen(1_280) == "¥1,280" and yen(1_000_000) == "¥1,000,000"
    for bad in (0, -1, 1.0, 1280.5, True, "1280", None):
        with pytest.raises(ValueError):
            whole_yen(bad)
    with pytest.raises(ValueError):
        PaymentRequest("REQ-X", 12.8, "T", "T")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Receipt("R-1", "REQ-X", 0, "T", "T", T0)


# --- the TEST gateway (the POS's and the bank's side) -----------------------------------


def test_ring_up_gives_fake_ids_and_replaces_the_terminals_earlier_request(gateway):
    first = gateway.ring_up(SHOP, TERMINAL, 500, "TEST-ORDER-1")
    second = gateway.ring_up(SHOP, TERMINAL, 700, "TEST-ORDER-2")
    assert first.request_id.startswith("REQ-TEST-") and first.request_id != second.request_id
    assert first.shop == SHOP  # no shop name given: the provider's id
    assert gateway.pending(SHOP, TERMINAL) == second
    with pytest.raises(PaymentRequestChanged):
        gateway.charge(SHOP, ACCOUNT, first.request_id, 500, "k1", T0)
    with pytest.raises(ValueError):
        gateway.ring_up(SHOP, TERMINAL, 0, "TEST-ORDER-3")


def test_cancel_withdraws_a_pending_request_once(gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 500, "TEST-ORDER-1")
    assert gateway.cancel("other-shop", request.request_id) is False
    assert gateway.cancel(SHOP, request.request_id) is True
    assert gateway.cancel(SHOP, request.request_id) is False
    assert gateway.pending(SHOP, TERMINAL) is None
    with pytest.raises(PaymentRequestChanged):
        gateway.amend(SHOP, request.request_id, 600)


def test_a_charge_needs_the_exact_pending_amount_at_that_shop(gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 500, "TEST-ORDER-1")
    for provider, amount in ((SHOP, 499), (SHOP, 501), ("other-shop", 500)):
        with pytest.raises(PaymentRequestChanged):
            gateway.charge(provider, ACCOUNT, request.request_id, amount, "k1", T0)
    receipt = gateway.charge(SHOP, ACCOUNT, request.request_id, 500, "k1", T0)
    assert receipt.amount_yen == 500 and receipt.receipt_no == "R-TEST-000001"
    with pytest.raises(PaymentRequestChanged):  # paid: another key cannot pay it again
        gateway.charge(SHOP, "K-OTHER", request.request_id, 500, "k2", T0)
    assert gateway.balance(SHOP, "K-OTHER") == 10_000


def test_the_same_key_returns_the_first_receipt_and_refuses_another_payment(gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 500, "TEST-ORDER-1")
    first = gateway.charge(SHOP, ACCOUNT, request.request_id, 500, "k1", T0)
    again = gateway.charge(SHOP, ACCOUNT, request.request_id, 500, "k1", T0 + timedelta(hours=1))
    assert again == first and gateway.balance(SHOP, ACCOUNT) == 9_500
    other = gateway.ring_up(SHOP, TERMINAL, 800, "TEST-ORDER-2")
    with pytest.raises(PaymentKeyReused):
        gateway.charge(SHOP, ACCOUNT, other.request_id, 800, "k1", T0)
    assert gateway.pending(SHOP, TERMINAL) == other and len(gateway.receipts) == 1


def test_balances_start_with_test_money_and_declines_are_typed(gateway):
    assert gateway.balance(SHOP, "K-NEW") == 10_000
    request = gateway.ring_up(SHOP, TERMINAL, 10_000, "TEST-ORDER-1")
    gateway.set_balance(SHOP, ACCOUNT, 9_999)
    with pytest.raises(InsufficientFunds):
        gateway.charge(SHOP, ACCOUNT, request.request_id, 10_000, "k1", T0)
    gateway.limit_yen = 9_000
    with pytest.raises(LimitExceeded):
        gateway.charge(SHOP, "K-NEW", request.request_id, 10_000, "k2", T0)
    gateway.close_account(SHOP, "K-NEW")
    with pytest.raises(AccountClosed):
        gateway.charge(SHOP, "K-NEW", request.request_id, 10_000, "k3", T0)
    gateway.limit_yen = 10_000
    gateway.set_balance(SHOP, ACCOUNT, 10_000)
    assert gateway.charge(SHOP, ACCOUNT, request.request_id, 10_000, "k4", T0).amount_yen == 10_000
    assert gateway.balance(SHOP, ACCOUNT) == 0
    with pytest.raises(ValueError):
        gateway.set_balance(SHOP, ACCOUNT, -1)


def test_an_unreachable_gateway_refuses_every_call(gateway):
    request = gateway.ring_up(SHOP, TERMINAL, 500, "TEST-ORDER-1")
    gateway.reachable = False
    for call in (
        lambda: gateway.pending(SHOP, TERMINAL),
        lambda: gateway.charge(SHOP, ACCOUNT, request.request_id, 500, "k1", T0),
        lambda: gateway.ring_up(SHOP, TERMINAL, 500, "TEST-ORDER-2"),
        lambda: gateway.cancel(SHOP, request.request_id),
    ):
        with pytest.raises(PaymentUnavailable):
            call()
    gateway.reachable = True
    assert gateway.pending(SHOP, TERMINAL) == request and gateway.receipts == []


def test_errors_are_typed_kiosk_errors_with_distinct_codes():
    kinds = (
        PaymentUnavailable,
        PaymentRequestChanged,
        PaymentKeyReused,
        PaymentDeclined,
        InsufficientFunds,
        LimitExceeded,
        AccountClosed,
    )
    assert all(issubclass(kind, KioskError) for kind in kinds)
    assert len({kind.code for kind in kinds}) == len(kinds)
    assert all(issubclass(k, PaymentDeclined) for k in (InsufficientFunds, LimitExceeded))
    assert not issubclass(PaymentUnavailable, PaymentDeclined)
    assert not issubclass(PaymentRequestChanged, PaymentDeclined)


def test_a_demo_run_end_to_end_pays_once_and_then_there_is_nothing_to_pay():
    service = replace(demo_payment_service(TERMINAL), clock=Clock())
    ctx = context(provider_id="demo-clinic")
    preview = service.prepare(ctx)
    assert isinstance(preview, ServicePreview)
    assert service.run(replace(ctx, preview=preview)).ok
    after = service.prepare(ctx)
    assert isinstance(after, ServiceResult) and not after.ok

"""The shop payment service over the store (SQLite and PostgreSQL): the terminal's open
request as a preview, one charge of exactly what was shown through the ledger and the card
company's gateway (the TEST one, and the HTTP adapter against a TEST gateway on 127.0.0.1),
declines and limits that charge nothing, lost answers and an unreachable gateway resolved
without a second charge, concurrent runs and concurrent payments past the daily cap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from kiosk.clock import utc_now
from kiosk.demo.audit import MemoryAudit
from kiosk.demo.payment import MemoryCardGateway, demo_payment_service, ring_up_demo_purchase
from kiosk.services.base import Link, ServiceContext, ServicePreview, ServiceResult, prepares
from kiosk.services.card_gateway import CardGateway, DeclineReason
from kiosk.services.gateway_http import HttpCardGateway
from kiosk.services.money import Receipt, whole_yen, yen
from kiosk.services.payment import (
    ACCOUNT_CLOSED_RESULT,
    ACCOUNT_SUSPENDED_RESULT,
    ASSISTED_RESULT,
    CHANGED_RESULT,
    CHARGE_UNAVAILABLE_RESULT,
    CONSENT_PAY,
    DAILY_LIMIT_RESULT,
    DECLINED_RESULT,
    FAULT_RESULT,
    INSUFFICIENT_FUNDS_RESULT,
    LIMIT_EXCEEDED_RESULT,
    MAX_ATTEMPTS,
    NO_PREVIEW_RESULT,
    NOT_CONSENTED_RESULT,
    NOTHING_TO_PAY_RESULT,
    RELINK_RESULT,
    TERMINAL_LIMIT_RESULT,
    TOO_MANY_ATTEMPTS_RESULT,
    UNAVAILABLE_RESULT,
    PaymentService,
    idempotency_key,
    parse_reference,
    preview_reference,
)
from kiosk.services.receipt import (
    PRINTED,
    EscposReceiptPrinter,
    PrintOutcome,
    ReceiptData,
)
from kiosk.services.visit import Visit
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.ledger import (
    LedgerEntry,
    LedgerLimits,
    LedgerState,
    PaymentLedger,
    business_day,
)
from kiosk.store.payment_requests import PaymentRequest, PaymentRequests
from tests.concurrency_support import all_at_once
from tests.gateway_support import TOKEN

T0 = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 10:30 in Japan
SHOP = "demo-shop"
SHOP_NAME = "TEST ショップ"
TERMINAL = "kiosk-7"
ACCOUNT = "K-TEST-0001-4821"
T = TypeVar("T")


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingPrinter:
    """A receipt printer that keeps what it was asked to print."""

    def __init__(self, outcome: PrintOutcome = PRINTED) -> None:
        self.outcome = outcome
        self.printed: list[ReceiptData] = []
        self._lock = threading.Lock()

    def print(self, receipt: ReceiptData) -> PrintOutcome:
        with self._lock:
            self.printed.append(receipt)
        return self.outcome


@dataclass
class Notices:
    """The POS's notices (PaymentNotices), kept in order."""

    sent: list[PaymentRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paid(self, request: PaymentRequest, at: datetime) -> None:
        with self.lock:
            self.sent.append(request)


@dataclass
class Counter:
    """One shop's counter: the store, the TEST card company, a printer, the POS's notices."""

    db: Database
    gateway: CardGateway
    limits: LedgerLimits | None = None
    clock: Clock = field(default_factory=Clock)
    printer: RecordingPrinter = field(default_factory=RecordingPrinter)
    notices: Notices = field(default_factory=Notices)

    def __post_init__(self) -> None:
        self.requests = PaymentRequests(self.db)
        self.ledger = PaymentLedger(self.db, self.limits)

    def service(self, terminal: str = TERMINAL, **changes: object) -> PaymentService:
        values: dict[str, object] = {
            "printer": self.printer,
            "notices": self.notices,
            "shop_names": {SHOP: SHOP_NAME},
            "clock": self.clock,
        }
        values.update(changes)
        return PaymentService(
            self.requests,
            self.ledger,
            self.gateway,
            terminal,
            **values,  # type: ignore[arg-type]
        )

    def ring_up(
        self, amount: int = 1_280, order: str = "TEST-ORDER-42", terminal: str = TERMINAL
    ) -> PaymentRequest:
        return self.requests.create(SHOP, terminal, amount, order, "TEST-SHOP", 600, self.clock())

    def rows(self, request: PaymentRequest, account: str = ACCOUNT) -> tuple[LedgerEntry, ...]:
        return self.ledger.attempts_of(SHOP, request.request_id, account)

    def request(self, request: PaymentRequest) -> PaymentRequest:
        return self.requests.get(SHOP, request.request_id, self.clock())


def context(**overrides: object) -> ServiceContext:
    values: dict[str, object] = dict(
        service_id="payment",
        provider_id=SHOP,
        language="ja",
        subject="CN=TEST",
        cert_not_after=T0 + timedelta(days=365),
        link=Link(ACCOUNT, T0 - timedelta(days=3)),
        consented=frozenset({CONSENT_PAY}),
    )
    values.update(overrides)
    return ServiceContext(**values)  # type: ignore[arg-type]


def prepared(service: PaymentService, **overrides: object) -> ServiceContext:
    """The context `run` gets after the person saw the preview (and agreed, by default)."""
    link = Link(str(overrides.pop("account", ACCOUNT)), T0)
    preview = service.prepare(context(link=link))
    assert isinstance(preview, ServicePreview), preview
    return context(**{"preview": preview, "link": link, **overrides})


def row(shown: ServiceResult | ServicePreview, en_label: str) -> str:
    return next(r.value for r in shown.rows if r.label.en == en_label)


@pytest.fixture
def gateway() -> MemoryCardGateway:
    return MemoryCardGateway(clock=Clock())


@pytest.fixture
def counter(db, gateway) -> Counter:
    return Counter(db, gateway)


@pytest.fixture
def service(counter) -> PaymentService:
    return counter.service()


# --- what the picker and the flow see -------------------------------------------------------


def test_declares_payment_with_a_link_a_preview_and_one_required_consent_item(service):
    assert service.id == "payment" and service.needs_link is True and prepares(service)
    (item,) = service.consent_items
    assert item.id == CONSENT_PAY == "pay" and item.required
    assert "支払う" in item.label.ja
    for text in (service.title, service.description, item.label):
        assert text.ja and text.en and text.easy and text.easy != text.ja


def test_every_result_says_it_in_three_languages_and_only_a_payment_is_ok():
    results = (
        ASSISTED_RESULT, NOTHING_TO_PAY_RESULT, NOT_CONSENTED_RESULT, CHANGED_RESULT,
        NO_PREVIEW_RESULT, INSUFFICIENT_FUNDS_RESULT, LIMIT_EXCEEDED_RESULT,
        ACCOUNT_CLOSED_RESULT, ACCOUNT_SUSPENDED_RESULT, RELINK_RESULT, DECLINED_RESULT,
        UNAVAILABLE_RESULT, CHARGE_UNAVAILABLE_RESULT, DAILY_LIMIT_RESULT,
        TERMINAL_LIMIT_RESULT, TOO_MANY_ATTEMPTS_RESULT, FAULT_RESULT,
    )  # fmt: skip
    for result in results:
        assert not result.ok and result.rows == ()
        for text in (result.title, result.message):
            assert text.ja and text.en and text.easy and text.easy != text.ja


# --- prepare ----------------------------------------------------------------------------


def test_prepare_shows_the_terminals_open_amount_order_and_shop(counter, service, gateway):
    request = counter.ring_up(1_280, "TEST-ORDER-42")
    counter.ring_up(9_999, "TEST-ORDER-43", terminal="another-kiosk")
    preview = service.prepare(context(consented=frozenset()))
    assert isinstance(preview, ServicePreview)
    assert [(r.label.en, r.value) for r in preview.rows] == [
        ("Amount", "¥1,280"),
        ("Order reference", "TEST-ORDER-42"),
        ("Shop", SHOP_NAME),
    ]
    assert preview.title.ja and preview.title.en and preview.title.easy
    assert parse_reference(preview.reference) == (request.request_id, 1_280)
    assert gateway.charges == [] and counter.rows(request) == ()
    assert service.prepare(context(provider_id="other-shop")) == NOTHING_TO_PAY_RESULT


def test_prepare_names_the_shop_by_the_pos_code_when_no_name_is_configured(counter):
    counter.ring_up()
    preview = counter.service(shop_names={}).prepare(context())
    assert isinstance(preview, ServicePreview) and row(preview, "Shop") == "TEST-SHOP"


def test_nothing_open_is_nothing_to_pay(counter, service):
    assert service.prepare(context()) == NOTHING_TO_PAY_RESULT
    stale = counter.ring_up()
    counter.clock.now = T0 + timedelta(minutes=11)  # its ten minutes are over
    assert service.prepare(context()) == NOTHING_TO_PAY_RESULT
    assert counter.request(stale).state == "expired"


def test_prepare_when_the_store_cannot_be_read_says_try_again_later(counter):
    class Unavailable(PaymentRequests):
        def open_for(self, provider_id: str, terminal_id: str, at: datetime) -> None:
            raise StoreError("the database is unavailable")

    service = PaymentService(Unavailable(counter.db), counter.ledger, counter.gateway, TERMINAL)
    assert service.prepare(context()) == UNAVAILABLE_RESULT


def test_a_staff_assisted_visit_can_neither_see_nor_pay(counter, service, gateway):
    request = counter.ring_up()
    ctx = prepared(service)
    assisted = dict(subject="", link=None, assisted=True, insurer="06123456", member="12-345")
    assert service.prepare(context(**assisted)) == ASSISTED_RESULT
    result = service.run(context(**assisted, preview=ctx.preview))
    assert result == ASSISTED_RESULT and result.assisted
    assert "06123456" not in repr(result)
    assert gateway.charges == [] and counter.rows(request) == ()


# --- run: what must hold before anything is charged -------------------------------------


def test_without_the_pay_consent_nothing_is_charged_and_no_row_is_written(
    counter, service, gateway
):
    request = counter.ring_up()
    for consented in (frozenset(), frozenset({"something-else"})):
        assert service.run(prepared(service, consented=consented)) == NOT_CONSENTED_RESULT
    assert gateway.charges == [] and counter.rows(request) == ()
    assert counter.request(request).open


@pytest.mark.parametrize(
    "preview",
    [
        None,
        ServicePreview(PaymentService.title),
        ServicePreview(PaymentService.title, (), "order-7"),
        ServicePreview(PaymentService.title, (), "payment:REQ-X:0"),
    ],
)
def test_without_a_preview_of_a_payment_nothing_is_charged(counter, service, gateway, preview):
    counter.ring_up()
    assert service.run(context(preview=preview)) == NO_PREVIEW_RESULT
    assert gateway.charges == []


def test_without_a_link_it_is_a_programming_error(counter, service, gateway):
    counter.ring_up()
    with pytest.raises(ValueError):
        service.run(prepared(service, link=None))
    assert gateway.charges == []


def test_a_request_cancelled_by_the_pos_before_the_run_is_not_charged(counter, service, gateway):
    request = counter.ring_up()
    ctx = prepared(service)
    counter.requests.cancel(SHOP, request.request_id, T0)
    assert service.run(ctx) == CHANGED_RESULT
    assert gateway.charges == [] and counter.rows(request) == ()
    assert counter.notices.sent == [] and counter.printer.printed == []


def test_a_new_request_for_the_same_amount_is_not_paid_with_the_old_preview(counter, service):
    first = counter.ring_up(1_280, "TEST-ORDER-42")
    ctx = prepared(service)
    counter.requests.cancel(SHOP, first.request_id, T0)
    second = counter.ring_up(1_280, "TEST-ORDER-43")
    assert service.run(ctx) == CHANGED_RESULT
    assert counter.rows(first) == () and counter.request(second).open


def test_a_preview_naming_another_amount_is_not_charged(counter, service, gateway):
    request = counter.ring_up(1_280)
    shown = ServicePreview(PaymentService.title, (), preview_reference(request.request_id, 128))
    assert service.run(context(preview=shown)) == CHANGED_RESULT
    assert gateway.charges == [] and counter.rows(request) == ()


def test_a_preview_naming_a_request_that_does_not_exist_is_not_charged(counter, service, gateway):
    counter.ring_up()
    shown = ServicePreview(PaymentService.title, (), preview_reference("REQ-NONE", 1_280))
    assert service.run(context(preview=shown)) == CHANGED_RESULT
    assert gateway.charges == []


# --- run: the charge --------------------------------------------------------------------


def test_the_charge_settles_a_row_marks_the_request_paid_tells_the_pos_and_prints_once(
    counter, service, gateway
):
    request = counter.ring_up(1_280, "TEST-ORDER-42")
    result = service.run(prepared(service))
    assert result.ok and not result.assisted
    assert [(r.label.en, r.value) for r in result.rows] == [
        ("Receipt number", "T-TEST-000001"),
        ("Amount", "¥1,280"),
        ("Paid at", "2026-12-03 10:30 (JST)"),
        ("Order reference", "TEST-ORDER-42"),
        ("Shop", SHOP_NAME),
        ("Account", "****4821"),
    ]
    assert ACCOUNT not in repr(result)
    (charge,) = gateway.charges
    assert (charge.transaction_id, charge.amount_yen) == ("T-TEST-000001", 1_280)
    (entry,) = counter.rows(request)
    assert (entry.state, entry.receipt_no, entry.amount_yen) == (
        LedgerState.SETTLED, "T-TEST-000001", 1_280)  # fmt: skip
    assert (entry.terminal_id, entry.gateway) == (TERMINAL, "test")
    assert entry.idempotency_key == idempotency_key(
        SHOP, TERMINAL, ACCOUNT, request.request_id, 1_280, 1
    )
    paid = counter.request(request)
    assert (paid.state, paid.receipt_no) == ("paid", "T-TEST-000001")
    assert [(n.request_id, n.state, n.receipt_no) for n in counter.notices.sent] == [
        (request.request_id, "paid", "T-TEST-000001")
    ]
    (printed,) = counter.printer.printed
    assert (printed.transaction_id, printed.amount_yen, printed.masked_account) == (
        "T-TEST-000001", 1_280, "****4821")  # fmt: skip
    assert (printed.shop, printed.terminal_id, printed.test) == (SHOP_NAME, TERMINAL, True)
    assert service.prepare(context()) == NOTHING_TO_PAY_RESULT  # the terminal is free again


def test_a_failing_printer_leaves_the_payment_settled_with_a_warning_for_staff(counter, gateway):
    def offline() -> object:
        raise OSError("the printer is offline")

    service = counter.service(printer=EscposReceiptPrinter(offline))  # type: ignore[arg-type]
    request = counter.ring_up()
    result = service.run(prepared(service))
    assert result.ok
    assert "レシートプリンターにつながりません" in row(result, "Paper receipt")
    assert len(gateway.charges) == 1
    assert [e.state for e in counter.rows(request)] == [LedgerState.SETTLED]
    assert counter.request(request).state == "paid" and len(counter.notices.sent) == 1


def test_a_printer_that_prints_adds_no_warning(counter, service):
    counter.ring_up()
    result = service.run(prepared(service))
    assert result.ok and "Paper receipt" not in [r.label.en for r in result.rows]


def test_a_run_repeated_after_the_payment_shows_the_same_receipt_and_charges_nothing(
    counter, service, gateway
):
    request = counter.ring_up()
    ctx = prepared(service)
    first = service.run(ctx)
    counter.clock.now = T0 + timedelta(minutes=1)
    again = service.run(ctx)
    assert first.ok and again.ok and again.rows == first.rows
    assert len(gateway.charges) == 1 and gateway.charged_yen == 1_280
    assert len(counter.printer.printed) == 1
    # the POS hears the same paid state again (its notices are deduplicated by that state)
    assert {(n.request_id, n.state, n.receipt_no) for n in counter.notices.sent} == {
        (request.request_id, "paid", "T-TEST-000001")
    }


def test_the_visit_audits_a_payment_and_a_decline(counter, service, gateway):
    audit = MemoryAudit()
    visit = Visit(
        connect=None,  # type: ignore[arg-type]
        verifier=None,  # type: ignore[arg-type]
        challenges=None,  # type: ignore[arg-type]
        audit=audit,
        services={"payment": service},
        terminal_id=TERMINAL,
        clock=counter.clock,
    )
    counter.ring_up()
    gateway.set_balance(ACCOUNT, 0)
    assert visit.run_service(prepared(service)) == INSUFFICIENT_FUNDS_RESULT
    gateway.set_balance(ACCOUNT, 5_000)
    assert visit.run_service(prepared(service)).ok
    assert [(r.action, r.ok) for r in audit.records] == [
        ("service.payment", False),
        ("service.payment", True),
    ]


# --- declines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrange", "reason", "expected"),
    [
        (lambda g: g.set_balance(ACCOUNT, 1_279), "insufficient", INSUFFICIENT_FUNDS_RESULT),
        (lambda g: setattr(g, "limit_yen", 1_000), "limit", LIMIT_EXCEEDED_RESULT),
        (lambda g: g.suspend(ACCOUNT), "account_suspended", ACCOUNT_SUSPENDED_RESULT),
        (lambda g: g.close_account(ACCOUNT), "account_closed", ACCOUNT_CLOSED_RESULT),
        (lambda g: g.forget_account(ACCOUNT), "account_unknown", RELINK_RESULT),
    ],
)
def test_each_decline_says_its_reason_charges_nothing_and_keeps_a_declined_row(
    counter, service, gateway, arrange, reason, expected
):
    request = counter.ring_up(1_280)
    ctx = prepared(service)
    arrange(gateway)
    assert service.run(ctx) == expected
    assert gateway.charges == [] and gateway.charged_yen == 0
    (entry,) = counter.rows(request)
    assert (entry.state, entry.reason, entry.receipt_no) == (LedgerState.DECLINED, reason, None)
    assert counter.request(request).open  # still there to pay another way
    assert counter.notices.sent == [] and counter.printer.printed == []


def test_after_a_decline_a_second_attempt_with_a_new_key_can_pay(counter, service, gateway):
    request = counter.ring_up(1_280)
    ctx = prepared(service)
    gateway.set_balance(ACCOUNT, 0)
    assert service.run(ctx) == INSUFFICIENT_FUNDS_RESULT
    gateway.set_balance(ACCOUNT, 2_000)
    assert service.run(ctx).ok
    declined, settled = counter.rows(request)
    assert (declined.state, settled.state) == (LedgerState.DECLINED, LedgerState.SETTLED)
    assert declined.idempotency_key != settled.idempotency_key
    assert settled.idempotency_key == idempotency_key(
        SHOP, TERMINAL, ACCOUNT, request.request_id, 1_280, 2
    )
    assert len(gateway.charges) == 1 and gateway.balance(ACCOUNT) == 720


def test_after_too_many_declines_the_kiosk_sends_the_person_to_the_counter(
    counter, service, gateway
):
    request = counter.ring_up()
    ctx = prepared(service)
    gateway.set_balance(ACCOUNT, 0)
    for _ in range(MAX_ATTEMPTS):
        assert service.run(ctx) == INSUFFICIENT_FUNDS_RESULT
    gateway.set_balance(ACCOUNT, 5_000)
    assert service.run(ctx) == TOO_MANY_ATTEMPTS_RESULT
    assert len(counter.rows(request)) == MAX_ATTEMPTS and gateway.charges == []


# --- the ledger's limits ------------------------------------------------------------------


LIMITS = LedgerLimits(per_payment_yen=1_500, daily_account_yen=2_000, daily_terminal_yen=3_000)


@pytest.fixture
def limited(db, gateway) -> Counter:
    return Counter(db, gateway, LIMITS)


def test_the_per_payment_limit_refuses_before_a_row_or_a_charge(limited, gateway):
    service = limited.service()
    request = limited.ring_up(1_501)
    assert service.run(prepared(service)) == LIMIT_EXCEEDED_RESULT
    assert limited.rows(request) == () and gateway.charges == []
    assert limited.request(request).open


def test_the_daily_limit_of_an_account_refuses_before_a_row_or_a_charge(limited, gateway):
    service = limited.service()
    limited.ring_up(1_280)
    assert service.run(prepared(service)).ok
    over = limited.ring_up(721)  # 1,280 + 721 > 2,000
    assert service.run(prepared(service)) == DAILY_LIMIT_RESULT
    assert limited.rows(over) == () and len(gateway.charges) == 1
    assert service.run(prepared(service, account="K-TEST-0002-0000")).ok  # another account


def test_the_daily_limit_of_a_terminal_refuses_before_a_row_or_a_charge(limited, gateway):
    service = limited.service()
    for account in ("K-TEST-0001-4821", "K-TEST-0002-0000"):
        limited.ring_up(1_280)
        assert service.run(prepared(service, account=account)).ok
    over = limited.ring_up(441)  # 2,560 + 441 > 3,000, though the account has paid nothing
    assert service.run(prepared(service, account="K-TEST-0003-0000")) == TERMINAL_LIMIT_RESULT
    assert limited.rows(over, "K-TEST-0003-0000") == () and len(gateway.charges) == 2


def test_a_declined_payment_does_not_count_towards_the_day(limited, gateway):
    service = limited.service()
    limited.ring_up(1_500)
    ctx = prepared(service)
    gateway.set_balance(ACCOUNT, 0)
    assert service.run(ctx) == INSUFFICIENT_FUNDS_RESULT
    gateway.set_balance(ACCOUNT, 5_000)
    assert service.run(ctx).ok  # 1,500 declined + 1,500 would pass 2,000 if it counted


# --- concurrency --------------------------------------------------------------------------


def test_twenty_concurrent_runs_of_one_request_charge_once(counter, service, gateway):
    request = counter.ring_up(1_280)
    ctx = prepared(service)
    results = all_at_once(20, lambda _i: service.run(ctx))
    assert all(r.ok for r in results), [r.title.en for r in results if not r.ok]
    assert {row(r, "Receipt number") for r in results} == {"T-TEST-000001"}
    assert len(gateway.charges) == 1 and gateway.charged_yen == 1_280
    (entry,) = counter.rows(request)
    assert entry.state is LedgerState.SETTLED
    assert counter.request(request).state == "paid"
    assert len(counter.printer.printed) == 1  # one payment, one paper receipt


def test_twenty_concurrent_runs_on_two_kiosk_processes_of_one_terminal_charge_once(
    counter, gateway
):
    # two services (as two processes would have) share only the store and the card company
    services = [counter.service(), counter.service()]
    request = counter.ring_up(1_280)
    ctx = prepared(services[0])
    results = all_at_once(20, lambda i: services[i % 2].run(ctx))
    assert all(r.ok for r in results), [r.title.en for r in results if not r.ok]
    assert {row(r, "Receipt number") for r in results} == {"T-TEST-000001"}
    assert len(gateway.charges) == 1 and gateway.charged_yen == 1_280
    assert [e.state for e in counter.rows(request)] == [LedgerState.SETTLED]


def test_two_payments_racing_past_the_daily_cap_one_succeeds(db, gateway):
    # the defaults: ¥10,000 a payment, ¥30,000 a day; one account at three terminals
    counter = Counter(db, gateway)
    front = counter.service("kiosk-front")
    for _ in range(2):
        counter.ring_up(10_000, terminal="kiosk-front")
        assert front.run(prepared(front)).ok
    racers = [counter.service(t) for t in ("kiosk-a", "kiosk-b")]
    contexts = []
    for racer in racers:
        counter.ring_up(6_000, terminal=racer.terminal_id)
        contexts.append(prepared(racer))
    results = all_at_once(2, lambda i: racers[i].run(contexts[i]))
    assert sorted(r.ok for r in results) == [False, True]
    assert [r for r in results if not r.ok] == [DAILY_LIMIT_RESULT]
    assert gateway.charged_yen == 26_000 and len(gateway.charges) == 3
    day = counter.ledger.entries_of_day(business_day(T0), SHOP)
    assert sum(e.amount_yen for e in day if e.state is LedgerState.SETTLED) == 26_000
    assert len(day) == 3  # the refused one wrote no row


# --- an answer lost, a gateway unreachable ---------------------------------------------


def test_a_lost_answer_is_resolved_by_the_status_and_settles(counter, service, gateway):
    request = counter.ring_up()
    gateway.lose_answers = 1  # the card company charges, and its answer is lost
    result = service.run(prepared(service))
    assert result.ok and row(result, "Receipt number") == "T-TEST-000001"
    assert len(gateway.charges) == 1
    assert [e.state for e in counter.rows(request)] == [LedgerState.SETTLED]
    assert len(counter.printer.printed) == 1 and len(counter.notices.sent) == 1


def test_an_unreachable_gateway_leaves_the_row_unknown_and_a_later_run_pays_once(
    counter, service, gateway
):
    request = counter.ring_up()
    ctx = prepared(service)
    gateway.reachable = False
    assert service.run(ctx) == CHARGE_UNAVAILABLE_RESULT
    (entry,) = counter.rows(request)
    assert entry.state is LedgerState.UNKNOWN and gateway.charges == []
    assert counter.request(request).open
    assert counter.notices.sent == [] and counter.printer.printed == []
    assert service.run(ctx) == CHARGE_UNAVAILABLE_RESULT  # asked again: still no answer
    gateway.reachable = True
    result = service.run(ctx)
    assert result.ok
    (settled,) = counter.rows(request)  # the same row, now settled
    assert (settled.entry_id, settled.state) == (entry.entry_id, LedgerState.SETTLED)
    assert len(gateway.charges) == 1 and gateway.charged_yen == 1_280
    assert len(counter.printer.printed) == 1 and len(counter.notices.sent) == 1


def test_an_unknown_row_counts_towards_the_day_until_it_is_resolved(db, gateway):
    counter = Counter(db, gateway, LIMITS)
    service = counter.service()
    counter.ring_up(1_500)
    ctx = prepared(service)
    gateway.reachable = False
    assert service.run(ctx) == CHARGE_UNAVAILABLE_RESULT
    other = counter.service("kiosk-8")
    counter.ring_up(600, terminal="kiosk-8")
    assert other.run(prepared(other)) == DAILY_LIMIT_RESULT  # 1,500 may have been charged


# --- over HTTP: the card company's JSON API (a TEST gateway on 127.0.0.1) ----------------


@pytest.fixture
def http(gateway_server, books) -> Iterator[HttpCardGateway]:
    # a short per-phase timeout: a held answer is never sent in time
    with HttpCardGateway(gateway_server.url, TOKEN, code="card-co", timeout_s=0.5) as gateway:
        yield gateway


@pytest.fixture
def over_http(db, http) -> Counter:
    return Counter(db, http)


def test_over_http_the_charge_settles_with_the_gateways_transaction(over_http, books):
    service = over_http.service()
    request = over_http.ring_up(1_280)
    result = service.run(prepared(service))
    assert result.ok and row(result, "Receipt number") == "TX-TEST-000001"
    (made,) = books.charges
    assert made.request["idempotency_key"] == idempotency_key(
        SHOP, TERMINAL, ACCOUNT, request.request_id, 1_280, 1
    )
    assert (made.request["merchant_id"], made.request["amount_yen"]) == (SHOP, 1_280)
    (entry,) = over_http.rows(request)
    assert (entry.state, entry.gateway, entry.receipt_no) == (
        LedgerState.SETTLED, "card-co", "TX-TEST-000001")  # fmt: skip
    assert over_http.printer.printed[0].test is False


@pytest.mark.parametrize(
    ("reason", "expected", "kept"),
    [
        ("insufficient", INSUFFICIENT_FUNDS_RESULT, "insufficient"),
        ("limit", LIMIT_EXCEEDED_RESULT, "limit"),
        ("account_suspended", ACCOUNT_SUSPENDED_RESULT, "account_suspended"),
        ("account_closed", ACCOUNT_CLOSED_RESULT, "account_closed"),
        ("account_unknown", RELINK_RESULT, "account_unknown"),
        ("gateway_declined", DECLINED_RESULT, "gateway_declined"),
        ("suspected_fraud", DECLINED_RESULT, "gateway_declined"),  # a reason we do not know
    ],
)
def test_over_http_each_decline_reason_gives_its_result_and_a_declined_row(
    over_http, books, reason, expected, kept
):
    assert kept in {r.value for r in DeclineReason}
    service = over_http.service()
    request = over_http.ring_up()
    books.declined_with = reason
    assert service.run(prepared(service)) == expected
    (entry,) = over_http.rows(request)
    assert (entry.state, entry.reason) == (LedgerState.DECLINED, kept)
    assert books.charges == [] and over_http.request(request).open


def test_over_http_twenty_concurrent_runs_of_one_request_charge_once(over_http, books):
    service = over_http.service()
    request = over_http.ring_up(1_280)
    ctx = prepared(service)
    results = all_at_once(20, lambda _i: service.run(ctx))
    assert all(r.ok for r in results), [r.title.en for r in results if not r.ok]
    assert {row(r, "Receipt number") for r in results} == {"TX-TEST-000001"}
    assert len(books.charges) == 1
    assert [e.state for e in over_http.rows(request)] == [LedgerState.SETTLED]


def test_over_http_a_5xx_before_charging_is_unknown_and_a_later_run_charges_once(over_http, books):
    service = over_http.service()
    request = over_http.ring_up()
    ctx = prepared(service)
    books.fail_with = 503  # nothing charged, the answer is a 5xx
    assert service.run(ctx) == CHARGE_UNAVAILABLE_RESULT
    (entry,) = over_http.rows(request)
    assert entry.state is LedgerState.UNKNOWN and books.charges == []
    books.fail_with = None
    assert service.run(ctx).ok  # the status says never seen: sent again, with the same key
    assert [c.key for c in books.charges] == [entry.idempotency_key]
    assert [e.state for e in over_http.rows(request)] == [LedgerState.SETTLED]


@pytest.mark.parametrize("fault", ["5xx_after_charging", "timeout", "garbage"])
def test_over_http_a_charge_whose_answer_is_lost_is_resolved_by_the_status(over_http, books, fault):
    service = over_http.service()
    request = over_http.ring_up()
    if fault == "5xx_after_charging":
        books.fail_with, books.fail_after_charge = 502, True
    elif fault == "timeout":
        books.hold = True  # charged, then answered after the kiosk gave up
    else:
        books.garbage = b'{"outcome": "approved"}'
    result = service.run(prepared(service))
    assert result.ok and row(result, "Receipt number") == "TX-TEST-000001"
    assert len(books.charges) == 1
    assert [e.state for e in over_http.rows(request)] == [LedgerState.SETTLED]
    assert len(over_http.printer.printed) == 1


def test_over_http_a_refused_token_is_a_fault_that_charges_nothing(db, gateway_server, books):
    with HttpCardGateway(gateway_server.url, "another-token", timeout_s=0.5) as wrong:
        counter = Counter(db, wrong)
        service = counter.service()
        request = counter.ring_up()
        assert service.run(prepared(service)) == FAULT_RESULT
    (entry,) = counter.rows(request)
    assert (entry.state, entry.reason) == (LedgerState.DECLINED, "gateway_refused")
    assert books.charges == []


# --- the demo, keys, references and amounts ----------------------------------------------


def test_the_demo_pays_its_test_purchase_once_and_then_there_is_nothing_to_pay(db):
    service = demo_payment_service(db, "kiosk-9", "demo-clinic")
    assert service.prepare(context(provider_id="demo-clinic")) == NOTHING_TO_PAY_RESULT
    ring_up_demo_purchase(service.requests, "demo-clinic", "kiosk-9", utc_now())
    ring_up_demo_purchase(service.requests, "demo-clinic", "kiosk-9", utc_now())  # one open
    assert isinstance(service.gateway, MemoryCardGateway) and service.gateway.test
    ctx = context(provider_id="demo-clinic")
    preview = service.prepare(ctx)
    assert isinstance(preview, ServicePreview)
    assert row(preview, "Amount") == "¥1,280" and "TEST" in row(preview, "Order reference")
    assert service.run(context(provider_id="demo-clinic", preview=preview)).ok
    assert service.prepare(ctx) == NOTHING_TO_PAY_RESULT
    assert len(service.gateway.charges) == 1


def test_the_key_is_the_same_for_the_same_payment_and_attempt_and_differs_otherwise():
    key = idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 100)
    assert key == idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 100, 1)
    others = {
        idempotency_key("other", TERMINAL, ACCOUNT, "REQ-1", 100),
        idempotency_key(SHOP, "kiosk-2", ACCOUNT, "REQ-1", 100),
        idempotency_key(SHOP, TERMINAL, "K-OTHER", "REQ-1", 100),
        idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-2", 100),
        idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 101),
        idempotency_key(SHOP, TERMINAL, ACCOUNT, "REQ-1", 100, 2),
    }
    assert key not in others and len(others) == 6


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
    assert parse_reference(preview_reference("pos:7:REQ", 1_280)) == ("pos:7:REQ", 1_280)
    with pytest.raises(ValueError):
        preview_reference("REQ-1", 0)


def test_amounts_are_whole_yen_above_zero():
    assert whole_yen(1) == 1 and yen(1_280) == "¥1,280" and yen(1_000_000) == "¥1,000,000"
    for bad in (0, -1, 1.0, 1280.5, True, "1280", None):
        with pytest.raises(ValueError):
            whole_yen(bad)
    with pytest.raises(ValueError):
        Receipt("R-1", "REQ-X", 0, "T", "T", T0)


def test_another_card_cannot_pay_a_request_while_a_charge_for_it_is_unknown(
    counter, service, gateway
):
    request = counter.ring_up()
    gateway.reachable = False
    assert service.run(prepared(service)) == CHARGE_UNAVAILABLE_RESULT  # card A: unknown
    gateway.reachable = True
    # card B at the same request: A's charge may have gone through, so B is not charged
    other = "K-TEST-0002-0007"
    seen_by_b = prepared(service, account=other)
    assert service.run(seen_by_b) == CHARGE_UNAVAILABLE_RESULT
    assert gateway.charges == [] and counter.rows(request, other) == ()
    # A is paid (its retry resolves it): B is then told the request changed, still uncharged
    assert service.run(prepared(service)).ok
    assert service.run(seen_by_b) == CHANGED_RESULT
    assert len(gateway.charges) == 1 and counter.rows(request, other) == ()

"""The payments' back office over the store (SQLite and PostgreSQL): reconciliation of the rows
a kiosk left pending or unknown with the card company's status (settled and the request paid,
declined, never sent, still unknown), and the staff void (once at the card company, in the
ledger with who and when, audited; every refusal typed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from kiosk.demo.audit import AuditRecord, MemoryAudit
from kiosk.demo.payment import MemoryCardGateway
from kiosk.services.base import Link, ServiceContext, ServicePreview
from kiosk.services.card_gateway import Approved
from kiosk.services.payment import (
    CONSENT_PAY,
    PaymentService,
    idempotency_key,
    preview_reference,
)
from kiosk.services.payment_desk import (
    CARD_COMPANY,
    Reconciled,
    VoidDone,
    VoidRefused,
    reconcile,
    void,
)
from kiosk.store.engine import Database
from kiosk.store.ledger import (
    Begun,
    ChargeAttempt,
    LedgerEntry,
    LedgerState,
    PaymentLedger,
    business_day,
)
from kiosk.store.models import LedgerRow, table_of
from kiosk.store.payment_requests import PaymentRequest, PaymentRequests

T0 = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 10:30 in Japan
LATER = T0 + timedelta(minutes=30)
SHOP = "demo-shop"
TERMINAL = "kiosk-7"
ACCOUNT = "K-TEST-0001-4821"
STAFF = "1021"  # a staff number as [[staff]] configures it


class Clock:
    def __init__(self, now: datetime = LATER) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Notices:
    sent: list[PaymentRequest] = field(default_factory=list)

    def paid(self, request: PaymentRequest, at: datetime) -> None:
        self.sent.append(request)


@dataclass
class Desk:
    """The store, the TEST card company and the POS's notices of one shop."""

    db: Database
    gateway: MemoryCardGateway = field(default_factory=lambda: MemoryCardGateway(clock=Clock()))
    clock: Clock = field(default_factory=Clock)
    notices: Notices = field(default_factory=Notices)
    audit: MemoryAudit = field(default_factory=MemoryAudit)

    def __post_init__(self) -> None:
        self.requests = PaymentRequests(self.db)
        self.ledger = PaymentLedger(self.db)

    def begun(self, amount: int = 1_280, terminal: str = TERMINAL, gateway: str = "test"):
        """A request rung up and its ledger row written, as a kiosk leaves them when it dies
        before it asks the card company (the row and its key as the payment service makes
        them)."""
        request = self.requests.create(SHOP, terminal, amount, "TEST-ORDER-1", "TEST", 3600, T0)
        key = idempotency_key(SHOP, terminal, ACCOUNT, request.request_id, amount)
        attempt = ChargeAttempt(SHOP, terminal, ACCOUNT, request.request_id, amount, key, gateway)
        begun = self.ledger.begin(attempt, T0)
        assert isinstance(begun, Begun) and begun.new
        return request, begun.entry

    def charge(self, entry: LedgerEntry):
        """The card company is asked (the kiosk dies before it writes the answer)."""
        return self.gateway.authorise_and_capture(
            entry.idempotency_key, SHOP, entry.terminal_id, ACCOUNT, entry.amount_yen,
            entry.request_id,
        )  # fmt: skip

    def settled(self, amount: int = 1_280) -> LedgerEntry:
        """A paid charge, as the payment service leaves it."""
        request, entry = self.begun(amount)
        outcome = self.charge(entry)
        assert isinstance(outcome, Approved)
        self.requests.mark_paid(SHOP, request.request_id, outcome.transaction_id, T0)
        return self.ledger.settle(entry.entry_id, outcome.transaction_id, T0)

    def reconcile(self, **changes: object) -> Reconciled:
        values: dict[str, object] = {
            "older_than": T0 + timedelta(minutes=1),
            "clock": self.clock,
            "notices": self.notices,
        }
        values.update(changes)
        return reconcile(self.ledger, self.gateway, self.requests, **values)  # type: ignore[arg-type]

    def void(self, receipt_no: str, staff_id: str = STAFF) -> VoidDone:
        return void(
            self.ledger, self.gateway, self.audit, provider_id=SHOP, receipt_no=receipt_no,
            staff_id=staff_id, clock=self.clock,
        )  # fmt: skip

    def row(self, entry: LedgerEntry) -> LedgerEntry:
        found = self.ledger.get(entry.entry_id)
        assert found is not None
        return found

    def request(self, request: PaymentRequest) -> PaymentRequest:
        return self.requests.get(SHOP, request.request_id, T0)


@pytest.fixture
def desk(db) -> Desk:
    return Desk(db)


# --- reconcile ------------------------------------------------------------------------------


def test_a_row_the_card_company_approved_is_settled_and_its_request_paid(desk):
    request, entry = desk.begun()
    desk.charge(entry)  # charged; the kiosk died before it wrote the answer
    assert desk.reconcile() == Reconciled(settled=1)
    row = desk.row(entry)
    assert (row.state, row.receipt_no, row.updated_at) == (
        LedgerState.SETTLED, "T-TEST-000001", LATER)  # fmt: skip
    paid = desk.request(request)
    assert (paid.state, paid.receipt_no) == ("paid", "T-TEST-000001")
    assert [(n.request_id, n.receipt_no) for n in desk.notices.sent] == [
        (request.request_id, "T-TEST-000001")
    ]
    assert desk.reconcile() == Reconciled()  # nothing open is left
    assert len(desk.gateway.charges) == 1


def test_a_row_the_card_company_declined_is_declined_with_its_reason(desk):
    request, entry = desk.begun()
    desk.gateway.set_balance(ACCOUNT, 0)
    desk.charge(entry)
    assert desk.reconcile() == Reconciled(declined=1)
    assert (desk.row(entry).state, desk.row(entry).reason) == (
        LedgerState.DECLINED, "insufficient")  # fmt: skip
    assert desk.request(request).open and desk.notices.sent == []


def test_a_row_the_card_company_never_saw_is_declined_as_not_sent(desk):
    request, entry = desk.begun()  # the kiosk died before it asked
    assert desk.reconcile() == Reconciled(not_sent=1)
    assert (desk.row(entry).state, desk.row(entry).reason) == (LedgerState.DECLINED, "not_sent")
    assert desk.gateway.charges == [] and desk.request(request).open


def test_a_row_the_card_company_cannot_answer_for_stays_unknown_and_is_asked_again(desk):
    request, entry = desk.begun()
    desk.charge(entry)
    desk.gateway.reachable = False
    done = desk.reconcile()
    assert done == Reconciled(still_unknown=1) and done.open_rows == 1
    assert desk.row(entry).state is LedgerState.UNKNOWN
    assert desk.reconcile() == Reconciled(still_unknown=1)  # asked again: still unknown
    desk.gateway.reachable = True
    assert desk.reconcile() == Reconciled(settled=1)
    assert desk.request(request).state == "paid" and len(desk.gateway.charges) == 1


def test_a_row_charged_and_voided_at_the_card_company_is_voided_by_it(desk):
    _request, entry = desk.begun()
    charged = desk.charge(entry)
    assert isinstance(charged, Approved)
    desk.gateway.void(charged.transaction_id, "void-at-the-card-company")
    assert desk.reconcile() == Reconciled(voided=1)
    row = desk.row(entry)
    assert (row.state, row.receipt_no, row.voided_by) == (
        LedgerState.VOIDED, charged.transaction_id, CARD_COMPANY)  # fmt: skip


def test_a_charge_for_a_request_the_pos_cancelled_is_settled_for_staff_to_void(desk):
    request, entry = desk.begun()
    desk.charge(entry)
    desk.requests.cancel(SHOP, request.request_id, T0)
    assert desk.reconcile() == Reconciled(settled=1)  # the money moved: the ledger says so
    assert desk.row(entry).state is LedgerState.SETTLED
    assert desk.request(request).state == "cancelled" and desk.notices.sent == []


def test_reconcile_leaves_newer_rows_other_terminals_and_other_card_companies(desk):
    _r1, newer = desk.begun()
    _r2, elsewhere = desk.begun(terminal="kiosk-8")
    _r3, other_company = desk.begun(terminal="kiosk-9", gateway="another-card-co")
    assert desk.reconcile(older_than=T0) == Reconciled()  # begun at T0: not before it
    assert desk.reconcile(terminal_id="kiosk-9") == Reconciled(still_unknown=1)
    assert desk.reconcile(terminal_id=TERMINAL) == Reconciled(not_sent=1)
    assert desk.row(newer).state is LedgerState.DECLINED
    for untouched in (elsewhere, other_company):
        assert desk.row(untouched).state is LedgerState.PENDING


def test_reconcile_counts_each_kind_in_one_pass(desk):
    _a, approved = desk.begun(terminal="kiosk-a")
    _b, declined = desk.begun(terminal="kiosk-b", amount=6_000)
    _c, never = desk.begun(terminal="kiosk-c")
    desk.charge(approved)
    desk.gateway.limit_yen = 5_000
    desk.charge(declined)
    assert desk.reconcile() == Reconciled(settled=1, declined=1, not_sent=1)
    assert desk.row(never).reason == "not_sent"


def _service(desk: Desk) -> PaymentService:
    return PaymentService(
        desk.requests, desk.ledger, desk.gateway, TERMINAL, notices=desk.notices, clock=desk.clock
    )


def _shown(request: PaymentRequest) -> ServiceContext:
    """The context of the person's run, with the preview they saw before the kiosk died."""
    preview = ServicePreview(
        PaymentService.title, (), preview_reference(request.request_id, request.amount_yen)
    )
    return ServiceContext(
        "payment", SHOP, "ja", "CN=TEST", None, Link(ACCOUNT, T0),
        consented=frozenset({CONSENT_PAY}), preview=preview,
    )  # fmt: skip


def test_after_reconciliation_a_run_of_the_paid_request_shows_its_receipt_only(desk):
    request, entry = desk.begun()
    desk.charge(entry)
    desk.reconcile()
    result = _service(desk).run(_shown(request))
    assert result.ok and "T-TEST-000001" in [r.value for r in result.rows]
    assert len(desk.gateway.charges) == 1


def test_after_a_row_is_found_never_sent_a_run_charges_once_with_a_new_key(desk):
    request, entry = desk.begun()
    assert desk.reconcile() == Reconciled(not_sent=1)
    assert _service(desk).run(_shown(request)).ok
    first, second = desk.ledger.attempts_of(SHOP, request.request_id, ACCOUNT)
    assert (first.entry_id, first.reason) == (entry.entry_id, "not_sent")
    assert second.state is LedgerState.SETTLED
    assert second.idempotency_key != first.idempotency_key
    assert len(desk.gateway.charges) == 1 and desk.request(request).state == "paid"


# --- void -----------------------------------------------------------------------------------


def test_a_void_gives_the_money_back_and_keeps_who_and_when_audited(desk):
    entry = desk.settled(1_280)
    assert desk.gateway.charged_yen == 1_280
    done = desk.void("T-TEST-000001")
    assert done == VoidDone("T-TEST-000001", 1_280, STAFF, LATER, again=False)
    row = desk.row(entry)
    assert (row.state, row.voided_by, row.voided_at) == (LedgerState.VOIDED, STAFF, LATER)
    assert desk.gateway.charged_yen == 0 and desk.gateway.balance(ACCOUNT) == 50_000
    assert desk.audit.records == [AuditRecord("payment.void", True, None, SHOP, LATER, STAFF)]


def test_a_second_void_changes_nothing_and_says_so(desk):
    desk.settled()
    first = desk.void("T-TEST-000001")
    desk.clock.now = LATER + timedelta(hours=1)
    again = desk.void("T-TEST-000001", staff_id="2042")
    assert again == VoidDone("T-TEST-000001", 1_280, STAFF, first.voided_at, again=True)
    assert len(desk.audit.records) == 1  # the second call voided nothing: no second row
    assert desk.gateway.charged_yen == 0 and desk.gateway.balance(ACCOUNT) == 50_000


def test_a_void_of_an_unknown_receipt_is_refused(desk):
    desk.settled()
    with pytest.raises(VoidRefused) as refused:
        desk.void("T-TEST-999999")
    assert refused.value.code == "unknown_receipt"
    assert desk.gateway.charged_yen == 1_280 and desk.audit.records == []


def test_a_receipt_of_another_shop_is_unknown_here(desk):
    desk.settled()
    with pytest.raises(VoidRefused) as refused:
        void(
            desk.ledger, desk.gateway, desk.audit, provider_id="other-shop",
            receipt_no="T-TEST-000001", staff_id=STAFF, clock=desk.clock,
        )  # fmt: skip
    assert refused.value.code == "unknown_receipt" and desk.gateway.charged_yen == 1_280


def test_a_row_with_a_receipt_that_is_not_settled_is_not_voided(desk, db):
    # only a damaged ledger has one: a receipt number on a row still unknown
    _request, entry = desk.begun()
    desk.ledger.mark_unknown(entry.entry_id, T0)
    rows = table_of(LedgerRow)
    with db.writing() as conn:
        conn.execute(update(rows).where(rows.c.entry_id == entry.entry_id).values(receipt_no="T-X"))
    with pytest.raises(VoidRefused) as refused:
        desk.void("T-X")
    assert refused.value.code == "not_settled" and desk.audit.records == []


def test_a_void_the_card_company_does_not_confirm_is_refused_and_can_be_tried_again(desk):
    entry = desk.settled()
    desk.gateway.reachable = False
    with pytest.raises(VoidRefused) as refused:
        desk.void("T-TEST-000001")
    assert refused.value.code == "void_unconfirmed"
    assert desk.row(entry).state is LedgerState.SETTLED and desk.gateway.charged_yen == 1_280
    assert desk.audit.records == [
        AuditRecord("payment.void", False, "unconfirmed", SHOP, LATER, STAFF)
    ]
    desk.gateway.reachable = True
    assert not desk.void("T-TEST-000001").again
    assert desk.row(entry).state is LedgerState.VOIDED
    assert desk.gateway.charged_yen == 0 and desk.gateway.balance(ACCOUNT) == 50_000
    assert [r.ok for r in desk.audit.records] == [False, True]


def test_a_void_the_card_company_refuses_is_refused_and_audited(desk):
    entry = desk.settled()
    desk.gateway = MemoryCardGateway()  # a card company that never made this charge: 404
    with pytest.raises(VoidRefused) as refused:
        desk.void("T-TEST-000001")
    assert refused.value.code == "void_refused"
    assert desk.row(entry).state is LedgerState.SETTLED
    assert desk.audit.records == [
        AuditRecord("payment.void", False, "refused_404", SHOP, LATER, STAFF)
    ]


def test_a_void_needs_the_staff_number(desk):
    desk.settled()
    with pytest.raises(ValueError):
        desk.void("T-TEST-000001", staff_id="")
    assert desk.gateway.charged_yen == 1_280 and desk.audit.records == []


def test_a_voided_charge_is_not_settled_in_the_days_totals(desk):
    desk.settled(1_280)
    desk.settled(2_000)
    desk.void("T-TEST-000001")
    (total,) = desk.ledger.day_totals(business_day(T0), SHOP)
    assert (total.settled_count, total.settled_yen) == (1, 2_000)
    assert (total.voided_count, total.voided_yen) == (1, 1_280)
    assert desk.gateway.charged_yen == 2_000


def test_a_charge_made_at_another_card_company_is_not_voided_at_this_one(desk):
    entry = desk.settled()
    charged_here = desk.gateway
    desk.gateway = MemoryCardGateway(code="other-card")  # the kiosk changed card company
    with pytest.raises(VoidRefused) as refused:
        desk.void("T-TEST-000001")
    assert refused.value.code == "void_refused"
    assert desk.row(entry).state is LedgerState.SETTLED  # nothing asked, nothing changed
    assert charged_here.charged_yen == 1_280 and desk.audit.records == []

"""Staff void a settled payment from the staff menu: the flow (the menu entry only where
payments are taken and the desk can void, the receipt number's shape checked before any work,
a confirm step, the void as staff work, each refusal inline), the staff desk's port, and the
translation of the payments' back office's refusals (kiosk.flow.voids) over a real ledger."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from kiosk.demo.audit import MemoryAudit
from kiosk.demo.payment import MemoryCardGateway
from kiosk.flow.errors_catalogue import Problem, ProblemCode, entry
from kiosk.flow.machine import (
    PAYMENT_SERVICE_ID,
    STAFF_WORK,
    Back,
    Cancel,
    ConfirmVoid,
    Done,
    PlaySound,
    Screen,
    ServiceInfo,
    Sound,
    StaffRequest,
    StaffVoid,
    SubmitReceiptNumber,
    SubmitStaffId,
    SubmitStaffPin,
    Tick,
    Touch,
    Work,
    WorkDone,
)
from kiosk.flow.ports import FlowProblem, VoidReport
from kiosk.flow.staff import Credential, NoStaff, StaffDesk, StaffMember
from kiosk.flow.voids import VOID_PROBLEMS, payment_voids, void_problem
from kiosk.i18n import LANGUAGES, Text
from kiosk.services.payment import PaymentService
from kiosk.services.payment_desk import VoidRefused
from kiosk.store.ledger import Begun, ChargeAttempt, LedgerState, PaymentLedger
from tests.unit.test_flow import IDENTITY_INFO, NOW, Driver, make_flow

STAFF_ID, STAFF_PIN = "1021", "24681357"
RECEIPT = "T-TEST-000001"
PAYMENT_INFO = ServiceInfo(
    PAYMENT_SERVICE_ID, Text("支払い", "Pay", "しはらい"), Text("", ""), needs_link=True
)
REPORT = VoidReport(RECEIPT, 1_280, again=False)
VOID_CODES = (
    ProblemCode.VOID_UNKNOWN_RECEIPT,
    ProblemCode.VOID_NOT_SETTLED,
    ProblemCode.VOID_UNCONFIRMED,
    ProblemCode.VOID_REFUSED,
    ProblemCode.VOID_UNAVAILABLE,
)
#: The refusals after which the same receipt may be tried again (nothing decided yet).
RETRYABLE = {ProblemCode.VOID_UNCONFIRMED, ProblemCode.VOID_UNAVAILABLE}


def void_flow(services=(IDENTITY_INFO, PAYMENT_INFO), staff_voids=True):
    return make_flow(services=services, staff_enabled=True, staff_voids=staff_voids)


def signed_in(flow=None) -> Driver:
    d = Driver(flow or void_flow()).send(StaffRequest())
    d.send(SubmitStaffId(STAFF_ID)).send(SubmitStaffPin(STAFF_PIN))
    return d.finish_work(STAFF_ID)


def at_void(flow=None) -> Driver:
    return signed_in(flow).send(StaffVoid())


def confirming(receipt: str = RECEIPT) -> Driver:
    return at_void().send(SubmitReceiptNumber(receipt))


def voiding(receipt: str = RECEIPT) -> Driver:
    return confirming(receipt).send(ConfirmVoid())


# --- the menu entry --------------------------------------------------------------------------


def test_the_flow_knows_the_payment_service_by_the_services_own_id():
    (declared,) = [f.default for f in fields(PaymentService) if f.name == "id"]
    assert declared == PAYMENT_SERVICE_ID


@pytest.mark.parametrize(
    "services,staff_voids,offered",
    [
        ((IDENTITY_INFO, PAYMENT_INFO), True, True),
        ((PAYMENT_INFO,), True, True),
        ((IDENTITY_INFO,), True, False),  # no payments taken here: nothing to void
        ((IDENTITY_INFO, PAYMENT_INFO), False, False),  # the staff desk cannot void
    ],
)
def test_void_is_offered_only_where_payments_are_taken_and_the_desk_voids(
    services, staff_voids, offered
):
    flow = void_flow(services, staff_voids)
    assert flow.offers_void is offered
    d = signed_in(flow).send(StaffVoid())
    assert d.screen is (Screen.STAFF_VOID if offered else Screen.STAFF_MENU)
    assert d.effects == ()


# --- the receipt number, the confirm step and the work -------------------------------------


def test_staff_type_the_receipt_number_confirm_and_the_void_runs_on_the_staff_worker():
    d = at_void()
    assert d.screen is Screen.STAFF_VOID and d.state.void_receipt == ""
    d.send(SubmitReceiptNumber(f" {RECEIPT} "))  # a pasted number's surrounding blanks
    assert d.state.void_receipt == RECEIPT and d.effects == ()  # the confirm step: no work
    d.send(ConfirmVoid())
    work = d.work()
    assert (work.kind, work.staff_id, work.receipt_no) == (Work.STAFF_VOID, STAFF_ID, RECEIPT)
    assert work.kind in STAFF_WORK  # the staff worker's, not the card worker's
    assert d.screen is Screen.STAFF_VOID and d.state.work is Work.STAFF_VOID
    d.finish_work(REPORT)
    assert d.screen is Screen.STAFF_VOID and d.state.void_report == REPORT
    assert d.state.work is None and d.state.problem is None
    assert PlaySound(Sound.DONE) in d.effects
    d.send(Done())  # back to the staff menu, still signed in
    assert d.screen is Screen.STAFF_MENU and d.state.staff_id == STAFF_ID
    assert (d.state.void_receipt, d.state.void_report) == ("", None)


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "T TEST 1", "T-1\tX", "領収-1", "ｔ-1", "T-\x7f1", "x" * 65],
)
def test_a_receipt_number_of_the_wrong_shape_is_refused_before_any_work(typed):
    d = at_void().send(SubmitReceiptNumber(typed))
    assert d.state.problem == Problem(ProblemCode.RECEIPT_FORMAT)
    assert d.state.void_receipt == "" and d.effects == ()
    assert d.screen is Screen.STAFF_VOID


@pytest.mark.parametrize("typed", ["1", "x" * 64, "T-TEST-000001", "!#$%&()*+,-./:;<=>?@[]^_`{|}~"])
def test_any_printable_ascii_without_spaces_up_to_64_is_a_receipt_number(typed):
    d = at_void().send(SubmitReceiptNumber(typed))
    assert d.state.void_receipt == typed and d.state.problem is None


def test_back_from_the_confirm_step_edits_the_number_and_back_again_is_the_menu():
    d = confirming().send(Back())
    assert d.screen is Screen.STAFF_VOID and d.state.void_receipt == ""
    d.send(Back())
    assert d.screen is Screen.STAFF_MENU and d.state.staff


def test_cancel_returns_to_the_staff_menu_not_the_start():
    d = confirming().send(Cancel())
    assert d.screen is Screen.STAFF_MENU and d.state.staff_id == STAFF_ID
    assert d.state.void_receipt == "" and d.effects == ()


def test_confirm_is_taken_only_at_the_confirm_step():
    d = at_void().send(ConfirmVoid())
    assert d.effects == () and d.state.work is None


def test_nothing_is_taken_while_a_void_runs():
    d = voiding()
    busy = d.state
    for event in (
        ConfirmVoid(),
        SubmitReceiptNumber("T-2"),
        Back(),
        Cancel(),
        Done(),
        StaffRequest(),  # a long press would lose the void's answer
    ):
        d.send(event)
        assert d.state == busy and d.effects == (), event


def test_idle_does_not_end_staff_mode_while_the_card_company_answers():
    d = voiding().send(Touch()).send(Tick(), at=NOW + 600)
    assert d.screen is Screen.STAFF_VOID and d.state.work is Work.STAFF_VOID
    d.finish_work(REPORT)
    assert d.state.idle_deadline is not None  # the result is shown, then idle counts again
    d.send(Tick(), at=d.state.idle_deadline)
    assert d.screen is Screen.ATTRACT and not d.state.staff


def test_a_late_or_foreign_answer_is_ignored_and_a_wrong_one_is_internal():
    d = voiding()
    d.send(WorkDone(d.state.work_id - 1, REPORT))
    assert d.state.work is Work.STAFF_VOID and d.state.void_report is None
    d.finish_work(VoidReport("T-OTHER", 1_280, False))  # not the receipt staff confirmed
    assert d.screen is Screen.ERROR and d.state.problem.code is ProblemCode.INTERNAL
    assert voiding().finish_work("voided").state.problem.code is ProblemCode.INTERNAL


def test_an_already_voided_payment_is_reported_as_such():
    d = voiding().finish_work(VoidReport(RECEIPT, 1_280, again=True))
    assert d.state.void_report.again and d.screen is Screen.STAFF_VOID


# --- the refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("code", VOID_CODES, ids=lambda c: c.value)
def test_each_refusal_is_shown_inline_and_only_an_undecided_one_is_offered_again(code):
    d = voiding().fail_work(code)
    assert d.screen is Screen.STAFF_VOID and d.state.staff_id == STAFF_ID
    assert d.state.problem.code is code and d.state.work is None
    assert d.state.void_report is None and PlaySound(Sound.ERROR) in d.effects
    if code in RETRYABLE:  # the same receipt, confirmed again, is voided at most once
        assert d.state.void_receipt == RECEIPT
        assert d.send(ConfirmVoid()).work().receipt_no == RECEIPT
    else:  # the number must change before anything is asked again
        assert d.state.void_receipt == ""
        assert d.send(ConfirmVoid()).effects == ()


@pytest.mark.parametrize("code", VOID_CODES, ids=lambda c: c.value)
def test_each_refusal_says_what_happened_in_every_language(code):
    found = entry(code)
    assert found.retry is (code in RETRYABLE)
    for language in LANGUAGES:
        assert found.title.get(language).strip() and found.text.get(language).strip()
    others = {entry(other).text.en for other in VOID_CODES if other is not code}
    assert found.text.en not in others  # each one tells staff something different


def test_the_format_refusal_names_the_rule():
    found = entry(ProblemCode.RECEIPT_FORMAT)
    assert "64" in found.text.ja and "64" in found.text.en and "64" in found.text.easy


# --- the staff desk ------------------------------------------------------------------------

CHEAP = {"n": 2**14, "r": 8, "p": 5}
AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 10:30 in Japan


@pytest.fixture(scope="module")
def staff() -> tuple[StaffMember, ...]:
    return (StaffMember(STAFF_ID, Credential.make(STAFF_PIN, **CHEAP)),)


def desk(staff, audit, voids=None) -> StaffDesk:
    return StaffDesk(staff, audit, "shop-1", lambda: AT, clock=lambda: 0.0, voids=voids)


def refused_by(call) -> ProblemCode:
    with pytest.raises(FlowProblem) as e:
        call()
    return e.value.problem.code


def test_a_desk_without_voids_does_not_void_and_says_so(staff):
    d = desk(staff, MemoryAudit())
    assert d.can_void is False and NoStaff().can_void is False
    assert refused_by(lambda: d.void_payment(STAFF_ID, RECEIPT)) is ProblemCode.VOID_UNAVAILABLE
    assert refused_by(lambda: NoStaff().void_payment(STAFF_ID, RECEIPT)) is (
        ProblemCode.VOID_UNAVAILABLE
    )


def test_the_desk_hands_the_void_to_the_back_office_and_adds_no_audit_of_its_own(staff):
    asked: list[tuple[str, str]] = []

    def voids(staff_id: str, receipt_no: str) -> VoidReport:
        asked.append((staff_id, receipt_no))
        return REPORT

    audit = MemoryAudit()
    d = desk(staff, audit, voids)
    assert d.can_void is True
    assert d.void_payment(STAFF_ID, RECEIPT) == REPORT
    assert asked == [(STAFF_ID, RECEIPT)]
    assert audit.records == []  # the back office's void records `payment.void` itself


@pytest.mark.parametrize(
    "staff_id,receipt,code",
    [
        ("9999", RECEIPT, ProblemCode.INTERNAL),  # nobody of that number signed in
        ("", RECEIPT, ProblemCode.INTERNAL),
        (STAFF_ID, "T 1", ProblemCode.RECEIPT_FORMAT),
        (STAFF_ID, "", ProblemCode.RECEIPT_FORMAT),
    ],
)
def test_the_desk_refuses_what_the_flow_never_sends_without_asking(staff, staff_id, receipt, code):
    asked: list[str] = []
    d = desk(staff, MemoryAudit(), lambda s, r: asked.append(r) or REPORT)
    assert refused_by(lambda: d.void_payment(staff_id, receipt)) is code
    assert asked == []


# --- the back office's refusals, translated ------------------------------------------------


def test_every_refusal_of_the_back_office_has_its_problem():
    assert set(VOID_PROBLEMS) == {
        "unknown_receipt",
        "not_settled",
        "void_unconfirmed",
        "void_refused",
        "unavailable",
    }
    assert sorted(VOID_PROBLEMS.values()) == sorted(VOID_CODES)
    for why, code in VOID_PROBLEMS.items():
        assert void_problem(VoidRefused(why, "...")).problem == Problem(code)
    assert void_problem(VoidRefused("new_reason", "...")).problem.code is ProblemCode.INTERNAL


class Books:
    """A shop's ledger in a real store with one settled charge, and the TEST card company
    that made it."""

    def __init__(self, db) -> None:
        self.ledger = PaymentLedger(db)
        self.gateway = MemoryCardGateway()
        self.audit = MemoryAudit()
        key = "key-REQ-1"
        attempt = ChargeAttempt("shop-1", "kiosk-1", "acct-1", "REQ-1", 1_280, key, "test")
        begun = self.ledger.begin(attempt, AT)
        assert isinstance(begun, Begun)
        approved = self.gateway.authorise_and_capture(
            key, "shop-1", "kiosk-1", "acct-1", 1_280, "order-1"
        )
        self.settled = self.ledger.settle(begun.entry.entry_id, approved.transaction_id, AT)
        self.receipt = approved.transaction_id

    def void(self, receipt_no: str, staff_id: str = STAFF_ID) -> VoidReport:
        run = payment_voids(
            self.ledger, self.gateway, self.audit, provider_id="shop-1", clock=lambda: AT
        )
        return run(staff_id, receipt_no)

    def refusal(self, receipt_no: str) -> ProblemCode:
        return refused_by(lambda: self.void(receipt_no))

    def row(self):
        return self.ledger.get(self.settled.entry_id)

    def voids(self) -> list[tuple[bool, str | None, str | None]]:
        return [(r.ok, r.reason, r.actor) for r in self.audit.records if r.action == "payment.void"]


def test_a_settled_payment_is_voided_once_by_the_staff_member_who_asked(db):
    books = Books(db)
    receipt = books.receipt
    assert books.void(receipt) == VoidReport(receipt, 1_280, again=False)
    row = books.row()
    assert (row.state, row.voided_by) == (LedgerState.VOIDED, STAFF_ID)
    assert books.gateway.charged_yen == 0
    assert books.voids() == [(True, None, STAFF_ID)]
    assert books.void(receipt) == VoidReport(receipt, 1_280, again=True)  # nothing changes
    assert books.voids() == [(True, None, STAFF_ID)]


def test_an_unknown_receipt_changes_nothing(db):
    books = Books(db)
    assert books.refusal("T-NOBODY") is ProblemCode.VOID_UNKNOWN_RECEIPT
    assert books.row().state is LedgerState.SETTLED
    assert books.gateway.charged_yen == 1_280 and books.voids() == []


def test_an_unanswered_void_is_to_be_tried_again_and_then_voids_once(db):
    books = Books(db)
    receipt = books.receipt
    books.gateway.reachable = False
    assert books.refusal(receipt) is ProblemCode.VOID_UNCONFIRMED
    assert books.row().state is LedgerState.SETTLED
    books.gateway.reachable = True
    assert books.void(receipt).again is False
    assert books.row().state is LedgerState.VOIDED
    assert books.voids() == [(False, "unconfirmed", STAFF_ID), (True, None, STAFF_ID)]


def test_a_void_the_card_company_refuses_is_said_to_be_refused(db):
    books = Books(db)
    receipt = books.receipt
    books.gateway = MemoryCardGateway()  # a card company that never made this charge
    assert books.refusal(receipt) is ProblemCode.VOID_REFUSED
    assert books.row().state is LedgerState.SETTLED

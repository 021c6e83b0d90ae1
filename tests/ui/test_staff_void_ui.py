"""Staff void a settled payment in the real window, end to end over a real store: the staff
member signs in, picks 取消 on the staff menu, types the receipt number, confirms, and the
payment is voided at the (TEST) card company and in the ledger with their staff number, audited
once; an unknown receipt number shows the problem and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from kiosk.app import available_services, flow_config
from kiosk.card.reader import InProcessReader
from kiosk.config import Config
from kiosk.demo.audit import MemoryAudit
from kiosk.demo.payment import MemoryCardGateway
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.flow.machine import Flow, Screen
from kiosk.flow.staff import StaffDesk
from kiosk.flow.voids import payment_voids
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.ledger import Begun, ChargeAttempt, LedgerState, PaymentLedger
from kiosk.ui.controller import FlowController
from kiosk.ui.main_window import KioskWindow
from tests.ui.conftest import STAFF_ID, FakeClock, Kiosk

AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 10:30 in Japan
SHOP, TERMINAL = "demo-clinic", "kiosk-1"  # the configuration's provider and terminal


class NoCard:
    """The visit's backend: voiding a payment never reaches the card."""

    def __getattr__(self, name: str):
        raise AssertionError(f"a staff void asked the card backend for {name}")


class Shop:
    """The shop's store (a temporary SQLite file, migrated) with one settled payment of ¥1,280
    the TEST card company charged."""

    def __init__(self, db: Database) -> None:
        self.ledger = PaymentLedger(db)
        self.gateway = MemoryCardGateway()
        self.audit = AuditLog(db, terminal_id=TERMINAL)
        key = "key-REQ-1"
        attempt = ChargeAttempt(SHOP, TERMINAL, "acct-1", "REQ-1", 1_280, key, self.gateway.code)
        begun = self.ledger.begin(attempt, AT)
        assert isinstance(begun, Begun)
        charged = self.gateway.authorise_and_capture(key, SHOP, TERMINAL, "acct-1", 1_280, "o-1")
        self.entry_id = self.ledger.settle(
            begun.entry.entry_id, charged.transaction_id, AT
        ).entry_id
        self.receipt = charged.transaction_id

    def row(self):
        return self.ledger.get(self.entry_id)

    def voids(self):
        return [e for e in self.audit.recent() if e.action == "payment.void"]


@pytest.fixture
def shop(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    db.upgrade()
    yield Shop(db)
    db.dispose()


@pytest.fixture
def make_kiosk(qtbot, staff_members):
    """Build the kiosk of a shop that takes payments over a staff desk with the given `voids`
    (as kiosk.app wires them: the flow offers voids when the desk can void)."""
    made: list[Kiosk] = []

    def make(audit, voids=None) -> Kiosk:
        cfg = Config(staff=staff_members, sound=False, services=("identity", "payment"))
        clock = FakeClock()
        desk = StaffDesk(cfg.staff, audit, cfg.provider_id, lambda: AT, clock=clock, voids=voids)
        flow = Flow(replace(flow_config(cfg, available_services()), staff_voids=desk.can_void))
        controller = FlowController(flow, NoCard(), clock, staff=desk)
        window = KioskWindow(controller, kiosk_mode=True, staff_hold_ms=50)
        qtbot.addWidget(window)
        window.show_kiosk()
        qtbot.waitExposed(window)
        made.append(Kiosk(qtbot, window, controller, InProcessReader(), audit, clock, None))
        return made[-1]

    yield make
    for kiosk in made:
        kiosk.controller.stop()
        kiosk.window.staff_exit()


@pytest.fixture
def kiosk(make_kiosk, shop) -> Kiosk:
    """The shop's kiosk, its desk voiding through kiosk.flow.voids into the shop's store."""
    voids = payment_voids(shop.ledger, shop.gateway, shop.audit, provider_id=SHOP, clock=lambda: AT)
    return make_kiosk(shop.audit, voids)


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def to_void_page(kiosk: Kiosk) -> QLineEdit:
    kiosk.staff_login()
    kiosk.click("staff-void")
    kiosk.wait_screen(Screen.STAFF_VOID)
    return kiosk.page().findChild(QLineEdit, "receipt-no")


def test_staff_void_a_settled_payment_and_it_is_voided_with_who_and_audited_once(kiosk, shop):
    field = to_void_page(kiosk)
    field.setText(f"{shop.receipt} X")  # a space: refused before anything is asked
    kiosk.click("staff-void-next")
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.problem is not None)
    assert kiosk.controller.state.problem.code is ProblemCode.RECEIPT_FORMAT
    field.setText(shop.receipt)
    kiosk.click("staff-void-next")
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.void_receipt == shop.receipt)
    assert shop.receipt in texts(kiosk.page())  # the confirm step names the receipt
    assert shop.row().state is LedgerState.SETTLED  # nothing yet

    kiosk.click("staff-void-confirm")
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.void_report is not None)
    shown = texts(kiosk.page())
    assert "取り消しました" in shown and shop.receipt in shown and "¥1,280" in shown
    row = shop.row()
    assert (row.state, row.voided_by) == (LedgerState.VOIDED, STAFF_ID)
    assert shop.gateway.charged_yen == 0  # the money went back
    assert [(e.ok, e.actor, e.provider_id) for e in shop.voids()] == [(True, STAFF_ID, SHOP)]

    kiosk.click("staff-void-done")
    kiosk.wait_screen(Screen.STAFF_MENU)
    assert kiosk.controller.state.staff_id == STAFF_ID


def test_an_unknown_receipt_shows_the_problem_and_changes_nothing(kiosk, shop):
    field = to_void_page(kiosk)
    field.setText("T-TEST-999999")
    kiosk.click("staff-void-next")
    kiosk.qtbot.waitUntil(lambda: bool(kiosk.controller.state.void_receipt))
    kiosk.click("staff-void-confirm")
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.problem is not None)
    assert kiosk.controller.state.problem.code is ProblemCode.VOID_UNKNOWN_RECEIPT
    assert kiosk.screen is Screen.STAFF_VOID
    assert "この領収番号の支払いはありません" in texts(kiosk.page())
    assert field.text() == "T-TEST-999999" and not field.isReadOnly()  # to correct it
    assert shop.row().state is LedgerState.SETTLED and shop.row().voided_by is None
    assert shop.gateway.charged_yen == 1_280 and shop.voids() == []
    kiosk.click("cancel")  # back to the staff menu
    kiosk.wait_screen(Screen.STAFF_MENU)


def test_without_voids_the_staff_menu_does_not_offer_them(make_kiosk):
    kiosk = make_kiosk(MemoryAudit())
    kiosk.staff_login()
    assert kiosk.page().findChild(QPushButton, "staff-void").isHidden()
    assert kiosk.page().findChild(QPushButton, "staff-link").isVisible()

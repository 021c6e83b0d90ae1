"""A service's hand-off for reception is recorded with the visit, in one transaction.

The visit's audit row and the outbox message are written together (SQLite and PostgreSQL);
a store that cannot take them fails the service run, and then neither is there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from reception_support import message

from kiosk.i18n import Text
from kiosk.services.base import ServiceContext, ServiceResult
from kiosk.services.handoff import OutboxHandoff
from kiosk.services.visit import ServiceFailed, Visit
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.outbox import Outbox, VisitAudit

NOW = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
CONTEXT = ServiceContext("insurance", "demo-clinic", "ja", "S", None, None)
RESULT = ServiceResult(True, Text("有効", "Valid"), Text("", ""))


@dataclass
class HandingOff:
    """A service whose result carries a message for reception."""

    result: ServiceResult
    id: str = "insurance"

    def run(self, context: ServiceContext) -> ServiceResult:
        return self.result


def visit(db: Database, service, wake=lambda: None) -> Visit:
    audit = AuditLog(db, terminal_id="kiosk-1")
    handoff = OutboxHandoff(Outbox(db), "kiosk-1", wake)
    return Visit(None, None, None, audit, {"insurance": service}, "kiosk-1", lambda: NOW,
                 handoff=handoff)  # fmt: skip


def test_the_visit_and_its_message_for_reception_are_recorded_together(db):
    woken = []
    sent = message()
    result = visit(db, HandingOff(replace(RESULT, handoff=sent)), lambda: woken.append(1))
    assert result.run_service(CONTEXT).ok
    waiting = Outbox(db).list()
    assert [m.message_id for m in waiting] == [str(sent.message_id)]
    assert waiting[0].destination == "reception" and not waiting[0].delivered
    actions = [(e.action, e.ok, e.terminal_id) for e in AuditLog(db).recent()]
    assert actions == [("service.insurance", True, "kiosk-1")]
    assert woken == [1]  # the sender is told at once


def test_a_result_without_a_hand_off_is_only_audited(db):
    visit(db, HandingOff(RESULT)).run_service(CONTEXT)
    assert Outbox(db).list() == ()
    assert [e.action for e in AuditLog(db).recent()] == ["service.insurance"]


def test_a_store_that_cannot_record_fails_the_run_and_writes_neither_row(db):
    sent = message()
    taken = message()
    Outbox(db).enqueue(  # the same id twice: the second enqueue fails inside its transaction
        taken.message_id, "reception", b"{}", NOW,
        audit=VisitAudit("setup.enqueue", True, "demo-clinic", "kiosk-1"),
    )  # fmt: skip
    clash = replace(sent, message_id=taken.message_id)
    with pytest.raises(ServiceFailed):
        visit(db, HandingOff(replace(RESULT, handoff=clash))).run_service(CONTEXT)
    assert [m.message_id for m in Outbox(db).list()] == [str(taken.message_id)]
    assert [e.action for e in AuditLog(db).recent()] == ["setup.enqueue"]

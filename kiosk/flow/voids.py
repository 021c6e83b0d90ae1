"""Staff voids at the kiosk over the payments' back office, with the screen's problems.

`payment_voids` makes the staff desk's `voids` (kiosk.flow.staff.StaffDesk): it runs
kiosk.services.payment_desk.void — the card company first, then the ledger with the staff
number, audited there as `payment.void` with who and when — and turns its `VoidRefused` into
the `FlowProblem` the staff screen shows. It lives beside the flow, not in the flow's machine,
because it imports the back office (and through it the store); kiosk.app wires it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType

from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.flow.ports import FlowProblem, VoidReport
from kiosk.services.card_gateway import CardGateway
from kiosk.services.payment_desk import VoidRefused, void
from kiosk.services.visit import AuditSink
from kiosk.store.ledger import PaymentLedger

log = logging.getLogger(__name__)

#: The back office's refusal codes (`VoidRefused.code`) and what the staff screen says.
VOID_PROBLEMS: Mapping[str, ProblemCode] = MappingProxyType(
    {
        "unknown_receipt": ProblemCode.VOID_UNKNOWN_RECEIPT,
        "not_settled": ProblemCode.VOID_NOT_SETTLED,
        "void_unconfirmed": ProblemCode.VOID_UNCONFIRMED,
        "void_refused": ProblemCode.VOID_REFUSED,
        "unavailable": ProblemCode.VOID_UNAVAILABLE,
    }
)


def void_problem(refused: VoidRefused) -> FlowProblem:
    """The staff screen's problem for a refused void; a code this kiosk does not know is an
    internal problem (never a success, never a guess at what happened)."""
    code = VOID_PROBLEMS.get(refused.code)
    if code is None:
        log.error("a void was refused for a reason the kiosk does not know: %s", refused.code)
        return FlowProblem.of(ProblemCode.INTERNAL)
    return FlowProblem.of(code)


def payment_voids(
    ledger: PaymentLedger,
    gateway: CardGateway,
    audit: AuditSink,
    *,
    provider_id: str,
    clock: Callable[[], datetime],
) -> Callable[[str, str], VoidReport]:
    """The staff desk's `voids`: (staff number, receipt number) -> the voided payment, or
    FlowProblem. Called on the staff worker's thread."""

    def void_payment(staff_id: str, receipt_no: str) -> VoidReport:
        try:
            done = void(
                ledger,
                gateway,
                audit,
                provider_id=provider_id,
                receipt_no=receipt_no,
                staff_id=staff_id,
                clock=clock,
            )
        except VoidRefused as e:
            raise void_problem(e) from e
        return VoidReport(done.receipt_no, done.amount_yen, done.again)

    return void_payment

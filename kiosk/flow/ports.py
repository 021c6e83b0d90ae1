"""What the flow asks of a visit and of staff: two small ports (and the staff void's result).

The kiosk's visit (kiosk.services.visit.Visit) implements `FlowBackend` over the card, the
verifier and the store, with the result types it defines; tests implement it in memory. Every
method is called off the GUI thread (by kiosk.ui.controller's workers) and returns one of
those frozen results or raises; the worker turns what it raises into the `Problem` shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.services.base import Link, ServiceContext, ServicePreview, ServiceResult
from kiosk.services.visit import (
    Authenticated,
    AwaitingConfirmation,
    CardStatus,
    EnrolmentCandidate,
)


class FlowProblem(KioskError):
    """A backend failure already translated for the person at the kiosk."""

    code = "flow"

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code.value)
        self.problem = problem

    @classmethod
    def of(cls, code: ProblemCode, retries_left: int | None = None) -> FlowProblem:
        """Shorthand for raising a problem by code."""
        return cls(Problem(code, retries_left))


class FlowBackend(Protocol):
    def read_card(self) -> CardStatus:
        """Tell what token is in the reader (card, phone, face-auth card, unknown) and read
        its retry counters, without sending a PIN."""

    def authenticate(self, pin: str, service_id: str, provider_id: str) -> Authenticated:
        """Prove the user certificate with the PIN (one VERIFY) and verify the proof."""

    def authenticate_on_phone(
        self, service_id: str, provider_id: str
    ) -> Authenticated | AwaitingConfirmation:
        """An iPhone: prove the user certificate once the person confirmed on the phone (no
        PIN); AwaitingConfirmation while the phone says it was not confirmed."""

    def read_signer(self, password: str, authenticated: Authenticated) -> EnrolmentCandidate:
        """Prove the signature certificate with the password and read the 4 info from it."""

    def enrol(
        self,
        candidate: EnrolmentCandidate,
        provider_id: str,
        *,
        record: str = "",
        staff_id: str = "",
    ) -> Link:
        """Record the link between the user certificate and the provider's account: the
        person's own record, or `record`, the patient number `staff_id` confirmed."""

    def prepare_service(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """The service's preview before consent (or a result that ends the visit)."""

    def run_service(self, context: ServiceContext) -> ServiceResult:
        """Run the chosen service for the verified person."""

    def run_assisted(self, context: ServiceContext, *, staff_id: str) -> ServiceResult:
        """Run the service on a staff visual check (audited as staff-assisted, with the
        staff number of who checked)."""

    def close_card(self) -> None:
        """End the card session (reset the card); harmless when there is none."""


class CallOutcome(StrEnum):
    """What became of a customer's call for staff; the screen says staff are coming only
    when it was delivered."""

    DELIVERED = "delivered"  # the counter acknowledged it (HTTP 2xx)
    NOT_DELIVERED = "not_delivered"  # refused, unreachable or too slow: go to the counter
    NO_CHANNEL = "no_channel"  # no way to call staff is configured: go to the counter


#: A receipt number as staff type it to void a payment: printable ASCII without spaces, as
#: long as the ledger's column at most (the card company's transaction id, e.g. T-TEST-000001).
RECEIPT_NO_RE = re.compile(r"[!-~]{1,64}")


@dataclass(frozen=True, slots=True)
class VoidReport:
    """A payment staff voided: its receipt number and amount; `again` when it had been voided
    already (nothing changed this time)."""

    receipt_no: str
    amount_yen: int
    again: bool


class StaffPort(Protocol):
    """What the flow asks of staff: sign-in, exit, calls and voids. Called off the GUI thread
    (the credential check is slow by design); failures are raised as `FlowProblem`."""

    @property
    def can_void(self) -> bool:
        """Whether this desk can void payments (the staff menu offers it only then)."""

    def sign_in(self, staff_id: str, secret: str) -> str:
        """Check the staff number and PIN; the staff number, or FlowProblem (wrong PIN, or
        locked with the seconds left)."""

    def record_exit(self, staff_id: str) -> None:
        """Audit that this member of staff closes the kiosk (raises when it cannot)."""

    def call(self, reason: str) -> CallOutcome:
        """Call a member of staff to this kiosk for `reason` (a short code)."""

    def void_payment(self, staff_id: str, receipt_no: str) -> VoidReport:
        """Void the settled payment with this receipt number for the signed-in `staff_id`
        (audited with who and when), or FlowProblem: VOID_UNKNOWN_RECEIPT, VOID_NOT_SETTLED,
        VOID_UNCONFIRMED (no answer: try again, it voids once), VOID_REFUSED,
        VOID_UNAVAILABLE."""

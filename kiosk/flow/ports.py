"""What the flow asks of the card, the verification core and the services: one small port.

The kiosk's real backend (kiosk.flow.backend) implements it over the card client, the
verifier and the store; tests implement it in memory. Every method is called off the GUI
thread and either returns one of the frozen results below or raises `FlowProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.services.base import Link, ServiceContext, ServicePreview, ServiceResult
from kiosk.verify.verdict import CertRef


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


@dataclass(frozen=True, slots=True)
class CardStatus:
    """What the kiosk reads from an inserted card before asking for anything."""

    auth_retries: int  # tries left on the user-authentication PIN (max 3)
    sign_retries: int  # tries left on the signature password (max 5)
    has_sign_cert: bool = True


@dataclass(frozen=True, slots=True)
class FourInfo:
    """基本4情報 read from the signature certificate; its repr never shows the values."""

    name: str = field(repr=False)
    address: str = field(repr=False)
    birth_date: str = field(repr=False)  # as printed, e.g. 1980-02-17
    sex: str = field(repr=False)  # as printed, e.g. 女 / F


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A verified user proof: the certificate's opaque subject and the link, if any."""

    subject: str
    not_after: datetime
    link: Link | None
    needs_reenrolment: bool = False  # a link exists for an older certificate of this person
    evidence: object = field(default=None, repr=False, compare=False)  # the backend's own


@dataclass(frozen=True, slots=True)
class EnrolmentCandidate:
    """A verified signature-certificate proof, waiting for the person's consent to link."""

    four_info: FourInfo
    evidence: object = field(repr=False, compare=False)  # the backend's own, opaque


class FlowBackend(Protocol):
    def read_card(self) -> CardStatus:
        """Check the inserted card is a My Number Card and read both retry counters."""

    def authenticate(self, pin: str, service_id: str, provider_id: str) -> Authenticated:
        """Prove the user certificate with the PIN (one VERIFY) and verify the proof."""

    def read_signer(self, password: str, authenticated: Authenticated) -> EnrolmentCandidate:
        """Prove the signature certificate with the password and read the 4 info from it."""

    def enrol(self, candidate: EnrolmentCandidate, provider_id: str) -> Link:
        """Record the link between the user certificate and the provider's account."""

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


class StaffPort(Protocol):
    """What the flow asks of staff: sign-in, exit and calls. Called off the GUI thread (the
    credential check is slow by design); failures are raised as `FlowProblem`."""

    def sign_in(self, staff_id: str, secret: str) -> str:
        """Check the staff number and PIN; the staff number, or FlowProblem (wrong PIN, or
        locked with the seconds left)."""

    def record_exit(self, staff_id: str) -> None:
        """Audit that this member of staff closes the kiosk (raises when it cannot)."""

    def call(self, reason: str) -> CallOutcome:
        """Call a member of staff to this kiosk for `reason` (a short code)."""


class AuditLog(Protocol):
    """Where the kiosk's events go (its store's audit table, or a list in tests and the demo)."""

    def record(
        self,
        action: str,
        ok: bool,
        reason: str | None,
        provider_id: str,
        cert: CertRef | None,
        at: datetime,
        *,
        actor: str | None = None,
    ) -> None:
        """Append one audit event (never a PIN, never the 4 info); `actor` is the staff
        number of who acted, when a member of staff did."""

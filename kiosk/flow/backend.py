"""The kiosk's real FlowBackend: the card client, the verifier, the links and the services.

This is the boundary where card, JPKI and verification errors become `Problem`s for the
screens. The card session is held from `read_card` to `close_card`, so the PIN and the
signature password are each sent once per visit and stay verified on the card while the
person reviews and consents; `close_card` resets the card.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography import x509

from kiosk.card.connection import CardConnection
from kiosk.card.errors import CardError, CardRemoved, NoCard, PcscUnavailable, ReaderUnavailable
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.ports import (
    AuditLog,
    Authenticated,
    CardStatus,
    EnrolmentCandidate,
    FlowProblem,
    FourInfo,
)
from kiosk.jpki.errors import (
    JpkiError,
    NotAJpkiCard,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    PinUnconfirmed,
    UnsupportedToken,
)
from kiosk.jpki.session import JpkiSession
from kiosk.services.base import Link, Service, ServiceContext, ServicePreview, ServiceResult
from kiosk.services.visit import ChallengeIssuer, ProofVerifier
from kiosk.verify.der import load_certificate
from kiosk.verify.enrolment import make_application
from kiosk.verify.profile import BasicFourInfo, ProfileError, parse_basic_four
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.verdict import (
    LinkStatus,
    Reason,
    Refused,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Verification reasons → what the person is told.
REASON_PROBLEMS: dict[Reason, ProblemCode] = {
    Reason.MALFORMED: ProblemCode.BAD_CERTIFICATE,
    Reason.UNKNOWN_ISSUER: ProblemCode.UNTRUSTED_ISSUER,
    Reason.BAD_CHAIN: ProblemCode.UNTRUSTED_ISSUER,
    Reason.EXPIRED: ProblemCode.CERT_EXPIRED,
    Reason.NOT_YET_VALID: ProblemCode.CERT_NOT_YET_VALID,
    Reason.WRONG_KEY_PURPOSE: ProblemCode.BAD_CERTIFICATE,
    Reason.WEAK_KEY: ProblemCode.BAD_CERTIFICATE,
    Reason.REVOKED: ProblemCode.CERT_REVOKED,
    Reason.CRL_MISSING: ProblemCode.REVOCATION_UNKNOWN,
    Reason.CRL_STALE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.CRL_BAD_SIGNATURE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_UNAVAILABLE: ProblemCode.PLATFORM_UNREACHABLE,
    Reason.OCSP_BAD_SIGNATURE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_STALE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_NONCE_MISMATCH: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_UNKNOWN: ProblemCode.REVOCATION_UNKNOWN,
    Reason.CHALLENGE_UNKNOWN: ProblemCode.CHALLENGE_INVALID,
    Reason.CHALLENGE_REPLAYED: ProblemCode.CHALLENGE_INVALID,
    Reason.CHALLENGE_EXPIRED: ProblemCode.CHALLENGE_INVALID,
    Reason.CHALLENGE_FOREIGN: ProblemCode.CHALLENGE_INVALID,
    Reason.BAD_SIGNATURE: ProblemCode.BAD_SIGNATURE,
    Reason.FOUR_INFO_MISMATCH: ProblemCode.ENROLMENT_MISMATCH,
    Reason.NOT_SAME_SESSION: ProblemCode.ENROLMENT_MISMATCH,
    Reason.SERIAL_UNAVAILABLE: ProblemCode.PLATFORM_UNREACHABLE,  # the issuer did not answer
    Reason.SERIAL_MISMATCH: ProblemCode.ENROLMENT_MISMATCH,
    Reason.LINK_EXISTS: ProblemCode.LINK_EXISTS,
}


def problem_for(error: BaseException) -> Problem:
    """Translate any error from the card, JPKI or verification layers into a Problem."""
    sign = getattr(error, "which", "auth") == "sign"
    match error:
        case FlowProblem():
            return error.problem
        case PinIncorrect():
            code = ProblemCode.PASSWORD_INCORRECT if sign else ProblemCode.PIN_INCORRECT
            return Problem(code, error.retries_left)
        case PinBlocked():
            return Problem(ProblemCode.PASSWORD_BLOCKED if sign else ProblemCode.PIN_BLOCKED, 0)
        case PinFormatError():
            return Problem(ProblemCode.PASSWORD_FORMAT if sign else ProblemCode.PIN_FORMAT)
        case PinUnconfirmed():  # sent once, answered oddly: start over, never resend
            return Problem(
                ProblemCode.PASSWORD_UNCONFIRMED if sign else ProblemCode.PIN_UNCONFIRMED
            )
        case NotAJpkiCard() | UnsupportedToken():
            return Problem(ProblemCode.NOT_MY_NUMBER_CARD)
        case CardRemoved() | NoCard():
            return Problem(ProblemCode.CARD_REMOVED)
        case PcscUnavailable():
            return Problem(ProblemCode.PCSC_DOWN)
        case ReaderUnavailable():
            return Problem(ProblemCode.READER_MISSING)
        case CardError() | JpkiError():
            return Problem(ProblemCode.CARD_ERROR)
        case Refused():
            return Problem(REASON_PROBLEMS.get(error.reason, ProblemCode.BAD_CERTIFICATE))
        case KioskError(code="platform_unreachable" | "platform_refused"):
            # the verification service is down, or refused this kiosk (misconfigured token):
            # either way the person cannot be verified here now
            log.warning("verification platform: %s", error.code)
            return Problem(ProblemCode.PLATFORM_UNREACHABLE)
    log.error("unexpected error in card work: %s", type(error).__name__, exc_info=error)
    return Problem(ProblemCode.INTERNAL)


@dataclass(frozen=True, slots=True)
class LinkEntry:
    """A link as the verifier reported it with a verdict."""

    account_ref: str
    linked_at: datetime
    needs_reenrolment: bool = False  # e.g. the signature certificate was revoked


def new_account_ref() -> str:
    """A fresh opaque account reference for a first enrolment (demo providers)."""
    return "K-" + secrets.token_hex(4).upper()


def _four_info(person: BasicFourInfo) -> FourInfo:
    return FourInfo(person.name, person.address, person.birth_date.isoformat(), person.sex)


@dataclass(frozen=True, slots=True)
class _Signer:
    """The evidence behind an EnrolmentCandidate: the sign certificate and what it says."""

    certificate: bytes
    person: BasicFourInfo
    previous: LinkEntry | None  # a link to renew keeps its account


class CardBackend:
    """FlowBackend over one reader: JPKI session, local verification, links and services."""

    def __init__(
        self,
        connect: Callable[[], CardConnection],
        verifier: ProofVerifier,
        challenges: ChallengeIssuer,
        audit: AuditLog,
        services: Mapping[str, Service],
        terminal_id: str,
        clock: Callable[[], datetime],
        account_ref: Callable[[], str] = new_account_ref,
    ) -> None:
        self._connect = connect
        self._verifier = verifier
        self._challenges = challenges
        self._audit = audit
        self._services = dict(services)
        self._terminal_id = terminal_id
        self._clock = clock
        self._account_ref = account_ref
        self._conn: CardConnection | None = None
        self._session: JpkiSession | None = None

    def _guard(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except FlowProblem:
            raise
        except Exception as e:
            raise FlowProblem(problem_for(e)) from e

    def _card(self) -> JpkiSession:
        if self._session is None:
            raise FlowProblem.of(ProblemCode.CARD_REMOVED)
        return self._session

    def read_card(self) -> CardStatus:
        """Open a card session, check it is a My Number Card and read both counters."""
        self.close_card()

        def read() -> CardStatus:
            self._conn = self._connect()
            session = JpkiSession(self._conn)
            session.select_ap()
            session.token_label()
            status = CardStatus(session.pin_retries("auth"), session.pin_retries("sign"))
            self._session = session
            return status

        try:
            return self._guard(read)
        except FlowProblem:
            self.close_card()
            raise

    def authenticate(self, pin: str, service_id: str, provider_id: str) -> Authenticated:
        """VERIFY the PIN once, sign a fresh challenge, verify the proof, look up the link."""
        return self._guard(lambda: self._authenticate(pin, provider_id))

    def _authenticate(self, pin: str, provider_id: str) -> Authenticated:
        session = self._card()
        challenge = self._challenges.issue(provider_id, self._terminal_id, self._clock())
        session.verify_pin("auth", pin)
        certificate = session.read_certificate("auth")
        message = signed_message(provider_id, self._terminal_id, challenge.nonce)
        signature = session.sign_sha256("auth", message)
        proof = UserProof(provider_id, self._terminal_id, challenge.nonce, certificate, signature)
        verdict = self._verifier.verify_user_proof(proof, self._clock(), action="authenticate")
        if not verdict.ok:
            raise Refused(verdict.reason, verdict.message)
        entry = None
        if verdict.account_ref is not None and verdict.linked_at is not None:
            stale = verdict.link_status is LinkStatus.NEEDS_REENROLMENT
            entry = LinkEntry(verdict.account_ref, verdict.linked_at, stale)
        stale = entry is not None and entry.needs_reenrolment
        link = None if entry is None or stale else Link(entry.account_ref, entry.linked_at)
        cert = x509.load_der_x509_certificate(certificate)
        subject, not_after = cert.subject.rfc4514_string(), cert.not_valid_after_utc
        return Authenticated(subject, not_after, link, stale, evidence=entry)

    def read_signer(self, password: str, authenticated: Authenticated) -> EnrolmentCandidate:
        """VERIFY the signature password once and read the 4 info from the sign certificate."""

        def read() -> EnrolmentCandidate:
            session = self._card()
            session.verify_pin("sign", password)
            certificate = session.read_certificate("sign")
            try:  # the card's bytes pass the DER boundary first, as every untrusted DER does
                person = parse_basic_four(load_certificate(certificate).certificate)
            except (Refused, ProfileError) as e:
                raise FlowProblem.of(ProblemCode.BAD_CERTIFICATE) from e
            previous = authenticated.evidence
            assert previous is None or isinstance(previous, LinkEntry)
            signer = _Signer(certificate, person, previous)
            return EnrolmentCandidate(_four_info(person), signer)

        return self._guard(read)

    def enrol(self, candidate: EnrolmentCandidate, provider_id: str) -> Link:
        """Sign the application with both keys (verified this visit), verify it, link."""
        return self._guard(lambda: self._enrol(candidate, provider_id))

    def _enrol(self, candidate: EnrolmentCandidate, provider_id: str) -> Link:
        signer = candidate.evidence
        assert isinstance(signer, _Signer)
        session = self._card()
        previous = signer.previous
        account_ref = self._account_ref() if previous is None else previous.account_ref
        challenge = self._challenges.issue(provider_id, self._terminal_id, self._clock())
        # each key signs for the other's certificate: no half pairs with another card's
        application = make_application(
            provider_id,
            self._terminal_id,
            account_ref,
            signer.person,
            challenge.nonce,
            signer.certificate,
            session.read_certificate("auth"),
            sign=lambda message: session.sign_sha256("sign", message),
            authenticate=lambda message: session.sign_sha256("auth", message),
        )
        now = self._clock()
        verdict = self._verifier.verify_enrolment(application, now)  # and records it
        if not verdict.ok:
            raise Refused(verdict.reason, verdict.message)
        # the verifier recorded the verdict and the link it made, in one transaction
        return Link(account_ref, now)

    def prepare_service(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """The chosen service's preview before consent (e.g. the amount to pay)."""
        service = self._services[context.service_id]
        prepare = getattr(service, "prepare", None)
        if prepare is None:
            raise FlowProblem.of(ProblemCode.INTERNAL)  # the flow asks only services that do
        try:
            preview = prepare(context)
        except Exception as e:
            log.error("service %s could not prepare: %s", context.service_id, type(e).__name__)
            raise FlowProblem.of(ProblemCode.SERVICE_FAILED) from e
        if not isinstance(preview, ServicePreview | ServiceResult):
            raise FlowProblem.of(ProblemCode.SERVICE_FAILED)
        return preview

    def run_service(self, context: ServiceContext) -> ServiceResult:
        """Run the chosen service and audit that it ran."""
        return self._run(context, f"service.{context.service_id}", None)

    def run_assisted(self, context: ServiceContext, *, staff_id: str) -> ServiceResult:
        """Run the service on a staff visual check, audited as staff-assisted with the staff
        number of who checked (refused without one)."""
        if not staff_id:
            raise FlowProblem.of(ProblemCode.INTERNAL)
        return self._run(context, f"staff_assisted.{context.service_id}", staff_id)

    def _run(self, context: ServiceContext, action: str, actor: str | None) -> ServiceResult:
        service = self._services[context.service_id]
        provider_id = context.provider_id
        try:
            result = service.run(context)
        except Exception as e:
            log.error("service %s failed: %s", context.service_id, type(e).__name__, exc_info=e)
            self._audit.record(action, False, None, provider_id, None, self._clock(), actor=actor)
            raise FlowProblem.of(ProblemCode.SERVICE_FAILED) from e
        self._audit.record(action, result.ok, None, provider_id, None, self._clock(), actor=actor)
        return result

    def close_card(self) -> None:
        """End the card session: the card is reset and every verified PIN forgotten."""
        conn, self._conn, self._session = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except CardError:
                pass  # already gone

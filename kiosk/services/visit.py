"""One visit, in one place: the card session, the proof, the verdict, the link, the service.

The card-session operations (`authenticate`, `read_signer`, ...) check the PIN format before
any APDU, read the retry counter, refuse to send a PIN to a blocked counter and send each
secret exactly once: a wrong PIN is never retried here. `prove_user` and `enrol` are the two
use cases over them — one user proof against a fresh challenge, and one enrolment application
signed with both keys — each returning the verifier's verdict, which the verifier has recorded
(locally or at the platform). `kiosk verify-card` and `kiosk enrol` call them on a session of
their own; the kiosk calls them through `Visit`, which holds one card session from reading the
card to closing it, so the PIN and the signature password are each sent once per visit and
stay verified on the card while the person reviews and consents.

Nothing here says what the screen shows: `Visit` raises the card's, the JPKI applet's and
the verifier's own typed errors (and `ServiceFailed`), and the kiosk's worker translates them
(kiosk.ui.problems).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from kiosk.card.connection import CardConnection
from kiosk.card.errors import CardError, CardRemoved
from kiosk.errors import KioskError
from kiosk.jpki.errors import PinBlocked, SecurityStatusNotSatisfied
from kiosk.jpki.session import JpkiSession, encode_pin
from kiosk.jpki.token import TokenKind as TokenKind  # re-exported: the flow reads CardStatus.token
from kiosk.jpki.token import discover
from kiosk.jpki_facts import Which
from kiosk.services.base import Link, Service, ServiceContext, ServicePreview, ServiceResult
from kiosk.services.login_broker import BindingRefused
from kiosk.services.records import NewAccounts, NoRecord, RecordLinker, RecordMismatch
from kiosk.verify.der import load_certificate
from kiosk.verify.enrolment import EnrolmentApplication, make_application
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.profile import BasicFourInfo, ProfileError, parse_basic_four
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.verdict import (
    EnrolmentVerdict,
    KioskRefused,
    LinkStatus,
    Reason,
    Refused,
    Verdict,
)

if TYPE_CHECKING:  # the hand-off brings the FHIR models: loaded only where it is wired
    from kiosk.services.handoff import Handoff

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class ProofVerifier(Protocol):
    """Local verification (`kiosk.verify.Verifier`) or the platform's (its client)."""

    def verify_user_proof(self, proof: UserProof, now: datetime, action: str = ...) -> Verdict:
        """Verify one proof; the verdict is recorded (locally or at the platform)."""

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict:
        """Verify one enrolment application; the verdict is recorded, and when it is accepted,
        the account's link with it (locally or at the platform)."""


class ChallengeIssuer(Protocol):
    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        """A fresh challenge for that provider's terminal."""


class AuditSink(Protocol):
    """Where the kiosk's own events go: its store's audit (kiosk.store.audit.AuditLog), or a
    list in the tests and the demo."""

    def record(
        self,
        action: str,
        ok: bool,
        reason: str | None,
        provider_id: str,
        at: datetime,
        *,
        actor: str | None = None,
    ) -> None:
        """Append one event (never a PIN, never the 4 info); `actor` is the staff number of
        who acted, when a member of staff did."""


class ServiceFailed(KioskError):
    """The chosen service could not prepare or run (its own systems failed or answered
    nonsense); the visit's audit says so and the person is told the service failed."""

    code = "service_failed"


# --- what a visit reads and proves -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardStatus:
    """What the kiosk reads from an inserted card before asking for anything."""

    auth_retries: int  # tries left on the user-authentication PIN (max 3)
    sign_retries: int  # tries left on the signature password (max 5)
    has_sign_cert: bool = True
    #: What is in the reader (kiosk.jpki.token): a token without a usable PIN (an iPhone, a
    #: face-authentication card) or an unknown one has both counters at 0, never read.
    token: TokenKind = TokenKind.CARD


@dataclass(frozen=True, slots=True)
class AwaitingConfirmation:
    """The iPhone answered "not confirmed": the person has not yet confirmed on the phone
    (side button, Face ID). Nothing was signed or recorded; the kiosk asks again."""


@dataclass(frozen=True, slots=True)
class FourInfo:
    """基本4情報 read from the signature certificate, as shown; its repr never shows them."""

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
    #: The account of that older link, which a re-enrolment renews (never shown).
    renews: str | None = field(default=None, repr=False)
    #: When the verifier accepted the proof (its verdict's time): the visit's `auth_time`.
    verified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Signer:
    """The signature certificate read off the card (password verified) and its 4 info."""

    certificate: bytes = field(repr=False)
    person: BasicFourInfo = field(repr=False)

    @property
    def four_info(self) -> FourInfo:
        """The 4 info as the review screen shows them."""
        p = self.person
        return FourInfo(p.name, p.address, p.birth_date.isoformat(), p.sex)


@dataclass(frozen=True, slots=True)
class EnrolmentCandidate:
    """A verified signature-certificate proof, waiting for the person's consent to link."""

    four_info: FourInfo
    signer: Signer = field(repr=False, compare=False)
    renews: str | None = field(default=None, repr=False)  # the account a stale link keeps


# --- card-session operations ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthProof:
    """A certificate read off the card and a signature made with the matching key."""

    certificate_der: bytes
    signature: bytes


def open_applet(session: JpkiSession) -> CardStatus:
    """Select the JPKI applet, tell what token it is and read its retry counters (no PIN is
    sent): a card with no JPKI AP is refused here (NotAJpkiCard); what the flow does with a
    phone, a face-authentication card or an unknown token, it decides from `token`."""
    token = discover(session)
    return CardStatus(token.auth_retries, token.sign_retries, token.has_sign_cert, token.kind)


def _verified_certificate(session: JpkiSession, which: Which, pin: str, selected: bool) -> bytes:
    encode_pin(which, pin)  # a malformed PIN is refused before any APDU
    if not selected:
        session.select_ap()
        session.token_label()
    if session.pin_retries(which) == 0:
        raise PinBlocked(which)
    session.verify_pin(which, pin)
    return session.read_certificate(which)


def authenticate(
    session: JpkiSession, pin: str, message: bytes, *, selected: bool = False
) -> AuthProof:
    """VERIFY the auth PIN once, read the auth cert and sign SHA-256(message) (`selected`: the
    applet is already selected this session, e.g. by `open_applet`)."""
    certificate = _verified_certificate(session, "auth", pin, selected)
    return AuthProof(certificate, session.sign_message("auth", message))


def authenticate_on_phone(session: JpkiSession, message: bytes) -> AuthProof | None:
    """Read the auth cert and sign SHA-256(message) on an iPhone, which the person unlocks
    on the phone instead of with a PIN; None while the phone answers "security status not
    satisfied" (not confirmed yet: nothing was signed). The applet is already selected."""
    try:
        certificate = session.read_certificate("auth")
        return AuthProof(certificate, session.sign_message("auth", message))
    except SecurityStatusNotSatisfied:
        return None


def read_auth_certificate(session: JpkiSession) -> bytes:
    """Read the authentication certificate, which the card gives without its PIN (an
    enrolment's signature key signs for it before the PIN is asked)."""
    return session.read_certificate("auth")


def read_sign_certificate(session: JpkiSession, password: str, *, selected: bool = False) -> bytes:
    """VERIFY the signature password once, then read the signature certificate it protects."""
    return _verified_certificate(session, "sign", password, selected)


def read_signer(session: JpkiSession, password: str, *, selected: bool = False) -> Signer:
    """VERIFY the signature password once and read the 4 info from the signature certificate
    (the card's bytes cross the DER boundary: one that does not decode is `Refused`)."""
    certificate = read_sign_certificate(session, password, selected=selected)
    try:
        person = parse_basic_four(load_certificate(certificate).certificate)
    except ProfileError as e:
        raise Refused(Reason.MALFORMED, "the signature certificate lacks the 4 info") from e
    return Signer(certificate, person)


def sign_with_sign_key(session: JpkiSession, password: str, message: bytes) -> AuthProof:
    """VERIFY the signature password once, read the sign cert and sign SHA-256(message)."""
    certificate = _verified_certificate(session, "sign", password, False)
    return AuthProof(certificate, session.sign_message("sign", message))


# --- the two use cases -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terminal:
    """Who asks: the provider the visit is for and the kiosk it happens at."""

    provider_id: str
    terminal_id: str


@dataclass(frozen=True, slots=True)
class Proved:
    """A user proof's verdict and the auth certificate the card gave for it."""

    verdict: Verdict
    certificate_der: bytes = field(repr=False)


def prove_user(
    session: JpkiSession,
    pin: str,
    at: Terminal,
    challenges: ChallengeIssuer,
    verifier: ProofVerifier,
    clock: Clock,
    *,
    action: str,
    selected: bool = False,
) -> Proved:
    """Have the card answer a fresh challenge and verify the proof (the verifier records the
    verdict under `action` and flags the link when its signature certificate was revoked)."""
    provider, terminal = at.provider_id, at.terminal_id
    challenge = challenges.issue(provider, terminal, clock())
    message = signed_message(provider, terminal, challenge.nonce)
    signed = authenticate(session, pin, message, selected=selected)
    proof = UserProof(provider, terminal, challenge.nonce, signed.certificate_der, signed.signature)
    verdict = verifier.verify_user_proof(proof, clock(), action=action)
    return Proved(verdict, signed.certificate_der)


def apply(
    session: JpkiSession,
    at: Terminal,
    account_ref: str,
    signer: Signer,
    challenges: ChallengeIssuer,
    verifier: ProofVerifier,
    clock: Clock,
    authenticate_with: Callable[[bytes], bytes],
) -> EnrolmentVerdict:
    """Sign an enrolment application with both keys and verify it (the verifier records the
    verdict and, when accepted, the link, in one transaction). The signature key signs for
    the auth certificate first, then `authenticate_with` signs for the signature certificate
    with the authentication key: each key vouches for the other, so no half pair from another
    card can be linked."""
    nonce = challenges.issue(at.provider_id, at.terminal_id, clock()).nonce
    application = make_application(
        at.provider_id,
        at.terminal_id,
        account_ref,
        signer.person,
        nonce,
        signer.certificate,
        read_auth_certificate(session),
        sign=lambda message: session.sign_message("sign", message),
        authenticate=authenticate_with,
    )
    return verifier.verify_enrolment(application, clock())


def enrol(
    session: JpkiSession,
    at: Terminal,
    account_ref: str,
    password: str,
    confirm: Callable[[BasicFourInfo], bool],
    ask_pin: Callable[[], str],
    challenges: ChallengeIssuer,
    verifier: ProofVerifier,
    clock: Clock,
) -> EnrolmentVerdict | None:
    """Read and confirm the 4 info, sign with both keys (the PIN asked only when the
    authentication key's turn comes), verify and record.

    Returns None when the person does not confirm the 4 info (nothing is signed then)."""
    signer = read_signer(session, password)
    if not confirm(signer.person):
        return None

    def authenticate_with(message: bytes) -> bytes:
        return authenticate(session, ask_pin(), message).signature

    return apply(session, at, account_ref, signer, challenges, verifier, clock, authenticate_with)


# --- the kiosk's visit -----------------------------------------------------------------------


def refuse_unless_ok(verdict: Verdict | EnrolmentVerdict) -> None:
    """Raise the verdict's refusal (`Refused` with its reason) unless it is ok."""
    if not verdict.ok:
        raise Refused(verdict.reason, verdict.message)


class Visit:
    """The kiosk's visits on one reader: the backend the flow's ports ask for (FlowBackend).

    One card session is held from `read_card` to `close_card`; the verifier (local or the
    platform's client) verifies and records, the links come with its verdicts, and the
    services run and are audited here (with what a service hands to reception, through
    `handoff`, in the same transaction). Errors are the layers' own types, raised as they are."""

    def __init__(
        self,
        connect: Callable[[], CardConnection],
        verifier: ProofVerifier,
        challenges: ChallengeIssuer,
        audit: AuditSink,
        services: Mapping[str, Service],
        terminal_id: str,
        clock: Clock,
        records: RecordLinker | None = None,
        handoff: Handoff | None = None,
    ) -> None:
        self._connect = connect
        self._handoff = handoff
        self._verifier = verifier
        self._challenges = challenges
        self._audit = audit
        self._services = dict(services)
        self._terminal_id = terminal_id
        self._clock = clock
        self._records: RecordLinker = records or NewAccounts()
        self._conn: CardConnection | None = None
        self._session: JpkiSession | None = None

    @contextmanager
    def _kiosk_refusals(self, action: str, provider_id: str) -> Iterator[None]:
        """The verification service refusing this kiosk itself (its credential unknown or
        revoked, or not registered for the provider) is audited with its own code before it
        ends the visit: staff must fix the kiosk, and the audit says what to fix."""
        try:
            yield
        except KioskRefused as e:
            self._audit.record(action, False, e.code, provider_id, self._clock())
            raise

    def _card(self) -> JpkiSession:
        if self._session is None:
            raise CardRemoved("no card session: the card was read in no visit, or closed")
        return self._session

    def read_card(self) -> CardStatus:
        """Open a card session, tell what token is in the reader (kiosk.jpki.token) and read
        its counters; no PIN is sent."""
        self.close_card()
        try:
            self._conn = self._connect()
            session = JpkiSession(self._conn)
            status = open_applet(session)
        except BaseException:
            self.close_card()
            raise
        self._session = session
        return status

    def authenticate(self, pin: str, service_id: str, provider_id: str) -> Authenticated:
        """VERIFY the PIN once, sign a fresh challenge, verify the proof, look up the link."""
        session = self._card()
        at = Terminal(provider_id, self._terminal_id)
        with self._kiosk_refusals("authenticate", provider_id):
            proved = prove_user(
                session,
                pin,
                at,
                self._challenges,
                self._verifier,
                self._clock,
                action="authenticate",
                selected=True,
            )
        return self._authenticated(proved)

    def authenticate_on_phone(
        self, service_id: str, provider_id: str
    ) -> Authenticated | AwaitingConfirmation:
        """An iPhone: sign a fresh challenge once the person has confirmed on the phone (no
        PIN), verify the proof, look up the link; AwaitingConfirmation until then."""
        session, terminal = self._card(), self._terminal_id
        with self._kiosk_refusals("authenticate", provider_id):
            nonce = self._challenges.issue(provider_id, terminal, self._clock()).nonce
            signed = authenticate_on_phone(session, signed_message(provider_id, terminal, nonce))
            if signed is None:
                return AwaitingConfirmation()
            proof = UserProof(
                provider_id, terminal, nonce, signed.certificate_der, signed.signature
            )
            verdict = self._verifier.verify_user_proof(proof, self._clock(), action="authenticate")
        return self._authenticated(Proved(verdict, signed.certificate_der))

    def _authenticated(self, proved: Proved) -> Authenticated:
        """The verdict as the flow needs it (refused unless ok), with the link or the stale
        link a re-enrolment renews."""
        verdict = proved.verdict
        refuse_unless_ok(verdict)
        link, renews = None, None
        if verdict.account_ref is not None and verdict.linked_at is not None:
            if verdict.link_status is LinkStatus.NEEDS_REENROLMENT:
                renews = verdict.account_ref  # the signature certificate was revoked
            else:
                link = Link(verdict.account_ref, verdict.linked_at)
        cert = load_certificate(proved.certificate_der).certificate  # the verifier accepted them
        subject, not_after = cert.subject.rfc4514_string(), cert.not_valid_after_utc
        return Authenticated(subject, not_after, link, renews is not None, renews, verdict.time)

    def read_signer(self, password: str, authenticated: Authenticated) -> EnrolmentCandidate:
        """VERIFY the signature password once and read the 4 info from the sign certificate."""
        signer = read_signer(self._card(), password, selected=True)
        return EnrolmentCandidate(signer.four_info, signer, authenticated.renews)

    def enrol(
        self,
        candidate: EnrolmentCandidate,
        provider_id: str,
        *,
        record: str = "",
        staff_id: str = "",
    ) -> Link:
        """Sign the application with both keys (verified this visit), verify it, link: to the
        provider's own record of this person (its 4 info checked against the record), or to
        `record`, the patient number `staff_id` confirmed with the person, before anything is
        signed; a stale link keeps the account it had."""
        session = self._card()
        if record:
            account_ref = self._staff_confirmed(provider_id, candidate, record, staff_id)
        else:
            account_ref = candidate.renews or self._account_for(provider_id, candidate)
        at = Terminal(provider_id, self._terminal_id)
        with self._kiosk_refusals("enrol", provider_id):
            verdict = apply(
                session,
                at,
                account_ref,
                candidate.signer,
                self._challenges,
                self._verifier,
                self._clock,
                lambda message: session.sign_message("auth", message),  # PIN verified this visit
            )
        refuse_unless_ok(verdict)
        # the verifier recorded the verdict and the link it made, as of its time, in one
        # transaction
        return Link(account_ref, verdict.time)

    def _staff_confirmed(
        self, provider_id: str, candidate: EnrolmentCandidate, record: str, staff_id: str
    ) -> str:
        """The record staff confirmed, audited with who confirmed it and what differed."""
        if not staff_id:
            raise ValueError("a record staff confirmed needs the staff number of who did")
        action, at = "enrol.staff_confirmed", self._clock()
        try:
            account, differs = self._records.confirmed(provider_id, candidate.signer.person, record)
        except NoRecord:
            self._audit.record(action, False, "no_record", provider_id, at, actor=staff_id)
            raise
        except RecordMismatch as e:
            refused = f"record_mismatch.{e.differs_text}"
            self._audit.record(action, False, refused, provider_id, at, actor=staff_id)
            raise
        accepted = f"accepted.{'.'.join(sorted(differs))}" if differs else None
        self._audit.record(action, True, accepted, provider_id, at, actor=staff_id)
        return account

    def _account_for(self, provider_id: str, candidate: EnrolmentCandidate) -> str:
        """The provider's account for the person; a refusal is audited (which field differed,
        never its value: staff look into it at the counter) and raised."""
        try:
            return self._records.account_for(provider_id, candidate.signer.person)
        except NoRecord:
            self._audit.record("enrol.record", False, "no_record", provider_id, self._clock())
            raise
        except RecordMismatch as e:
            reason = f"record_mismatch.{e.differs_text}"
            self._audit.record("enrol.record", False, reason, provider_id, self._clock())
            raise

    def prepare_service(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """The chosen service's preview before consent (e.g. the amount to pay)."""
        service = self._services[context.service_id]
        prepare = getattr(service, "prepare", None)
        if prepare is None:
            raise ValueError(f"service {context.service_id} prepares nothing")  # a flow bug
        try:
            preview = prepare(context)
        except BindingRefused:
            raise  # a refused binding code is the person's to type again (kiosk.flow), no failure
        except Exception as e:
            log.error("service %s could not prepare: %s", context.service_id, type(e).__name__)
            raise ServiceFailed(f"service {context.service_id} could not prepare") from e
        if not isinstance(preview, ServicePreview | ServiceResult):
            raise ServiceFailed(f"service {context.service_id} prepared no preview")
        return preview

    def run_service(self, context: ServiceContext) -> ServiceResult:
        """Run the chosen service and audit that it ran."""
        return self._run(context, f"service.{context.service_id}", None)

    def run_assisted(self, context: ServiceContext, *, staff_id: str) -> ServiceResult:
        """Run the service on a staff visual check, audited as staff-assisted with the staff
        number of who checked (refused without one)."""
        if not staff_id:
            raise ValueError("a staff-assisted run needs the staff number of who checked")
        return self._run(context, f"staff_assisted.{context.service_id}", staff_id)

    def _run(self, context: ServiceContext, action: str, actor: str | None) -> ServiceResult:
        service = self._services[context.service_id]
        provider_id = context.provider_id
        try:
            result = service.run(context)
        except Exception as e:
            log.error("service %s failed: %s", context.service_id, type(e).__name__, exc_info=e)
            self._audit.record(action, False, None, provider_id, self._clock(), actor=actor)
            raise ServiceFailed(f"service {context.service_id} failed") from e
        if result.handoff is not None and self._handoff is not None:
            try:  # the audit row and the message for reception, in one transaction
                self._handoff.record(result.handoff, action, result.ok, self._clock(), actor=actor)
            except Exception as e:
                log.error(
                    "service %s: its hand-off could not be recorded: %s",
                    context.service_id,
                    type(e).__name__,
                )
                raise ServiceFailed(f"service {context.service_id} could not record") from e
            return result
        self._audit.record(action, result.ok, None, provider_id, self._clock(), actor=actor)
        return result

    def close_card(self) -> None:
        """End the card session: the card is reset and every verified PIN forgotten."""
        conn, self._conn, self._session = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except CardError:
                pass  # already gone

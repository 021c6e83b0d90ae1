"""The kiosk's state machine: screens, events, effects and one transition table.

`Flow.step(state, event, now)` is a pure function: it returns the next `FlowState` and the
effects the shell must carry out (start card work, play a sound, exit). Time comes in as
`now` (monotonic seconds) with every event; timers are deadlines in the state, checked on
`Tick`. Card work results come back as `WorkDone`/`WorkFailed` carrying the `work_id` they
were started with, so a result that arrives after a cancel or a pulled card is ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar

from kiosk.flow.errors_catalogue import Problem, ProblemCode, entry
from kiosk.flow.ports import RECEIPT_NO_RE, CallOutcome, VoidReport
from kiosk.flow.staff import STAFF_ID_RE, STAFF_PIN_RE
from kiosk.i18n import Language, Text
from kiosk.jpki_facts import AUTH_PIN_RE, SIGN_PASSWORD_RE
from kiosk.reader_status import ReaderStatus
from kiosk.services.base import ConsentItem, Link, ServiceContext, ServicePreview, ServiceResult
from kiosk.services.visit import (
    Authenticated,
    AwaitingConfirmation,
    CardStatus,
    EnrolmentCandidate,
    TokenKind,
)


class Screen(StrEnum):
    """Every state of the kiosk; each one is one screen."""

    ATTRACT = "attract"
    SERVICES = "services"
    PROVIDERS = "providers"
    INSERT_CARD = "insert_card"
    READING = "reading"
    PIN = "pin"
    CONFIRM_ON_PHONE = "confirm_on_phone"  # an iPhone: confirm with Face ID, then continue
    TOKEN_REFUSED = "token_refused"  # noqa: S105 (a screen name) — a token not usable here
    PUT_BACK = "put_back"
    WORKING = "working"
    PASSWORD = "password"  # noqa: S105 (a screen name, not a secret)
    REVIEW = "review"
    ENROL_CONSENT = "enrol_consent"
    BINDING_CODE = "binding_code"  # the online service's one-time code, typed (login)
    SERVICE_CONSENT = "service_consent"
    RESULT = "result"
    TAKE_CARD = "take_card"
    ERROR = "error"
    BLOCKED = "blocked"
    STAFF_LOGIN = "staff_login"
    STAFF_MENU = "staff_menu"
    STAFF_ASSIST = "staff_assist"
    STAFF_LINK = "staff_link"
    STAFF_VOID = "staff_void"


class Work(StrEnum):
    """Card, crypto or service work the shell runs off the GUI thread."""

    READ_CARD = "read_card"
    AUTHENTICATE = "authenticate"
    CONFIRM_PHONE = "confirm_phone"  # an iPhone signs once the person confirmed on it
    READ_SIGNER = "read_signer"
    ENROL = "enrol"
    PREPARE = "prepare"  # a service's preview before consent (e.g. the amount to pay)
    RUN_SERVICE = "run_service"
    ASSISTED = "assisted"
    STAFF_SIGN_IN = "staff_sign_in"  # check a staff credential (slow by design; staff worker)
    STAFF_EXIT = "staff_exit"  # audit the exit before the kiosk closes (staff worker)
    STAFF_VOID = "staff_void"  # void a settled payment at the card company (staff worker)


#: Work the staff worker does (no card involved); the rest is card work.
STAFF_WORK = frozenset({Work.STAFF_SIGN_IN, Work.STAFF_EXIT, Work.STAFF_VOID})

#: The payment service's id (kiosk.services.payment.PaymentService.id; a test checks they
#: agree): staff may void payments only on a kiosk that takes them.
PAYMENT_SERVICE_ID = "payment"


class StaffCall(StrEnum):
    """Where a customer's call for staff stands in this visit."""

    NONE = "none"
    CALLING = "calling"
    DELIVERED = "delivered"  # the counter acknowledged it: staff are coming
    NOT_DELIVERED = "not_delivered"  # it did not get through: go to the counter
    NO_CHANNEL = "no_channel"  # nothing to call: go to the counter


#: The line each call state shows (nothing before a call).
STAFF_CALL_TEXT: dict[StaffCall, str] = {
    StaffCall.CALLING: "staff.calling",
    StaffCall.DELIVERED: "staff.called",
    StaffCall.NOT_DELIVERED: "staff.not_delivered",
    StaffCall.NO_CHANNEL: "staff.no_channel",
}


class TokenRefusal(StrEnum):
    """Why the token in the reader cannot be used here; its screen says what to do instead."""

    FACE_AUTH = "face_auth"  # a face-authentication card: no usable PIN, no sign cert
    PHONES_OFF = "phones_off"  # a smartphone, and this kiosk does not take phones
    UNKNOWN = "unknown"  # a JPKI token with a label this kiosk does not know
    IPHONE_ENROL = "iphone_enrol"  # registering needs a signature password an iPhone lacks


class Sound(StrEnum):
    """Sound cues (kiosk/resources/sounds/<name>.wav)."""

    ATTENTION = "attention"
    DONE = "done"
    ERROR = "error"
    TAKE_CARD = "take_card"


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed (the shell sends one every few hundred milliseconds)."""


@dataclass(frozen=True, slots=True)
class Touch:
    """Any touch or key press: the person is still there."""


@dataclass(frozen=True, slots=True)
class Start:
    """The attract screen was touched."""


@dataclass(frozen=True, slots=True)
class ChooseService:
    service_id: str


@dataclass(frozen=True, slots=True)
class ChooseProvider:
    provider_id: str


@dataclass(frozen=True, slots=True)
class Back:
    """One step back (picker, insert card)."""


@dataclass(frozen=True, slots=True)
class Cancel:
    """Stop the procedure and start over."""


@dataclass(frozen=True, slots=True)
class Done:
    """The person acknowledged a result, an error or the blocked screen."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after an error the catalogue marks retryable."""


@dataclass(frozen=True, slots=True)
class ReaderChanged:
    """The reader reported its status; the flow decides whether a card went in or out."""

    status: ReaderStatus


@dataclass(frozen=True, slots=True)
class SubmitPin:
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConfirmedOnPhone:
    """The person says they confirmed on their iPhone (side button, Face ID)."""


@dataclass(frozen=True, slots=True)
class SubmitPassword:
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SubmitBindingCode:
    """The binding code the person typed, as typed (the flow checks its shape)."""

    code: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConfirmInfo:
    """The 4 info read from the card are correct."""


@dataclass(frozen=True, slots=True)
class Consent:
    """The items agreed to (enrolment: the link itself; a service: its consent items)."""

    items: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decline:
    """The person does not agree."""


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: Language


@dataclass(frozen=True, slots=True)
class MoreTime:
    """The person asks for more time: the countdowns double, up to the operator's limit."""


@dataclass(frozen=True, slots=True)
class CallStaff:
    """The person asks for a member of staff (offered when one try is left)."""


@dataclass(frozen=True, slots=True)
class StaffRequest:
    """The hidden long press in the corner."""


@dataclass(frozen=True, slots=True)
class SubmitStaffId:
    """The staff number typed on the login pad (the first of the two entries)."""

    staff_id: str


@dataclass(frozen=True, slots=True)
class SubmitStaffPin:
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StaffCallDone:
    """The outcome of the call for staff started with `call_id`."""

    call_id: int
    outcome: CallOutcome


@dataclass(frozen=True, slots=True)
class StaffExit:
    """Staff asks to close the kiosk."""


@dataclass(frozen=True, slots=True)
class StaffAssist:
    """Staff starts the visual-check path for a person who cannot use a PIN."""


@dataclass(frozen=True, slots=True)
class SubmitAssist:
    insurer: str
    member: str


@dataclass(frozen=True, slots=True)
class StaffLink:
    """Staff starts linking a person's card to the clinic's patient number they confirmed."""


@dataclass(frozen=True, slots=True)
class SubmitPatientNumber:
    """The patient number (診察券番号) staff confirmed with the person."""

    number: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StaffVoid:
    """Staff start voiding a settled payment (offered only where payments are taken)."""


@dataclass(frozen=True, slots=True)
class SubmitReceiptNumber:
    """The receipt number of the payment to void, as staff typed it (the confirm step next)."""

    receipt_no: str


@dataclass(frozen=True, slots=True)
class ConfirmVoid:
    """Staff confirm the void of the receipt number shown."""


@dataclass(frozen=True, slots=True)
class WorkDone:
    work_id: int
    value: object = field(repr=False)


@dataclass(frozen=True, slots=True)
class WorkFailed:
    work_id: int
    problem: Problem


Event = (
    Tick
    | Touch
    | Start
    | ChooseService
    | ChooseProvider
    | Back
    | Cancel
    | Done
    | Retry
    | ReaderChanged
    | SubmitPin
    | ConfirmedOnPhone
    | SubmitPassword
    | SubmitBindingCode
    | ConfirmInfo
    | Consent
    | Decline
    | SetLanguage
    | MoreTime
    | CallStaff
    | StaffRequest
    | SubmitStaffId
    | SubmitStaffPin
    | StaffCallDone
    | StaffExit
    | StaffAssist
    | SubmitAssist
    | StaffLink
    | SubmitPatientNumber
    | StaffVoid
    | SubmitReceiptNumber
    | ConfirmVoid
    | WorkDone
    | WorkFailed
)

# --- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartWork:
    """Run `kind` off the GUI thread and report back with this `work_id`."""

    work_id: int
    kind: Work
    service_id: str = ""
    provider_id: str = ""
    secret: str = field(default="", repr=False)  # the PIN or password, for this one call
    staff_id: str = ""  # the staff sign-in's number, or who signed in (exit, assisted, link)
    #: ENROL: the patient number staff confirmed (the link is to that record), else empty.
    record: str = field(default="", repr=False)
    receipt_no: str = ""  # STAFF_VOID: the receipt number of the payment to void
    context: ServiceContext | None = None
    candidate: EnrolmentCandidate | None = None
    authenticated: Authenticated | None = None


@dataclass(frozen=True, slots=True)
class PlaySound:
    cue: Sound


@dataclass(frozen=True, slots=True)
class ExitApp:
    """Staff asked to close the kiosk."""


@dataclass(frozen=True, slots=True)
class NotifyStaff:
    """The person asked for help: call staff over the configured channel (off the GUI
    thread) and report `StaffCallDone(call_id, outcome)`."""

    call_id: int
    reason: str  # a short code: the screen, or the problem shown (never personal data)


@dataclass(frozen=True, slots=True)
class CloseCard:
    """The visit's card session ended: reset the card so no verified PIN outlives it."""


Effect = StartWork | PlaySound | ExitApp | NotifyStaff | CloseCard

# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What the flow needs to know of a service (built from kiosk.services)."""

    id: str
    title: Text
    description: Text
    needs_link: bool
    consent_items: tuple[ConsentItem, ...] = ()
    prepares: bool = False  # shows a preview (its `prepare`) before consent
    #: The person types a binding code before the preview (the login): its `prepare` gets it.
    asks_code: bool = False

    def __post_init__(self) -> None:
        if self.asks_code and not self.prepares:
            raise ValueError(f"service {self.id} asks a code but has no preview to prepare")


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider whose services this kiosk offers (a choice is shown when several)."""

    id: str
    name: Text


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """The flow's settings, from kiosk.config.Config."""

    services: tuple[ServiceInfo, ...]
    providers: tuple[Provider, ...]
    idle_timeout_s: float = 60.0
    idle_warning_s: float = 10.0  # the countdown shows for the last this-many seconds
    put_back_s: float = 30.0
    take_card_repeat_s: float = 10.0
    #: "More time" doubles the countdowns up to this many times their setting (1: never).
    more_time_limit: int = 4
    staff_enabled: bool = False  # at least one member of staff is configured
    staff_channel: bool = False  # a channel to call staff is configured
    staff_voids: bool = False  # the staff desk can void payments (StaffPort.can_void)
    #: Smartphone certificates are taken: the operator enabled them and configured their
    #: trust anchors (kiosk.config's [tokens]); else a phone gets the refusal screen.
    accept_phones: bool = False
    language: Language = "ja"


@dataclass(frozen=True, slots=True)
class FlowState:
    """Everything the screens show; wiped back to `initial` at the end of each visit."""

    screen: Screen = Screen.ATTRACT
    language: Language = "ja"
    reader: ReaderStatus = ReaderStatus.NO_READER
    card_present: bool = False
    service_id: str = ""
    provider_id: str = ""
    card: CardStatus | None = None
    authenticated: Authenticated | None = None
    candidate: EnrolmentCandidate | None = None
    link: Link | None = None
    consented: frozenset[str] = frozenset()
    preview: ServicePreview | None = None  # what the service showed before consent
    #: The binding code accepted for the service's preview, for its run (a credential: out of
    #: repr, dropped at the result and with the visit); the refusals so far, and the end of a
    #: rate limit the provider asked the kiosk to wait for.
    binding_code: str = field(default="", repr=False)
    code_refusals: int = 0
    code_wait_until: float | None = None
    result: ServiceResult | None = None
    problem: Problem | None = None  # the error screen's, or an inline message
    work: Work | None = None
    work_id: int = 0
    idle_deadline: float | None = None
    countdown_deadline: float | None = None  # put-the-card-back
    #: The countdowns run this many times their setting ("more time"; kept while the same
    #: person is in front of the kiosk).
    time_factor: int = 1
    staff_id: str = ""  # the member of staff signed in (staff mode), else empty
    staff_login_id: str = ""  # the staff number typed; the PIN is asked next
    staff_call: StaffCall = StaffCall.NONE
    #: A visit staff started to link the card to a patient number they confirmed with the
    #: person: the number and who confirmed it (staff mode has ended; the person goes on).
    staff_record: str = field(default="", repr=False)
    staff_record_by: str = ""
    #: Staff voiding a payment: the receipt number at the confirm step, then what was voided.
    void_receipt: str = ""
    void_report: VoidReport | None = None
    #: Kept across visits: the id of the latest call (a late outcome of an older one is
    #: ignored) and the end of a staff-login lockout (the staff desk enforces it too).
    staff_call_id: int = 0
    staff_locked_until: float | None = None
    #: Why the token in the reader cannot be used (the TOKEN_REFUSED screen's reason).
    token_refusal: TokenRefusal | None = None

    @property
    def staff(self) -> bool:
        """In staff mode (a member of staff signed in)."""
        return bool(self.staff_id)

    @property
    def staff_called(self) -> bool:
        """A call for staff was made in this visit (the button is not offered again)."""
        return self.staff_call is not StaffCall.NONE


@dataclass(frozen=True, slots=True)
class Transition:
    state: FlowState
    effects: tuple[Effect, ...] = ()


#: Screens where a person is expected to act; idle there returns to the start.
IDLE_SCREENS = frozenset(
    {
        Screen.SERVICES,
        Screen.PROVIDERS,
        Screen.INSERT_CARD,
        Screen.PIN,
        Screen.CONFIRM_ON_PHONE,
        Screen.TOKEN_REFUSED,
        Screen.PASSWORD,
        Screen.REVIEW,
        Screen.ENROL_CONSENT,
        Screen.BINDING_CODE,
        Screen.SERVICE_CONSENT,
        Screen.RESULT,
        Screen.ERROR,
        Screen.BLOCKED,
        Screen.STAFF_LOGIN,
        Screen.STAFF_MENU,
        Screen.STAFF_ASSIST,
        Screen.STAFF_LINK,
        Screen.STAFF_VOID,
    }
)
#: Screens after the secret was sent: a pulled card there aborts to the start.
ABORT_ON_REMOVAL = frozenset(
    {
        Screen.WORKING,
        Screen.PASSWORD,
        Screen.REVIEW,
        Screen.ENROL_CONSENT,
        Screen.BINDING_CODE,
        Screen.SERVICE_CONSENT,
    }
)

#: A binding code as the online service shows it: 8 digits; spaces and hyphens between groups
#: are dropped before the check (the keypad types none, a typed event may carry them).
BINDING_CODE_RE = re.compile(r"[0-9]{8}")
_CODE_SEPARATORS = str.maketrans("", "", " -\u3000")
#: After this many refused codes the visit ends: guessing is the provider's to rate-limit, and
#: a person who cannot type their code in three tries is better served starting again.
MAX_CODE_REFUSALS = 3
#: What the provider answers for a code it will not take: said inline, and typed again.
CODE_REFUSALS = frozenset(
    {
        ProblemCode.LOGIN_CODE_UNKNOWN,
        ProblemCode.LOGIN_CODE_EXPIRED,
        ProblemCode.LOGIN_CODE_USED,
        ProblemCode.LOGIN_CODE_OTHER_PROVIDER,
        ProblemCode.LOGIN_CODE_REFUSED,
        ProblemCode.LOGIN_CODE_RATE_LIMITED,
    }
)

INSURER_RE = re.compile(r"[0-9]{6}|[0-9]{8}")
#: A clinic's patient number (診察券番号), as staff type it: letters, digits and hyphens.
PATIENT_NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")

Handler = Callable[["Flow", FlowState, object, float], Transition]


class Flow:
    """The transition function over `FlowState`, configured once."""

    def __init__(self, config: FlowConfig) -> None:
        if not config.services:
            raise ValueError("the kiosk needs at least one service")
        self.config = config

    def initial(
        self, reader: ReaderStatus = ReaderStatus.NO_READER, card: bool = False
    ) -> FlowState:
        """The attract screen with a wiped session."""
        return FlowState(language=self.config.language, reader=reader, card_present=card)

    @property
    def offers_void(self) -> bool:
        """Staff may void payments here: the kiosk takes payments and its desk can void."""
        services = self.config.services
        return self.config.staff_voids and any(s.id == PAYMENT_SERVICE_ID for s in services)

    def service(self, service_id: str) -> ServiceInfo:
        """The service with that id."""
        for info in self.config.services:
            if info.id == service_id:
                return info
        raise KeyError(service_id)

    def step(self, state: FlowState, event: Event, now: float) -> Transition:
        """The next state and the effects to carry out for `event` at time `now`."""
        common = _COMMON.get(type(event))
        handler = TABLE.get((state.screen, type(event)))
        if common is not None:
            after = common(self, state, event, now)
        elif handler is not None:
            after = handler(self, state, event, now)
            if _is_user(event):
                after = Transition(self._arm_idle(after.state, now), after.effects)
        else:
            return Transition(state)  # not meaningful here: ignored
        if state.card is not None and after.state.card is None:
            return Transition(after.state, (*after.effects, CloseCard()))
        return after

    # -- helpers used by the handlers --------------------------------------------------

    def _arm_idle(self, state: FlowState, now: float) -> FlowState:
        idle = self.config.idle_timeout_s * state.time_factor
        deadline = now + idle if state.screen in IDLE_SCREENS else None
        if state.work is Work.STAFF_VOID:  # staff wait for the card company's answer
            deadline = None
        if state.screen is Screen.TAKE_CARD:
            deadline = now + self.config.take_card_repeat_s
        return replace(state, idle_deadline=deadline)

    def go(self, state: FlowState, screen: Screen, now: float, **changes: object) -> FlowState:
        """Move to `screen`, re-arming the idle deadline for it."""
        # `changes` name FlowState's own fields, of several types: replace checks the names at
        # run time (a wrong one is a TypeError), which a `**object` signature cannot tell mypy
        moved = replace(state, screen=screen, **changes)  # type: ignore[arg-type]
        if screen is not Screen.PUT_BACK:
            moved = replace(moved, countdown_deadline=None)
        return self._arm_idle(moved, now)

    def wipe(self, state: FlowState, keep_language: bool = False) -> FlowState:
        """Back to the attract screen: PIN, verdict, 4 info and result are dropped.

        `keep_language` while the same person is still in front of the kiosk (an error to
        read, the card to take); an idle timeout starts the next visit in the default."""
        wiped = replace(
            self.initial(state.reader, state.card_present),
            work_id=state.work_id + 1,
            staff_call_id=state.staff_call_id,
            staff_locked_until=state.staff_locked_until,
        )
        if not keep_language:
            return wiped
        return replace(wiped, language=state.language, time_factor=state.time_factor)

    def abort(self, state: FlowState, now: float) -> Transition:
        """The card went during the work: wipe the session, say so; Retry starts over."""
        kept = replace(
            self.wipe(state, keep_language=True),
            service_id=state.service_id,
            provider_id=state.provider_id,
        )
        return self.error(kept, Problem(ProblemCode.CARD_REMOVED), now)

    def finish(self, state: FlowState, now: float) -> Transition:
        """End the visit: remind to take the card if it is still in, else the start."""
        wiped = self.wipe(state, keep_language=state.card_present)
        if state.card_present:
            return Transition(self.go(wiped, Screen.TAKE_CARD, now), (PlaySound(Sound.TAKE_CARD),))
        return Transition(wiped)

    def work(self, state: FlowState, kind: Work, now: float, **params: Any) -> Transition:
        """Show the working screen (or reading) and start `kind` with a fresh work id;
        `params` are StartWork's own fields (the secret, the context, ...)."""
        work_id = state.work_id + 1
        screen = Screen.READING if kind is Work.READ_CARD else Screen.WORKING
        moved = self.go(state, screen, now, work=kind, work_id=work_id, problem=None)
        start = replace(StartWork(work_id, kind, state.service_id, state.provider_id), **params)
        return Transition(moved, (start,))

    def error(self, state: FlowState, problem: Problem, now: float) -> Transition:
        """Show the error screen for `problem`."""
        screen = Screen.BLOCKED if problem.code in _BLOCKED else Screen.ERROR
        moved = self.go(state, screen, now, problem=problem, work=None, binding_code="")
        return Transition(moved, (PlaySound(Sound.ERROR),))

    def context(self, state: FlowState, insurer: str = "", member: str = "") -> ServiceContext:
        """The service context of the current visit (assisted when staff gave the numbers)."""
        auth = state.authenticated
        return ServiceContext(
            service_id=state.service_id,
            provider_id=state.provider_id,
            language=state.language,
            subject="" if auth is None else auth.subject,
            cert_not_after=None if auth is None else auth.not_after,
            link=state.link,
            consented=state.consented,
            assisted=bool(insurer),
            insurer=insurer,
            member=member,
            preview=state.preview,
            auth_time=None if auth is None else auth.verified_at,
            binding_code=state.binding_code,
        )


_BLOCKED = frozenset({ProblemCode.PIN_BLOCKED, ProblemCode.PASSWORD_BLOCKED})
_USER_EVENTS = (
    Touch,
    Start,
    ChooseService,
    ChooseProvider,
    Back,
    Cancel,
    Done,
    Retry,
    SubmitPin,
    ConfirmedOnPhone,
    SubmitPassword,
    SubmitBindingCode,
    ConfirmInfo,
    Consent,
    Decline,
    CallStaff,
    SubmitStaffId,
    SubmitStaffPin,
    StaffAssist,
    SubmitAssist,
    StaffVoid,
    SubmitReceiptNumber,
    ConfirmVoid,
)


_E = TypeVar("_E")


class Misrouted(TypeError):
    """An event reached a handler the TABLE does not route it to: a wiring bug, never input."""


def _routed(event: object, kind: type[_E]) -> _E:
    """The event as the type the TABLE routed to this handler (a handler reached with another
    type is a bug in the table, raised as such instead of misread)."""
    if not isinstance(event, kind):
        raise Misrouted(f"{type(event).__name__} routed to a handler of {kind.__name__}")
    return event


def _bad_result(flow: Flow, s: FlowState, now: float) -> Transition:
    """Work answered with a value of the wrong kind (a backend bug): the visit ends on the
    internal problem, as for any failure nobody foresaw, instead of carrying it on."""
    return flow.error(s, Problem(ProblemCode.INTERNAL), now)


def _is_user(event: object) -> bool:
    return isinstance(event, _USER_EVENTS)


# --- events handled the same on every screen ------------------------------------------


def _on_tick(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.countdown_deadline is not None and now >= s.countdown_deadline:
        return Transition(flow.wipe(s))
    if s.idle_deadline is None or now < s.idle_deadline:
        return Transition(s)
    if s.screen is Screen.TAKE_CARD:
        again = replace(s, idle_deadline=now + flow.config.take_card_repeat_s)
        return Transition(again, (PlaySound(Sound.TAKE_CARD),))
    if s.screen is Screen.RESULT:
        return flow.finish(s, now)
    return Transition(flow.wipe(s))


def _on_language(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, SetLanguage)
    moved = replace(s, language=e.language)
    if s.idle_deadline is not None:
        moved = flow._arm_idle(moved, now)
    return Transition(moved)


def more_time_offered(config: FlowConfig, s: FlowState) -> bool:
    """A countdown is running and doubling it stays within the operator's limit."""
    running = s.idle_deadline is not None or s.countdown_deadline is not None
    return running and s.time_factor * 2 <= config.more_time_limit


def _on_more_time(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """Double the countdowns for the rest of the visit; the one on screen starts again at its
    doubled length (asking means the person is there). At the limit nothing changes."""
    if not more_time_offered(flow.config, s):
        return Transition(s)
    moved = replace(s, time_factor=s.time_factor * 2)
    if s.countdown_deadline is not None:
        put_back = flow.config.put_back_s * moved.time_factor
        moved = replace(moved, countdown_deadline=now + put_back)
    if s.idle_deadline is not None:
        moved = flow._arm_idle(moved, now)
    return Transition(moved)


def _on_touch(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    return Transition(flow._arm_idle(s, now) if s.idle_deadline is not None else s)


def _on_reader(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """The one place a reader status becomes "a card went in" or "the card came out": by
    comparing it with what the state already knows."""
    e = _routed(e, ReaderChanged)
    present = e.status in (ReaderStatus.CARD, ReaderStatus.NOT_MY_NUMBER)
    moved = replace(s, reader=e.status, card_present=present)
    if present and not s.card_present:
        return _card_in(flow, moved, now)
    if s.card_present and not present:
        return _card_out(flow, moved, now)
    return Transition(moved)


def _card_in(flow: Flow, s: FlowState, now: float) -> Transition:
    moved = replace(s, card_present=True, reader=ReaderStatus.CARD)
    if s.screen in (Screen.INSERT_CARD, Screen.PUT_BACK):
        return flow.work(moved, Work.READ_CARD, now)
    return Transition(moved)


def _card_out(flow: Flow, s: FlowState, now: float) -> Transition:
    reader = (
        s.reader
        if s.reader in (ReaderStatus.NO_READER, ReaderStatus.NO_SERVICE)
        else ReaderStatus.READY
    )
    moved = replace(s, card_present=False, reader=reader)
    if s.screen in (Screen.PIN, Screen.CONFIRM_ON_PHONE):  # nothing sent yet: put it back
        paused = replace(
            moved,
            screen=Screen.PUT_BACK,
            idle_deadline=None,
            countdown_deadline=now + flow.config.put_back_s * s.time_factor,
        )
        return Transition(paused, (PlaySound(Sound.ATTENTION),))
    if s.screen is Screen.READING:
        return Transition(flow.go(moved, Screen.INSERT_CARD, now, work=None, work_id=s.work_id + 1))
    if s.screen is Screen.TAKE_CARD:
        return Transition(flow.wipe(moved))
    if s.screen in ABORT_ON_REMOVAL:
        return flow.abort(moved, now)
    return Transition(moved)


def _on_staff_request(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if not flow.config.staff_enabled or s.screen in (Screen.WORKING, Screen.READING):
        return Transition(s)
    if s.work is Work.STAFF_VOID:
        return Transition(s)  # a void under way: its answer must reach the staff screen
    if s.screen is Screen.STAFF_LOGIN:
        return Transition(s)  # already there (a sign-in may be under way)
    return Transition(flow.go(flow.wipe(s), Screen.STAFF_LOGIN, now))


def _on_call_staff(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.staff_called:
        return Transition(s)
    if not flow.config.staff_channel:  # nobody to call: say where to go at once
        told = replace(s, staff_call=StaffCall.NO_CHANNEL)
        return Transition(told, (PlaySound(Sound.ATTENTION),))
    problem = s.problem if s.screen in (Screen.ERROR, Screen.BLOCKED) else None
    reason = s.screen.value if problem is None else problem.code.value
    call_id = s.staff_call_id + 1
    calling = replace(s, staff_call=StaffCall.CALLING, staff_call_id=call_id)
    return Transition(calling, (NotifyStaff(call_id, reason), PlaySound(Sound.ATTENTION)))


def _on_call_done(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, StaffCallDone)
    if e.call_id != s.staff_call_id or s.staff_call is not StaffCall.CALLING:
        return Transition(s)  # a call of an earlier visit: nothing to say to this person
    outcome = StaffCall(e.outcome.value)
    cue = () if outcome is StaffCall.DELIVERED else (PlaySound(Sound.ERROR),)
    return Transition(replace(s, staff_call=outcome), cue)


_COMMON: dict[type, Handler] = {
    Tick: _on_tick,
    SetLanguage: _on_language,
    MoreTime: _on_more_time,
    Touch: _on_touch,
    ReaderChanged: _on_reader,
    StaffRequest: _on_staff_request,
    StaffCallDone: _on_call_done,
}

# --- screen handlers -------------------------------------------------------------------


def _start(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    services = flow.config.services
    if len(services) == 1:
        return _choose_service(flow, s, ChooseService(services[0].id), now)
    return Transition(flow.go(s, Screen.SERVICES, now))


def _choose_service(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, ChooseService)
    flow.service(e.service_id)  # unknown ids are a programming error
    s = replace(s, service_id=e.service_id)
    providers = flow.config.providers
    if len(providers) == 1:
        return _choose_provider(flow, s, ChooseProvider(providers[0].id), now)
    return Transition(flow.go(s, Screen.PROVIDERS, now))


def _choose_provider(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, ChooseProvider)
    if e.provider_id not in {p.id for p in flow.config.providers}:
        raise KeyError(e.provider_id)
    s = replace(s, provider_id=e.provider_id)
    return _insert_card(flow, s, now)


def _insert_card(flow: Flow, s: FlowState, now: float) -> Transition:
    if s.card_present and s.reader is ReaderStatus.CARD:
        return flow.work(s, Work.READ_CARD, now)
    return Transition(flow.go(s, Screen.INSERT_CARD, now, problem=None))


def _back_from_providers(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if len(flow.config.services) == 1:
        return Transition(flow.wipe(s))
    return Transition(flow.go(s, Screen.SERVICES, now, service_id=""))


def _back_from_insert(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if len(flow.config.providers) > 1:
        return Transition(flow.go(s, Screen.PROVIDERS, now, provider_id=""))
    return _back_from_providers(flow, s, e, now)


def _to_start(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    return Transition(flow.wipe(s))


def _finish(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    return flow.finish(s, now)


def _read_done(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkDone)
    if e.work_id != s.work_id:
        return Transition(s)
    status = e.value
    if not isinstance(status, CardStatus):
        return _bad_result(flow, s, now)
    s = replace(s, card=status, work=None)
    refusal = _token_refusal(flow, status.token)
    if refusal is not None:
        return _refuse_token(flow, s, refusal, now)
    if status.token is TokenKind.IPHONE:  # no PIN: try at once, the person may have confirmed
        return flow.work(s, Work.CONFIRM_PHONE, now)
    if status.auth_retries == 0:
        return flow.error(s, Problem(ProblemCode.PIN_BLOCKED, 0), now)
    return Transition(flow.go(s, Screen.PIN, now), _warn_last_try(status.auth_retries))


def _token_refusal(flow: Flow, token: TokenKind) -> TokenRefusal | None:
    """Why this token cannot be used here, or None. An Android phone is asked its PIN like a
    card (the PIN comes before its certificate can be read), an iPhone its confirmation."""
    if token is TokenKind.FACE_AUTH:
        return TokenRefusal.FACE_AUTH
    if token is TokenKind.UNKNOWN:
        return TokenRefusal.UNKNOWN
    if token.is_phone and not flow.config.accept_phones:
        return TokenRefusal.PHONES_OFF
    return None


def _refuse_token(flow: Flow, s: FlowState, refusal: TokenRefusal, now: float) -> Transition:
    """The screen that says plainly what the person can do instead (no try is counted)."""
    moved = flow.go(s, Screen.TOKEN_REFUSED, now, token_refusal=refusal, problem=None)
    return Transition(moved, (PlaySound(Sound.ERROR),))


def _confirmed_on_phone(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    return flow.work(s, Work.CONFIRM_PHONE, now)


def _warn_last_try(retries: int) -> tuple[Effect, ...]:
    return (PlaySound(Sound.ATTENTION),) if retries == 1 else ()


def _read_failed(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkFailed)
    if e.work_id != s.work_id:
        return Transition(s)
    code = e.problem.code
    if code is ProblemCode.NOT_MY_NUMBER_CARD:
        moved = flow.go(s, Screen.INSERT_CARD, now, reader=ReaderStatus.NOT_MY_NUMBER, work=None)
        return Transition(replace(moved, problem=e.problem), (PlaySound(Sound.ERROR),))
    if code is ProblemCode.CARD_REMOVED:
        return Transition(flow.go(s, Screen.INSERT_CARD, now, work=None, card_present=False))
    return flow.error(s, e.problem, now)


def _submit_pin(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, SubmitPin)
    if not AUTH_PIN_RE.fullmatch(e.pin):
        return Transition(replace(s, problem=Problem(ProblemCode.PIN_FORMAT)))
    if s.card is None or s.card.auth_retries == 0:
        return flow.error(s, Problem(ProblemCode.PIN_BLOCKED, 0), now)
    return flow.work(s, Work.AUTHENTICATE, now, secret=e.pin)


def _work_done(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkDone)
    if e.work_id != s.work_id:
        return Transition(s)
    kind, value = s.work, e.value
    s = replace(s, work=None)
    if kind is Work.CONFIRM_PHONE and isinstance(value, AwaitingConfirmation):
        return Transition(flow.go(s, Screen.CONFIRM_ON_PHONE, now), (PlaySound(Sound.ATTENTION),))
    if kind in (Work.AUTHENTICATE, Work.CONFIRM_PHONE):
        if not isinstance(value, Authenticated):
            return _bad_result(flow, s, now)
        s = replace(s, authenticated=value, link=value.link)
        # a visit staff started to link a record enrols whatever the service needs
        if value.link is None and (flow.service(s.service_id).needs_link or s.staff_record):
            stale = Problem(ProblemCode.NEEDS_REENROLMENT) if value.needs_reenrolment else None
            return _ask_password(flow, s, now, stale)
        return _after_link(flow, s, now)
    if kind is Work.READ_SIGNER:
        if not isinstance(value, EnrolmentCandidate):
            return _bad_result(flow, s, now)
        return Transition(flow.go(s, Screen.REVIEW, now, candidate=value, problem=None))
    if kind is Work.ENROL:
        if not isinstance(value, Link):
            return _bad_result(flow, s, now)
        return _after_link(flow, replace(s, link=value, candidate=None), now)
    if kind is Work.PREPARE:
        if isinstance(value, ServiceResult):  # nothing to consent to: the visit ends here
            return _show_result(flow, s, value, now)
        if not isinstance(value, ServicePreview):
            return _bad_result(flow, s, now)
        return _consent_or_run(flow, replace(s, preview=value), now)
    if kind in (Work.RUN_SERVICE, Work.ASSISTED):
        if not isinstance(value, ServiceResult):
            return _bad_result(flow, s, now)
        return _show_result(flow, s, value, now)
    return Transition(s)


def _show_result(flow: Flow, s: FlowState, result: ServiceResult, now: float) -> Transition:
    """The service's result; a binding code has served its purpose and is dropped."""
    cue = Sound.DONE if result.ok else Sound.ERROR
    moved = flow.go(s, Screen.RESULT, now, result=result, binding_code="")
    return Transition(moved, (PlaySound(cue),))


def _ask_password(flow: Flow, s: FlowState, now: float, notice: Problem | None) -> Transition:
    card = s.card
    if card is not None and card.token is TokenKind.IPHONE:
        return _refuse_token(flow, s, TokenRefusal.IPHONE_ENROL, now)
    if card is not None and not card.has_sign_cert:
        return flow.error(s, Problem(ProblemCode.NO_SIGN_CERT), now)
    if card is not None and card.sign_retries == 0:
        return flow.error(s, Problem(ProblemCode.PASSWORD_BLOCKED, 0), now)
    return Transition(flow.go(s, Screen.PASSWORD, now, problem=notice))


def _after_link(flow: Flow, s: FlowState, now: float) -> Transition:
    if flow.service(s.service_id).asks_code:  # the code first: its preview needs it
        return Transition(flow.go(s, Screen.BINDING_CODE, now, problem=None))
    if flow.service(s.service_id).prepares:
        return flow.work(s, Work.PREPARE, now, context=flow.context(s))
    return _consent_or_run(flow, s, now)


def _consent_or_run(flow: Flow, s: FlowState, now: float) -> Transition:
    if flow.service(s.service_id).consent_items:
        return Transition(flow.go(s, Screen.SERVICE_CONSENT, now))
    return flow.work(s, Work.RUN_SERVICE, now, context=flow.context(s))


def _work_failed(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkFailed)
    if e.work_id != s.work_id:
        return Transition(s)
    kind, problem = s.work, e.problem
    s = replace(s, work=None)
    if kind is Work.PREPARE and problem.code in CODE_REFUSALS:
        if flow.service(s.service_id).asks_code:  # else no code was typed to type again
            return _code_refused(flow, s, problem, now)
    left = problem.retries_left
    if problem.code is ProblemCode.PIN_INCORRECT and kind is Work.AUTHENTICATE:
        if not left:
            return flow.error(s, Problem(ProblemCode.PIN_BLOCKED, 0), now)
        card = CardStatus(left, 0) if s.card is None else replace(s.card, auth_retries=left)
        moved = flow.go(s, Screen.PIN, now, card=card, problem=problem)
        return Transition(moved, (PlaySound(Sound.ERROR), *_warn_last_try(left)))
    if problem.code is ProblemCode.PASSWORD_INCORRECT and kind is Work.READ_SIGNER:
        if not left:
            return flow.error(s, Problem(ProblemCode.PASSWORD_BLOCKED, 0), now)
        card = CardStatus(3, left) if s.card is None else replace(s.card, sign_retries=left)
        moved = flow.go(s, Screen.PASSWORD, now, card=card, problem=problem)
        return Transition(moved, (PlaySound(Sound.ERROR),))
    if problem.code is ProblemCode.CARD_REMOVED:
        return flow.abort(s, now)
    return flow.error(s, problem, now)


def code_wait_s(s: FlowState, now: float) -> int:
    """Whole seconds left of the provider's rate limit at `now` (0 when codes may be sent)."""
    if s.code_wait_until is None:
        return 0
    return max(0, math.ceil(s.code_wait_until - now))


def _submit_code(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """The code's shape is checked here, before anything is asked; a well-formed code goes to
    the service's preview (which asks the provider what it stands for). Nothing on this
    screen touches the card: a wrong code costs no PIN try."""
    e = _routed(e, SubmitBindingCode)
    wait = code_wait_s(s, now)
    if wait:  # the provider would refuse it too: not sent before the wait is over
        return Transition(
            replace(s, problem=Problem(ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=wait))
        )
    code = e.code.strip().translate(_CODE_SEPARATORS)
    if not BINDING_CODE_RE.fullmatch(code):
        return Transition(replace(s, problem=Problem(ProblemCode.LOGIN_CODE_FORMAT)))
    s = replace(s, binding_code=code, code_wait_until=None)
    return flow.work(s, Work.PREPARE, now, context=flow.context(s))


def _code_refused(flow: Flow, s: FlowState, problem: Problem, now: float) -> Transition:
    """The provider refused the code: say why on the code's screen and let the person type
    again; the third refusal ends the visit."""
    refusals = s.code_refusals + 1
    s = replace(s, binding_code="", code_refusals=refusals)
    if refusals >= MAX_CODE_REFUSALS:
        return flow.error(s, Problem(ProblemCode.LOGIN_CODE_TOO_MANY), now)
    until = s.code_wait_until
    if problem.code is ProblemCode.LOGIN_CODE_RATE_LIMITED and problem.wait_s:
        until = now + problem.wait_s
    moved = flow.go(s, Screen.BINDING_CODE, now, problem=problem, code_wait_until=until)
    return Transition(moved, (PlaySound(Sound.ERROR),))


def _submit_password(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, SubmitPassword)
    if not SIGN_PASSWORD_RE.fullmatch(e.password):
        return Transition(replace(s, problem=Problem(ProblemCode.PASSWORD_FORMAT)))
    return flow.work(s, Work.READ_SIGNER, now, secret=e.password, authenticated=s.authenticated)


def _confirm_info(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    return Transition(flow.go(s, Screen.ENROL_CONSENT, now))


def _enrol_consent(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.staff_record:  # the record staff confirmed with the person, and who did
        return flow.work(s, Work.ENROL, now, candidate=s.candidate, record=s.staff_record,
                         staff_id=s.staff_record_by)  # fmt: skip
    return flow.work(s, Work.ENROL, now, candidate=s.candidate)


def _service_consent(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, Consent)
    items = flow.service(s.service_id).consent_items
    offered = {item.id for item in items}
    granted = frozenset(e.items & offered)
    if any(item.required and item.id not in granted for item in items):
        return Transition(flow.wipe(s))  # a required item declined: nothing to do
    s = replace(s, consented=granted)
    return flow.work(s, Work.RUN_SERVICE, now, context=flow.context(s))


def _retry(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.problem is None or not entry(s.problem.code).retry or not s.service_id:
        return flow.finish(s, now)
    keep = replace(
        flow.wipe(s, keep_language=True), service_id=s.service_id, provider_id=s.provider_id
    )
    return _insert_card(flow, keep, now)


def staff_wait_s(s: FlowState, now: float) -> int:
    """Whole seconds left of a staff-login lockout at `now` (0 when the login is open)."""
    if s.staff_locked_until is None:
        return 0
    return max(0, math.ceil(s.staff_locked_until - now))


def _staff_work(s: FlowState, kind: Work, **params: object) -> Transition:
    """Start staff work on the staff worker, staying on the screen (its input paused)."""
    work_id = s.work_id + 1
    moved = replace(s, work=kind, work_id=work_id, problem=None)
    # `params` are StartWork's own optional fields (staff_id, secret): checked by name at run time
    return Transition(moved, (StartWork(work_id, kind, **params),))  # type: ignore[arg-type]


def _submit_staff_id(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, SubmitStaffId)
    if s.work is not None or s.staff_login_id:
        return Transition(s)
    if not STAFF_ID_RE.fullmatch(e.staff_id):
        return Transition(replace(s, problem=Problem(ProblemCode.STAFF_FORMAT)))
    return Transition(replace(s, staff_login_id=e.staff_id, problem=None))


def _submit_staff_pin(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, SubmitStaffPin)
    if s.work is not None or not s.staff_login_id:
        return Transition(s)
    wait = staff_wait_s(s, now)
    if wait:  # the desk would refuse it too; no need to ask
        locked = Problem(ProblemCode.STAFF_LOCKED, wait_s=wait)
        return Transition(replace(s, staff_login_id="", problem=locked))
    if not STAFF_PIN_RE.fullmatch(e.pin):
        return Transition(replace(s, problem=Problem(ProblemCode.STAFF_FORMAT)))
    return _staff_work(s, Work.STAFF_SIGN_IN, staff_id=s.staff_login_id, secret=e.pin)


def _staff_back(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None:
        return Transition(s)
    if s.staff_login_id:
        return Transition(replace(s, staff_login_id="", problem=None))
    return Transition(flow.wipe(s))


def _staff_signed_in(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkDone)
    if e.work_id != s.work_id or s.work is not Work.STAFF_SIGN_IN:
        return Transition(s)
    if not (isinstance(e.value, str) and e.value):
        return _bad_result(flow, replace(s, work=None), now)
    moved = flow.go(s, Screen.STAFF_MENU, now, staff_id=e.value, staff_login_id="", work=None)
    return Transition(replace(moved, problem=None, staff_locked_until=None))


def _staff_refused(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkFailed)
    if e.work_id != s.work_id or s.work is not Work.STAFF_SIGN_IN:
        return Transition(s)
    problem = e.problem
    until = s.staff_locked_until
    if problem.code is ProblemCode.STAFF_LOCKED and problem.wait_s:
        until = now + problem.wait_s
    moved = replace(s, work=None, staff_login_id="", problem=problem, staff_locked_until=until)
    return Transition(moved, (PlaySound(Sound.ERROR),))


def _staff_exit(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None or not s.staff_id:
        return Transition(s)
    return _staff_work(s, Work.STAFF_EXIT, staff_id=s.staff_id)


def _staff_exit_done(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkDone)
    if e.work_id != s.work_id or s.work is not Work.STAFF_EXIT:
        return Transition(s)
    return Transition(replace(s, work=None), (ExitApp(),))  # audited: now close


def _staff_exit_failed(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkFailed)
    if e.work_id != s.work_id or s.work is not Work.STAFF_EXIT:
        return Transition(s)
    # an exit that cannot be audited does not happen (fail closed): say so on the menu
    return Transition(replace(s, work=None, problem=e.problem), (PlaySound(Sound.ERROR),))


def _staff_cancel(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    return Transition(flow.wipe(s))  # a late result of the work carries an old id: ignored


def _staff_assist(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None:
        return Transition(s)  # the exit is being recorded
    service_id = s.service_id or flow.config.services[0].id
    provider_id = s.provider_id or flow.config.providers[0].id
    moved = flow.go(s, Screen.STAFF_ASSIST, now, service_id=service_id, provider_id=provider_id)
    return Transition(moved)


def _submit_assist(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, SubmitAssist)
    insurer, member = e.insurer.strip(), e.member.strip()
    if not INSURER_RE.fullmatch(insurer) or not member:
        return Transition(replace(s, problem=Problem(ProblemCode.ASSIST_FORMAT)))
    context = flow.context(s, insurer, member)
    return flow.work(s, Work.ASSISTED, now, context=context, staff_id=s.staff_id)


def _staff_link(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None:
        return Transition(s)  # the exit is being recorded
    return Transition(flow.go(s, Screen.STAFF_LINK, now))


def _submit_patient_number(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """Staff confirmed the person's patient number: staff mode ends, and the person's visit
    starts (card, PIN, password, the 4 info, consent), linking the card to that record."""
    e = _routed(e, SubmitPatientNumber)
    number = e.number.strip().upper()
    if not PATIENT_NUMBER_RE.fullmatch(number):
        return Transition(replace(s, problem=Problem(ProblemCode.PATIENT_NUMBER_FORMAT)))
    visit = replace(s, staff_id="", staff_record=number, staff_record_by=s.staff_id, problem=None)
    return _start(flow, visit, Start(), now)


def _staff_void(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None or not flow.offers_void:
        return Transition(s)  # the exit is being recorded, or no payments are taken here
    return Transition(flow.go(s, Screen.STAFF_VOID, now, problem=None))


def _submit_receipt(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """The receipt number's shape is checked here, before anything is asked; the confirm
    step follows."""
    e = _routed(e, SubmitReceiptNumber)
    if s.work is not None or s.void_receipt or s.void_report is not None:
        return Transition(s)
    receipt = e.receipt_no.strip()
    if not RECEIPT_NO_RE.fullmatch(receipt):
        return Transition(replace(s, problem=Problem(ProblemCode.RECEIPT_FORMAT)))
    return Transition(replace(s, void_receipt=receipt, problem=None))


def _confirm_void(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """Void the confirmed receipt on the staff worker. Idle is paused until the card company
    answers (its own timeout bounds the wait; see Flow._arm_idle), so the answer always
    reaches the screen."""
    if s.work is not None or not s.void_receipt or s.void_report is not None:
        return Transition(s)
    return _staff_work(s, Work.STAFF_VOID, staff_id=s.staff_id, receipt_no=s.void_receipt)


def _void_done(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, WorkDone)
    if e.work_id != s.work_id or s.work is not Work.STAFF_VOID:
        return Transition(s)
    report = e.value
    if not isinstance(report, VoidReport) or report.receipt_no != s.void_receipt:
        return _bad_result(flow, replace(s, work=None), now)  # not the payment confirmed
    moved = flow.go(s, Screen.STAFF_VOID, now, work=None, void_report=report, problem=None)
    return Transition(moved, (PlaySound(Sound.DONE),))


def _void_failed(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    """The refusal, inline. One that decided nothing (no answer, the ledger unavailable)
    keeps the confirm step, to try the same receipt again; any other asks for the number."""
    e = _routed(e, WorkFailed)
    if e.work_id != s.work_id or s.work is not Work.STAFF_VOID:
        return Transition(s)
    receipt = s.void_receipt if entry(e.problem.code).retry else ""
    moved = flow.go(s, Screen.STAFF_VOID, now, work=None, problem=e.problem, void_receipt=receipt)
    return Transition(moved, (PlaySound(Sound.ERROR),))


def _void_back(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None:
        return Transition(s)
    if s.void_receipt and s.void_report is None:  # from the confirm step to the number
        return Transition(replace(s, void_receipt="", problem=None))
    return _void_to_menu(flow, s, e, now)


def _void_to_menu(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    if s.work is not None:
        return Transition(s)  # the void's answer is awaited
    menu = flow.go(s, Screen.STAFF_MENU, now, void_receipt="", void_report=None, problem=None)
    return Transition(menu)


def _staff_choose_service(flow: Flow, s: FlowState, e: object, now: float) -> Transition:
    e = _routed(e, ChooseService)
    flow.service(e.service_id)
    return Transition(replace(s, service_id=e.service_id))


TABLE: dict[tuple[Screen, type], Handler] = {
    (Screen.ATTRACT, Start): _start,
    (Screen.SERVICES, ChooseService): _choose_service,
    (Screen.SERVICES, Back): _to_start,
    (Screen.SERVICES, Cancel): _to_start,
    (Screen.PROVIDERS, ChooseProvider): _choose_provider,
    (Screen.PROVIDERS, Back): _back_from_providers,
    (Screen.PROVIDERS, Cancel): _to_start,
    (Screen.INSERT_CARD, Back): _back_from_insert,
    (Screen.INSERT_CARD, Cancel): _to_start,
    (Screen.READING, WorkDone): _read_done,
    (Screen.READING, WorkFailed): _read_failed,
    (Screen.READING, Cancel): _finish,
    (Screen.PIN, SubmitPin): _submit_pin,
    (Screen.PIN, Cancel): _finish,
    (Screen.PIN, CallStaff): _on_call_staff,
    (Screen.CONFIRM_ON_PHONE, ConfirmedOnPhone): _confirmed_on_phone,
    (Screen.CONFIRM_ON_PHONE, Cancel): _finish,
    (Screen.CONFIRM_ON_PHONE, CallStaff): _on_call_staff,
    (Screen.TOKEN_REFUSED, Done): _finish,
    (Screen.TOKEN_REFUSED, Cancel): _finish,
    (Screen.TOKEN_REFUSED, CallStaff): _on_call_staff,
    (Screen.PUT_BACK, Cancel): _to_start,
    (Screen.WORKING, WorkDone): _work_done,
    (Screen.WORKING, WorkFailed): _work_failed,
    (Screen.WORKING, Cancel): _finish,
    (Screen.PASSWORD, SubmitPassword): _submit_password,
    (Screen.PASSWORD, Cancel): _finish,
    (Screen.PASSWORD, CallStaff): _on_call_staff,
    (Screen.REVIEW, ConfirmInfo): _confirm_info,
    (Screen.REVIEW, Cancel): _finish,
    (Screen.ENROL_CONSENT, Consent): _enrol_consent,
    (Screen.ENROL_CONSENT, Decline): _finish,
    (Screen.ENROL_CONSENT, Cancel): _finish,
    (Screen.BINDING_CODE, SubmitBindingCode): _submit_code,
    (Screen.BINDING_CODE, Cancel): _finish,
    (Screen.SERVICE_CONSENT, Consent): _service_consent,
    (Screen.SERVICE_CONSENT, Decline): _finish,
    (Screen.SERVICE_CONSENT, Cancel): _finish,
    (Screen.RESULT, Done): _finish,
    (Screen.TAKE_CARD, Done): _finish,
    (Screen.ERROR, Done): _finish,
    (Screen.ERROR, Retry): _retry,
    (Screen.ERROR, CallStaff): _on_call_staff,
    (Screen.BLOCKED, Done): _finish,
    (Screen.BLOCKED, CallStaff): _on_call_staff,
    (Screen.STAFF_LOGIN, SubmitStaffId): _submit_staff_id,
    (Screen.STAFF_LOGIN, SubmitStaffPin): _submit_staff_pin,
    (Screen.STAFF_LOGIN, WorkDone): _staff_signed_in,
    (Screen.STAFF_LOGIN, WorkFailed): _staff_refused,
    (Screen.STAFF_LOGIN, Back): _staff_back,
    (Screen.STAFF_LOGIN, Cancel): _staff_cancel,
    (Screen.STAFF_MENU, StaffExit): _staff_exit,
    (Screen.STAFF_MENU, StaffAssist): _staff_assist,
    (Screen.STAFF_MENU, StaffLink): _staff_link,
    (Screen.STAFF_MENU, StaffVoid): _staff_void,
    (Screen.STAFF_MENU, WorkDone): _staff_exit_done,
    (Screen.STAFF_MENU, WorkFailed): _staff_exit_failed,
    (Screen.STAFF_MENU, Cancel): _staff_cancel,
    (Screen.STAFF_ASSIST, ChooseService): _staff_choose_service,
    (Screen.STAFF_ASSIST, SubmitAssist): _submit_assist,
    (Screen.STAFF_ASSIST, Cancel): _to_start,
    (Screen.STAFF_LINK, SubmitPatientNumber): _submit_patient_number,
    (Screen.STAFF_LINK, Cancel): _to_start,
    (Screen.STAFF_VOID, SubmitReceiptNumber): _submit_receipt,
    (Screen.STAFF_VOID, ConfirmVoid): _confirm_void,
    (Screen.STAFF_VOID, WorkDone): _void_done,
    (Screen.STAFF_VOID, WorkFailed): _void_failed,
    (Screen.STAFF_VOID, Back): _void_back,
    (Screen.STAFF_VOID, Cancel): _void_to_menu,
    (Screen.STAFF_VOID, Done): _void_to_menu,
}

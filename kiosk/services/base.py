"""The service interface: what a kiosk service declares and how it is run.

A service (identity check, insurance check, payment, login) is plain Python over its own
ports: no Qt, no card, no HTTP here. The flow authenticates the person first, handles
enrolment when the service needs a link, asks consent item by item, then calls `run`; the
generic result screen renders the `ServiceResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from kiosk.i18n import Language, Text

if TYPE_CHECKING:
    from kiosk.services.reception import ReceptionMessage


@dataclass(frozen=True, slots=True)
class Link:
    """The account this card's user certificate is linked to at the provider."""

    account_ref: str  # the provider's own account reference (never personal data)
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentItem:
    """One piece of data the service would share, agreed to (or not) on its own."""

    id: str
    label: Text
    required: bool = False


@dataclass(frozen=True, slots=True)
class ServicePreview:
    """What a service shows before it asks consent (e.g. the amount to pay), made by its
    `prepare` once the person is verified. `reference` names exactly what was shown (e.g. the
    payment request and its amount): `run` gets it back in the context and must act on that
    and nothing else."""

    title: Text
    rows: tuple[ResultRow, ...] = ()
    reference: str = ""


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Everything a service may use: who (verified), where, and what they agreed to share."""

    service_id: str
    provider_id: str
    language: Language
    subject: str  # opaque id of the user certificate; "" on a staff-assisted visit
    cert_not_after: datetime | None
    link: Link | None
    consented: frozenset[str] = frozenset()
    assisted: bool = False  # staff checked the person by sight (no card proof)
    insurer: str = ""  # on an assisted visit: the insurer number staff entered
    member: str = ""  # and the member number (記号・番号)
    preview: ServicePreview | None = None  # what the person saw before consenting, if any
    #: When the card proved the person in this visit (the verifier's time of the verdict);
    #: None on a staff-assisted visit. A login tells the online service (OIDC `auth_time`).
    auth_time: datetime | None = None
    #: The one-time binding code the person typed at the kiosk, for a service that asks one
    #: (the login: it names the online service's waiting sign-in). A credential: out of repr,
    #: and gone with the visit's state.
    binding_code: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One labelled value on the result screen."""

    label: Text
    value: str


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """What a service returns, rendered by the generic result screen."""

    ok: bool
    title: Text
    message: Text
    rows: tuple[ResultRow, ...] = ()
    assisted: bool = False
    #: What the reception system is to receive from this visit (the insurance check's
    #: eligibility), recorded with the visit and delivered after it; None: nothing.
    handoff: ReceptionMessage | None = field(default=None, repr=False, compare=False)


class Service(Protocol):
    """A kiosk service as the picker and the flow see it."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> Text: ...

    @property
    def description(self) -> Text: ...

    @property
    def needs_link(self) -> bool:
        """True: the person must have (or create) a link to an account first."""
        ...

    @property
    def consent_items(self) -> tuple[ConsentItem, ...]:
        """What the service shares, asked item by item before `run` (empty: nothing)."""
        ...

    def run(self, context: ServiceContext) -> ServiceResult:
        """Do the service's work for a verified (or staff-checked) person."""
        ...


class PreparedService(Service, Protocol):
    """A service that shows something before consent: `prepare` runs after verification
    (and enrolment); a `ServicePreview` is shown with the consent items, a `ServiceResult`
    ends the visit there (e.g. "nothing to pay: please ask at the counter").

    A service that also `asks_code` (the login) has the person type a binding code first: its
    `prepare` finds it in the context's `binding_code` and raises a refused code as
    `BindingRefused` (kiosk.services.login_broker), so the flow asks for the code again."""

    def prepare(self, context: ServiceContext) -> ServicePreview | ServiceResult: ...


def prepares(service: Service) -> bool:
    """Whether the service shows a preview before consent."""
    return callable(getattr(service, "prepare", None))


def asks_code(service: Service) -> bool:
    """Whether the person types a binding code at the kiosk before the service's preview (a
    service that says so with `asks_code = True`; its `prepare` gets the code in the
    context's `binding_code`)."""
    return getattr(service, "asks_code", False) is True and prepares(service)

"""The composition root: the one place concrete adapters are built and wired.

`run(cfg, windowed)` builds the PC/SC reader (kiosk.card.pcsc and its monitor), local
verification over the store (trust anchors, CRLs imported from `crl_dir`, links, audit), the
services, the flow and the window, and runs the Qt event loop. `build_window` is the part
the tests and the screenshot tool share with it, given any reader and backend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kiosk.card.reader import PcscReader, ReaderPort
from kiosk.clock import utc_now
from kiosk.config import Config, ConfigError
from kiosk.flow.machine import Flow, FlowConfig, Provider, ServiceInfo
from kiosk.flow.ports import FlowBackend, StaffPort
from kiosk.flow.staff import StaffDesk
from kiosk.i18n import plain
from kiosk.local import import_crls, phones_accepted
from kiosk.services.base import Service, asks_code, prepares
from kiosk.services.event_log import LoggedAudit
from kiosk.services.identity import IdentityService
from kiosk.services.visit import AuditSink, Visit

if TYPE_CHECKING:
    from kiosk.card.connection import CardConnection
    from kiosk.flow.ports import VoidReport
    from kiosk.local import LocalContext
    from kiosk.oidc.provider import OpenIdProvider
    from kiosk.services.card_gateway import CardGateway
    from kiosk.services.handoff import Handoff
    from kiosk.services.login import LoginService
    from kiosk.services.payment import PaymentNotices, PaymentService
    from kiosk.services.payment_desk import Reconciler
    from kiosk.services.records import RecordLinker
    from kiosk.store.engine import Database
    from kiosk.ui.controller import FlowController
    from kiosk.ui.main_window import KioskWindow

log = logging.getLogger(__name__)
T = TypeVar("T")


def available_services(
    terminal_id: str = "kiosk-1", provider_id: str = "demo-clinic", db: Database | None = None
) -> dict[str, Service]:
    """Every service this build can offer, by id (`services` in the configuration picks).

    The insurance check, the login and the payment run over their TEST adapters from the
    demo wing, kiosk.demo (deterministic, obviously fake data; the payment charges a TEST card
    company, over the store `db` or else a scratch store of its own with one TEST purchase
    rung up for this terminal) until an operator connects the real eligibility system, login
    backend or card company. This is the one production module that imports kiosk.demo (see
    the "demo-wing" import contract in pyproject.toml)."""
    from kiosk.demo.insurance import demo_insurance_service
    from kiosk.demo.login import demo_login_service
    from kiosk.demo.payment import demo_payment_service, scratch_payment_store

    services: list[Service] = [
        IdentityService(),
        demo_insurance_service(),
        demo_login_service(terminal_id=terminal_id),
        demo_payment_service(
            db or scratch_payment_store(terminal_id, provider_id), terminal_id, provider_id
        ),
    ]
    return {service.id: service for service in services}


def configured_services(
    cfg: Config,
    db: Database,
    closers: list[Callable[[], None]],
    payments: Payments | None = None,
    logins: Logins | None = None,
) -> dict[str, Service]:
    """The services this configuration offers, by id: `available_services`, with the
    insurance check over the configured eligibility directory (`[insurance]`) and handing its
    results to reception (`[reception]`), and the payment over the store and the configured
    card company (`[payment]`, `[receipt]`)."""
    services = available_services(cfg.terminal_id, cfg.provider_id, db)
    if "payment" in cfg.services:
        services["payment"] = (payments or Payments.build(cfg, db, closers)).service
    logins = logins or Logins.build(cfg, db, closers)
    if logins is not None:
        services["login"] = logins.service
    insurance, reception = cfg.insurance, cfg.reception
    if insurance.directory == "test" and reception.delivery == "none":
        return services
    from kiosk.services.insurance import EligibilityDirectory, InsuranceService, ReceptionPoint

    directory: EligibilityDirectory
    if insurance.directory == "roster":
        from kiosk.services.eligibility import RosterDirectory
        from kiosk.store.roster import InsuranceRoster, PatientRecords

        directory = RosterDirectory(InsuranceRoster(db), PatientRecords(db))
    elif insurance.directory == "http":
        from kiosk.services.eligibility_http import HttpEligibilityDirectory

        http = HttpEligibilityDirectory(
            insurance.url, insurance.token, timeout_s=float(insurance.timeout_s)
        )
        closers.append(http.close)
        directory = http
    else:
        from kiosk.demo.insurance import demo_directory  # TEST data, as the demo wing says

        directory = demo_directory()
    point = None
    if reception.delivery != "none":
        point = ReceptionPoint(cfg.terminal_id, reception.institution_code)
    services["insurance"] = InsuranceService(directory, reception=point)
    return services


@dataclass
class Payments:
    """The payment service's parts (`[payment]`, `[pos]`, `[receipt]`), and what runs beside
    it once the store is migrated (`start`): the reconciliation of rows a stopped kiosk left
    open, the POS API, and the push of results to the POS."""

    cfg: Config
    service: PaymentService
    gateway: CardGateway
    notices_start: Callable[[], Callable[[], None]] | None = None
    reconciler: Reconciler | None = None  # once started

    @classmethod
    def build(cls, cfg: Config, db: Database, closers: list[Callable[[], None]]) -> Payments:
        """The service over the store and the configured card company; nothing connects yet."""
        from kiosk.services.payment import NoNotices, PaymentService
        from kiosk.services.receipt import build_receipt_printer
        from kiosk.store.ledger import LedgerLimits, PaymentLedger
        from kiosk.store.payment_requests import PaymentRequests

        payment = cfg.payment
        gateway: CardGateway
        if payment.gateway == "http":
            from kiosk.services.gateway_http import HttpCardGateway

            http = HttpCardGateway(
                payment.url,
                payment.token,
                code=payment.company_code,
                timeout_s=float(payment.timeout_s),
            )
            closers.append(http.close)
            gateway = http
        else:
            from kiosk.demo.payment import MemoryCardGateway  # TEST: nothing is charged

            gateway = MemoryCardGateway(code=payment.company_code)
        limits = LedgerLimits(
            payment.per_payment_yen, payment.daily_account_yen, payment.daily_terminal_yen
        )
        notices, notices_start = _pos_notices(cfg, db)
        service = PaymentService(
            PaymentRequests(db, payment.per_payment_yen),
            PaymentLedger(db, limits),
            gateway,
            cfg.terminal_id,
            printer=build_receipt_printer(cfg.receipt),
            notices=notices or NoNotices(),  # none: the POS polls
            shop_names=dict(cfg.providers),
        )
        return cls(cfg, service, gateway, notices_start)

    def start(self, closers: list[Callable[[], None]]) -> None:
        """Once the store is migrated: reconcile what a stopped kiosk left open (on a thread
        of its own, so a slow card company never holds up the kiosk), serve the POS API, and
        start pushing results to the POS."""
        from kiosk.services.payment_desk import Reconciler

        reconciler = Reconciler(
            self.service.ledger, self.gateway, self.service.requests, utc_now,
            terminal_id=self.cfg.terminal_id, notices=self.service.notices,
        )  # fmt: skip
        reconciler.start()
        closers.append(reconciler.stop)
        self.reconciler = reconciler
        if self.notices_start is not None:
            closers.append(self.notices_start())
        if self.cfg.pos.listen:
            closers.append(_serve_pos(self.cfg, self.service))


def _pos_notices(
    cfg: Config, db: Database
) -> tuple[PaymentNotices | None, Callable[[], Callable[[], None]] | None]:
    """The push of results to the POS (`[pos] callback_url`): the notices the service gives
    them to, and what starts their sender (returning what stops it); none without a URL."""
    if not cfg.pos.callback_url:
        return None, None
    from kiosk.services.pos_notices import DEFAULT_TIMEOUT_S, pos_notices
    from kiosk.store.outbox import Outbox

    notices, sender = pos_notices(
        Outbox(db), cfg.pos.callback_url, cfg.pos.callback_token, DEFAULT_TIMEOUT_S, utc_now
    )

    def start() -> Callable[[], None]:
        sender.start()  # also delivers what an earlier run left waiting
        return sender.stop

    return notices, start


def _serve_pos(cfg: Config, service: PaymentService) -> Callable[[], None]:
    """Serve the POS API on `[pos] listen`; what stops it."""
    from kiosk.pos.api import create_pos_app

    app = create_pos_app(service.requests, cfg.pos_tokens, utc_now, ttl_s=cfg.pos.request_ttl_s)
    return _serve(app, "pos", cfg.pos.listen, cfg.pos.tls_cert, cfg.pos.tls_key)


def _serve(app: Any, section: str, listen: str, tls_cert: str, tls_key: str) -> Callable[[], None]:
    """Serve an ASGI app of the kiosk (the POS API, the OpenID Provider) with uvicorn on a
    thread of its own; what stops it. A port that cannot be bound is logged: the kiosk's other
    services go on, and the callers see they cannot connect."""
    from kiosk.config import listen_address
    from kiosk.pos.server import PosServer, PosServerError

    host, port = listen_address(listen, section)
    server = PosServer(app, host, port, tls_cert=tls_cert, tls_key=tls_key, name=f"[{section}]")
    try:
        server.start()
    except PosServerError as e:
        log.error("[%s] cannot be served on %s: %s", section, listen, e)
        return lambda: None
    return server.stop


@dataclass
class Logins:
    """The login service over the OpenID Provider: the platform's (a kiosk that verifies at a
    platform signs people in through it), or in-process on a one-box kiosk that verifies
    itself (`[oidc]`), which then serves the provider's pages on `[oidc] listen`."""

    cfg: Config
    service: LoginService
    provider: OpenIdProvider | None  # None: the platform is the provider (it serves the pages)

    @classmethod
    def build(cls, cfg: Config, db: Database, closers: list[Callable[[], None]]) -> Logins | None:
        """The login over the platform (when offered) or the provider of `[oidc]`; None:
        the demo wing's TEST broker stays."""
        from kiosk.services.login import LoginService

        if cfg.verification == "platform":
            if "login" not in cfg.services:
                return None
            from kiosk.platform.client import PlatformClient

            client = PlatformClient(cfg.platform_url, cfg.platform_token)
            closers.append(client.close)
            return cls(cfg, LoginService(client, cfg.terminal_id), None)
        from kiosk.local import openid_provider

        provider = openid_provider(cfg, db)
        if provider is None:
            return None
        return cls(cfg, LoginService(provider, cfg.terminal_id), provider)

    def start(self, closers: list[Callable[[], None]]) -> None:
        """Once the store is migrated: a one-box kiosk serves the provider's pages
        (discovery, JWKS, the authorization page, the token endpoint) on `[oidc] listen`."""
        from kiosk.platform.oidc_web import create_oidc_app

        oidc = self.cfg.oidc
        if self.provider is not None and oidc.listen:
            closers.append(
                _serve(create_oidc_app(self.provider), "oidc", oidc.listen, oidc.tls_cert,
                       oidc.tls_key)
            )  # fmt: skip


def record_linker(cfg: Config, db: Database) -> RecordLinker:
    """What an enrolment links the card to (`enrol_to`)."""
    from kiosk.services.records import NewAccounts, PatientRecordLinker

    if cfg.enrol_to == "patient_record":
        from kiosk.store.roster import PatientRecords

        return PatientRecordLinker(PatientRecords(db))
    return NewAccounts()


def flow_config(cfg: Config, services: Mapping[str, Service]) -> FlowConfig:
    """The flow's settings: the configured services in order, the providers, the timers."""
    unknown = [s for s in cfg.services if s not in services]
    if unknown:
        raise ConfigError(f"unknown service(s) in 'services': {', '.join(unknown)}")
    infos = tuple(
        ServiceInfo(
            s.id, s.title, s.description, s.needs_link, s.consent_items, prepares(s), asks_code(s)
        )
        for s in (services[name] for name in cfg.services)
    )
    names = cfg.providers or {cfg.provider_id: cfg.provider_id}
    providers = tuple(Provider(pid, plain(name)) for pid, name in names.items())
    return FlowConfig(
        services=infos,
        providers=providers,
        idle_timeout_s=float(cfg.idle_timeout_s),
        more_time_limit=cfg.more_time_limit,
        staff_enabled=bool(cfg.staff),
        staff_channel=bool(cfg.staff_call_url),
        language=cfg.language,
        accept_phones=phones_accepted(cfg),
    )


def build_window(
    cfg: Config,
    reader: ReaderPort,
    backend: FlowBackend | Once[Visit],
    *,
    windowed: bool,
    services: Mapping[str, Service] | None = None,
    clock: Callable[[], float] = time.monotonic,
    staff_hold_ms: int = 3000,
    staff: StaffPort | None = None,
) -> tuple[KioskWindow, FlowController]:
    """The controller and window over a reader, a backend and the staff desk (a QApplication
    must exist; without a desk nobody signs in and nobody is called)."""
    from kiosk.ui.controller import FlowController
    from kiosk.ui.guidance import Guidance, QtGuidancePlayer
    from kiosk.ui.main_window import KioskWindow
    from kiosk.ui.sound import SoundPlayer

    services = services or available_services(cfg.terminal_id, cfg.provider_id)
    config = flow_config(cfg, services)
    flow = Flow(replace(config, staff_voids=staff is not None and staff.can_void))
    if isinstance(backend, Once):  # the card worker builds it, off the GUI thread
        controller = FlowController(flow, clock=clock, staff=staff, build=backend)
    else:
        controller = FlowController(flow, backend, clock, staff=staff)
    window = KioskWindow(
        controller,
        kiosk_mode=not windowed,
        shuffle_pin_pad=cfg.shuffle_pin_pad,
        high_contrast=cfg.theme == "high-contrast",
        sound=SoundPlayer(enabled=cfg.sound),
        staff_hold_ms=staff_hold_ms,
        guidance=Guidance(
            QtGuidancePlayer(enabled=cfg.sound), automatic=cfg.audio_output != "speaker"
        ),
    )
    reader.watch(controller.reader_status)
    return window, controller


# --- the backend and the staff desk's audit -----------------------------------------------


def staff_desk(
    cfg: Config,
    audit: AuditSink,
    closers: list[Callable[[], None]],
    *,
    clock: Callable[[], float] = time.monotonic,
    payments: Payments | None = None,
) -> StaffDesk:
    """The staff desk: the configured staff, their audit, the channel to call them, and
    (with the payment) the void of a settled payment."""
    channel = None
    if cfg.staff_call_url:
        from kiosk.staffcall import WebhookChannel

        webhook = WebhookChannel(
            cfg.staff_call_url, cfg.terminal_id, utc_now, timeout_s=cfg.staff_call_timeout_s
        )
        closers.append(webhook.close)
        channel = webhook
    voids = None if payments is None else _staff_voids(cfg, payments, audit)
    return StaffDesk(cfg.staff, audit, cfg.provider_id, utc_now, channel, clock=clock, voids=voids)


def _staff_voids(
    cfg: Config, payments: Payments, audit: AuditSink
) -> Callable[[str, str], VoidReport]:
    """Staff's void of a settled payment, looked up under each shop of this kiosk in turn
    (a receipt number one shop does not know changes nothing there)."""
    from kiosk.flow.errors_catalogue import ProblemCode
    from kiosk.flow.ports import FlowProblem
    from kiosk.flow.voids import payment_voids

    shops = [cfg.provider_id, *(p for p in cfg.providers if p != cfg.provider_id)]
    voids = [
        payment_voids(
            payments.service.ledger, payments.gateway, audit, provider_id=shop, clock=utc_now
        )
        for shop in shops
    ]

    def void(staff_id: str, receipt_no: str) -> VoidReport:
        for each in voids[:-1]:
            try:
                return each(staff_id, receipt_no)
            except FlowProblem as e:
                if e.problem.code is not ProblemCode.VOID_UNKNOWN_RECEIPT:
                    raise
        return voids[-1](staff_id, receipt_no)

    return void


class Once(Generic[T]):
    """`build()` called once, on first need, from whichever thread needs it first (the card
    worker's warm-up, or the staff desk's first audit); the others wait for it. A build that
    fails is tried again on the next need."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    def __call__(self) -> T:
        """The built value."""
        with self._lock:
            if self._value is None:
                self._value = self._build()
            return self._value


class DeferredAudit:
    """The staff desk's audit sink before the store is open: the first event opens it
    (building the backend with it), then every event is recorded there."""

    def __init__(self, prepare: Callable[[], object], audits: list[AuditSink]) -> None:
        self._prepare = prepare
        self._audits = audits

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
        """Record one event in the store's audit (opened with the backend)."""
        self._prepare()
        self._audits[0].record(action, ok, reason, provider_id, at, actor=actor)


def reception_handoff(
    cfg: Config, db: Database, closers: list[Callable[[], None]]
) -> Handoff | None:
    """The hand-off of eligibility results to the clinic's reception system (`[reception]`):
    the store's outbox, and its sender started on a thread of its own (stopped by `closers`);
    None when nothing is handed off."""
    reception = cfg.reception
    if reception.delivery == "none":
        return None
    from kiosk.services.handoff import OutboxHandoff
    from kiosk.services.outbox_sender import OutboxSender
    from kiosk.services.reception_delivery import (
        FileDropReception,
        HttpReception,
        ReceptionDelivery,
    )
    from kiosk.store.outbox import Outbox

    delivery: ReceptionDelivery
    if reception.delivery == "http":
        delivery = HttpReception(reception.url, reception.token, float(reception.timeout_s))
    else:
        directory = Path(reception.directory)
        directory.mkdir(parents=True, exist_ok=True)
        delivery = FileDropReception(directory)
    outbox = Outbox(db)
    sender = OutboxSender(outbox, delivery, utc_now, interval_s=float(reception.interval_s))
    sender.start()  # also delivers what an earlier run left waiting
    closers.append(sender.stop)
    return OutboxHandoff(outbox, cfg.terminal_id, wake=sender.wake)


def local_backend(
    cfg: Config,
    local: LocalContext,
    connect: Callable[[], CardConnection],
    audits: list[AuditSink] | None = None,
    closers: list[Callable[[], None]] | None = None,
    services: Mapping[str, Service] | None = None,
) -> Visit:
    """The visit with local verification over the store (its audit is appended to
    `audits`, for the staff desk; what must be stopped at the end, to `closers`)."""
    audit = LoggedAudit(local.audit, cfg.terminal_id)  # to the store, then the log
    if audits is not None:
        audits.append(audit)
    closers = closers if closers is not None else []
    if services is None:
        services = configured_services(cfg, local.db, closers)
    return Visit(
        connect,
        local.verifier,
        local.challenges,
        audit,
        services,
        cfg.terminal_id,
        utc_now,
        records=record_linker(cfg, local.db),
        handoff=reception_handoff(cfg, local.db, closers),
    )


def platform_backend(
    cfg: Config,
    connect: Callable[[], CardConnection],
    closers: list[Callable[[], None]],
    audits: list[AuditSink] | None = None,
    services: Mapping[str, Service] | None = None,
) -> Visit:
    """The FlowBackend when an authorised platform verifies: challenges, verdicts and links
    are the platform's (its client; it links on an enrolment it accepts); the kiosk's own store
    keeps only its audit of services and staff (appended to `audits`, for the staff desk)."""
    from kiosk.platform.client import PlatformClient
    from kiosk.store.audit import AuditLog
    from kiosk.store.engine import Database

    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    db.upgrade()
    closers.append(db.dispose)
    client = PlatformClient(cfg.platform_url, cfg.platform_token)
    closers.append(client.close)
    own = AuditLog(db, keeps_serials=False, terminal_id=cfg.terminal_id)  # not a verifier's
    audit = LoggedAudit(own, cfg.terminal_id)  # to the store, then the log
    if audits is not None:
        audits.append(audit)
    if services is None:
        services = configured_services(cfg, db, closers)
    return Visit(
        connect,
        client,
        client,
        audit,
        services,
        cfg.terminal_id,
        utc_now,
        records=record_linker(cfg, db),
        handoff=reception_handoff(cfg, db, closers),
    )


@dataclass
class Kiosk:
    """A started kiosk: what `run` tears down at the end."""

    window: KioskWindow
    controller: FlowController
    reader: ReaderPort
    closers: list[Callable[[], None]]

    def stop(self) -> None:
        """Stop the reader, the worker and the store."""
        self.reader.stop()
        self.controller.stop()
        for close in reversed(self.closers):  # the last started stops first (the sender
            close()  # before the store it sends from)


def start(cfg: Config, *, windowed: bool, reader: ReaderPort) -> Kiosk:
    """Show the kiosk at once; open the store, anchors and CRLs (or the platform client)
    behind the attract screen."""
    from kiosk.store.engine import Database

    closers: list[Callable[[], None]] = []
    audits: list[AuditSink] = []  # the store's audit, once the backend has opened it
    # the flow and the visit share one set of services; the store they read (the roster, the
    # patients) connects on first use, after the backend below has migrated it
    records = Database(cfg.effective_database_url)
    closers.append(records.dispose)
    payments = Payments.build(cfg, records, closers) if "payment" in cfg.services else None
    logins = Logins.build(cfg, records, closers)
    services = configured_services(cfg, records, closers, payments, logins)

    def build() -> Visit:
        if cfg.verification == "platform":
            visit = platform_backend(cfg, reader.connect, closers, audits, services)
        else:
            from kiosk.local import LocalContext

            local = LocalContext.from_config(cfg)
            closers.append(local.db.dispose)
            import_crls(cfg, local)
            visit = local_backend(cfg, local, reader.connect, audits, closers, services)
        if payments is not None:  # the store is migrated now
            payments.start(closers)
        if logins is not None:
            logins.start(closers)
        return visit

    backend = Once(build)  # built by the card worker's warm-up, behind the attract screen
    staff = staff_desk(cfg, DeferredAudit(backend, audits), closers, payments=payments)
    window, controller = build_window(
        cfg, reader, backend, windowed=windowed, staff=staff, services=services
    )
    window.show_kiosk()
    return Kiosk(window, controller, reader, closers)


def run(cfg: Config, *, windowed: bool) -> int:
    """Run the kiosk on the PC/SC reader until staff exit it (or the window closes)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    kiosk = start(cfg, windowed=windowed, reader=PcscReader(cfg.reader))
    try:
        return app.exec()
    finally:
        kiosk.stop()

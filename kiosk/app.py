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
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.card.reader import PcscReader, ReaderPort
from kiosk.clock import utc_now
from kiosk.config import Config, ConfigError
from kiosk.flow.backend import CardBackend
from kiosk.flow.machine import Flow, FlowConfig, Provider, ServiceInfo
from kiosk.flow.ports import AuditLog as FlowAudit
from kiosk.flow.ports import (
    Authenticated,
    CardStatus,
    EnrolmentCandidate,
    FlowBackend,
    StaffPort,
)
from kiosk.flow.staff import StaffDesk
from kiosk.i18n import plain
from kiosk.local import import_crls
from kiosk.services.base import (
    Link,
    Service,
    ServiceContext,
    ServicePreview,
    ServiceResult,
    prepares,
)
from kiosk.services.identity import IdentityService
from kiosk.verify.verdict import CertRef

if TYPE_CHECKING:
    from kiosk.card.connection import CardConnection
    from kiosk.local import LocalContext
    from kiosk.store.audit import AuditLog
    from kiosk.ui.controller import FlowController
    from kiosk.ui.main_window import KioskWindow

log = logging.getLogger(__name__)


def available_services(
    terminal_id: str = "kiosk-1", provider_id: str = "demo-clinic"
) -> dict[str, Service]:
    """Every service this build can offer, by id (`services` in the configuration picks).

    The insurance check, the login and the payment run over their TEST adapters from the
    demo wing, kiosk.demo (deterministic, obviously fake data; the payment rings up one TEST
    purchase for this terminal) until an operator connects the real eligibility system, login
    backend or payment gateway. This is the one production module that imports kiosk.demo
    (see the "demo-wing" import contract in pyproject.toml)."""
    from kiosk.demo.insurance import demo_insurance_service
    from kiosk.demo.login import demo_login_service
    from kiosk.demo.payment import demo_payment_service

    services: list[Service] = [
        IdentityService(),
        demo_insurance_service(),
        demo_login_service(),
        demo_payment_service(terminal_id, provider_id),
    ]
    return {service.id: service for service in services}


def flow_config(cfg: Config, services: Mapping[str, Service]) -> FlowConfig:
    """The flow's settings: the configured services in order, the providers, the timers."""
    unknown = [s for s in cfg.services if s not in services]
    if unknown:
        raise ConfigError(f"unknown service(s) in 'services': {', '.join(unknown)}")
    infos = tuple(
        ServiceInfo(s.id, s.title, s.description, s.needs_link, s.consent_items, prepares(s))
        for s in (services[name] for name in cfg.services)
    )
    names = cfg.providers or {cfg.provider_id: cfg.provider_id}
    providers = tuple(Provider(pid, plain(name)) for pid, name in names.items())
    return FlowConfig(
        services=infos,
        providers=providers,
        idle_timeout_s=float(cfg.idle_timeout_s),
        staff_enabled=bool(cfg.staff),
        staff_channel=bool(cfg.staff_call_url),
        language=cfg.language,
    )


def build_window(
    cfg: Config,
    reader: ReaderPort,
    backend: FlowBackend,
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
    from kiosk.ui.main_window import KioskWindow
    from kiosk.ui.sound import SoundPlayer

    services = services or available_services(cfg.terminal_id, cfg.provider_id)
    flow = Flow(flow_config(cfg, services))
    controller = FlowController(flow, backend, clock, staff=staff)
    window = KioskWindow(
        controller,
        kiosk_mode=not windowed,
        shuffle_pin_pad=cfg.shuffle_pin_pad,
        high_contrast=cfg.theme == "high-contrast",
        sound=SoundPlayer(enabled=cfg.sound),
        staff_hold_ms=staff_hold_ms,
    )
    reader.watch(controller.reader_status)
    return window, controller


# --- adapters over the store ------------------------------------------------------------


class StoreAudit:
    """The flow's AuditLog over kiosk.store's audit table."""

    def __init__(self, audit: AuditLog, terminal_id: str) -> None:
        self._audit = audit
        self._terminal_id = terminal_id

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
        """Append one event (`actor`: the staff number of who acted)."""
        self._audit.append(
            at=at,
            provider_id=provider_id,
            terminal_id=self._terminal_id,
            action=action,
            ok=ok,
            reason=reason,
            issuer_key_id=None if cert is None else cert.issuer_key_id or None,
            serial=None if cert is None else cert.serial,
            actor=actor,
        )


def staff_desk(
    cfg: Config,
    audit: FlowAudit,
    closers: list[Callable[[], None]],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> StaffDesk:
    """The staff desk: the configured staff, their audit, and the channel to call them."""
    channel = None
    if cfg.staff_call_url:
        from kiosk.staffcall import WebhookChannel

        webhook = WebhookChannel(
            cfg.staff_call_url, cfg.terminal_id, utc_now, timeout_s=cfg.staff_call_timeout_s
        )
        closers.append(webhook.close)
        channel = webhook
    return StaffDesk(cfg.staff, audit, cfg.provider_id, utc_now, channel, clock=clock)


class DeferredAudit:
    """The staff desk's audit before the store is open: opens it (through the deferred
    backend) on the first event, then appends there."""

    def __init__(self, prepare: Callable[[], object], audits: list[FlowAudit]) -> None:
        self._prepare = prepare
        self._audits = audits

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
        """Append one event to the store's audit (built with the backend)."""
        self._prepare()
        self._audits[0].record(action, ok, reason, provider_id, cert, at, actor=actor)


def local_backend(
    cfg: Config,
    local: LocalContext,
    connect: Callable[[], CardConnection],
    audits: list[FlowAudit] | None = None,
) -> CardBackend:
    """The FlowBackend with local verification over the store (its audit is appended to
    `audits`, for the staff desk)."""
    audit = StoreAudit(local.audit, local.terminal_id)
    if audits is not None:
        audits.append(audit)
    return CardBackend(
        connect,
        local.verifier,
        local.challenges,
        audit,
        available_services(cfg.terminal_id, cfg.provider_id),
        cfg.terminal_id,
        utc_now,
    )


def platform_backend(
    cfg: Config,
    connect: Callable[[], CardConnection],
    closers: list[Callable[[], None]],
    audits: list[FlowAudit] | None = None,
) -> CardBackend:
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
    audit = StoreAudit(AuditLog(db, keeps_serials=False), cfg.terminal_id)  # not a verifier
    if audits is not None:
        audits.append(audit)
    return CardBackend(
        connect,
        client,
        client,
        audit,
        available_services(cfg.terminal_id, cfg.provider_id),
        cfg.terminal_id,
        utc_now,
    )


class DeferredBackend:
    """A FlowBackend built on first need (or by `prepare`), so the window shows at once.

    Opening and migrating the store and loading the anchors takes longer than drawing the
    attract screen; `start` builds it on the GUI thread once the first frame is drawn, when
    nobody can be using the kiosk yet (card work on the worker thread would wait on the
    lock, and builds it there only if it came first)."""

    def __init__(self, build: Callable[[], CardBackend]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._backend: CardBackend | None = None

    def prepare(self) -> CardBackend:
        """Build the backend if it is not built yet."""
        with self._lock:
            if self._backend is None:
                self._backend = self._build()
            return self._backend

    def prepare_logged(self) -> None:
        """Build the backend now; a failure is logged (card work reports it again)."""
        try:
            self.prepare()
        except Exception:  # the top level of a timer callback
            log.exception("the kiosk backend could not be prepared")

    def read_card(self) -> CardStatus:
        """See FlowBackend."""
        return self.prepare().read_card()

    def authenticate(self, pin: str, service_id: str, provider_id: str) -> Authenticated:
        """See FlowBackend."""
        return self.prepare().authenticate(pin, service_id, provider_id)

    def read_signer(self, password: str, authenticated: Authenticated) -> EnrolmentCandidate:
        """See FlowBackend."""
        return self.prepare().read_signer(password, authenticated)

    def enrol(self, candidate: EnrolmentCandidate, provider_id: str) -> Link:
        """See FlowBackend."""
        return self.prepare().enrol(candidate, provider_id)

    def prepare_service(self, context: ServiceContext) -> ServicePreview | ServiceResult:
        """See FlowBackend."""
        return self.prepare().prepare_service(context)

    def run_service(self, context: ServiceContext) -> ServiceResult:
        """See FlowBackend."""
        return self.prepare().run_service(context)

    def run_assisted(self, context: ServiceContext, *, staff_id: str) -> ServiceResult:
        """See FlowBackend."""
        return self.prepare().run_assisted(context, staff_id=staff_id)

    def close_card(self) -> None:
        """See FlowBackend (nothing to close before the backend exists)."""
        if self._backend is not None:
            self._backend.close_card()


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
        for close in self.closers:
            close()


#: How long after showing the window the store is opened (the first frame is drawn by then).
PREPARE_DELAY_MS = 100


def start(cfg: Config, *, windowed: bool, reader: ReaderPort) -> Kiosk:
    """Show the kiosk at once; open the store, anchors and CRLs (or the platform client)
    behind the attract screen."""
    closers: list[Callable[[], None]] = []
    audits: list[FlowAudit] = []  # the store's audit, once the backend has opened it

    def build() -> CardBackend:
        if cfg.verification == "platform":
            return platform_backend(cfg, reader.connect, closers, audits)
        from kiosk.local import LocalContext

        local = LocalContext.from_config(cfg)
        closers.append(local.db.dispose)
        import_crls(cfg, local)
        return local_backend(cfg, local, reader.connect, audits)

    backend = DeferredBackend(build)
    staff = staff_desk(cfg, DeferredAudit(backend.prepare, audits), closers)
    window, controller = build_window(cfg, reader, backend, windowed=windowed, staff=staff)
    window.show_kiosk()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(PREPARE_DELAY_MS, backend.prepare_logged)
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

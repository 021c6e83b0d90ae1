"""pytest-qt fixtures: the real kiosk window over the in-process virtual card.

Everything is real except the reader (kiosk.card.reader.InProcessReader, the same card
applet the vpcd tests use) and the clock (a fake monotonic clock the tests move forward):
JPKI session, local verification with the test PKI's CRLs, links and audit in memory.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt, QtMsgType  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from kiosk.app import available_services, build_window, staff_desk  # noqa: E402
from kiosk.card.reader import InProcessReader  # noqa: E402
from kiosk.clock import utc_now  # noqa: E402
from kiosk.config import Config  # noqa: E402
from kiosk.demo.audit import MemoryAudit  # noqa: E402
from kiosk.demo.verification import MemoryVerificationStore  # noqa: E402
from kiosk.flow.machine import Screen  # noqa: E402
from kiosk.flow.staff import Credential, StaffMember  # noqa: E402
from kiosk.services.visit import Visit  # noqa: E402
from kiosk.simcard.applet import VirtualCard  # noqa: E402
from kiosk.verify.challenge import ChallengeService  # noqa: E402
from kiosk.verify.crl import verify_crl_in  # noqa: E402
from kiosk.verify.trust import TrustStore  # noqa: E402
from kiosk.verify.verifier import Verifier  # noqa: E402

STAFF_ID, STAFF_PIN = "1021", "24681357"
#: The cheapest scrypt parameters the kiosk accepts: a sign-in takes a fraction of a second.
CHEAP_SCRYPT = {"n": 2**14, "r": 8, "p": 5}
#: Qt messages the offscreen platform always prints; anything else fails the test.
_EXPECTED_QT = ("does not support propagateSizeHints",)


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def trust(test_pki):
    return TrustStore.from_dir(test_pki.trust_dir)


@pytest.fixture(scope="session")
def staff_members() -> tuple[StaffMember, ...]:
    """The configured staff: one member, staff number STAFF_ID with STAFF_PIN."""
    return (StaffMember(STAFF_ID, Credential.make(STAFF_PIN, **CHEAP_SCRYPT)),)


@dataclass
class Kiosk:
    """The running kiosk and the handles a test drives it with."""

    qtbot: object
    window: object
    controller: object
    reader: InProcessReader
    audit: MemoryAudit
    clock: FakeClock
    card_file: object
    verdicts: MemoryVerificationStore | None = None  # what the verifier recorded

    @property
    def screen(self) -> Screen:
        return self.controller.state.screen

    def wait_screen(self, screen: Screen, timeout: int = 5000) -> None:
        self.qtbot.waitUntil(lambda: self.screen is screen, timeout=timeout)
        self.qtbot.waitUntil(lambda: self.window.current_page() is self.window.pages[screen])

    def page(self):
        return self.window.current_page()

    def click(self, name: str) -> None:
        button = self.page().findChild(QPushButton, name) or self.window.findChild(
            QPushButton, name
        )
        assert button is not None, name
        assert button.isVisible(), f"{name} is not visible on {self.screen}"
        self.qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def type_secret(self, secret: str, submit: bool = True) -> None:
        for key in secret:
            self.click(f"key-{key}")
        if submit:
            self.click("ok")

    def pin_then_enrol(self, pin: str = "1234", password: str = "ABC123") -> None:
        """On the PIN screen of a first visit: the PIN, then the enrolment (the signature
        password, the 4 info confirmed, consent given); the flow goes on to the service."""
        self.type_secret(pin)
        self.wait_screen(Screen.PASSWORD)
        self.type_secret(password)
        self.wait_screen(Screen.REVIEW)
        self.click("confirm-info")
        self.wait_screen(Screen.ENROL_CONSENT)
        self.click("agree")

    def insert(self, card_file=None) -> VirtualCard:
        card = VirtualCard(card_file or self.card_file)
        self.reader.insert(card)
        return card

    def tick(self) -> None:
        """Wait for the controller's next timer tick."""
        with self.qtbot.waitSignal(self.controller.ticked, timeout=2000):
            pass

    def open_staff_login(self) -> None:
        """Hold the hidden corner until the staff login shows."""
        corner = self.window.staff_corner
        self.qtbot.mousePress(corner, Qt.MouseButton.LeftButton)
        self.wait_screen(Screen.STAFF_LOGIN)
        self.qtbot.mouseRelease(corner, Qt.MouseButton.LeftButton)

    def staff_login(self, staff_id: str = STAFF_ID, pin: str = STAFF_PIN) -> None:
        """Open the staff login, type the staff number, then the PIN, and wait for the menu."""
        self.open_staff_login()
        self.type_staff(staff_id, pin)
        self.wait_screen(Screen.STAFF_MENU)

    def type_staff(self, staff_id: str, pin: str) -> None:
        """On the staff login: the staff number, then (once it is asked for) the PIN."""
        self.type_secret(staff_id)
        self.qtbot.waitUntil(lambda: self.controller.state.staff_login_id == staff_id)
        self.type_secret(pin)


@pytest.fixture
def make_kiosk(qtbot, test_pki, card_file, trust, staff_members):
    """Build a kiosk (kiosk mode, hardened) with the given configuration overrides; its staff
    desk is the real one (app.staff_desk) over the same audit and the test's clock."""
    made = []
    closers: list = []

    def make(extra_services=None, records=None, handoff=None, **overrides) -> Kiosk:
        services = {**available_services(), **(extra_services or {})}
        index = MemoryVerificationStore()
        for which in ("auth", "sign"):
            index.import_crl(verify_crl_in(test_pki.crl_der(which), trust, utc_now()))
        challenges = ChallengeService()
        reader = InProcessReader()
        audit = MemoryAudit()
        backend = Visit(
            reader.connect,
            Verifier(trust, index, challenges),
            challenges,
            audit,
            services,
            "kiosk-1",
            utc_now,
            records=records,
            handoff=handoff,
        )
        settings = {"staff": staff_members, "sound": False, **overrides}
        clock = FakeClock()
        cfg = Config(**settings)
        window, controller = build_window(
            cfg,
            reader,
            backend,
            windowed=False,
            services=services,
            clock=clock,
            staff_hold_ms=50,
            staff=staff_desk(cfg, audit, closers, clock=clock),
        )
        qtbot.addWidget(window)
        window.show_kiosk()
        qtbot.waitExposed(window)
        kiosk = Kiosk(qtbot, window, controller, reader, audit, clock, card_file, index)
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.controller.stop()
        kiosk.window.staff_exit()
    for close in closers:
        close()


@pytest.fixture
def kiosk(make_kiosk) -> Kiosk:
    return make_kiosk()


@pytest.fixture(autouse=True)
def no_qt_warnings(qtlog):
    """Qt warnings fail a UI test (except the offscreen platform's own)."""
    yield
    bad = [
        r.message
        for r in qtlog.records
        if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg)
        and not any(e in r.message for e in _EXPECTED_QT)
    ]
    assert not bad, bad

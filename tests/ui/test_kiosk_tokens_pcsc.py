"""Tokens other than the card, through the kiosk as `kiosk run` starts it, the real pcscd and a
vpcd reader: an Android phone, an iPhone, a face-authentication card, and a phone where phones
are not taken (end to end).

The token is the virtual card served to vpcd by kiosk.simcard's VpcdClient on a thread, in the
personality it plays, so the test can insert and pull it, confirm on the "iPhone", and read the
applet's counter of PINs received. Phone certificates come from a PKI of their own (their own
CA, as in law), whose anchors the kiosk is given in `[tokens] phone_trust_dir` and whose CRLs
go in `crl_dir` with the card's. Reader and port: KIOSK_TEST_READER / KIOSK_TEST_VPCD_PORT.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reader_support import empty_reader

from kiosk.app import Kiosk, start
from kiosk.card.inprocess import InProcessConnection
from kiosk.card.reader import PcscReader
from kiosk.config import Config, TokensConfig
from kiosk.flow.machine import Screen, TokenRefusal
from kiosk.pki.authority import TestPki, init_pki
from kiosk.pki.cardfile import CardFile
from kiosk.simcard.applet import PinRef, VirtualCard
from kiosk.simcard.personality import Personality
from kiosk.simcard.vpcd import VpcdClient

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

READER = os.environ.get("KIOSK_TEST_READER", "Virtual PCD 00 00")
PORT = int(os.environ.get("KIOSK_TEST_VPCD_PORT", "35963"))
CARD_OUT_S = 1.0  # see tests/ui/test_kiosk_pcsc.py: a pull pcscd cannot miss


class Slot:
    """The token in the vpcd reader: `insert()` connects it, `pull()` takes it out."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.client: VpcdClient | None = None
        self.thread: threading.Thread | None = None
        self.pulled_at = float("-inf")

    def insert(self) -> None:
        out = time.monotonic() - self.pulled_at
        if out < CARD_OUT_S:
            time.sleep(CARD_OUT_S - out)  # a hand's pace, not a synchronisation
        self.client = VpcdClient(self.card, port=PORT)
        self.thread = threading.Thread(target=self.client.run, daemon=True)
        self.thread.start()

    def pull(self) -> None:
        if self.client is not None and self.thread is not None:
            self.client.stop()
            self.thread.join(10)
            self.client = None
            self.pulled_at = time.monotonic()


@pytest.fixture(scope="module")
def phone_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """The smartphone certificates' own CAs (a PKI apart from the cards')."""
    return init_pki(tmp_path_factory.mktemp("phone-pki") / "pki")


@pytest.fixture(scope="module")
def phone_file(phone_pki: TestPki) -> CardFile:
    """A phone's certificates (PIN 1234, password ABC123), issued by the phone CAs."""
    return phone_pki.issue_card()


@pytest.fixture
def crl_dir(tmp_path: Path, test_pki: TestPki, phone_pki: TestPki) -> Path:
    """The cards' and the phones' CRLs side by side, as the operator puts them."""
    target = tmp_path / "crl"
    target.mkdir()
    for prefix, pki in (("card-", test_pki), ("phone-", phone_pki)):
        for crl in sorted(pki.crl_dir.glob("*.crl")):
            shutil.copy(crl, target / f"{prefix}{crl.name}")
    return target


@pytest.fixture
def config(tmp_path: Path, test_pki: TestPki, phone_pki: TestPki, crl_dir: Path) -> Config:
    """A kiosk that takes phones, with the phones' anchors configured."""
    return Config(
        data_dir=tmp_path / "data",
        trust_dir=test_pki.trust_dir,
        crl_dir=crl_dir,
        reader=READER,
        sound=False,
        tokens=TokensConfig(accept_phones=True, phone_trust_dir=str(phone_pki.trust_dir)),
    )


class Run:
    """A started kiosk with a token in a slot, and the helpers to drive its screens."""

    def __init__(self, qtbot, kiosk: Kiosk, slot: Slot) -> None:
        self.qtbot, self.kiosk, self.slot = qtbot, kiosk, slot
        self.window, self.controller = kiosk.window, kiosk.controller

    @property
    def state(self):
        return self.controller.state

    def at(self, screen: Screen, timeout: int = 20_000) -> None:
        try:
            self.qtbot.waitUntil(lambda: self.state.screen is screen, timeout=timeout)
        except self.qtbot.TimeoutError:
            s = self.state
            raise AssertionError(
                f"waited for {screen}, the kiosk is on {s.screen} (reader {s.reader}, "
                f"problem {s.problem}, work {s.work}, refusal {s.token_refusal})"
            ) from None

    def type_secret(self, secret: str) -> None:
        pad = self.window.current_page().pad
        for key in secret:
            pad.press(key)
        pad.ok_button.click()

    def begin(self) -> None:
        self.qtbot.waitUntil(lambda: self.state.reader.value == "ready", timeout=10_000)
        self.window.pages[Screen.ATTRACT].start.click()
        self.at(Screen.INSERT_CARD)
        self.slot.insert()

    def finish(self) -> None:
        self.window.current_page().done.click()
        self.at(Screen.TAKE_CARD)
        self.slot.pull()
        self.at(Screen.ATTRACT)


@pytest.fixture
def run_kiosk(qtbot) -> Iterator:
    started: list[tuple[Kiosk, Slot]] = []

    def run(cfg: Config, card: VirtualCard) -> Run:
        empty_reader(READER)
        kiosk = start(cfg, windowed=False, reader=PcscReader(READER))
        qtbot.addWidget(kiosk.window)
        slot = Slot(card)
        started.append((kiosk, slot))
        return Run(qtbot, kiosk, slot)

    yield run
    for kiosk, slot in started:
        slot.pull()
        kiosk.stop()
        kiosk.window.staff_exit()
    if started:  # the next test finds the reader empty: pcscd saw the pull
        _wait_reader_empty()


def _wait_reader_empty(timeout: float = 10.0) -> None:
    from kiosk.card import pcsc

    deadline = time.monotonic() + timeout
    while pcsc.reader_states().get(READER) is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"{READER!r} still shows a card {timeout:.0f} s after the pull")
        time.sleep(0.05)


def test_android_phone_enrols_then_proves_with_its_own_pin(run_kiosk, config, phone_file):
    card = VirtualCard(phone_file, personality=Personality.ANDROID)
    run = run_kiosk(config, card)
    run.begin()
    run.at(Screen.PIN)
    assert run.state.card.auth_retries == 3
    notice = run.window.current_page().notice.text()
    assert "スマートフォンに設定した暗証番号" in notice  # the phone's own PIN, not the card's
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}  # discovery sent none
    run.type_secret("1234")
    run.at(Screen.PASSWORD)
    run.type_secret("ABC123")
    run.at(Screen.REVIEW)
    run.window.current_page().confirm.click()
    run.at(Screen.ENROL_CONSENT)
    run.window.current_page().agree.click()
    run.at(Screen.RESULT)
    assert run.state.result.ok
    account = run.state.result.rows[0].value
    assert card.pins_received == {PinRef.AUTH: 1, PinRef.SIGN: 1}  # once per entry
    run.finish()

    # the next visit: the phone's PIN once, and the link made with the phone is found
    run.window.pages[Screen.ATTRACT].start.click()
    run.slot.insert()
    run.at(Screen.PIN)
    run.type_secret("1234")
    run.at(Screen.RESULT)
    assert run.state.result.ok and run.state.result.rows[0].value == account
    assert card.pins_received == {PinRef.AUTH: 2, PinRef.SIGN: 1}


def _link_iphone(config: Config, phone_file: CardFile) -> str:
    """Link the iPhone's certificates to an account before the kiosk runs: the platform's
    card ↔ phone correspondence would do it (an iPhone cannot register at the kiosk). Here
    the same certificates sign an enrolment in process, as a card with a password would."""
    from kiosk.app import local_backend
    from kiosk.local import LocalContext

    local = LocalContext.from_config(config)
    try:
        from kiosk.local import import_crls

        import_crls(config, local)
        as_card = VirtualCard(phone_file)  # the same keys, answering as a card with PINs
        visit = local_backend(config, local, lambda: InProcessConnection(as_card), services={})
        visit.read_card()
        provider = config.provider_id
        authenticated = visit.authenticate("1234", "identity", provider)
        candidate = visit.read_signer("ABC123", authenticated)
        link = visit.enrol(candidate, provider)
        visit.close_card()
        return link.account_ref
    finally:
        local.db.dispose()


def test_iphone_asks_to_confirm_on_the_phone_then_proves_without_a_pin(
    run_kiosk, config, phone_file
):
    account = _link_iphone(config, phone_file)
    card = VirtualCard(phone_file, personality=Personality.IPHONE)
    run = run_kiosk(config, card)
    run.begin()
    run.at(Screen.CONFIRM_ON_PHONE)  # tried at once: not confirmed yet, nothing signed
    assert "Face ID" in run.window.current_page().text.text()
    card.confirm()  # the person's Face ID on the phone
    run.window.current_page().confirmed.click()
    run.at(Screen.RESULT)
    assert run.state.result.ok and run.state.result.rows[0].value == account
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}
    assert not card.confirmed  # the confirmation served its one signature
    run.finish()


def test_face_auth_card_gets_a_screen_that_says_what_to_do_instead(run_kiosk, config, card_file):
    card = VirtualCard(card_file, personality=Personality.FACE_AUTH)
    run = run_kiosk(config, card)
    run.begin()
    run.at(Screen.TOKEN_REFUSED)
    assert run.state.token_refusal is TokenRefusal.FACE_AUTH
    text = run.window.current_page().text.text()
    assert "顔認証付きカードリーダー" in text and "市区町村" in text
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}
    assert card.card.auth.retries_left == card_file.auth.retries_left
    run.finish()


def test_a_phone_where_phones_are_not_taken_is_refused_plainly(run_kiosk, config, phone_file):
    cfg = Config(
        data_dir=config.data_dir,
        trust_dir=config.trust_dir,
        crl_dir=config.crl_dir,
        reader=READER,
        sound=False,
    )  # [tokens] not set: phones off
    card = VirtualCard(phone_file, personality=Personality.ANDROID)
    run = run_kiosk(cfg, card)
    run.begin()
    run.at(Screen.TOKEN_REFUSED)
    assert run.state.token_refusal is TokenRefusal.PHONES_OFF
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}
    run.finish()


def test_an_iphone_confirmed_before_the_tap_that_has_no_link_cannot_register(
    run_kiosk, config, phone_file
):
    card = VirtualCard(phone_file, personality=Personality.IPHONE)
    card.confirm()  # Face ID before the phone is held to the reader
    run = run_kiosk(config, card)
    run.begin()
    run.at(Screen.TOKEN_REFUSED)  # proved at once (accepted), but registering needs a password
    assert run.state.token_refusal is TokenRefusal.IPHONE_ENROL
    assert run.state.authenticated is not None and run.state.authenticated.link is None
    assert "iPhone" in run.window.current_page().title.text()
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}
    run.finish()

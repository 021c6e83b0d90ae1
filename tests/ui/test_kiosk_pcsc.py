"""The kiosk as `kiosk run` starts it, over the real pcscd and a vpcd reader (end to end).

The card is the virtual card served to vpcd by kiosk.simcard's VpcdClient on a thread, so the
test can insert and pull it. Reader and port: KIOSK_TEST_READER / KIOSK_TEST_VPCD_PORT.
"""

from __future__ import annotations

import os
import threading

import pytest

from kiosk.app import start
from kiosk.card.reader import PcscReader
from kiosk.config import Config
from kiosk.flow.machine import Screen
from kiosk.simcard.applet import VirtualCard
from kiosk.simcard.vpcd import VpcdClient

pytestmark = pytest.mark.e2e

READER = os.environ.get("KIOSK_TEST_READER", "Virtual PCD 00 00")
PORT = int(os.environ.get("KIOSK_TEST_VPCD_PORT", "35963"))


class Slot:
    """The card in the vpcd reader: `insert()` connects it, `pull()` takes it out."""

    def __init__(self, card_file) -> None:
        self.card = VirtualCard(card_file)
        self.client: VpcdClient | None = None
        self.thread: threading.Thread | None = None

    def insert(self) -> None:
        self.client = VpcdClient(self.card, port=PORT)
        self.thread = threading.Thread(target=self.client.run, daemon=True)
        self.thread.start()

    def pull(self) -> None:
        if self.client is not None:
            self.client.stop()
            self.thread.join(10)
            self.client = None


@pytest.fixture
def pcsc_kiosk(qtbot, tmp_path, test_pki, card_file):
    from kiosk.card import pcsc
    from kiosk.card.errors import CardError

    try:
        readers = pcsc.reader_states()
    except CardError as e:
        pytest.skip(f"pcscd is not reachable: {e}")
    if READER not in readers:
        pytest.skip(f"pcscd does not list {READER!r} (readers: {sorted(readers)})")
    if readers[READER] is not None:
        pytest.skip(f"{READER!r} already has a card (another test is using it)")
    cfg = Config(
        data_dir=tmp_path,
        trust_dir=test_pki.trust_dir,
        crl_dir=test_pki.crl_dir,
        reader=READER,
        sound=False,
    )
    kiosk = start(cfg, windowed=False, reader=PcscReader(READER))
    qtbot.addWidget(kiosk.window)
    slot = Slot(card_file)
    yield qtbot, kiosk, slot
    slot.pull()
    kiosk.stop()
    kiosk.window.staff_exit()


def test_visits_over_pcsc(pcsc_kiosk):
    qtbot, kiosk, slot = pcsc_kiosk
    controller, window = kiosk.controller, kiosk.window
    state = lambda: controller.state  # noqa: E731

    def at(screen: Screen, timeout: int = 20_000) -> None:
        qtbot.waitUntil(lambda: state().screen is screen, timeout=timeout)

    def type_secret(secret: str) -> None:
        pad = window.current_page().pad
        for key in secret:
            pad.press(key)
        pad.ok_button.click()

    qtbot.waitUntil(lambda: state().reader.value == "ready", timeout=10_000)
    window.pages[Screen.ATTRACT].start.click()
    at(Screen.INSERT_CARD)
    slot.insert()
    at(Screen.PIN)
    assert state().card.auth_retries == 3
    type_secret("1234")
    at(Screen.PASSWORD)
    type_secret("ABC123")
    at(Screen.REVIEW)
    window.current_page().confirm.click()
    at(Screen.ENROL_CONSENT)
    window.current_page().agree.click()
    at(Screen.RESULT)
    account = state().result.rows[0].value
    window.current_page().done.click()
    at(Screen.TAKE_CARD)
    slot.pull()
    at(Screen.ATTRACT)

    # Second visit: the card pulled while the PIN pad shows, put back, then straight through.
    window.pages[Screen.ATTRACT].start.click()
    slot.insert()
    at(Screen.PIN)
    slot.pull()
    at(Screen.PUT_BACK)
    slot.insert()
    at(Screen.PIN)
    type_secret("1234")
    at(Screen.RESULT)
    assert state().result.rows[0].value == account

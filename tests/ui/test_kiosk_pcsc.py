"""The kiosk as `kiosk run` starts it, over the real pcscd and a vpcd reader (end to end).

The card is the virtual card served to vpcd by kiosk.simcard's VpcdClient on a thread, so the
test can insert and pull it. Reader and port: KIOSK_TEST_READER / KIOSK_TEST_VPCD_PORT.
"""

from __future__ import annotations

import os
import threading
import time

import pytest
from reader_support import empty_reader

from kiosk.app import start
from kiosk.card.reader import PcscReader
from kiosk.config import Config
from kiosk.flow.machine import Screen
from kiosk.simcard.applet import VirtualCard
from kiosk.simcard.vpcd import VpcdClient

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

READER = os.environ.get("KIOSK_TEST_READER", "Virtual PCD 00 00")
PORT = int(os.environ.get("KIOSK_TEST_VPCD_PORT", "35963"))


#: How long a pulled card stays out before it can go back in. pcscd polls vpcd's reader every
#: 0.4 s; a card pulled and put back between two polls is, to pcscd, a card that never left,
#: and when the kiosk's reset of the pulled card failed in between (pcscd then marks the reader
#: empty), pcscd never reports the card that came back. No hand is that fast: the slot waits out
#: two polls and a half, as a person does.
CARD_OUT_S = 1.0


class Slot:
    """The card in the vpcd reader: `insert()` connects it, `pull()` takes it out."""

    def __init__(self, card_file) -> None:
        self.card = VirtualCard(card_file)
        self.client: VpcdClient | None = None
        self.thread: threading.Thread | None = None
        self.pulled_at = float("-inf")

    def insert(self) -> None:
        out = time.monotonic() - self.pulled_at
        if out < CARD_OUT_S:
            time.sleep(CARD_OUT_S - out)
        self.client = VpcdClient(self.card, port=PORT)
        self.thread = threading.Thread(target=self.client.run, daemon=True)
        self.thread.start()

    def pull(self) -> None:
        if self.client is not None:
            self.client.stop()
            self.thread.join(10)
            self.client = None
            self.pulled_at = time.monotonic()


@pytest.fixture
def pcsc_kiosk(qtbot, tmp_path, test_pki, card_file):
    empty_reader(READER)
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


def _raw_states() -> list[tuple[str, str, str]]:
    """Each reader's state flags and ATR as pcscd reports them (for a failure's message)."""
    from smartcard.scard import SCARD_SCOPE_USER, SCardEstablishContext, SCardReleaseContext

    from kiosk.card import pcsc

    _, context = SCardEstablishContext(SCARD_SCOPE_USER)
    try:
        states = pcsc._status(context, pcsc._list_readers(context))
        return [(name, hex(event), atr.hex()) for name, event, atr in states]
    finally:
        SCardReleaseContext(context)


def test_visits_over_pcsc(pcsc_kiosk):
    qtbot, kiosk, slot = pcsc_kiosk
    controller, window = kiosk.controller, kiosk.window
    state = lambda: controller.state  # noqa: E731

    def at(screen: Screen, timeout: int = 20_000) -> None:
        try:
            qtbot.waitUntil(lambda: state().screen is screen, timeout=timeout)
        except qtbot.TimeoutError:  # say where the kiosk was instead
            s = state()
            alive = slot.thread is not None and slot.thread.is_alive()
            raise AssertionError(
                f"waited for {screen}, the kiosk is on {s.screen} (reader {s.reader}, "
                f"problem {s.problem}, work {s.work}); pcscd says {_raw_states()}, "
                f"card thread alive: {alive}"
            ) from None

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

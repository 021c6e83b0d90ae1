"""The kiosk as `kiosk run` starts it, over the real pcscd and a vpcd reader, with a
next-generation (ECDSA P-384) card: it enrols on the first visit and is recognised on the next.

The card is the virtual card served to vpcd by kiosk.simcard's VpcdClient on a thread. Reader
and port: KIOSK_TEST_READER / KIOSK_TEST_VPCD_PORT (as tests/ui/test_kiosk_pcsc.py).
"""

from __future__ import annotations

import os
import threading

import pytest
from reader_support import empty_reader

from kiosk.app import start
from kiosk.card.reader import PcscReader
from kiosk.config import Config
from kiosk.flow.machine import Screen
from kiosk.pki.authority import Generation, init_pki
from kiosk.simcard.applet import PinRef, VirtualCard
from kiosk.simcard.vpcd import VpcdClient

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

READER = os.environ.get("KIOSK_TEST_READER", "Virtual PCD 00 00")
PORT = int(os.environ.get("KIOSK_TEST_VPCD_PORT", "35963"))


class Slot:
    """The next-generation card in the vpcd reader: `insert()` connects it, `pull()` takes it
    out (and waits for the thread; the reader's emptiness is the kiosk's to see)."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.client: VpcdClient | None = None
        self.thread: threading.Thread | None = None

    def insert(self) -> None:
        self.client = VpcdClient(self.card, port=PORT)
        self.thread = threading.Thread(target=self.client.run, daemon=True)
        self.thread.start()

    def pull(self) -> None:
        if self.client is not None and self.thread is not None:
            self.client.stop()
            self.thread.join(10)
            self.client = None


@pytest.fixture
def next_card_kiosk(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    empty_reader(READER)
    pki = init_pki(tmp_path / "pki")
    card = VirtualCard(pki.issue_card(generation=Generation.NEXT))
    cfg = Config(
        data_dir=tmp_path,
        trust_dir=pki.trust_dir,  # today's and the next generation's roots
        crl_dir=pki.crl_dir,  # auth-next.crl and sign-next.crl among them
        reader=READER,
        sound=False,
    )
    kiosk = start(cfg, windowed=False, reader=PcscReader(READER))
    qtbot.addWidget(kiosk.window)
    slot = Slot(card)
    yield qtbot, kiosk, slot
    slot.pull()
    kiosk.stop()
    kiosk.window.staff_exit()


def test_a_next_generation_card_enrols_then_is_recognised(next_card_kiosk) -> None:  # type: ignore[no-untyped-def]
    qtbot, kiosk, slot = next_card_kiosk
    controller, window = kiosk.controller, kiosk.window

    def at(screen: Screen, timeout: int = 20_000) -> None:
        try:
            qtbot.waitUntil(lambda: controller.state.screen is screen, timeout=timeout)
        except qtbot.TimeoutError:
            s = controller.state
            raise AssertionError(
                f"waited for {screen}, the kiosk is on {s.screen} (problem {s.problem})"
            ) from None

    def type_secret(secret: str) -> None:
        pad = window.current_page().pad
        for key in secret:
            pad.press(key)
        pad.ok_button.click()

    qtbot.waitUntil(lambda: controller.state.reader.value == "ready", timeout=10_000)
    window.pages[Screen.ATTRACT].start.click()
    at(Screen.INSERT_CARD)
    slot.insert()
    at(Screen.PIN)
    assert controller.state.card.auth_retries == 3
    type_secret("1234")
    at(Screen.PASSWORD)
    type_secret("ABC123")
    at(Screen.REVIEW)
    window.current_page().confirm.click()
    at(Screen.ENROL_CONSENT)
    window.current_page().agree.click()
    at(Screen.RESULT)  # the enrolment's two ECDSA signatures verified, the link made
    account = controller.state.result.rows[0].value
    assert slot.card.pins_received == {PinRef.AUTH: 1, PinRef.SIGN: 1}
    window.current_page().done.click()
    at(Screen.TAKE_CARD)
    slot.pull()
    at(Screen.ATTRACT)

    window.pages[Screen.ATTRACT].start.click()
    slot.insert()
    at(Screen.PIN)
    type_secret("1234")
    at(Screen.RESULT)  # the proof verified and its link found
    assert controller.state.result.rows[0].value == account
    assert slot.card.pins_received == {PinRef.AUTH: 2, PinRef.SIGN: 1}

"""End-to-end fixtures: the real pcscd, a vpcd reader and `kiosk sim insert` as a subprocess.

The reader and its vpcd port come from KIOSK_TEST_READER (default "Virtual PCD 00 00") and
KIOSK_TEST_VPCD_PORT (default 35963). When pcscd or the reader is missing the tests skip
with the reason; in CI the top-level conftest turns any e2e skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from smartcard.scard import (
    SCARD_S_SUCCESS,
    SCARD_SCOPE_USER,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAWARE,
    SCardEstablishContext,
    SCardGetStatusChange,
    SCardListReaders,
    SCardReleaseContext,
)

INSERT_TIMEOUT = 20.0  # seconds; vpcd is polled by pcscd every 0.4 s
PULL_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def vpcd_port() -> int:
    """The vpcd port of the reader the e2e tests use."""
    return int(os.environ.get("KIOSK_TEST_VPCD_PORT", "35963"))


@pytest.fixture(scope="session")
def reader_name(pcsc_context: int) -> str:
    """The PC/SC name of the vpcd reader; skips when pcscd does not list it."""
    name = os.environ.get("KIOSK_TEST_READER", "Virtual PCD 00 00")
    hresult, readers = SCardListReaders(pcsc_context, [])
    if hresult != SCARD_S_SUCCESS or name not in readers:
        pytest.skip(
            f"pcscd does not list the reader {name!r} (readers: {readers or 'none'}); "
            "install vsmartcard-vpcd and (re)start pcscd after it"
        )
    return name


@pytest.fixture(scope="session")
def pcsc_context() -> Iterator[int]:
    """A PC/SC context on the running pcscd; skips when pcscd is not reachable."""
    hresult, context = SCardEstablishContext(SCARD_SCOPE_USER)
    if hresult != SCARD_S_SUCCESS:
        pytest.skip(f"pcscd is not reachable (SCardEstablishContext: {hresult:#x}); start pcscd")
    yield context
    SCardReleaseContext(context)


def card_present(context: int, reader: str) -> bool:
    """Whether pcscd sees a card in the reader right now."""
    hresult, states = SCardGetStatusChange(context, 0, [(reader, SCARD_STATE_UNAWARE)])
    return hresult == SCARD_S_SUCCESS and bool(states[0][1] & SCARD_STATE_PRESENT)


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


class InsertedCard:
    """A `kiosk sim insert` subprocess serving one card file in the test reader."""

    def __init__(self, context: int, reader: str, port: int, card_path: Path, log: Path) -> None:
        self.context = context
        self.reader = reader
        self.port = port
        self.card_path = card_path
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def insert(self) -> None:
        """Start the simulator and wait until pcscd sees the card."""
        if card_present(self.context, self.reader):
            pytest.fail(f"{self.reader} already holds a card: is another simulator on {self.port}?")
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "sim", "insert", str(self.card_path)]
                + ["--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = self._process

        def arrived() -> bool:
            if process.poll() is not None:
                pytest.fail(f"kiosk sim insert exited ({process.returncode}):\n{self.output()}")
            return card_present(self.context, self.reader)

        wait_until(
            arrived,
            INSERT_TIMEOUT,
            f"the card in {self.reader} (vpcd port {self.port}; pcscd must serve that port: "
            "vpcd's driver keeps one context per slot, so a second vpcd reader.conf entry "
            "in the same pcscd takes over the first one's ports)",
        )

    def pull(self) -> None:
        """Stop the simulator (pulling the card out) and wait until the reader is empty."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            code = process.wait(timeout=PULL_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"kiosk sim insert ignored SIGTERM:\n{self.output()}")
        assert code == 0, self.output()
        wait_until(
            lambda: not card_present(self.context, self.reader),
            PULL_TIMEOUT,
            f"{self.reader} to report the card removed",
        )

    def output(self) -> str:
        """What the simulator printed so far."""
        return self._log.read_text(errors="replace") if self._log.exists() else ""


@pytest.fixture
def inserted_card(
    pcsc_context: int, reader_name: str, vpcd_port: int, card_path: Path, tmp_path: Path
) -> Iterator[InsertedCard]:
    """The test card in the reader for the duration of the test."""
    card = InsertedCard(pcsc_context, reader_name, vpcd_port, card_path, tmp_path / "sim.log")
    card.insert()
    try:
        yield card
    finally:
        card.pull()


@pytest.fixture
def pull_card(inserted_card: InsertedCard):
    """A helper that pulls the inserted card out mid-test (and waits until pcscd sees it)."""
    return inserted_card.pull

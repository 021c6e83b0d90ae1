"""The vpcd adapter against a fake vpcd server on a loopback socket (no pcscd needed)."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.pki.cardfile import CardFile, load_card, save_card
from kiosk.simcard.applet import ATR, VirtualCard
from kiosk.simcard.vpcd import VpcdClient, describe_command

SELECT_AP = bytes.fromhex("00A4040C0AD392F000260100000001")


class FakeVpcd:
    """The reader side of vpcd: accepts the card and sends frames like vpcd does."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(10)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.server.accept()
        self.conn.settimeout(10)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        # vpcd writes the length and the payload separately (the latency trap)
        self.conn.send(len(payload).to_bytes(2, "big"))
        self.conn.send(payload)

    def recv(self) -> bytes:
        size = int.from_bytes(self._exact(2), "big")
        return self._exact(size)

    def _exact(self, size: int) -> bytes:
        assert self.conn is not None
        data = b""
        while len(data) < size:
            chunk = self.conn.recv(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def transmit(self, apdu: bytes) -> bytes:
        self.send(apdu)
        return self.recv()

    def drop(self) -> None:
        assert self.conn is not None
        self.conn.close()
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


class Running:
    """A VpcdClient serving in a background thread."""

    def __init__(self, client: VpcdClient) -> None:
        self.client = client
        self.thread = threading.Thread(target=client.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.client.stop()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "the client did not stop"


@pytest.fixture
def card_on_disk(card_path: Path) -> VirtualCard:
    return VirtualCard(load_card(card_path), on_change=lambda c: save_card(card_path, c))


@pytest.fixture
def running(card_on_disk: VirtualCard, vpcd: FakeVpcd) -> Iterator[Running]:
    connected = threading.Event()
    run = Running(VpcdClient(card_on_disk, port=vpcd.port, on_connected=connected.set))
    vpcd.accept()
    assert connected.wait(5)
    yield run
    run.stop()


def test_control_messages_and_apdus(running: Running, vpcd: FakeVpcd) -> None:
    vpcd.send(b"\x01")  # power on: no answer
    assert vpcd.transmit(b"\x04") == ATR
    assert vpcd.transmit(SELECT_AP) == b"\x90\x00"
    assert vpcd.transmit(bytes.fromhex("00A4020C02000A")) == b"\x90\x00"
    vpcd.send(b"\x02")  # reset: nothing selected any more
    assert vpcd.transmit(bytes.fromhex("00B0000004")) == bytes.fromhex("6986")
    vpcd.send(b"\x07")  # unknown control message: ignored
    assert vpcd.transmit(b"\x04") == ATR
    assert vpcd.transmit(b"\x00\xa4") == bytes.fromhex("6700")


def test_retry_counters_persist_to_the_card_file(
    running: Running, vpcd: FakeVpcd, card_path: Path, card_file: CardFile
) -> None:
    wrong = b"0000" if card_file.auth.pin != "0000" else b"1111"
    assert vpcd.transmit(SELECT_AP) == b"\x90\x00"
    assert vpcd.transmit(bytes.fromhex("0020009804") + wrong) == bytes.fromhex("63C2")
    assert load_card(card_path).auth.retries_left == 2
    assert load_card(card_path).sign.retries_left == card_file.sign.retries_left


def test_reconnects_after_vpcd_drops_and_forgets_the_pin(
    running: Running, vpcd: FakeVpcd, card_file: CardFile
) -> None:
    pin = card_file.auth.pin.encode()
    assert vpcd.transmit(SELECT_AP) == b"\x90\x00"
    assert vpcd.transmit(bytes.fromhex("0020009804") + pin) == b"\x90\x00"
    vpcd.drop()  # pcscd restarts
    vpcd.accept()
    assert vpcd.transmit(SELECT_AP) == b"\x90\x00"
    digest_info = bytes.fromhex("3031300D060960864801650304020105000420") + bytes(32)
    assert vpcd.transmit(bytes.fromhex("802A009733") + digest_info + b"\x00") == bytes.fromhex(
        "6982"
    )


class _Refused(logging.Handler):
    """Notes when the client has found nobody listening."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "not reachable" in record.getMessage():
            self.seen.set()


def test_waits_for_vpcd_to_appear(card_file: CardFile) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    logger = logging.getLogger("kiosk.simcard.vpcd")
    refused, level = _Refused(), logger.level
    logger.addHandler(refused)
    logger.setLevel(logging.DEBUG)
    run = Running(VpcdClient(VirtualCard(card_file), port=port, min_delay=0.01, max_delay=0.05))
    try:
        assert refused.seen.wait(5)
        fake = FakeVpcd(port)
        try:
            fake.accept()
            assert fake.transmit(b"\x04") == ATR
        finally:
            fake.close()
    finally:
        run.stop()
        logger.removeHandler(refused)
        logger.setLevel(level)


def test_stop_pulls_the_card(running: Running, vpcd: FakeVpcd) -> None:
    assert vpcd.transmit(b"\x04") == ATR
    running.stop()
    with pytest.raises(EOFError):
        vpcd.recv()


def test_latency_per_apdu_is_not_the_socket(running: Running, vpcd: FakeVpcd) -> None:
    """vpcd's split writes + delayed ACKs would cost ~40 ms per APDU without TCP_QUICKACK."""
    vpcd.transmit(SELECT_AP)
    count = 100
    start = time.perf_counter()
    for _ in range(count):
        assert vpcd.transmit(bytes.fromhex("00A4020C020008")) == b"\x90\x00"
    per_apdu = (time.perf_counter() - start) / count
    assert per_apdu < 0.01, f"{per_apdu * 1000:.1f} ms per APDU"


def test_trace_redacts_pins(
    running: Running, vpcd: FakeVpcd, card_file: CardFile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kiosk.simcard.vpcd")
    vpcd.transmit(SELECT_AP)
    pin = card_file.auth.pin.encode()
    vpcd.transmit(bytes.fromhex("0020009804") + pin)
    vpcd.transmit(bytes.fromhex("0024019804") + b"5678")
    text = caplog.text
    assert "00a4040c0ad392f000260100000001" in text
    assert "0020009804 <4 bytes redacted>" in text
    assert pin.hex() not in text and b"5678".hex() not in text


def test_describe_command() -> None:
    assert describe_command(bytes.fromhex("00200080")) == "00200080"
    assert describe_command(bytes.fromhex("002000800431323334")) == "0020008004 <4 bytes redacted>"
    assert describe_command(bytes.fromhex("00B0000004")) == "00b0000004"


def test_sim_insert_command_prints_connects_and_stops_on_sigterm(
    vpcd: FakeVpcd, card_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sim", "insert", str(card_path)]
        + ["--port", str(vpcd.port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        vpcd.accept()
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"card inserted in vpcd 127.0.0.1:{vpcd.port}"
        assert vpcd.transmit(b"\x04") == ATR
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        with pytest.raises(EOFError):
            vpcd.recv()
    finally:
        process.kill()
        process.communicate()

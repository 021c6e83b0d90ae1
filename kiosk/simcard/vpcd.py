"""The vpcd socket adapter: plugs a `VirtualCard` into pcscd's virtual reader.

vpcd (vsmartcard) listens on 127.0.0.1:35963; the card connects to it. Every message is a
2-byte big-endian length and a payload. A 1-byte payload is a control message (00 power
off, 01 power on, 02 reset, 04 ATR request → the ATR, no status word); anything else is a
C-APDU, answered with the R-APDU. While the socket is open the reader shows a card; closing
it is pulling the card out. When vpcd is not there (pcscd not started yet, or restarting)
the client retries with a growing delay until it is stopped.
"""

from __future__ import annotations

import logging
import select
import socket
from collections.abc import Callable

from kiosk.simcard.applet import VirtualCard

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963

CTRL_OFF = 0x00
CTRL_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04

#: INS bytes whose command data is a PIN: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER.
_SECRET_INS = (0x20, 0x24, 0x2C)


class _Stopped(Exception):
    """Raised inside the loop when `stop()` was called."""


def describe_command(apdu: bytes) -> str:
    """Hex of a C-APDU for the trace, with any PIN replaced by its length."""
    if len(apdu) > 5 and apdu[1] in _SECRET_INS:
        return f"{apdu[:5].hex()} <{len(apdu) - 5} bytes redacted>"
    return apdu.hex()


def handle_frame(card: VirtualCard, payload: bytes) -> bytes | None:
    """Apply one vpcd message to the card; the reply payload, or None when there is none."""
    if len(payload) == 1:
        ctrl = payload[0]
        log.debug("vpcd control %02x", ctrl)
        if ctrl == CTRL_ATR:
            return card.atr
        if ctrl == CTRL_ON:
            card.power_on()
        elif ctrl == CTRL_OFF:
            card.power_off()
        elif ctrl == CTRL_RESET:
            card.reset()
        else:
            log.debug("unknown vpcd control message %02x ignored", ctrl)
        return None
    response = card.transmit(payload)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("C: %s", describe_command(payload))
        log.debug("R: %d bytes %s", len(response) - 2, response[-2:].hex())
    return response


class VpcdClient:
    """Connects a virtual card to vpcd and serves it until `stop()`."""

    def __init__(
        self,
        card: VirtualCard,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        on_connected: Callable[[], None] | None = None,
        min_delay: float = 0.05,
        max_delay: float = 1.0,
    ) -> None:
        self._card = card
        self._address = (host, port)
        self._on_connected = on_connected
        self._min_delay = min_delay
        self._max_delay = max_delay
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = False

    def stop(self) -> None:
        """Ask the loop to pull the card out and return; safe from a signal handler."""
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the wake-up byte is already pending, or the client has finished

    def run(self) -> None:
        """Serve the card, reconnecting after each disconnection, until stopped."""
        delay = self._min_delay
        try:
            while not self._stopping:
                try:
                    sock = socket.create_connection(self._address, timeout=1.0)
                except OSError as e:
                    log.debug("vpcd %s:%d not reachable (%s)", *self._address, e)
                    self._wait(delay)
                    delay = min(delay * 2, self._max_delay)
                    continue
                delay = self._min_delay
                with sock:
                    self._serve(sock)
                self._card.power_off()
                self._wait(self._min_delay)  # no busy loop if vpcd keeps dropping us
        except _Stopped:
            pass
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log.debug("connected to vpcd %s:%d", *self._address)
        if self._on_connected is not None:
            self._on_connected()
        try:
            while True:
                header = self._recv_exact(sock, 2)
                if header is None:
                    log.info("vpcd closed the connection")
                    return
                payload = self._recv_exact(sock, int.from_bytes(header, "big"))
                if payload is None:
                    return
                reply = handle_frame(self._card, payload)
                if reply is not None:
                    sock.sendall(len(reply).to_bytes(2, "big") + reply)
        except ConnectionError as e:
            log.info("vpcd connection lost (%s)", e.__class__.__name__)

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes | None:
        """Exactly `size` bytes from the socket; None on end of stream."""
        chunks = bytearray()
        while len(chunks) < size:
            self._wait_readable(sock)
            if hasattr(socket, "TCP_QUICKACK"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(size - len(chunks))
            if not chunk:
                return None
            chunks += chunk
        return bytes(chunks)

    def _wait_readable(self, sock: socket.socket) -> None:
        readable, _, _ = select.select([sock, self._wake_r], [], [])
        if self._wake_r in readable or self._stopping:
            raise _Stopped

    def _wait(self, seconds: float) -> None:
        readable, _, _ = select.select([self._wake_r], [], [], seconds)
        if readable or self._stopping:
            raise _Stopped

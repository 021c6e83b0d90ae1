"""The card port: one `transmit`, short APDU encoding and the single status-word check.

A command that carries a secret (a PIN or password) is sent once and only once: whatever the
card answers — 61xx, 6Cxx, any refusal — is its answer. No GET RESPONSE follows it and no
re-issue with another Le, so the secret reaches the card at most once per call; the session
above decides what the status word means and never calls again for the same entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Protocol

from kiosk.card.errors import ApduError, CardError

#: A log level below DEBUG for APDU traces; enable it deliberately (`logging.getLogger(
#: "kiosk.card.apdu").setLevel(TRACE)`).
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

SW_OK = 0x9000
#: Instructions whose command data is a secret (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
#: COUNTER): their data never reaches a log, and an `Apdu` with such data must be `secret`.
SECRET_INS = frozenset({0x20, 0x24, 0x2C})
#: GET RESPONSE rounds accepted for one command (256 × 256 bytes is far above any JPKI answer).
MAX_GET_RESPONSE = 256

_trace = logging.getLogger("kiosk.card.apdu")


class CardConnection(Protocol):
    """A connection to one card: send one command APDU, get the data and the status word."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send a command APDU; return the response data and SW1 SW2 as one int."""
        ...

    def close(self) -> None:
        """Release the card."""
        ...


@dataclass(frozen=True, slots=True)
class Apdu:
    """A short command APDU (ISO 7816-4 cases 1–4); `le` 1..256, None for no Le.

    `secret` marks data that is a PIN or password: such a command is sent exactly once
    (`send`), and its data never appears in the APDU's repr. Data for a SECRET_INS command
    must be marked so, which makes the send-once rule impossible to forget.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = field(default=b"", repr=False)
    le: int | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if not all(0 <= b <= 0xFF for b in (self.cla, self.ins, self.p1, self.p2)):
            raise ValueError("CLA, INS, P1 and P2 are single bytes")
        if len(self.data) > 255:
            raise ValueError("short APDUs carry at most 255 bytes of data")
        if self.le is not None and not 1 <= self.le <= 256:
            raise ValueError("Le must be 1..256")
        if self.data and self.ins in SECRET_INS and not self.secret:
            raise ValueError(f"the data of INS {self.ins:02X} is a secret: mark the APDU secret")

    def encode(self) -> bytes:
        """The APDU bytes: header, then Lc ‖ data if any, then Le if any (256 as 00)."""
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le & 0xFF,))
        return out


class MeteredConnection:
    """A CardConnection that counts the commands and bytes passing through another one."""

    def __init__(self, inner: CardConnection):
        self.inner = inner
        #: CLA INS P1 P2 of every command sent (never the data: it may be a PIN).
        self.headers: list[bytes] = []
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def apdus(self) -> int:
        """How many command APDUs were sent."""
        return len(self.headers)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Count and forward one command APDU."""
        self.headers.append(apdu[:4])
        self.bytes_sent += len(apdu)
        data, sw = self.inner.transmit(apdu)
        self.bytes_received += len(data) + 2
        return data, sw

    def close(self) -> None:
        """Close the inner connection."""
        self.inner.close()


def _le(sw2: int) -> int:
    return sw2 or 256


def send(conn: CardConnection, apdu: Apdu) -> bytes:
    """Send one command and return its data on 9000; ApduError with the status otherwise.

    A secret command gets exactly one exchange. Any other follows 6Cxx (sent again once with
    Le=xx) and 61xx (GET RESPONSE, bounded) as ISO 7816-4 describes.
    """
    body, sw = conn.transmit(apdu.encode())
    if not apdu.secret:
        body, sw = _complete(conn, apdu, body, sw)
    if sw != SW_OK:
        raise ApduError(sw, body)
    return body


def _complete(conn: CardConnection, apdu: Apdu, body: bytes, sw: int) -> tuple[bytes, int]:
    """The whole answer to a non-secret command: re-issue on 6Cxx, collect 61xx chains."""
    if sw >> 8 == 0x6C:
        body, sw = conn.transmit(replace(apdu, le=_le(sw & 0xFF)).encode())
    out = bytearray(body)
    rounds = 0
    while sw >> 8 == 0x61:
        rounds += 1
        if rounds > MAX_GET_RESPONSE:
            raise CardError("The card sent an endless response.")
        body, sw = conn.transmit(Apdu(0x00, 0xC0, 0x00, 0x00, le=_le(sw & 0xFF)).encode())
        out += body
    return bytes(out), sw


def send_apdu(
    conn: CardConnection,
    cla: int,
    ins: int,
    p1: int,
    p2: int,
    data: bytes = b"",
    le: int | None = None,
    *,
    secret: bool = False,
) -> bytes:
    """Build one command and `send` it: 9000 returns the data, anything else raises."""
    return send(conn, Apdu(cla, ins, p1, p2, data, le, secret))


def redact(apdu: bytes) -> str:
    """The APDU as hex for a trace, with the data of PIN commands replaced by its length."""
    if len(apdu) > 5 and apdu[1] in SECRET_INS:
        return f"{apdu[:5].hex(' ')} <{len(apdu) - 5} bytes redacted>"
    return apdu.hex(" ")


def trace_exchange(apdu: bytes, data: bytes, sw: int) -> None:
    """Log one command/response pair at TRACE level: PIN data redacted, response data by length.

    Response data is never logged: the signature certificate carries the holder's name,
    address, birth date and sex.
    """
    if _trace.isEnabledFor(TRACE):
        _trace.log(TRACE, "> %s < %d bytes %04X", redact(apdu), len(data), sw)

"""APDU encoding and the single status-word check (send_apdu) over a scripted connection."""

from __future__ import annotations

import logging

import pytest

from kiosk.card.connection import TRACE, Apdu, redact, send, send_apdu
from kiosk.card.errors import ApduError, CardError, CardRemoved
from kiosk.card.inprocess import InProcessConnection


class ScriptedConnection:
    """Answers each expected command with a scripted response; fails on anything else."""

    def __init__(self, script: list[tuple[str, str]]):
        self.script = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in script]
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        expected, response = self.script.pop(0)
        assert apdu == expected, f"sent {apdu.hex()} expected {expected.hex()}"
        return response[:-2], int.from_bytes(response[-2:], "big")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("apdu", "encoded"),
    [
        (Apdu(0x00, 0xA4, 0x04, 0x0C, b"\xd3\x92"), "00a4040c02d392"),  # case 3
        (Apdu(0x00, 0xB0, 0x01, 0x00, le=256), "00b0010000"),  # case 2, Le 256 → 00
        (Apdu(0x00, 0xB0, 0x00, 0x00, le=0x20), "00b0000020"),
        (Apdu(0x00, 0x20, 0x00, 0x98), "00200098"),  # case 1
        (Apdu(0x80, 0x2A, 0x00, 0x97, b"\x01\x02", 256), "802a0097020102" + "00"),  # case 4
    ],
)
def test_apdu_encoding(apdu: Apdu, encoded: str) -> None:
    assert apdu.encode() == bytes.fromhex(encoded)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": bytes(256)},
        {"le": 0},
        {"le": 257},
        {"p1": 0x100},
    ],
)
def test_apdu_refuses_what_a_short_apdu_cannot_carry(kwargs: dict) -> None:
    args = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0} | kwargs
    with pytest.raises(ValueError):
        Apdu(**args)


def test_send_apdu_returns_data_on_9000() -> None:
    conn = ScriptedConnection([("00b0000004", "308203e89000")])
    assert send_apdu(conn, 0x00, 0xB0, 0, 0, le=4) == bytes.fromhex("308203e8")


def test_send_apdu_follows_get_response_chain() -> None:
    conn = ScriptedConnection(
        [
            ("802a00970201020" + "0", "aaaa6104"),
            ("00c0000004", "bbbbbbbb6100"),  # 6100: 256 more bytes
            ("00c0000000", "cc" * 256 + "9000"),
        ]
    )
    assert send_apdu(conn, 0x80, 0x2A, 0x00, 0x97, b"\x01\x02", 256) == (
        bytes.fromhex("aaaa" + "bbbbbbbb") + b"\xcc" * 256
    )
    assert not conn.script


def test_send_apdu_resends_with_the_length_the_card_asks_for() -> None:
    conn = ScriptedConnection([("00b0000000", "6c10"), ("00b0000010", "11" * 16 + "9000")])
    assert send_apdu(conn, 0x00, 0xB0, 0, 0, le=256) == b"\x11" * 16
    assert not conn.script


def test_send_apdu_wrong_le_then_get_response() -> None:
    conn = ScriptedConnection(
        [("00b0000020", "6c08"), ("00b0000008", "6102"), ("00c0000002", "abcd9000")]
    )
    assert send_apdu(conn, 0x00, 0xB0, 0, 0, le=0x20) == bytes.fromhex("abcd")


@pytest.mark.parametrize("sw", ["6a82", "63c2", "6982", "9001", "6b00"])
def test_send_apdu_raises_apdu_error_with_sw_and_data(sw: str) -> None:
    conn = ScriptedConnection([("00a4020c020018", "beef" + sw)])
    with pytest.raises(ApduError) as info:
        send_apdu(conn, 0x00, 0xA4, 0x02, 0x0C, b"\x00\x18")
    assert info.value.sw == int(sw, 16)
    assert info.value.data == bytes.fromhex("beef")
    assert isinstance(info.value, CardError)
    assert sw.upper() in str(info.value)


def test_send_apdu_stops_an_endless_get_response_chain() -> None:
    conn = ScriptedConnection([("00b0000000", "6101")] + [("00c0000001", "006101")] * 256)
    with pytest.raises(CardError, match="endless"):
        send_apdu(conn, 0x00, 0xB0, 0, 0, le=256)


PIN_VERIFY = "002000980431323334"


@pytest.mark.parametrize("sw", ["6c04", "6c00", "6104", "6100", "6a86", "63c2", "6f00"])
def test_a_secret_command_is_sent_once_whatever_the_card_answers(sw: str) -> None:
    conn = ScriptedConnection([(PIN_VERIFY, sw)])  # a second command would find no script
    with pytest.raises(ApduError) as info:
        send_apdu(conn, 0x00, 0x20, 0x00, 0x98, b"1234", secret=True)
    assert info.value.sw == int(sw, 16)
    assert conn.sent == [bytes.fromhex(PIN_VERIFY)]


def test_a_secret_command_answered_9000_returns_its_data() -> None:
    conn = ScriptedConnection([(PIN_VERIFY, "9000")])
    assert send(conn, Apdu(0x00, 0x20, 0x00, 0x98, b"1234", secret=True)) == b""


@pytest.mark.parametrize("ins", [0x20, 0x24, 0x2C])
def test_secret_instructions_must_be_marked_secret(ins: int) -> None:
    with pytest.raises(ValueError, match="secret"):
        Apdu(0x00, ins, 0x00, 0x98, b"1234")
    Apdu(0x00, ins, 0x00, 0x98)  # no data: nothing secret (the retry-counter query)
    assert Apdu(0x00, ins, 0x00, 0x98, b"1234", secret=True).secret


def test_the_repr_of_an_apdu_never_shows_its_data() -> None:
    text = repr(Apdu(0x00, 0x20, 0x00, 0x98, b"1234", secret=True))
    assert "1234" not in text and "31323334" not in text
    assert "secret=True" in text


def test_redact_hides_pin_data_but_not_other_commands() -> None:
    verify = bytes.fromhex("002000980431323334")
    assert "31323334" not in redact(verify).replace(" ", "")
    assert "4 bytes redacted" in redact(verify)
    assert redact(bytes.fromhex("00200098")) == "00 20 00 98"
    assert redact(bytes.fromhex("00b0000020")) == "00 b0 00 00 20"


class EchoCard:
    """The smallest simulated card: answers 9000 with the APDU's INS, records power events."""

    atr = bytes.fromhex("3be000ff8131fe4514")

    def __init__(self) -> None:
        self.events: list[str] = []

    def power_on(self) -> None:
        self.events.append("on")

    def reset(self) -> None:
        self.events.append("reset")

    def power_off(self) -> None:
        self.events.append("off")

    def transmit(self, apdu: bytes) -> bytes:
        return apdu[1:2] + b"\x90\x00"


def test_inprocess_trace_never_logs_the_pin(caplog: pytest.LogCaptureFixture) -> None:
    conn = InProcessConnection(EchoCard())
    with caplog.at_level(TRACE, logger="kiosk.card.apdu"):
        conn.transmit(bytes.fromhex("002000980431323334"))
    assert caplog.records, "the exchange is traced"
    assert all("31 32 33 34" not in r.getMessage() for r in caplog.records)
    assert all("1234" not in r.getMessage() for r in caplog.records)


def test_inprocess_pull_and_close() -> None:
    card = EchoCard()
    conn = InProcessConnection(card)
    assert conn.transmit(b"\x00\xa4\x04\x0c") == (b"\xa4", 0x9000)
    conn.pull()
    with pytest.raises(CardRemoved):
        conn.transmit(b"\x00\xa4\x04\x0c")
    conn.close()
    assert card.events == ["on", "off"]


def test_inprocess_close_resets_the_card() -> None:
    card = EchoCard()
    conn = InProcessConnection(card)
    conn.close()
    assert card.events == ["on", "reset"]
    with pytest.raises(CardError):
        conn.transmit(b"\x00\xa4\x04\x0c")


def test_trace_is_silent_above_trace_level(caplog: pytest.LogCaptureFixture) -> None:
    conn = InProcessConnection(EchoCard())
    with caplog.at_level(logging.DEBUG, logger="kiosk.card.apdu"):
        conn.transmit(b"\x00\xb0\x00\x00\x01")
    assert not caplog.records

"""The PC/SC adapter's translation of every failure into the card error family (no pcscd)."""

from __future__ import annotations

import pytest
from smartcard import scard

from kiosk.card import pcsc
from kiosk.card.errors import (
    CardError,
    CardRemoved,
    NoCard,
    NoReader,
    PcscUnavailable,
    ReaderUnavailable,
)


@pytest.mark.parametrize(
    ("code", "connecting", "expected"),
    [
        (scard.SCARD_E_NO_SERVICE, False, PcscUnavailable),
        (scard.SCARD_E_SERVICE_STOPPED, False, PcscUnavailable),
        (scard.SCARD_E_NO_READERS_AVAILABLE, False, NoReader),
        (scard.SCARD_E_READER_UNAVAILABLE, False, ReaderUnavailable),
        (scard.SCARD_E_UNKNOWN_READER, False, ReaderUnavailable),
        (scard.SCARD_E_SHARING_VIOLATION, False, ReaderUnavailable),
        (scard.SCARD_E_INVALID_HANDLE, False, ReaderUnavailable),
        (scard.SCARD_W_REMOVED_CARD, False, CardRemoved),
        (scard.SCARD_E_NO_SMARTCARD, False, CardRemoved),
        (scard.SCARD_W_RESET_CARD, False, CardRemoved),
        (scard.SCARD_W_UNPOWERED_CARD, False, CardRemoved),
        (scard.SCARD_W_REMOVED_CARD, True, NoCard),
        (scard.SCARD_E_NO_SMARTCARD, True, NoCard),
        (scard.SCARD_E_PROTO_MISMATCH, False, CardError),
    ],
)
def test_every_pcsc_failure_has_a_kiosk_error(code: int, connecting: bool, expected: type) -> None:
    error = pcsc._error(code, connecting=connecting)
    assert type(error) is expected
    assert str(error)


def test_pcsc_unavailable_is_a_reader_problem_with_a_clear_message() -> None:
    error = pcsc._error(scard.SCARD_E_NO_SERVICE)
    assert isinstance(error, ReaderUnavailable)
    assert "pcscd" in str(error)


def test_pyscard_exceptions_become_card_errors() -> None:
    def broken(*args):
        raise SystemError("returned NULL without setting an exception")

    with pytest.raises(CardError) as info:
        pcsc._call(broken, 1)
    assert isinstance(info.value.__cause__, SystemError)


class FakeScard:
    """Stands in for the pyscard functions `connect` uses."""

    def __init__(self, monkeypatch, *, context=0, readers=(0, []), states=(), connect=0):
        self.released: list[int] = []
        monkeypatch.setattr(scard, "SCardEstablishContext", lambda scope: (context, 7))
        monkeypatch.setattr(scard, "SCardReleaseContext", lambda ctx: self.released.append(ctx))
        monkeypatch.setattr(scard, "SCardListReaders", lambda ctx, groups: readers)
        monkeypatch.setattr(scard, "SCardGetStatusChange", lambda ctx, t, s: (0, list(states)))
        monkeypatch.setattr(scard, "SCardConnect", lambda *a: (connect, 9, scard.SCARD_PROTOCOL_T1))


def test_connect_without_pcscd(monkeypatch) -> None:
    FakeScard(monkeypatch, context=scard.SCARD_E_NO_SERVICE)
    with pytest.raises(PcscUnavailable):
        pcsc.connect()


def test_connect_without_readers(monkeypatch) -> None:
    fake = FakeScard(monkeypatch, readers=(scard.SCARD_E_NO_READERS_AVAILABLE, []))
    with pytest.raises(NoReader):
        pcsc.connect()
    assert fake.released == [7]


def test_connect_without_a_card(monkeypatch) -> None:
    fake = FakeScard(monkeypatch, readers=(0, ["R"]), states=[("R", scard.SCARD_STATE_EMPTY, [])])
    with pytest.raises(NoCard):
        pcsc.connect()
    with pytest.raises(ReaderUnavailable, match="'S'"):
        pcsc.connect("S")
    assert fake.released == [7, 7]


def test_connect_when_the_card_goes_while_connecting(monkeypatch) -> None:
    FakeScard(
        monkeypatch,
        readers=(0, ["R"]),
        states=[("R", scard.SCARD_STATE_EMPTY, [])],
        connect=scard.SCARD_E_NO_SMARTCARD,
    )
    with pytest.raises(NoCard):
        pcsc.connect("R")


def test_connect_picks_the_reader_with_a_card(monkeypatch) -> None:
    atr = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14]
    FakeScard(
        monkeypatch,
        readers=(0, ["A", "B"]),
        states=[("A", scard.SCARD_STATE_EMPTY, []), ("B", scard.SCARD_STATE_PRESENT, atr)],
    )
    conn = pcsc.connect()
    assert (conn.reader, conn.atr) == ("B", bytes(atr))


def test_transmit_translates_removal(monkeypatch) -> None:
    released: list[int] = []
    monkeypatch.setattr(scard, "SCardTransmit", lambda h, p, a: (scard.SCARD_W_REMOVED_CARD, []))
    monkeypatch.setattr(scard, "SCardDisconnect", lambda h, d: 0)
    monkeypatch.setattr(scard, "SCardReleaseContext", lambda ctx: released.append(ctx))
    conn = pcsc.PcscConnection(7, 9, scard.SCARD_PROTOCOL_T1, "R", b"")
    with pytest.raises(CardRemoved):
        conn.transmit(b"\x00\xa4\x04\x0c")
    conn.close()
    conn.close()
    assert released == [7]
    with pytest.raises(CardError, match="closed"):
        conn.transmit(b"\x00\xa4\x04\x0c")

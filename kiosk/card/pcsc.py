"""The PC/SC adapter: the only module that imports pyscard.

Every PC/SC failure becomes a `kiosk.card.errors` error (CardRemoved, NoCard, NoReader,
ReaderUnavailable, PcscUnavailable, CardError): no pyscard exception or return code leaves
this module. Connections are shared-mode with T=0 or T=1 as the reader offers; a customer
session holds `transaction()` (exclusive access), and `close()` resets the card so that no
verified PIN outlives the connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from smartcard import scard

from kiosk.card.connection import trace_exchange
from kiosk.card.errors import (
    CardError,
    CardRemoved,
    NoCard,
    NoReader,
    PcscUnavailable,
    ReaderUnavailable,
)
from kiosk.card.monitor import Snapshot

log = logging.getLogger(__name__)

_PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
_PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
#: Longest a watcher blocks in one call: the bound on `stop()` if SCardCancel races the wait.
_WAIT_MS = 1000


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


_SERVICE_GONE = {
    _code(scard.SCARD_E_NO_SERVICE),
    _code(scard.SCARD_E_SERVICE_STOPPED),
    _code(scard.SCARD_F_COMM_ERROR),
}
_CARD_GONE = {
    _code(scard.SCARD_W_REMOVED_CARD),
    _code(scard.SCARD_E_NO_SMARTCARD),
    _code(scard.SCARD_W_UNPOWERED_CARD),
    _code(scard.SCARD_W_RESET_CARD),
}
_READER_GONE = {_code(scard.SCARD_E_READER_UNAVAILABLE), _code(scard.SCARD_E_UNKNOWN_READER)}


def _error(hresult: int, *, connecting: bool = False) -> CardError:
    """The kiosk error for a PC/SC return code (`connecting`: no card is NoCard, not removal)."""
    code = _code(hresult)
    if code in _SERVICE_GONE:
        return PcscUnavailable()
    if code == _code(scard.SCARD_E_NO_READERS_AVAILABLE):
        return NoReader()
    if code in _READER_GONE:
        return ReaderUnavailable()
    if code == _code(scard.SCARD_E_SHARING_VIOLATION):
        return ReaderUnavailable("The card reader is in use by another program.")
    if code == _code(scard.SCARD_E_INVALID_HANDLE):
        return ReaderUnavailable("The connection to the card reader was lost.")
    if code in _CARD_GONE:
        if connecting:
            return NoCard()
        if code == _code(scard.SCARD_W_RESET_CARD):
            return CardRemoved("The card was reset by another program.")
        return CardRemoved()
    return CardError(f"The card reader reported an error ({scard.SCardGetErrorMessage(hresult)}).")


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """Call a pyscard function; its own exceptions (bad handle, bad argument) become CardError."""
    try:
        return function(*args)
    except (scard.error, SystemError, TypeError) as e:
        raise CardError("The card reader could not be used.") from e


def _establish() -> int:
    hresult, context = _call(scard.SCardEstablishContext, scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        raise _error(hresult)
    return int(context)


def _release(context: int) -> None:
    _call(scard.SCardReleaseContext, context)


def _list_readers(context: int) -> list[str]:
    hresult, readers = _call(scard.SCardListReaders, context, [])
    if _code(hresult) == _code(scard.SCARD_E_NO_READERS_AVAILABLE):
        return []
    if hresult != scard.SCARD_S_SUCCESS:
        raise _error(hresult)
    return list(readers)


def _status(context: int, readers: list[str]) -> list[tuple[str, int, bytes]]:
    """(reader, event state, ATR) of each reader, without waiting."""
    if not readers:
        return []
    hresult, states = _call(
        scard.SCardGetStatusChange,
        context,
        0,
        [(r, scard.SCARD_STATE_UNAWARE) for r in readers],
    )
    if hresult != scard.SCARD_S_SUCCESS:
        raise _error(hresult)
    return [(name, int(event), bytes(atr)) for name, event, atr in states]


def _snapshot(states: list[tuple[str, int, bytes]]) -> dict[str, bytes | None]:
    return {
        name: atr if event & scard.SCARD_STATE_PRESENT and atr else None
        for name, event, atr in states
    }


def reader_states() -> dict[str, bytes | None]:
    """Every connected reader with the ATR of the card in it, or None when it has none."""
    context = _establish()
    try:
        return _snapshot(_status(context, _list_readers(context)))
    finally:
        _release(context)


class PcscConnection:
    """A CardConnection to the card in one PC/SC reader."""

    def __init__(self, context: int, handle: int, protocol: int, reader: str, atr: bytes):
        self._context = context
        self._handle = handle
        self._protocol = protocol
        self._closed = False
        self.reader = reader
        self.atr = atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; CardRemoved / ReaderUnavailable when the card or reader went."""
        if self._closed:
            raise CardError("The card connection is closed.")
        hresult, response = _call(scard.SCardTransmit, self._handle, self._protocol, list(apdu))
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error(hresult)
        if len(response) < 2:
            raise CardError("The card gave no status word.")
        data = bytes(response[:-2])
        sw = response[-2] << 8 | response[-1]
        trace_exchange(apdu, data, sw)
        return data, sw

    @contextmanager
    def transaction(self) -> Iterator[PcscConnection]:
        """Exclusive access to the card for one customer session (PC/SC transaction)."""
        hresult = _call(scard.SCardBeginTransaction, self._handle)
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error(hresult)
        try:
            yield self
        finally:
            hresult = _call(scard.SCardEndTransaction, self._handle, scard.SCARD_LEAVE_CARD)
            if hresult != scard.SCARD_S_SUCCESS:  # the card or reader went; already reported
                log.debug("end of transaction: %s", scard.SCardGetErrorMessage(hresult))

    def close(self) -> None:
        """Disconnect, resetting the card (no verified PIN survives), and release the context."""
        if self._closed:
            return
        self._closed = True
        try:
            _call(scard.SCardDisconnect, self._handle, scard.SCARD_RESET_CARD)
        finally:
            _release(self._context)

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(reader: str | None = None) -> PcscConnection:
    """Connect to the card in `reader`, or in the first reader that has one."""
    context = _establish()
    try:
        states = _snapshot(_status(context, _list_readers(context)))
        if not states:
            raise NoReader()
        if reader is None:
            reader = next((name for name, atr in states.items() if atr is not None), None)
            if reader is None:
                raise NoCard()
        elif reader not in states:
            raise ReaderUnavailable(f"The card reader {reader!r} is not connected.")
        hresult, handle, protocol = _call(
            scard.SCardConnect, context, reader, scard.SCARD_SHARE_SHARED, _PROTOCOLS
        )
        if hresult != scard.SCARD_S_SUCCESS:
            raise _error(hresult, connecting=True)
        log.debug("connected to %s (T=%d)", reader, 0 if protocol == scard.SCARD_PROTOCOL_T0 else 1)
        return PcscConnection(context, handle, protocol, reader, states[reader] or b"")
    except BaseException:
        _release(context)
        raise


class PcscWatcher:
    """Waits for reader and card changes with SCardGetStatusChange (PnP notification too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context: int | None = None

    def wait_change(self, known: Snapshot) -> Snapshot:
        """Block until the readers or their cards differ from `known`, cancelled, or 1 s passed."""
        context = self._get_context()
        try:
            readers = _list_readers(context)
            states = _status(context, readers)
            current = _snapshot(states)
            if current != known:
                return current
            watch = [(name, event & ~scard.SCARD_STATE_CHANGED) for name, event, _ in states]
            watch.append((_PNP_NOTIFICATION, len(readers) << 16))
            hresult, _ = _call(scard.SCardGetStatusChange, context, _WAIT_MS, watch)
            if _code(hresult) in _SERVICE_GONE | {_code(scard.SCARD_E_INVALID_HANDLE)}:
                raise PcscUnavailable()
            return _snapshot(_status(context, _list_readers(context)))
        except CardError:
            self._drop_context()
            raise

    def cancel(self) -> None:
        """Wake a blocked wait_change."""
        with self._lock:
            if self._context is not None:
                _call(scard.SCardCancel, self._context)

    def close(self) -> None:
        """Release the PC/SC context."""
        self._drop_context()

    def _get_context(self) -> int:
        with self._lock:
            if self._context is None:
                self._context = _establish()
            return self._context

    def _drop_context(self) -> None:
        with self._lock:
            context, self._context = self._context, None
        if context is not None:
            _call(scard.SCardReleaseContext, context)

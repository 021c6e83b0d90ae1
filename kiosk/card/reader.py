"""Readers: connect to the card and report the reader's status as it changes.

`ReaderPort` is what the kiosk needs of a reader. `PcscReader` is the real one, over PC/SC
and the card monitor; `InProcessReader` holds a virtual card in the same process (tests,
screenshots, the demo without pcscd). A PC/SC card is held for the whole visit or command in
an `ExclusiveConnection`, so no other process can talk to it between our commands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.card.connection import CardConnection
from kiosk.card.errors import NoCard, PcscUnavailable
from kiosk.card.inprocess import InProcessConnection, SimulatedCard
from kiosk.card.monitor import CardEvent, CardMonitor, ReaderRemoved
from kiosk.reader_status import ReaderStatus

if TYPE_CHECKING:  # pyscard loads only when a PC/SC reader is used
    from kiosk.card.pcsc import PcscConnection

StatusCallback = Callable[[ReaderStatus], None]


class ReaderPort(Protocol):
    def connect(self) -> CardConnection:
        """A connection to the card now in the reader (NoCard / ReaderUnavailable if not)."""

    def watch(self, callback: StatusCallback) -> None:
        """Call `callback` (from any thread) with the status now and on every change."""

    def stop(self) -> None:
        """Stop watching."""


class ExclusiveConnection:
    """A PC/SC connection held in a transaction (exclusive access) until closed.

    Closing ends the transaction, then disconnects with a reset, so no verified PIN outlives
    the holder (the kiosk's visit, or one command)."""

    def __init__(self, conn: PcscConnection, transaction: Any) -> None:
        self._conn = conn
        self._transaction = transaction

    @classmethod
    def open(cls, reader: str | None) -> ExclusiveConnection:
        """Connect to the card in `reader` (None: the first with a card) and begin the
        transaction; the connection is closed again if the transaction cannot begin."""
        from kiosk.card import pcsc

        conn = pcsc.connect(reader)
        transaction = conn.transaction()
        try:
            transaction.__enter__()
        except BaseException:
            conn.close()
            raise
        return cls(conn, transaction)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Forward one command APDU."""
        return self._conn.transmit(apdu)

    def close(self) -> None:
        """End the transaction, then disconnect (resetting the card)."""
        try:
            self._transaction.__exit__(None, None, None)
        finally:
            self._conn.close()


@contextmanager
def exclusive(reader: str | None) -> Iterator[ExclusiveConnection]:
    """An `ExclusiveConnection` for the length of a `with` block (the commands' form)."""
    connection = ExclusiveConnection.open(reader)
    try:
        yield connection
    finally:
        connection.close()


class PcscReader:
    """The ReaderPort over PC/SC: the configured reader (or any) and the card monitor."""

    def __init__(self, name: str) -> None:
        from kiosk.card.pcsc import PcscWatcher

        self._name = name
        self._monitor = CardMonitor(PcscWatcher())
        self._callbacks: list[StatusCallback] = []
        self._lock = threading.Lock()

    def connect(self) -> CardConnection:
        """Connect to the card and hold it exclusively for the visit."""
        return ExclusiveConnection.open(self._name or None)

    def watch(self, callback: StatusCallback) -> None:
        """Report the status now and on every monitor event."""
        with self._lock:
            self._callbacks.append(callback)
        callback(self._status(self._snapshot_now()))
        self._monitor.subscribe(self._on_event)
        self._monitor.start()

    def stop(self) -> None:
        """Stop the monitor."""
        self._monitor.stop()

    def _snapshot_now(self) -> Mapping[str, bytes | None] | None:
        from kiosk.card import pcsc

        try:
            return pcsc.reader_states()
        except PcscUnavailable:
            return None

    def _status(self, snapshot: Mapping[str, bytes | None] | None) -> ReaderStatus:
        if snapshot is None:
            return ReaderStatus.NO_SERVICE
        mine = {n: atr for n, atr in snapshot.items() if not self._name or n == self._name}
        if not mine:
            return ReaderStatus.NO_READER
        return (
            ReaderStatus.CARD if any(a is not None for a in mine.values()) else ReaderStatus.READY
        )

    def _on_event(self, event: CardEvent) -> None:
        snapshot: Mapping[str, bytes | None] | None = self._monitor.state()
        if isinstance(event, ReaderRemoved) and not snapshot:
            snapshot = self._snapshot_now()
        status = self._status(snapshot)
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(status)


class InProcessReader:
    """A reader with an in-process virtual card: `insert(card)` and `pull()` drive it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._card: SimulatedCard | None = None
        self._connections: list[InProcessConnection] = []
        self._callbacks: list[StatusCallback] = []

    @property
    def status(self) -> ReaderStatus:
        """READY or CARD."""
        return ReaderStatus.READY if self._card is None else ReaderStatus.CARD

    def insert(self, card: SimulatedCard) -> None:
        """Put a card in the reader."""
        with self._lock:
            self._card = card
        self._notify()

    def pull(self) -> None:
        """Take the card out: open connections fail with CardRemoved from now on."""
        with self._lock:
            self._card = None
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.pull()
        self._notify()

    def connect(self) -> CardConnection:
        """A fresh connection to the card in the reader."""
        with self._lock:
            if self._card is None:
                raise NoCard()
            conn = InProcessConnection(self._card)
            self._connections.append(conn)
            return conn

    def watch(self, callback: StatusCallback) -> None:
        """Report the status now and after every insert or pull."""
        self._callbacks.append(callback)
        callback(self.status)

    def stop(self) -> None:
        """Forget the watchers."""
        self._callbacks.clear()

    def _notify(self) -> None:
        status = self.status
        for callback in list(self._callbacks):
            callback(status)

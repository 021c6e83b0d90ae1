"""The reader as the flow sees it: connect to the card, and status changes as they happen.

`kiosk.app` adapts the PC/SC monitor to this; `InProcessReader` holds a virtual card in the
same process (tests, screenshots, the demo without pcscd).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from kiosk.card.connection import CardConnection
from kiosk.card.errors import NoCard
from kiosk.card.inprocess import InProcessConnection, SimulatedCard
from kiosk.flow.machine import ReaderStatus

StatusCallback = Callable[[ReaderStatus], None]


class ReaderPort(Protocol):
    def connect(self) -> CardConnection:
        """A connection to the card now in the reader (NoCard / ReaderUnavailable if not)."""

    def watch(self, callback: StatusCallback) -> None:
        """Call `callback` (from any thread) with the status now and on every change."""

    def stop(self) -> None:
        """Stop watching."""


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

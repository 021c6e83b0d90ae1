"""Reader and card events as plain Python: a small observer over a status watcher.

The watcher (PC/SC: `kiosk.card.pcsc.PcscWatcher`) blocks until something changes and
returns a snapshot {reader name: ATR of its card, or None}. The monitor turns successive
snapshots into events and calls the subscribers on its own background thread: a UI must hop
to its GUI thread itself (a Qt signal). When the PC/SC service goes away every reader is
reported removed, and the monitor tries again every `retry_s` seconds until stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kiosk.card.errors import CardError

log = logging.getLogger(__name__)

Snapshot = Mapping[str, bytes | None]


@dataclass(frozen=True, slots=True)
class ReaderAdded:
    """A reader was plugged in (or was there when the monitor started)."""

    reader: str


@dataclass(frozen=True, slots=True)
class ReaderRemoved:
    """A reader was unplugged (or the PC/SC service stopped)."""

    reader: str


@dataclass(frozen=True, slots=True)
class CardInserted:
    """A card was put into a reader (or was there when the monitor started)."""

    reader: str
    atr: bytes


@dataclass(frozen=True, slots=True)
class CardWithdrawn:
    """The card was taken out of a reader."""

    reader: str


CardEvent = ReaderAdded | ReaderRemoved | CardInserted | CardWithdrawn


class StatusWatcher(Protocol):
    """Source of snapshots for the monitor."""

    def wait_change(self, known: Snapshot) -> Snapshot:
        """Block until the readers or cards differ from `known` (or `cancel`); the new state."""
        ...

    def cancel(self) -> None:
        """Wake a blocked `wait_change` from another thread."""
        ...

    def close(self) -> None:
        """Release what the watcher holds."""
        ...


def changes(old: Snapshot, new: Snapshot) -> list[CardEvent]:
    """The events that lead from one snapshot to the next: what went first, then what came."""
    events: list[CardEvent] = []
    for reader, atr in old.items():
        if atr is not None and new.get(reader) != atr:
            events.append(CardWithdrawn(reader))
        if reader not in new:
            events.append(ReaderRemoved(reader))
    for reader, atr in new.items():
        if reader not in old:
            events.append(ReaderAdded(reader))
        if atr is not None and old.get(reader) != atr:
            events.append(CardInserted(reader, atr))
    return events


class CardMonitor:
    """Publishes reader/card events from a background thread to its subscribers."""

    def __init__(self, watcher: StatusWatcher, *, retry_s: float = 1.0):
        self._watcher = watcher
        self._retry_s = retry_s
        self._subscribers: list[Callable[[CardEvent], None]] = []
        self._lock = threading.Lock()
        self._state: dict[str, bytes | None] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, callback: Callable[[CardEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` for every event from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def state(self) -> dict[str, bytes | None]:
        """The readers as last seen, with the ATR of the card in each (None: no card)."""
        with self._lock:
            return dict(self._state)

    def start(self) -> None:
        """Start watching on a daemon thread; the first events describe what is there now."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="card-monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread to finish."""
        self._stopping.set()
        self._watcher.cancel()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._watcher.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                new = dict(self._watcher.wait_change(self.state()))
                failed = False
            except CardError as e:
                log.info("card monitor: %s", e)
                new, failed = {}, True
            self._publish(new)
            if failed:
                self._stopping.wait(self._retry_s)

    def _publish(self, new: dict[str, bytes | None]) -> None:
        with self._lock:
            events = changes(self._state, new)
            self._state = new
            subscribers = list(self._subscribers)
        for event in events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop the monitor
                    log.exception("card event subscriber failed on %s", event)

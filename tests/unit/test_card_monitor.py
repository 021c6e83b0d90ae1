"""The card monitor turns watcher snapshots into events on its own thread."""

from __future__ import annotations

import queue
import threading

from kiosk.card.errors import PcscUnavailable
from kiosk.card.monitor import (
    CardInserted,
    CardMonitor,
    CardWithdrawn,
    ReaderAdded,
    ReaderRemoved,
    Snapshot,
    changes,
)

ATR = bytes.fromhex("3be000ff8131fe4514")
OTHER_ATR = bytes.fromhex("3b8f8001")
TIMEOUT = 5


class FakeWatcher:
    """Hands out scripted snapshots (or errors); blocks when the script is empty."""

    def __init__(self) -> None:
        self.script: queue.Queue[Snapshot | Exception | None] = queue.Queue()
        self.closed = threading.Event()

    def wait_change(self, known: Snapshot) -> Snapshot:
        item = self.script.get(timeout=TIMEOUT)
        if item is None:  # cancelled
            return known
        if isinstance(item, Exception):
            raise item
        return item

    def cancel(self) -> None:
        self.script.put(None)

    def close(self) -> None:
        self.closed.set()


class Collector:
    def __init__(self) -> None:
        self.events: queue.Queue = queue.Queue()

    def __call__(self, event) -> None:
        self.events.put(event)

    def take(self, n: int) -> list:
        return [self.events.get(timeout=TIMEOUT) for _ in range(n)]


def test_changes_between_snapshots() -> None:
    assert changes({}, {"A": None, "B": ATR}) == [
        ReaderAdded("A"),
        ReaderAdded("B"),
        CardInserted("B", ATR),
    ]
    assert changes({"A": None, "B": ATR}, {"A": ATR, "B": None}) == [
        CardWithdrawn("B"),
        CardInserted("A", ATR),
    ]
    assert changes({"A": ATR}, {}) == [CardWithdrawn("A"), ReaderRemoved("A")]
    assert changes({"A": ATR}, {"A": OTHER_ATR}) == [
        CardWithdrawn("A"),
        CardInserted("A", OTHER_ATR),
    ]
    assert changes({"A": ATR}, {"A": ATR}) == []


def test_monitor_publishes_in_order_and_stops() -> None:
    watcher = FakeWatcher()
    monitor = CardMonitor(watcher)
    seen = Collector()
    monitor.subscribe(seen)
    watcher.script.put({"R": None})
    watcher.script.put({"R": ATR})
    watcher.script.put({"R": None})
    monitor.start()
    assert seen.take(3) == [ReaderAdded("R"), CardInserted("R", ATR), CardWithdrawn("R")]
    assert monitor.state() == {"R": None}
    monitor.stop()
    assert watcher.closed.is_set()


def test_service_loss_removes_every_reader_then_recovers() -> None:
    watcher = FakeWatcher()
    monitor = CardMonitor(watcher, retry_s=0)
    seen = Collector()
    monitor.subscribe(seen)
    watcher.script.put({"R": ATR})
    watcher.script.put(PcscUnavailable())
    watcher.script.put({"R": None})
    monitor.start()
    try:
        assert seen.take(5) == [
            ReaderAdded("R"),
            CardInserted("R", ATR),
            CardWithdrawn("R"),
            ReaderRemoved("R"),
            ReaderAdded("R"),
        ]
    finally:
        monitor.stop()


def test_unsubscribe_and_a_failing_subscriber() -> None:
    watcher = FakeWatcher()
    monitor = CardMonitor(watcher)
    quiet = Collector()
    seen = Collector()

    def broken(event) -> None:
        raise RuntimeError("subscriber bug")

    monitor.subscribe(broken)
    unsubscribe = monitor.subscribe(quiet)
    monitor.subscribe(seen)
    unsubscribe()
    watcher.script.put({"R": ATR})
    monitor.start()
    try:
        assert seen.take(2) == [ReaderAdded("R"), CardInserted("R", ATR)]
        assert quiet.events.empty()
    finally:
        monitor.stop()

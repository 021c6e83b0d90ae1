"""Sending the outbox: each due message delivered, marked, or retried later with backoff.

`deliver_due` is one pass: it takes the due messages of the delivery's destination and, for
each, makes one attempt; a message is marked delivered only once the delivery said
`Delivered` (a 2xx, a file in place), and a failure is counted with its code and the time of
the next attempt, doubling from `BACKOFF_FIRST` up to `BACKOFF_CAP`. Marking comes after
sending, so a kiosk stopped between the two sends the message again: delivery is at least
once, and the receivers deduplicate by the message id.

`OutboxSender` runs passes on a thread of its own every few seconds (or at once when woken
after an enqueue) until stopped; nothing it meets escapes the thread, and the person at the
kiosk never waits for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kiosk.errors import KioskError
from kiosk.services.reception_delivery import Delivered, ReceptionDelivery
from kiosk.store.errors import StoreError
from kiosk.store.outbox import OutboxMessage

log = logging.getLogger(__name__)

#: The wait after a message's first failed attempt; each further failure doubles it...
BACKOFF_FIRST = timedelta(seconds=5)
#: ... up to this.
BACKOFF_CAP = timedelta(minutes=5)
#: How many messages one pass takes at most.
PASS_LIMIT = 50


class OutboxPort(Protocol):
    """What the sender needs of the outbox (kiosk.store.outbox.Outbox)."""

    def due(self, now: datetime, limit: int, destination: str) -> tuple[OutboxMessage, ...]: ...

    def mark_delivered(self, message_id: str, at: datetime) -> bool: ...

    def mark_failed(
        self, message_id: str, at: datetime, error_code: str, next_attempt_at: datetime
    ) -> bool: ...


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt of a message that has failed `attempts` times (its
    failure being counted now included): 5 s, 10 s, 20 s, ... at most 5 min."""
    if attempts <= 1:
        return BACKOFF_FIRST
    doublings = min(attempts - 1, 16)  # 5 s << 16 is far past the cap
    return min(BACKOFF_FIRST * (1 << doublings), BACKOFF_CAP)


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did."""

    delivered: int = 0
    failed: int = 0


def deliver_due(
    outbox: OutboxPort, delivery: ReceptionDelivery, now: datetime, limit: int = PASS_LIMIT
) -> PassReport:
    """One pass over the due messages of `delivery.destination`.

    Raises StoreError when the outbox cannot be read or marked (the messages not marked stay
    due and go again in a later pass)."""
    delivered = failed = 0
    for message in outbox.due(now, limit, delivery.destination):
        outcome = delivery.deliver(message.message_id, message.body)
        if isinstance(outcome, Delivered):
            outbox.mark_delivered(message.message_id, now)
            delivered += 1
        else:
            wait = backoff(message.attempts + 1)
            outbox.mark_failed(message.message_id, now, outcome.code, now + wait)
            failed += 1
    return PassReport(delivered, failed)


class OutboxSender:
    """Runs `deliver_due` on a background thread every `interval_s` seconds, or at once when
    `wake()` is called (after an enqueue), until `stop()`."""

    def __init__(
        self,
        outbox: OutboxPort,
        delivery: ReceptionDelivery,
        clock: Callable[[], datetime],
        *,
        interval_s: float = 5.0,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the outbox sender's interval must be positive")
        self._outbox = outbox
        self._delivery = delivery
        self._clock = clock
        self._interval_s = interval_s
        self._on_pass = on_pass
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("the outbox sender is started already")
        self._thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run a pass now (e.g. a message was just enqueued)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current attempt and wait for the thread; close the delivery."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
        self._delivery.close()

    def run_once(self) -> PassReport:
        """One pass, never raising: a failure of the store or of the code is logged."""
        try:
            report = deliver_due(self._outbox, self._delivery, self._clock())
        except (StoreError, KioskError) as e:
            log.warning("outbox pass stopped: %s", type(e).__name__)
            report = PassReport()
        except Exception as e:  # the thread's top level: a bug must not end the sending
            log.error("outbox pass failed: %s", type(e).__name__, exc_info=e)
            report = PassReport()
        if self._on_pass is not None:
            try:
                self._on_pass(report)
            except Exception as e:  # an observer's bug must not end the sending either
                log.error("outbox pass observer failed: %s", type(e).__name__, exc_info=e)
        return report

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self._interval_s)
            self._wake.clear()

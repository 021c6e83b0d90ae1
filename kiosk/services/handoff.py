"""The hand-off of a visit's result to the clinic's reception system, recorded with the visit.

A service that has something for reception (the insurance check: the eligibility as a FHIR
Bundle) returns it with its result; the visit then records its audit row and the outbox
message in ONE transaction (`kiosk.store.outbox.Outbox.enqueue`), and wakes the sender, which
delivers after the person has moved on. Either both are written or neither: a store that fails
fails the service run, so no visit is recorded whose hand-off was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from kiosk.services.reception import ReceptionMessage, build_bundle
from kiosk.store.outbox import Outbox, VisitAudit


class Handoff(Protocol):
    """Where a visit's audit row goes together with its message for reception."""

    def record(
        self,
        message: ReceptionMessage,
        action: str,
        ok: bool,
        at: datetime,
        *,
        actor: str | None = None,
    ) -> None:
        """Record the visit's audit row and the message for reception, in one transaction."""


class OutboxHandoff:
    """`Handoff` over the store's outbox: the Bundle waits there until reception takes it."""

    def __init__(
        self,
        outbox: Outbox,
        terminal_id: str,
        wake: Callable[[], None] = lambda: None,
        destination: str = "reception",
    ) -> None:
        self._outbox = outbox
        self._terminal_id = terminal_id
        self._wake = wake
        self._destination = destination

    def record(
        self,
        message: ReceptionMessage,
        action: str,
        ok: bool,
        at: datetime,
        *,
        actor: str | None = None,
    ) -> None:
        """Enqueue the Bundle with the visit's audit row, then wake the sender."""
        audit = VisitAudit(action, ok, message.provider_id, self._terminal_id, actor=actor)
        body = build_bundle(message)
        self._outbox.enqueue(message.message_id, self._destination, body, at, audit=audit)
        self._wake()

"""An audit log in a list, for the demo, the screenshots and the tests (not durable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited event as the list keeps it (the arguments of `AuditSink.record`)."""

    action: str
    ok: bool
    reason: str | None
    provider_id: str
    at: datetime
    actor: str | None = None


class MemoryAudit:
    """The kiosk's AuditSink (kiosk.services.visit) over a list: `records`, oldest first."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(
        self,
        action: str,
        ok: bool,
        reason: str | None,
        provider_id: str,
        at: datetime,
        *,
        actor: str | None = None,
    ) -> None:
        """Append one event."""
        self.records.append(AuditRecord(action, ok, reason, provider_id, at, actor))

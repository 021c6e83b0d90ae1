"""The kiosk's own events as log lines as well as audit rows, for the journal.

`LoggedAudit` wraps the visit's and the staff desk's audit sink: each event is recorded in the
store first (the record that counts), then logged as one line on the `kiosk.events` logger
whose message is the event's code and whose structured fields are `provider`, `terminal`,
`outcome` ("ok" or "refused") and `reason` — the fields a JSON log line carries
(`kiosk.platform.logs`). What an audit row may hold is already only codes and identifiers
(`kiosk.store.audit.check_fields`), and the line holds less: no staff number, no certificate,
so never a PIN, a token or the 4 info.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kiosk.services.visit import AuditSink

#: The logger of the kiosk's events (one line per audited event).
EVENTS = logging.getLogger("kiosk.events")


class LoggedAudit:
    """An AuditSink that records each event in `audit`, then logs it as one line."""

    def __init__(self, audit: AuditSink, terminal_id: str, log: logging.Logger = EVENTS) -> None:
        self._audit = audit
        self._terminal_id = terminal_id
        self._log = log

    @property
    def sink(self) -> AuditSink:
        """The audit sink the events are recorded in."""
        return self._audit

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
        """Record the event (a refusal by the store propagates, and nothing is logged), then
        log it."""
        self._audit.record(action, ok, reason, provider_id, at, actor=actor)
        fields: dict[str, str] = {
            "provider": provider_id,
            "terminal": self._terminal_id,
            "outcome": "ok" if ok else "refused",
        }
        if reason is not None:
            fields["reason"] = reason
        self._log.info("%s", action, extra=fields)

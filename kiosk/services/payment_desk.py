"""The payments' back office: reconciling the ledger with the card company, and staff voids.

`reconcile` runs when the kiosk starts (and from `kiosk payment reconcile`): every ledger row
still pending or unknown — a kiosk killed between writing the row and recording the card
company's answer, or an answer that was lost — is resolved by the card company's status query
for its key: approved rows are settled (and their payment request marked paid), declined ones
declined, and a key the card company never saw is declined as `not_sent` (nothing was charged,
and the person was told so). A row the card company still cannot answer for stays unknown, to
be asked again; it is never charged again without an answer.

`void` is the staff's: a settled charge, named by its receipt number, is voided at the card
company (its own idempotency key, so a repeated void voids once) and then in the ledger with
the staff number and the time; the audit records who voided which receipt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.errors import KioskError
from kiosk.services.card_gateway import (
    Approved,
    CardGateway,
    Declined,
    GatewayRefused,
    NotFound,
    Unknown,
    Voided,
)
from kiosk.services.payment import NOT_SENT, PaymentNotices, void_key
from kiosk.services.visit import AuditSink
from kiosk.store.errors import StoreError
from kiosk.store.ledger import LedgerEntry, LedgerState, PaymentLedger
from kiosk.store.payment_requests import PaymentRequests, RequestClosed

log = logging.getLogger(__name__)

#: Who the ledger names for a void the card company made itself (found by reconciliation).
CARD_COMPANY = "card-company"


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one reconciliation pass did, row by row counted."""

    settled: int = 0
    declined: int = 0
    not_sent: int = 0
    voided: int = 0
    still_unknown: int = 0

    @property
    def open_rows(self) -> int:
        """Rows the card company could not answer for (asked again next time)."""
        return self.still_unknown


def reconcile(
    ledger: PaymentLedger,
    gateway: CardGateway,
    requests: PaymentRequests,
    *,
    older_than: datetime,
    clock: Callable[[], datetime],
    notices: PaymentNotices | None = None,
    terminal_id: str | None = None,
) -> Reconciled:
    """Resolve every pending or unknown row begun before `older_than` (of `terminal_id`, when
    given) with the card company. `older_than` must be before any charge still in flight:
    the kiosk's own start, or far past the gateway's timeouts (`SETTLE_MARGIN`), since a key
    the card company has not seen *yet* is declined as not sent.
    Raises StoreError when the ledger cannot be read (the rows wait for the next pass)."""
    counts = {"settled": 0, "declined": 0, "not_sent": 0, "voided": 0, "still_unknown": 0}
    for entry in ledger.pending_rows(older_than):
        if terminal_id is not None and entry.terminal_id != terminal_id:
            continue  # another kiosk's row: it may be charging it right now
        if entry.gateway != gateway.code:
            counts["still_unknown"] += 1  # another card company's row: asked with it
            continue
        try:
            counts[_resolve_row(ledger, gateway, requests, entry, clock, notices)] += 1
        except StoreError as e:
            log.warning("reconcile: ledger row %d: %s", entry.entry_id, e.code)
            counts["still_unknown"] += 1
    done = Reconciled(**counts)
    if any(counts.values()):
        log.info("reconcile: %s", done)
    return done


def _resolve_row(
    ledger: PaymentLedger,
    gateway: CardGateway,
    requests: PaymentRequests,
    entry: LedgerEntry,
    clock: Callable[[], datetime],
    notices: PaymentNotices | None,
) -> str:
    outcome = gateway.status(entry.idempotency_key)
    now = clock()
    if isinstance(outcome, Approved):
        ledger.settle(entry.entry_id, outcome.transaction_id, now)
        try:
            paid = requests.mark_paid(
                entry.provider_id, entry.request_id, outcome.transaction_id, now
            )
        except RequestClosed as e:
            log.error("reconcile: row %d charged, request %s", entry.entry_id, e.state)
        except KioskError as e:  # the request is gone (or not one of the POS API's)
            log.warning("reconcile: row %d: its request: %s", entry.entry_id, e.code)
        else:
            if notices is not None:
                notices.paid(paid, now)
        return "settled"
    if isinstance(outcome, Declined):
        ledger.decline(entry.entry_id, outcome.reason.value, now)
        return "declined"
    if isinstance(outcome, Voided):
        ledger.settle(entry.entry_id, outcome.transaction_id, now)
        ledger.void(entry.entry_id, CARD_COMPANY, now)
        return "voided"
    if isinstance(outcome, NotFound):
        ledger.decline(entry.entry_id, NOT_SENT, now)
        return "not_sent"
    if entry.state is LedgerState.PENDING:
        ledger.mark_unknown(entry.entry_id, now)
    log.warning("reconcile: row %d still unknown (%s)", entry.entry_id, outcome.why)
    return "still_unknown"


#: How old a row must be before a later pass (not the one at start) asks about it: far past
#: any gateway timeout, so no charge of this kiosk is still in flight.
SETTLE_MARGIN = timedelta(minutes=10)


class Reconciler:
    """Reconciliation on a thread of its own: one pass at start over the rows the kiosk left
    before it started, then a pass every `interval_s` over rows older than `SETTLE_MARGIN`,
    until stopped. Nothing it meets escapes the thread; the person never waits for it."""

    def __init__(
        self,
        ledger: PaymentLedger,
        gateway: CardGateway,
        requests: PaymentRequests,
        clock: Callable[[], datetime],
        *,
        terminal_id: str,
        notices: PaymentNotices | None = None,
        interval_s: float = 60.0,
    ) -> None:
        self._args = (ledger, gateway, requests)
        self._clock = clock
        self._terminal_id = terminal_id
        self._notices = notices
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> None:
        """Begin: the first pass covers every row begun before now."""
        started = self._clock()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="payment-reconciler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop after the pass under way (if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_pass(self, older_than: datetime) -> Reconciled | None:
        """One pass; None when the ledger could not be read."""
        ledger, gateway, requests = self._args
        try:
            return reconcile(
                ledger, gateway, requests, older_than=older_than, clock=self._clock,
                notices=self._notices, terminal_id=self._terminal_id,
            )  # fmt: skip
        except Exception as e:  # the thread must go on: the next pass tries again
            log.warning("reconcile pass failed: %s", type(e).__name__)
            return None
        finally:
            self.passes += 1

    def _run(self, started: datetime) -> None:
        self.run_pass(started)
        while not self._stop.wait(self._interval_s):
            self.run_pass(self._clock() - SETTLE_MARGIN)


# --- void --------------------------------------------------------------------------------


class VoidRefused(KioskError):
    """The void was not made; `code` says why (for the staff screen and the CLI)."""

    code = "void_refused"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class VoidDone:
    """A voided charge: which, how much, by whom and when."""

    receipt_no: str
    amount_yen: int
    voided_by: str
    voided_at: datetime
    again: bool  # it had been voided already (nothing changed)


def void(
    ledger: PaymentLedger,
    gateway: CardGateway,
    audit: AuditSink,
    *,
    provider_id: str,
    receipt_no: str,
    staff_id: str,
    clock: Callable[[], datetime],
) -> VoidDone:
    """Void the settled charge with this receipt number at the card company and in the
    ledger, audited as `payment.void` with the staff number. Raises VoidRefused:
    `unknown_receipt`, `not_settled`, `void_unconfirmed` (no answer: try again, it voids
    once), `void_refused` (the card company will not void it), `unavailable`."""
    if not staff_id:
        raise ValueError("a void needs the staff number of who voids")
    try:
        entry = ledger.get_by_receipt(provider_id, receipt_no)
    except StoreError as e:
        raise VoidRefused("unavailable", "the ledger cannot be read") from e
    if entry is None:
        raise VoidRefused("unknown_receipt", "no payment with this receipt number")
    if entry.state is LedgerState.VOIDED:
        voided_at = entry.voided_at or entry.updated_at
        return VoidDone(receipt_no, entry.amount_yen, entry.voided_by or "", voided_at, True)
    if entry.state is not LedgerState.SETTLED:
        raise VoidRefused("not_settled", f"the payment is {entry.state.value}")
    if entry.gateway != gateway.code:  # charged at another card company than this kiosk's
        raise VoidRefused("void_refused", "the payment was made at another card company")
    now = clock()
    try:
        outcome = gateway.void(receipt_no, void_key(entry.idempotency_key))
    except GatewayRefused as e:
        audit.record("payment.void", False, f"refused_{e.status}", provider_id, now, actor=staff_id)
        raise VoidRefused("void_refused", "the card company will not void this payment") from e
    if isinstance(outcome, Unknown):
        audit.record("payment.void", False, "unconfirmed", provider_id, now, actor=staff_id)
        raise VoidRefused("void_unconfirmed", "the card company did not answer: try again")
    try:
        voided = ledger.void(entry.entry_id, staff_id, now)
    except StoreError as e:  # voided at the card company: the settlement shows the mismatch
        log.error("void of row %d: the ledger cannot be written (%s)", entry.entry_id, e.code)
        raise VoidRefused("unavailable", "voided at the card company; the ledger failed") from e
    audit.record("payment.void", True, None, provider_id, now, actor=staff_id)
    log.info("payment row %d voided by staff", entry.entry_id)
    return VoidDone(receipt_no, voided.amount_yen, staff_id, voided.voided_at or now, False)

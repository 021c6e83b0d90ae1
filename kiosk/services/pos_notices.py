"""Telling the shop's POS that its payment request was paid: a push through the outbox.

The payment service calls `OutboxNotices.paid` once the request is marked paid. The notice is
the request's state as JSON, the same fields the POS API answers a read with (docs/pos-api.md),
written to the store's outbox (destination `pos`) with an audit row `pos.notice`; the outbox's
sender then POSTs it to the configured callback URL with the callback's bearer token and the
message id as its `Idempotency-Key`. Delivery is at least once (a push the POS answered
but the kiosk did not mark goes again), so the POS deduplicates by that key. The key is derived
from the request (provider, request id, state): the same notice queued twice is one message.

Nothing here raises into the payment: the money has moved by then, and a notice that cannot be
queued is logged and left to the POS's polling. The body names the request only (codes,
amounts, times), never the card holder; the token goes in the header and never in a log.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from kiosk.services.outbox_sender import OutboxSender
from kiosk.services.reception_delivery import JSON, HttpDelivery
from kiosk.store.errors import DuplicateKey, StoreError
from kiosk.store.outbox import Outbox, VisitAudit
from kiosk.store.payment_requests import PaymentRequest

log = logging.getLogger(__name__)

#: The outbox destination of the POS's notices.
POS_DESTINATION = "pos"
#: The audit action recorded with each queued notice.
NOTICE_ACTION = "pos.notice"
#: The header that carries the message id, by which the POS deduplicates.
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Each phase of a push is bounded by this unless configured otherwise (seconds).
DEFAULT_TIMEOUT_S = 5.0
#: The namespace of the notices' message ids (uuid5 of provider, request and state).
_NOTICE_NAMESPACE = uuid.UUID("6f1d2a3e-8c4b-5e7f-9a0b-1c2d3e4f5a6b")


class NoticeOutbox(Protocol):
    """What the notices need of the outbox (kiosk.store.outbox.Outbox)."""

    def enqueue(
        self,
        message_id: str | uuid.UUID,
        destination: str,
        body: bytes,
        at: datetime,
        *,
        audit: VisitAudit,
    ) -> None: ...


def _timestamp(at: datetime | None) -> str | None:
    """An aware time in UTC as the POS API writes it (ISO 8601, `Z`)."""
    if at is None:
        return None
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def request_state(request: PaymentRequest) -> dict[str, object]:
    """The request as the POS sees it, in the POS API's answer and in a push alike (times
    as ISO 8601 UTC with `Z`)."""
    return {
        "request_id": request.request_id,
        "terminal_id": request.terminal_id,
        "amount_yen": request.amount_yen,
        "order_ref": request.order_ref,
        "shop": request.shop,
        "state": request.state,
        "created_at": _timestamp(request.created_at),
        "expires_at": _timestamp(request.expires_at),
        "closed_at": _timestamp(request.closed_at),
        "receipt_no": request.receipt_no,
    }


def notice_body(request: PaymentRequest) -> bytes:
    """The request's state as JSON: the fields and forms of the POS API's answer."""
    state = request_state(request)
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def notice_id(request: PaymentRequest) -> uuid.UUID:
    """The message id (and Idempotency-Key) of the notice of the request in its state."""
    return uuid.uuid5(
        _NOTICE_NAMESPACE, f"{request.provider_id}/{request.request_id}/{request.state}"
    )


class OutboxNotices:
    """`PaymentNotices` over the store's outbox: each paid request queued for the POS, then
    the sender woken."""

    def __init__(self, outbox: NoticeOutbox, wake: Callable[[], None] = lambda: None) -> None:
        self._outbox = outbox
        self._wake = wake

    def paid(self, request: PaymentRequest, at: datetime) -> None:
        """Queue the paid request's state for the POS; never raises."""
        audit = VisitAudit(NOTICE_ACTION, True, request.provider_id, request.terminal_id)
        try:
            body = notice_body(request)
            self._outbox.enqueue(notice_id(request), POS_DESTINATION, body, at, audit=audit)
        except DuplicateKey:
            log.info("POS notice of request %s queued already", request.request_id)
            return
        except StoreError as e:
            log.warning(
                "POS notice of request %s not queued (%s): the POS polls",
                request.request_id,
                type(e).__name__,
            )
            return
        except Exception as e:  # the payment stands: a bug here must not undo its screen
            log.error(
                "POS notice of request %s not queued: %s",
                request.request_id,
                type(e).__name__,
                exc_info=e,
            )
            return
        self._wake()


def pos_notices(
    outbox: Outbox,
    url: str,
    token: str,
    timeout_s: float,
    clock: Callable[[], datetime],
    *,
    interval_s: float = 5.0,
) -> tuple[OutboxNotices, OutboxSender]:
    """The notices for the payment service and the sender that pushes them to `url` (not
    started: the caller starts it and stops it at the end). ValueError for a URL that is not
    https (plain http only to this machine), a token that is not one line, a timeout <= 0."""
    delivery = HttpDelivery(
        url,
        token,
        timeout_s,
        destination=POS_DESTINATION,
        media_type=JSON,
        id_header=IDEMPOTENCY_HEADER,
    )
    sender = OutboxSender(outbox, delivery, clock, interval_s=interval_s)
    return OutboxNotices(outbox, wake=sender.wake), sender

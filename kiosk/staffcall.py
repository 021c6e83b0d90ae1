"""Calling staff to the kiosk: an HTTP webhook to the counter.

A customer who presses "call staff" is told that staff are coming only when the counter has
acknowledged the call (a 2xx answer); anything else — a refusal, no answer within the
timeout, no connection — is reported as not delivered, and the screen sends the person to the
counter instead. The body says which kiosk, why (a short code: the screen or the problem
shown, never anything about the person) and when: `{"kiosk": …, "reason": …, "at": …}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import httpx

from kiosk.flow.ports import CallOutcome

log = logging.getLogger(__name__)


class WebhookChannel:
    """A StaffChannel that POSTs the call as JSON to the counter's URL.

    The URL is https (plain http only to this machine; checked by kiosk.config). Each phase
    of the request (connect, send, wait for the answer) is bounded by `timeout_s`; only the
    status line and headers are awaited (a body, however slow, is never read), and redirects
    are not followed: the call goes where it was configured or nowhere."""

    def __init__(
        self,
        url: str,
        kiosk_id: str,
        wall_clock: Callable[[], datetime],
        *,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._kiosk_id = kiosk_id
        self._wall_clock = wall_clock
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, transport=transport
        )

    def call(self, reason: str) -> CallOutcome:
        """Send the call; DELIVERED only on a 2xx answer."""
        body = {"kiosk": self._kiosk_id, "reason": reason, "at": self._wall_clock().isoformat()}
        try:
            with self._client.stream("POST", self._url, json=body) as answer:
                status = answer.status_code  # closed without reading the body
        except httpx.HTTPError as e:  # timeouts, refused connections, TLS, protocol errors
            log.warning("staff call not delivered: %s", type(e).__name__)
            return CallOutcome.NOT_DELIVERED
        if 200 <= status < 300:
            log.info("staff call delivered (%s)", reason)
            return CallOutcome.DELIVERED
        log.warning("staff call not delivered: the counter answered %d", status)
        return CallOutcome.NOT_DELIVERED

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

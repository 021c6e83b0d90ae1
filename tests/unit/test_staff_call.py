"""The call for staff over a real HTTP server on 127.0.0.1: delivered only on a 2xx answer;
a refusal, a redirect, no server and no answer in time are each "not delivered"."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from kiosk.flow.ports import CallOutcome
from kiosk.staffcall import WebhookChannel
from tests.counter_support import Counter, serve_counter

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.fixture
def counter() -> Iterator[Counter]:
    with serve_counter() as server:
        yield server


def channel(url: str, timeout_s: float = 3) -> WebhookChannel:
    return WebhookChannel(url, "kiosk-1", lambda: AT, timeout_s=timeout_s)


def test_a_2xx_answer_is_a_delivered_call_with_kiosk_reason_and_time(counter):
    for status in (200, 202, 204):
        counter.status = status
        hook = channel(counter.url)
        assert hook.call("pin_blocked") is CallOutcome.DELIVERED
        hook.close()
    assert counter.bodies[-1] == {
        "kiosk": "kiosk-1",
        "reason": "pin_blocked",
        "at": "2026-12-03T09:30:00+00:00",
    }
    assert counter.content_types[-1] == "application/json"


@pytest.mark.parametrize("status", [500, 503, 404, 401, 302])
def test_any_other_answer_is_not_delivered(counter, status):
    counter.status = status
    hook = channel(counter.url)
    assert hook.call("pin") is CallOutcome.NOT_DELIVERED
    hook.close()
    assert len(counter.bodies) == 1  # a redirect is not followed


def test_no_server_is_not_delivered():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = channel(f"http://127.0.0.1:{port}/kiosk-call")
    assert hook.call("pin") is CallOutcome.NOT_DELIVERED
    hook.close()


def test_no_answer_within_the_timeout_is_not_delivered(counter):
    counter.hang = True
    hook = channel(counter.url, timeout_s=0.5)
    assert hook.call("password") is CallOutcome.NOT_DELIVERED
    hook.close()
    assert counter.bodies == [{"kiosk": "kiosk-1", "reason": "password", "at": AT.isoformat()}]


def test_the_answers_body_is_not_waited_for(counter):
    counter.stall_body = True  # 200 and headers at once, then a body that never comes
    hook = channel(counter.url, timeout_s=0.5)
    assert hook.call("pin") is CallOutcome.DELIVERED
    hook.close()

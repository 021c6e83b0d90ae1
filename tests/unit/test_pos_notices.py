"""Pushing a paid request to the shop's POS (kiosk.services.pos_notices): queued in the store's
outbox, POSTed to a real receiver on 127.0.0.1 as the POS API answers the request, with the
bearer token and the message id as its Idempotency-Key; a POS that is down gets it later; the
notice never raises and the token is never logged."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from reception_support import Receiver

from kiosk.pos.api import create_pos_app
from kiosk.services.outbox_sender import BACKOFF_FIRST, PassReport
from kiosk.services.pos_notices import POS_DESTINATION, OutboxNotices, notice_body, pos_notices
from kiosk.store.audit import AuditLog
from kiosk.store.errors import StoreError
from kiosk.store.outbox import Outbox
from kiosk.store.payment_requests import PaymentRequests

AT = datetime(2026, 12, 3, 6, 0, 0, 250_000, tzinfo=UTC)  # a fraction of a second too
TOKEN = "pos-callback-test-token"
POS_TOKEN = "pos-api-test-token"  # the POS's own token towards the kiosk's API


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = AT + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


class PosReceiver(Receiver):
    """The shop's POS on 127.0.0.1: records each push (body and headers), answers `status`."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/pos/payments"
        self.pushes: list[tuple[dict[str, str], bytes]] = []

    def _app(self):
        app = FastAPI()

        @app.post("/pos/payments")
        async def take(request: Request) -> Response:
            self.pushes.append((dict(request.headers), await request.body()))
            return Response(status_code=self.status)

        return app


@pytest.fixture
def receiver():
    r = PosReceiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def requests(db):
    return PaymentRequests(db)


@pytest.fixture
def outbox(db):
    return Outbox(db)


def paid_request(requests, receipt_no="R-0001"):
    opened = requests.create("shop-a", "t1", 500, "order-1", "counter-1", 180, AT)
    return requests.mark_paid("shop-a", opened.request_id, receipt_no, AT + timedelta(seconds=30))


def the_api_s_answer(requests, request_id):
    """What the POS API answers a GET of the request with (its JSON)."""
    digest = hashlib.sha256(POS_TOKEN.encode()).hexdigest()
    app = create_pos_app(requests, {"shop-a": digest}, lambda: AT + timedelta(minutes=1))
    with TestClient(app) as client:
        answer = client.get(
            f"/v1/payment-requests/{request_id}", headers={"Authorization": f"Bearer {POS_TOKEN}"}
        )
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture
def pushing(outbox, receiver, clock):
    notices, sender = pos_notices(outbox, receiver.url, TOKEN, 5.0, clock)
    yield notices, sender
    sender.stop()


def test_a_paid_request_is_pushed_as_the_pos_api_answers_it(requests, receiver, pushing):
    notices, sender = pushing
    paid = paid_request(requests)
    notices.paid(paid, AT + timedelta(seconds=31))
    assert sender.run_once() == PassReport(delivered=1)

    ((headers, body),) = receiver.pushes
    assert json.loads(body) == the_api_s_answer(requests, paid.request_id)
    assert json.loads(body)["state"] == "paid" and json.loads(body)["receipt_no"] == "R-0001"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"


def test_the_idempotency_key_is_the_outbox_message_id(requests, outbox, receiver, pushing):
    notices, sender = pushing
    notices.paid(paid_request(requests), AT)
    (message,) = outbox.list()
    sender.run_once()
    ((headers, _),) = receiver.pushes
    assert headers["idempotency-key"] == message.message_id
    assert (message.destination, message.provider_id) == (POS_DESTINATION, "shop-a")


def test_a_pos_that_is_down_gets_the_push_once_it_is_back(requests, outbox, clock):
    pos = PosReceiver()  # a free port nobody listens on yet
    notices, sender = pos_notices(outbox, pos.url, TOKEN, 5.0, clock)
    try:
        notices.paid(paid_request(requests), AT)
        assert sender.run_once() == PassReport(failed=1)
        (waiting,) = outbox.list()
        assert (waiting.attempts, waiting.last_error) == (1, "connect_failed")

        pos.start()
        assert sender.run_once() == PassReport()  # not due before its backoff
        clock.now += BACKOFF_FIRST
        assert sender.run_once() == PassReport(delivered=1)
        assert len(pos.pushes) == 1 and outbox.get(waiting.message_id).delivered
        assert sender.run_once() == PassReport()  # delivered once, never again
    finally:
        sender.stop()
        pos.stop()


def test_a_push_the_pos_refused_goes_again_with_the_same_key(requests, receiver, clock, pushing):
    notices, sender = pushing
    receiver.status = 503
    notices.paid(paid_request(requests), AT)
    assert sender.run_once() == PassReport(failed=1)
    receiver.status = 200
    clock.now += BACKOFF_FIRST
    assert sender.run_once() == PassReport(delivered=1)
    first, second = receiver.pushes
    assert first == second  # the POS deduplicates by the Idempotency-Key


def test_a_request_noticed_twice_is_pushed_once(requests, outbox, receiver, pushing):
    notices, sender = pushing
    paid = paid_request(requests)
    notices.paid(paid, AT)
    notices.paid(paid, AT + timedelta(seconds=1))  # e.g. a repeated run of the payment
    assert len(outbox.list()) == 1
    sender.run_once()
    assert len(receiver.pushes) == 1


def test_a_notice_is_audited_and_wakes_the_sender(requests, outbox, db):
    woken = []
    notices = OutboxNotices(outbox, wake=lambda: woken.append(True))
    notices.paid(paid_request(requests), AT)
    assert woken == [True]
    (event,) = [e for e in AuditLog(db).recent() if e.action == "pos.notice"]
    assert (event.ok, event.provider_id, event.terminal_id) == (True, "shop-a", "t1")


class BrokenOutbox:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def enqueue(self, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize("error", [StoreError("unavailable"), RuntimeError("a bug")])
def test_a_notice_never_raises(requests, error, caplog):
    woken = []
    notices = OutboxNotices(BrokenOutbox(error), wake=lambda: woken.append(True))
    notices.paid(paid_request(requests), AT)  # the payment stands; the POS can poll
    assert woken == []
    assert any("not queued" in r.getMessage() for r in caplog.records)


def test_the_body_names_the_request_and_nothing_of_the_card_holder(requests):
    body = json.loads(notice_body(paid_request(requests)))
    assert set(body) == {
        "request_id",
        "terminal_id",
        "amount_yen",
        "order_ref",
        "shop",
        "state",
        "created_at",
        "expires_at",
        "closed_at",
        "receipt_no",
    }
    assert uuid.UUID(body["request_id"])


def test_the_token_is_never_logged(requests, outbox, clock, caplog):
    caplog.set_level(logging.DEBUG)
    pos = PosReceiver()
    notices, sender = pos_notices(outbox, pos.url, TOKEN, 5.0, clock)
    try:
        notices.paid(paid_request(requests), AT)
        sender.run_once()  # down: a failure is logged
        pos.start()
        pos.status = 401
        clock.now += BACKOFF_FIRST
        sender.run_once()  # refused: logged too
        pos.status = 200
        clock.now += BACKOFF_FIRST * 2
        assert sender.run_once() == PassReport(delivered=1)
    finally:
        sender.stop()
        pos.stop()
    assert caplog.records
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


@pytest.mark.parametrize("token", ["", "abc\r\nX-Injected: 1"])
def test_a_callback_token_must_be_one_line(outbox, clock, token):
    with pytest.raises(ValueError):
        pos_notices(outbox, "https://pos.example/payments", token, 5.0, clock)


@pytest.mark.parametrize("url", ["http://pos.example/payments", "ftp://127.0.0.1/payments"])
def test_plain_http_elsewhere_than_this_machine_is_refused(outbox, clock, url):
    with pytest.raises(ValueError):
        pos_notices(outbox, url, TOKEN, 5.0, clock)

"""The POS API (kiosk.pos.api) over the payment requests store, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from kiosk.pos.api import DEFAULT_TTL_S, MAX_BODY, create_pos_app
from kiosk.store.payment_requests import PaymentRequests

AT = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
TOKENS = {"shop-a": "token-of-a", "shop-b": "token-of-b"}
A = {"Authorization": "Bearer token-of-a"}
B = {"Authorization": "Bearer token-of-b"}
BODY = {"amount_yen": 500, "order_ref": "order-1", "shop": "counter-1"}
RING_UP = "/v1/terminals/t1/payment-requests"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = AT

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(db, clock):
    digests = {p: hashlib.sha256(t.encode()).hexdigest() for p, t in TOKENS.items()}
    return create_pos_app(PaymentRequests(db), digests, clock)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def ring_up(client, body=BODY, headers=A, path=RING_UP):
    return client.post(path, json=body, headers=headers)


def test_ring_up_opens_a_request_the_pos_can_read(client):
    created = ring_up(client)
    assert created.status_code == 201
    request = created.json()
    assert (request["state"], request["amount_yen"], request["terminal_id"]) == ("open", 500, "t1")
    read = client.get(f"/v1/payment-requests/{request['request_id']}", headers=A)
    assert (read.status_code, read.json()) == (200, request)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "token-of-a"},
        {"Authorization": "Basic token-of-a"},
        {"Authorization": "Bearer "},
    ],
)
def test_a_known_bearer_token_is_required(client, headers):
    for answer in (
        ring_up(client, headers=headers),
        client.get("/v1/payment-requests/00000000-0000-0000-0000-000000000000", headers=headers),
        client.post(RING_UP, content=b"{not json", headers=headers),
    ):
        assert answer.status_code == 401
        assert answer.json()["error"] == "unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_another_provider_s_request_is_not_found(client):
    rid = ring_up(client).json()["request_id"]
    for answer in (
        client.get(f"/v1/payment-requests/{rid}", headers=B),
        client.post(f"/v1/payment-requests/{rid}/cancel", headers=B),
    ):
        assert (answer.status_code, answer.json()["error"]) == (404, "not_found")
    assert client.get(f"/v1/payment-requests/{rid}", headers=A).json()["state"] == "open"


@pytest.mark.parametrize("rid", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_request_is_not_found(client, rid):
    answer = client.get(f"/v1/payment-requests/{rid}", headers=A)
    assert (answer.status_code, answer.json()["error"]) == (404, "not_found")


def test_a_second_open_request_for_the_terminal_is_refused(client):
    assert ring_up(client).status_code == 201
    for headers in (A, B):
        answer = ring_up(client, headers=headers)
        assert (answer.status_code, answer.json()["error"]) == (409, "terminal_busy")
    assert ring_up(client, path="/v1/terminals/t2/payment-requests").status_code == 201


def test_two_racing_ring_ups_for_one_terminal_open_exactly_one(app):
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        with TestClient(app, raise_server_exceptions=False) as c:
            barrier.wait()
            statuses.append(ring_up(c).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]


@pytest.mark.parametrize("amount", [0, -1, 10_001, 1.5, 100.0, "100", True, None, 10**40, [1]])
def test_a_bad_amount_is_refused(client, amount):
    answer = ring_up(client, body={**BODY, "amount_yen": amount})
    assert (answer.status_code, answer.json()["error"]) == (422, "bad_amount")


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "tip_yen": 100},
        {"order_ref": "o", "shop": "s"},
        {"amount_yen": 500, "shop": "s"},
        [BODY],
        "text",
        None,
    ],
)
def test_unknown_or_missing_fields_are_refused(client, body):
    answer = ring_up(client, body=body)
    assert (answer.status_code, answer.json()["error"]) == (422, "bad_request")


@pytest.mark.parametrize(
    "field, value", [("order_ref", "a b"), ("shop", ""), ("order_ref", "x" * 65)]
)
def test_a_reference_that_is_not_a_short_code_is_refused(client, field, value):
    answer = ring_up(client, body={**BODY, field: value})
    assert (answer.status_code, answer.json()["error"]) == (422, "bad_field")


def test_a_bad_terminal_id_is_refused(client):
    answer = ring_up(client, path="/v1/terminals/t%20x/payment-requests")
    assert (answer.status_code, answer.json()["error"]) == (422, "bad_field")


GARBAGE = [
    b"",
    b"{",
    b"\xff\xfe",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"amount_yen": NaN, "order_ref": "o", "shop": "s"}',
    b'{"amount_yen": 1e400, "order_ref": "o", "shop": "s"}',
    b'{"amount_yen": ' + b"9" * 5000 + b', "order_ref": "o", "shop": "s"}',
    b'{"amount_yen": 500, "order_ref": "\\ud800", "shop": "s"}',
    b'{"amount_yen": 500, "order_ref": "o", "shop": "s", "shop": {"a": 1}}',
    b'{"amount_yen": {"$gt": 0}, "order_ref": "o", "shop": "s"}',
    b"null",
    b"x" * 100_000,
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_garbage_bodies_are_a_4xx_with_an_error_code(client, body, content_type):
    headers = dict(A) | ({"Content-Type": content_type} if content_type else {})
    for path in (RING_UP, "/v1/payment-requests/00000000-0000-0000-0000-000000000000/cancel"):
        answer = client.post(path, content=body, headers=headers)
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.json()["error"]


def test_cancel_withdraws_an_open_request_and_frees_the_terminal(client):
    rid = ring_up(client).json()["request_id"]
    answer = client.post(f"/v1/payment-requests/{rid}/cancel", headers=A)
    assert (answer.status_code, answer.json()["state"]) == (200, "cancelled")
    assert client.get(f"/v1/payment-requests/{rid}", headers=A).json()["state"] == "cancelled"
    assert ring_up(client).status_code == 201


def test_a_request_past_its_ttl_is_expired(client, clock):
    rid = ring_up(client).json()["request_id"]
    clock.now = AT + timedelta(seconds=DEFAULT_TTL_S)
    assert client.get(f"/v1/payment-requests/{rid}", headers=A).json()["state"] == "expired"
    answer = client.post(f"/v1/payment-requests/{rid}/cancel", headers=A)
    assert (answer.status_code, answer.json()["error"]) == (409, "expired")
    assert ring_up(client).status_code == 201


def test_cancelling_an_expired_request_nobody_read_is_refused_as_expired(client, clock):
    rid = ring_up(client).json()["request_id"]
    clock.now = AT + timedelta(seconds=DEFAULT_TTL_S + 1)
    answer = client.post(f"/v1/payment-requests/{rid}/cancel", headers=A)
    assert (answer.status_code, answer.json()["error"]) == (409, "expired")


def test_the_openapi_schema_documents_the_bodies_and_the_token(client):
    schema = client.get("/openapi.json").json()
    bodies = schema["components"]["schemas"]
    assert set(bodies["PaymentRequestBody"]["properties"]) == {"amount_yen", "order_ref", "shop"}
    assert bodies["PaymentRequestBody"]["additionalProperties"] is False
    assert "PaymentRequestState" in bodies and "ErrorBody" in bodies
    post = schema["paths"]["/v1/terminals/{terminal_id}/payment-requests"]["post"]
    assert {"201", "401", "409", "422"} <= set(post["responses"])
    assert post["security"] == [{"HTTPBearer": []}]


def test_tokens_are_known_by_their_sha256(db, clock):
    with pytest.raises(ValueError):
        create_pos_app(PaymentRequests(db), {"shop-a": "token-of-a"}, clock)
    same = hashlib.sha256(b"t").hexdigest()
    with pytest.raises(ValueError):
        create_pos_app(PaymentRequests(db), {"shop-a": same, "shop-b": same}, clock)


def test_a_body_over_the_bound_is_refused_before_it_is_decoded(client):
    answer = client.post(RING_UP, content=b" " * (MAX_BODY + 1), headers=A)
    assert (answer.status_code, answer.json()["error"]) == (413, "too_large")

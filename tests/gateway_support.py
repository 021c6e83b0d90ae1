"""A TEST card company's payment gateway on 127.0.0.1 (uvicorn in a thread), for the tests of
kiosk/services/gateway_http.py. It speaks the API of docs/payment-gateway.md and keeps its own
books: TEST accounts with balances, a per-charge limit, suspended and closed accounts, one
charge per idempotency key (`charges`: every charge it actually made, in order), voids.

Faults a test can set, for a charge and a void alike: `hold` (the gateway charges or voids,
then does not answer until `release` is set: the client times out), `fail_with` (answer this
5xx, after charging or voiding when `fail_after_charge`), `garbage` (answer these bytes as 200
application/json after charging or voiding). A status query always answers.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

TOKEN = "gateway-test-token-0123456789abcdef"
APPROVED_AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
OPENING_BALANCE = 10_000
LIMIT = 50_000


@dataclass
class Charge:
    """One charge the TEST gateway made."""

    key: str
    transaction_id: str
    request: dict[str, Any]
    voided: bool = False


@dataclass
class Books:
    """The TEST gateway's state and what it was asked."""

    balances: dict[str, int] = field(default_factory=dict)
    suspended: set[str] = field(default_factory=set)
    closed: set[str] = field(default_factory=set)
    declined_with: str | None = None  # decline every charge with this reason
    charges: list[Charge] = field(default_factory=list)
    declines: dict[str, dict[str, Any]] = field(default_factory=dict)
    void_keys: dict[str, str] = field(default_factory=dict)  # void key -> transaction id
    authorizations: list[str] = field(default_factory=list)
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    fail_with: int | None = None
    fail_after_charge: bool = False
    garbage: bytes | None = None

    def by_key(self, key: str) -> Charge | None:
        return next((c for c in self.charges if c.key == key), None)

    def by_transaction(self, transaction_id: str) -> Charge | None:
        return next((c for c in self.charges if c.transaction_id == transaction_id), None)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, media_type="application/json")


def _charge_answer(charge: Charge) -> dict[str, Any]:
    if charge.voided:
        return {
            "outcome": "voided",
            "idempotency_key": charge.key,
            "transaction_id": charge.transaction_id,
            "amount_yen": charge.request["amount_yen"],
            "voided_at": APPROVED_AT.isoformat(),
        }
    return {
        "outcome": "approved",
        "idempotency_key": charge.key,
        "transaction_id": charge.transaction_id,
        "amount_yen": charge.request["amount_yen"],
        "order_ref": charge.request["order_ref"],
        "approved_at": APPROVED_AT.isoformat().replace("+00:00", "Z"),
    }


_CHARGE_FIELDS = {
    "idempotency_key",
    "merchant_id",
    "terminal_id",
    "account_ref",
    "amount_yen",
    "order_ref",
}


def gateway_app(books: Books) -> FastAPI:
    """The TEST gateway's API (docs/payment-gateway.md)."""
    app = FastAPI()

    async def asked(request: Request) -> dict[str, Any] | Response:
        authorization = request.headers.get("authorization", "")
        books.authorizations.append(authorization)
        if authorization != f"Bearer {TOKEN}":
            return _json({"error": "unauthorised"}, 401)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return _json({"error": "bad_request"}, 400)
        if not isinstance(payload, dict):
            return _json({"error": "bad_request"}, 400)
        return payload

    def decide(payload: dict[str, Any]) -> str | None:
        """The decline reason for a new charge, or None (then it is charged)."""
        account, amount = payload["account_ref"], payload["amount_yen"]
        if books.declined_with is not None:
            return books.declined_with
        if account in books.closed:
            return "account_closed"
        if account in books.suspended:
            return "account_suspended"
        if amount > LIMIT:
            return "limit"
        if books.balances.get(account, OPENING_BALANCE) < amount:
            return "insufficient"
        return None

    async def answer_after_acting(body: object) -> Response:
        if books.garbage is not None:
            return Response(books.garbage, 200, media_type="application/json")
        if books.fail_with is not None and books.fail_after_charge:
            return _json({"error": "internal"}, books.fail_with)
        if books.hold:
            await asyncio.to_thread(books.release.wait, 30)
        return _json(body)

    @app.post("/v1/charges")
    async def charge(request: Request) -> Response:
        payload = await asked(request)
        if isinstance(payload, Response):
            return payload
        if set(payload) != _CHARGE_FIELDS:
            return _json({"error": "bad_request"}, 400)
        if books.fail_with is not None and not books.fail_after_charge:
            return _json({"error": "internal"}, books.fail_with)
        key = payload["idempotency_key"]
        earlier = books.by_key(key)
        if earlier is not None or key in books.declines:
            first = earlier.request if earlier is not None else books.declines[key]["request"]
            if first != payload:
                return _json({"error": "key_reused"}, 409)
            if earlier is not None:
                return await answer_after_acting(_charge_answer(earlier))
            return await answer_after_acting(books.declines[key]["answer"])
        reason = decide(payload)
        if reason is not None:
            answer = {"outcome": "declined", "idempotency_key": key, "reason": reason}
            books.declines[key] = {"request": payload, "answer": answer}
            return await answer_after_acting(answer)
        account = payload["account_ref"]
        books.balances[account] = (
            books.balances.get(account, OPENING_BALANCE) - payload["amount_yen"]
        )
        made = Charge(key, f"TX-TEST-{len(books.charges) + 1:06d}", payload)
        books.charges.append(made)
        return await answer_after_acting(_charge_answer(made))

    @app.post("/v1/charges/status")
    async def status(request: Request) -> Response:
        payload = await asked(request)
        if isinstance(payload, Response):
            return payload
        key = payload.get("idempotency_key")
        made = books.by_key(key)
        if made is not None:
            return _json(_charge_answer(made))
        if key in books.declines:
            return _json(books.declines[key]["answer"])
        return _json({"outcome": "not_found", "idempotency_key": key})

    @app.post("/v1/charges/void")
    async def void(request: Request) -> Response:
        payload = await asked(request)
        if isinstance(payload, Response):
            return payload
        if books.fail_with is not None and not books.fail_after_charge:
            return _json({"error": "internal"}, books.fail_with)
        transaction_id, key = payload.get("transaction_id"), payload.get("idempotency_key")
        if key in books.void_keys and books.void_keys[key] != transaction_id:
            return _json({"error": "key_reused"}, 409)
        made = books.by_transaction(transaction_id)
        if made is None:
            return _json({"error": "not_found"}, 404)
        if not made.voided:
            made.voided = True
            account = made.request["account_ref"]
            books.balances[account] += made.request["amount_yen"]
        books.void_keys[key] = transaction_id
        return await answer_after_acting(_charge_answer(made) | {"idempotency_key": key})

    return app


class TestGateway:
    """The TEST gateway served on a free port of 127.0.0.1."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.books = Books()
        self.server = uvicorn.Server(
            uvicorn.Config(
                gateway_app(self.books),
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:  # wait for the condition (listening), bounded
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the TEST gateway did not start")
            time.sleep(0.005)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def reset(self) -> Books:
        """Fresh books for the next test (the held answer, if any, let go first)."""
        self.books.release.set()
        self.books.__init__()  # type: ignore[misc]
        return self.books

    def stop(self) -> None:
        self.books.release.set()
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(10)


# --- the fixtures (a pytest plugin: tests/conftest.py loads this module) ---------------------


@pytest.fixture(scope="session")
def gateway_server() -> Iterator[TestGateway]:
    """The TEST card company on 127.0.0.1, one for the whole run."""
    running = TestGateway()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def books(gateway_server: TestGateway) -> Books:
    """Fresh books for each test (a held answer of an earlier test let go first)."""
    return gateway_server.reset()

"""The payment requests store (kiosk.store.payment_requests), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from kiosk.store.engine import Database, alembic_config
from kiosk.store.payment_requests import (
    BadAmount,
    BadField,
    PaymentRequest,
    PaymentRequests,
    RequestClosed,
    TerminalBusy,
    UnknownRequest,
)

AT = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
TTL = 120


@pytest.fixture
def requests(db):
    return PaymentRequests(db)


def open_one(
    requests: PaymentRequests,
    terminal: str = "t1",
    at: datetime = AT,
    provider: str = "shop-a",
    amount: int = 500,
) -> PaymentRequest:
    return requests.create(provider, terminal, amount, "order-1", "counter-1", TTL, at)


def test_create_opens_a_request_with_a_fresh_id_until_its_ttl(requests):
    first = open_one(requests, "t1")
    second = open_one(requests, "t2")
    assert first.request_id != second.request_id
    assert (first.state, first.amount_yen, first.terminal_id) == ("open", 500, "t1")
    assert first.expires_at == AT + timedelta(seconds=TTL)
    assert requests.get("shop-a", first.request_id, AT) == first


def test_a_terminal_has_one_open_request(requests):
    open_one(requests, "t1")
    with pytest.raises(TerminalBusy):
        open_one(requests, "t1")
    with pytest.raises(TerminalBusy):
        open_one(requests, "t1", provider="shop-b")


def test_a_closed_request_frees_its_terminal(requests):
    first = open_one(requests, "t1")
    requests.cancel("shop-a", first.request_id, AT)
    assert open_one(requests, "t1").open


def test_two_racing_creates_for_one_terminal_open_exactly_one(db):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ring_up() -> None:
        barrier.wait()
        try:
            open_one(PaymentRequests(db), "t1")
            outcomes.append("opened")
        except TerminalBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=ring_up) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "opened"]


@pytest.mark.parametrize("amount", [0, -1, 10_001, 1.5, 100.0, True, "100", None])
def test_an_amount_is_whole_yen_above_zero_and_within_the_limit(requests, amount):
    with pytest.raises(BadAmount):
        open_one(requests, amount=amount)


def test_the_limit_is_the_store_s(db):
    assert open_one(PaymentRequests(db, max_amount_yen=50_000), amount=50_000).open
    with pytest.raises(BadAmount):
        open_one(PaymentRequests(db, max_amount_yen=100), "t2", amount=101)


@pytest.mark.parametrize("field", ["provider_id", "terminal_id", "order_ref", "shop"])
@pytest.mark.parametrize("value", ["", "a b", "x" * 65, "日本", "-lead"])
def test_identifiers_and_references_are_short_codes(requests, field, value):
    args = {"provider_id": "shop-a", "terminal_id": "t1", "order_ref": "o", "shop": "s"}
    args[field] = value
    with pytest.raises(BadField):
        requests.create(amount_yen=500, ttl_s=TTL, at=AT, **args)


def test_a_request_past_its_ttl_is_expired_on_get(requests):
    req = open_one(requests)
    assert requests.get("shop-a", req.request_id, AT + timedelta(seconds=TTL - 1)).open
    late = requests.get("shop-a", req.request_id, AT + timedelta(seconds=TTL))
    assert (late.state, late.closed_at) == ("expired", AT + timedelta(seconds=TTL))


def test_an_expired_request_cannot_be_cancelled(requests):
    req = open_one(requests)
    late = AT + timedelta(seconds=TTL + 1)
    with pytest.raises(RequestClosed) as cancelled:
        requests.cancel("shop-a", req.request_id, late)
    assert cancelled.value.code == "expired"


def test_a_charge_approved_as_the_request_expired_still_marks_it_paid(requests):
    # the card holder agreed while it was open; the card company answered after its TTL:
    # the money moved, so the request says paid (and the POS is told), not expired
    req = open_one(requests)
    late = AT + timedelta(seconds=TTL + 1)
    assert requests.get("shop-a", req.request_id, late).state == "expired"
    paid = requests.mark_paid("shop-a", req.request_id, "r-1", late)
    assert (paid.state, paid.receipt_no) == ("paid", "r-1")


def test_a_cancelled_request_is_never_marked_paid(requests):
    req = open_one(requests)
    requests.cancel("shop-a", req.request_id, AT)
    with pytest.raises(RequestClosed) as paid:
        requests.mark_paid("shop-a", req.request_id, "r-1", AT)
    assert paid.value.code == "cancelled"


def test_a_stale_request_does_not_block_its_terminal(requests):
    stale = open_one(requests, "t1")
    fresh = open_one(requests, "t1", at=AT + timedelta(seconds=TTL))
    assert fresh.open
    assert requests.get("shop-a", stale.request_id, AT).state == "expired"


def test_expire_due_closes_every_stale_request(requests):
    open_one(requests, "t1")
    open_one(requests, "t2", at=AT + timedelta(seconds=60))
    assert requests.expire_due(AT + timedelta(seconds=TTL)) == 1
    assert requests.expire_due(AT + timedelta(seconds=TTL + 60)) == 1
    assert requests.expire_due(AT + timedelta(days=1)) == 0


def test_cancel_is_final_and_idempotent(requests):
    req = open_one(requests)
    cancelled = requests.cancel("shop-a", req.request_id, AT)
    assert (cancelled.state, cancelled.closed_at) == ("cancelled", AT)
    assert requests.cancel("shop-a", req.request_id, AT + timedelta(seconds=1)) == cancelled
    with pytest.raises(RequestClosed) as paid:
        requests.mark_paid("shop-a", req.request_id, "r-1", AT)
    assert paid.value.code == "cancelled"


def test_mark_paid_records_the_receipt_once(requests):
    req = open_one(requests)
    paid = requests.mark_paid("shop-a", req.request_id, "r-1", AT)
    assert (paid.state, paid.receipt_no) == ("paid", "r-1")
    assert requests.mark_paid("shop-a", req.request_id, "r-1", AT) == paid
    with pytest.raises(RequestClosed):
        requests.mark_paid("shop-a", req.request_id, "r-2", AT)
    with pytest.raises(RequestClosed) as cancelled:
        requests.cancel("shop-a", req.request_id, AT)
    assert cancelled.value.code == "paid"
    assert requests.get("shop-a", req.request_id, AT + timedelta(days=1)) == paid


@pytest.mark.parametrize("request_id", ["nope", "", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_id_is_unknown(requests, request_id):
    with pytest.raises(UnknownRequest):
        requests.get("shop-a", request_id, AT)


def test_a_provider_sees_only_its_own_requests(requests):
    req = open_one(requests)
    with pytest.raises(UnknownRequest):
        requests.get("shop-b", req.request_id, AT)
    with pytest.raises(UnknownRequest):
        requests.cancel("shop-b", req.request_id, AT)
    assert requests.get("shop-a", req.request_id, AT).open


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'kiosk.sqlite3'}"
    return request.getfixturevalue("postgres_empty_db")


def test_0008_goes_down_and_up_again(empty_url):
    db = Database(empty_url)
    try:
        db.upgrade("0008")
        open_one(PaymentRequests(db))
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        with db.engine.connect() as conn:
            assert "payment_requests" not in inspect(conn).get_table_names()
        db.upgrade("0008")
        assert open_one(PaymentRequests(db)).open
    finally:
        db.dispose()

"""The card company's gateway over HTTP, against a real TEST gateway on 127.0.0.1 (uvicorn in a
thread, tests/gateway_support.py): approvals, each decline, one charge per idempotency key, and
every fault (a late answer, a 5xx, an answer that is not the contract's, no server) an Unknown
that a status query resolves before anything is retried. The payment service over this adapter
is tested in test_service_payment.py."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime

import httpx
import pytest

from kiosk.services.card_gateway import (
    Approved,
    Declined,
    DeclineReason,
    GatewayRefused,
    NotFound,
    PaymentKeyReused,
    SafeToRetry,
    Unknown,
    Voided,
)
from kiosk.services.gateway_http import HttpCardGateway
from tests.gateway_support import APPROVED_AT, LIMIT, TOKEN

SHOP, TERMINAL, ACCOUNT, ORDER = "shop-1", "kiosk-1", "ACC-0001", "REQ-0001"
NOW = datetime(2026, 12, 3, 1, 29, tzinfo=UTC)


@pytest.fixture
def gateway(gateway_server, books):
    # a short per-phase timeout: the held answer below is never sent in time
    with HttpCardGateway(gateway_server.url, TOKEN, timeout_s=0.5) as gateway:
        yield gateway


def pay(gateway: HttpCardGateway, key: str = "key-1", amount: int = 1_280, account=ACCOUNT):
    return gateway.authorise_and_capture(key, SHOP, TERMINAL, account, amount, ORDER)


# --- approvals and declines ---------------------------------------------------------------


def test_an_approved_charge_is_read_and_made_once_with_the_token(gateway, books):
    outcome = pay(gateway)
    assert outcome == Approved("key-1", "TX-TEST-000001", 1_280, ORDER, APPROVED_AT)
    assert outcome.approved_at.tzinfo is not None
    (made,) = books.charges
    assert made.request == {"idempotency_key": "key-1", "merchant_id": SHOP,
                            "terminal_id": TERMINAL, "account_ref": ACCOUNT,
                            "amount_yen": 1_280, "order_ref": ORDER}  # fmt: skip
    assert books.authorizations == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize(
    ("arrange", "amount", "reason"),
    [
        (lambda b: b.balances.update({ACCOUNT: 100}), 1_280, DeclineReason.INSUFFICIENT),
        (lambda b: None, LIMIT + 1, DeclineReason.LIMIT),
        (lambda b: b.suspended.add(ACCOUNT), 1_280, DeclineReason.ACCOUNT_SUSPENDED),
        (lambda b: b.closed.add(ACCOUNT), 1_280, DeclineReason.ACCOUNT_CLOSED),
        (lambda b: setattr(b, "declined_with", "gateway_declined"), 1_280,
         DeclineReason.GATEWAY_DECLINED),
        # a reason this kiosk does not know is still a decline, never an approval or unknown
        (lambda b: setattr(b, "declined_with", "suspected_fraud"), 1_280,
         DeclineReason.GATEWAY_DECLINED),
    ],
)  # fmt: skip
def test_each_decline_reason_is_read_and_nothing_is_charged(
    gateway, books, arrange, amount, reason
):
    arrange(books)
    assert pay(gateway, amount=amount) == Declined("key-1", reason)
    assert books.charges == []
    assert gateway.status("key-1") == Declined("key-1", reason)


def test_the_same_key_twice_charges_once(gateway, books):
    first = pay(gateway)
    assert pay(gateway) == first
    assert len(books.charges) == 1
    assert books.balances[ACCOUNT] == 10_000 - 1_280


def test_the_same_key_with_another_payment_is_refused_and_charges_nothing_more(gateway, books):
    pay(gateway)
    with pytest.raises(PaymentKeyReused):
        pay(gateway, amount=999)
    assert len(books.charges) == 1


def test_a_key_never_sent_is_not_found_and_safe_to_retry(gateway):
    assert gateway.status("never-sent") == NotFound("never-sent")
    assert gateway.resolve("never-sent") == SafeToRetry("never-sent")


# --- faults: unknown, resolved by a status query --------------------------------------------


def test_an_answer_too_late_is_unknown_and_resolve_finds_the_charge_approved(gateway, books):
    books.hold = True  # the gateway charges, then answers after the client gave up
    assert pay(gateway) == Unknown("key-1", "timeout")
    books.hold = False
    resolved = gateway.resolve("key-1")
    assert isinstance(resolved, Approved) and resolved.transaction_id == "TX-TEST-000001"
    assert len(books.charges) == 1


def test_a_5xx_before_charging_is_unknown_then_safe_to_retry_with_the_same_key(gateway, books):
    books.fail_with = 503
    assert pay(gateway) == Unknown("key-1", "server_error")
    books.fail_with = None
    assert gateway.resolve("key-1") == SafeToRetry("key-1")
    assert isinstance(pay(gateway), Approved)
    assert len(books.charges) == 1


def test_a_5xx_after_charging_is_unknown_never_declined_and_resolves_approved(gateway, books):
    books.fail_with, books.fail_after_charge = 500, True
    outcome = pay(gateway)
    assert outcome == Unknown("key-1", "server_error")
    assert not isinstance(outcome, Declined)
    assert isinstance(gateway.resolve("key-1"), Approved)


@pytest.mark.parametrize(
    "garbage",
    [
        b"not json",
        b'{"outcome": "approved"}',
        b'{"outcome": "declined", "idempotency_key": "key-1", "reason": "insufficient", "x": 1}',
        b'{"outcome": "declined", "idempotency_key": "another-key", "reason": "limit"}',
        b'{"outcome": "approved", "idempotency_key": "key-1", "transaction_id": "T",'
        b' "amount_yen": 1280, "order_ref": "REQ-0001", "approved_at": "2026-12-03T10:30:00"}',
        b'{"outcome": "approved", "idempotency_key": "key-1", "transaction_id": "T",'
        b' "amount_yen": 9999, "order_ref": "REQ-0001", "approved_at": "2026-12-03T01:30:00Z"}',
        b'{"outcome": "not_found", "idempotency_key": "key-1"}',
        b"[" * 10_000,
    ],
)
def test_an_answer_that_is_not_the_contracts_is_unknown_then_resolved(gateway, books, garbage):
    # the gateway charged; an unreadable answer must not read as "not charged"
    books.garbage = garbage
    assert pay(gateway) == Unknown("key-1", "bad_answer")
    books.garbage = None
    assert isinstance(gateway.resolve("key-1"), Approved)
    assert len(books.charges) == 1


def test_no_server_is_unknown_and_so_is_its_resolution():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    with HttpCardGateway(f"http://127.0.0.1:{port}", TOKEN, timeout_s=0.5) as gateway:
        assert pay(gateway) == Unknown("key-1", "unreachable")
        assert gateway.resolve("key-1") == Unknown("key-1", "unreachable")


def test_a_redirect_is_not_followed_and_is_unknown():
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": "https://elsewhere.example/v1/charges"})

    transport = httpx.MockTransport(redirect)
    with HttpCardGateway("https://gw.example", TOKEN, transport=transport) as gateway:
        assert pay(gateway) == Unknown("key-1", "redirect")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_status_query_answered_with_a_5xx_is_unknown_never_safe_to_retry(status):
    # "not found" would let the kiosk charge again: a failed status query must not read so
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "internal"})

    transport = httpx.MockTransport(failing)
    with HttpCardGateway("https://gw.example", TOKEN, transport=transport) as gateway:
        assert gateway.status("key-1") == Unknown("key-1", "server_error")
        assert gateway.resolve("key-1") == Unknown("key-1", "server_error")


def test_a_void_without_an_answer_is_unknown_and_voids_once_when_sent_again(gateway, books):
    charged = pay(gateway)
    assert isinstance(charged, Approved)
    books.hold = True  # the gateway voids, then answers after the client gave up
    assert gateway.void(charged.transaction_id, "void-1") == Unknown("void-1", "timeout")
    books.hold = False
    voided = gateway.void(charged.transaction_id, "void-1")
    assert isinstance(voided, Voided) and books.balances[ACCOUNT] == 10_000


def test_a_4xx_is_a_typed_refusal(gateway_server, books):
    with HttpCardGateway(gateway_server.url, "another-token", timeout_s=0.5) as gateway:
        with pytest.raises(GatewayRefused) as refused:
            pay(gateway)
    assert (refused.value.status, refused.value.error) == (401, "unauthorised")
    assert books.charges == []


# --- void ---------------------------------------------------------------------------------


def test_a_void_gives_the_money_back_once_and_the_status_says_voided(gateway, books):
    charged = pay(gateway)
    assert isinstance(charged, Approved)
    voided = gateway.void(charged.transaction_id, "void-1")
    assert voided == Voided("void-1", charged.transaction_id, 1_280, APPROVED_AT)
    assert gateway.void(charged.transaction_id, "void-1") == voided
    assert books.balances[ACCOUNT] == 10_000
    assert isinstance(gateway.status("key-1"), Voided)
    assert isinstance(gateway.resolve("key-1"), Voided)  # never "safe to retry"


def test_a_void_of_an_unknown_transaction_is_refused(gateway):
    with pytest.raises(GatewayRefused) as refused:
        gateway.void("TX-NONE", "void-1")
    assert refused.value.status == 404


# --- construction and secrets ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://gw.example", "http://10.0.0.5:8080", "ftp://127.0.0.1", "gw.example"]
)
def test_plain_http_beyond_this_machine_is_refused_at_construction(url):
    with pytest.raises(ValueError):
        HttpCardGateway(url, TOKEN)


@pytest.mark.parametrize("url", ["https://gw.example", "http://127.0.0.1:9", "http://[::1]:9"])
def test_https_and_plain_http_to_this_machine_are_accepted(url):
    HttpCardGateway(url, TOKEN).close()


def test_the_token_is_never_in_a_message_a_log_or_the_repr(gateway_server, books, caplog):
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    with HttpCardGateway(gateway_server.url, TOKEN, timeout_s=0.5) as gateway:
        messages.append(repr(gateway))
        books.hold = True
        messages.append(repr(pay(gateway)))
        books.hold, books.fail_with = False, 502
        messages.append(repr(pay(gateway, key="key-2")))
        books.fail_with, books.garbage = None, b"{"
        messages.append(repr(pay(gateway, key="key-3")))
        books.garbage = None
        with pytest.raises(PaymentKeyReused) as reused:
            pay(gateway, amount=7)
        messages.append(str(reused.value))
    with HttpCardGateway(gateway_server.url, TOKEN + "x") as wrong:
        with pytest.raises(GatewayRefused) as refused:
            pay(wrong)
        messages.append(str(refused.value))
    with pytest.raises(ValueError) as bad:
        HttpCardGateway(gateway_server.url, TOKEN + " space")
    messages.append(str(bad.value))
    assert caplog.text  # the failures were logged...
    assert all(TOKEN not in m for m in (*messages, caplog.text))  # ...without the token

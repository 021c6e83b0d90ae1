"""A kiosk killed in the middle of a payment, then restarted: the ledger and the card company
agree, nothing is charged twice and nothing is lost (issue 12's fault tests).

A real kiosk-side process (tests/payment_child.py) pays one request over HTTP to the TEST card
company (tests/gateway_support.py) and is SIGKILLed at one of three points: after its ledger
row is written and before the card company is asked; while the card company holds an answer
to a charge it has made; after the card company answered and before the ledger is updated.
Then "the restart": the reconciliation that runs at start, and the person paying again.
Both stores (SQLite file, PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.clock import utc_now
from kiosk.services.gateway_http import HttpCardGateway
from kiosk.services.payment import NOT_SENT, PaymentService
from kiosk.services.payment_desk import reconcile
from kiosk.store.engine import Database
from kiosk.store.ledger import LedgerState, PaymentLedger
from kiosk.store.payment_requests import PaymentRequests
from tests.gateway_support import TOKEN, TestGateway
from tests.payment_child import AMOUNT, PROVIDER, TERMINAL, paying

pytestmark = pytest.mark.slow  # started first when the suite is shared out

CHILD = Path(__file__).parents[1] / "payment_child.py"
ACCOUNT = "acct-0001"


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _open_request(db: Database) -> str:
    request = PaymentRequests(db).create(
        PROVIDER, TERMINAL, AMOUNT, "order-1", "counter-1", 600, utc_now()
    )
    return request.request_id


def _wait_for(condition, what: str, child: subprocess.Popen[str]) -> None:
    """Wait (bounded) for a condition another process brings about."""
    deadline = time.monotonic() + 30
    while not condition():
        if child.poll() is not None:
            raise AssertionError(f"the kiosk process ended before {what}: {child.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within 30 s")
        time.sleep(0.01)


def _kill_mid_payment(
    mode: str, db: Database, gateway_server: TestGateway, request_id: str
) -> None:
    books = gateway_server.reset()
    books.hold = mode == "held"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), mode, _url(db), gateway_server.url, request_id, ACCOUNT],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if mode == "held":
            _wait_for(lambda: len(books.charges) == 1, "charge at the card company", child)
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        books.hold = False
        books.release.set()  # let the held answer go (to nobody)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""


@pytest.mark.parametrize(
    ("mode", "charged_before_restart"),
    [("die-before-send", 0), ("held", 1), ("die-after-answer", 1)],
)
def test_a_kiosk_killed_mid_payment_agrees_with_the_card_company_after_restart(
    db: Database, gateway_server: TestGateway, mode: str, charged_before_restart: int
) -> None:
    request_id = _open_request(db)
    _kill_mid_payment(mode, db, gateway_server, request_id)
    books = gateway_server.books
    ledger, requests = PaymentLedger(db), PaymentRequests(db)

    [left] = ledger.attempts_of(PROVIDER, request_id, ACCOUNT)
    assert left.state is LedgerState.PENDING  # the kill left the row as it was written
    assert len(books.charges) == charged_before_restart

    # the restart: the reconciliation at start, with the card company's status
    gateway = HttpCardGateway(gateway_server.url, TOKEN, code="card")
    done = reconcile(ledger, gateway, requests, older_than=utc_now(), clock=utc_now)
    [row] = ledger.attempts_of(PROVIDER, request_id, ACCOUNT)
    if charged_before_restart:
        assert (done.settled, row.state) == (1, LedgerState.SETTLED)
        assert row.receipt_no == books.charges[0].transaction_id
        assert requests.get(PROVIDER, request_id, utc_now()).state == "paid"
    else:
        assert (done.not_sent, row.state, row.reason) == (1, LedgerState.DECLINED, NOT_SENT)
        assert requests.get(PROVIDER, request_id, utc_now()).state == "open"

    # the person pays again: charged now if it never was, else shown the first receipt
    service = PaymentService(requests, ledger, gateway, TERMINAL)
    result = service.run(paying(request_id, ACCOUNT))
    assert result.ok
    [charge] = books.charges  # one charge at the card company, whatever happened
    settled = [
        e
        for e in ledger.attempts_of(PROVIDER, request_id, ACCOUNT)
        if e.state is LedgerState.SETTLED
    ]
    assert [e.receipt_no for e in settled] == [charge.transaction_id]
    paid = requests.get(PROVIDER, request_id, utc_now())
    assert (paid.state, paid.receipt_no) == ("paid", charge.transaction_id)
    assert charge.transaction_id in {row.value for row in result.rows}
    gateway.close()

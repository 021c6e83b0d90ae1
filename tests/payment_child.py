"""A kiosk process that pays one request and is killed mid-payment (tests/unit/
test_payment_crash.py runs it). Arguments: mode, store URL, gateway URL, request id, account.

Modes: `die-before-send` (killed after the ledger row is written, before the card company is
asked), `held` (the card company holds its answer; the test kills this process while it
waits), `die-after-answer` (killed after the card company answered, before the ledger is
updated). The kill is SIGKILL: no cleanup, no flush, as a power cut or the OOM killer."""

from __future__ import annotations

import os
import signal
import sys

from kiosk.clock import utc_now
from kiosk.i18n import Text
from kiosk.services.base import Link, ServiceContext, ServicePreview
from kiosk.services.card_gateway import ChargeOutcome
from kiosk.services.gateway_http import HttpCardGateway
from kiosk.services.payment import PaymentService, preview_reference
from kiosk.store.engine import Database
from kiosk.store.ledger import PaymentLedger
from kiosk.store.payment_requests import PaymentRequests

PROVIDER, TERMINAL, AMOUNT = "shop-1", "till-1", 1_280
TOKEN = "gateway-test-token-0123456789abcdef"  # noqa: S105 - tests/gateway_support.py's


class _Dying(HttpCardGateway):
    """The card company's adapter, with the process killed at the mode's point."""

    mode = ""

    def authorise_and_capture(self, *args: object, **kwargs: object) -> ChargeOutcome:
        if self.mode == "die-before-send":
            os.kill(os.getpid(), signal.SIGKILL)
        outcome = super().authorise_and_capture(*args, **kwargs)  # type: ignore[arg-type]
        if self.mode == "die-after-answer":
            os.kill(os.getpid(), signal.SIGKILL)
        return outcome


def paying(request_id: str, account: str) -> ServiceContext:
    """The context of a person who saw the request's amount and agreed to pay it."""
    return ServiceContext(
        service_id="payment",
        provider_id=PROVIDER,
        language="ja",
        subject="subject",
        cert_not_after=None,
        link=Link(account, utc_now()),
        consented=frozenset({"pay"}),
        preview=ServicePreview(Text("", "", ""), reference=preview_reference(request_id, AMOUNT)),
    )


def main(mode: str, store_url: str, gateway_url: str, request_id: str, account: str) -> int:
    db = Database(store_url)
    gateway = _Dying(gateway_url, TOKEN, code="card", timeout_s=60, total_s=60)
    gateway.mode = mode
    service = PaymentService(PaymentRequests(db), PaymentLedger(db), gateway, TERMINAL)
    result = service.run(paying(request_id, account))
    print("ok" if result.ok else "not ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

"""The demo wing: TEST adapters live in kiosk.demo, which no production package imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kiosk.app import available_services
from kiosk.clock import utc_now
from kiosk.demo.insurance import TestEligibilityDirectory
from kiosk.demo.login import MemoryLoginBroker
from kiosk.demo.payment import DEMO_AMOUNT_YEN, MemoryCardGateway
from kiosk.services.identity import IdentityService

ROOT = Path(__file__).resolve().parents[2]


def test_no_production_package_imports_the_demo_wing():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--contract", "demo-wing", "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_the_kiosk_offers_the_three_services_over_their_test_adapters():
    services = available_services("kiosk-9", "shop-9")
    assert isinstance(services["identity"], IdentityService)
    assert isinstance(services["insurance"].directory, TestEligibilityDirectory)
    assert isinstance(services["login"].broker, MemoryLoginBroker)
    payment = services["payment"]
    assert isinstance(payment.gateway, MemoryCardGateway) and payment.gateway.test
    # without a store of the kiosk's, a scratch one with the demo's one TEST purchase
    pending = payment.requests.open_for("shop-9", "kiosk-9", utc_now())
    assert pending is not None and pending.amount_yen == DEMO_AMOUNT_YEN
    assert "TEST" in pending.shop and "TEST" in pending.order_ref

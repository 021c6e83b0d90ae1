"""The kiosk as `kiosk run` starts it for a shop counter: the POS API is served by the kiosk
once its store is migrated, the staff menu can void, and stopping the kiosk stops the API."""

from __future__ import annotations

import hashlib
import socket
import time
from dataclasses import replace

import httpx
import pytest

from kiosk.app import start
from kiosk.card.reader import InProcessReader
from kiosk.config import from_mapping

TOKEN = "shop-pos-token"  # noqa: S105 - a test token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_served(url: str) -> httpx.Response:
    """The POS API's schema, once the kiosk serves it (bounded wait: the card worker builds
    the backend and migrates the store behind the attract screen)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(f"{url}/openapi.json", timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def shop_kiosk(qtbot, tmp_path, test_pki, staff_members):
    port = _free_port()
    cfg = from_mapping(
        {
            "data_dir": str(tmp_path),
            "trust_dir": str(test_pki.trust_dir),
            "crl_dir": str(test_pki.crl_dir),
            "provider_id": "shop-1",
            "terminal_id": "till-1",
            "services": ["identity", "payment"],
            "sound": False,
            "pos": {"listen": f"127.0.0.1:{port}"},
            "pos_tokens": {"shop-1": hashlib.sha256(TOKEN.encode()).hexdigest()},
        }
    )
    kiosk = start(replace(cfg, staff=staff_members), windowed=True, reader=InProcessReader())
    qtbot.addWidget(kiosk.window)
    stopped: list[bool] = []
    yield kiosk, f"http://127.0.0.1:{port}", stopped
    if not stopped:
        kiosk.stop()


def test_the_kiosk_serves_the_pos_api_and_stops_it_with_itself(shop_kiosk):
    kiosk, url, stopped = shop_kiosk
    assert _wait_until_served(url).status_code == 200
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"amount_yen": 1280, "order_ref": "ORDER-1", "shop": "counter-1"}
    rung = httpx.post(f"{url}/v1/terminals/till-1/payment-requests", json=body, headers=auth)
    assert rung.status_code == 201, rung.text
    busy = httpx.post(f"{url}/v1/terminals/till-1/payment-requests", json=body, headers=auth)
    assert (busy.status_code, busy.json()["error"]) == (409, "terminal_busy")
    assert httpx.post(f"{url}/v1/terminals/till-1/payment-requests", json=body).status_code == 401
    config = kiosk.controller.flow.config
    assert [s.id for s in config.services] == ["identity", "payment"]
    assert config.staff_voids  # staff can void a payment from the staff menu
    kiosk.stop()
    stopped.append(True)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/openapi.json", timeout=2)

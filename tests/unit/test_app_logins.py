"""The composition root's login: over the platform (a kiosk that verifies at a platform), over
the in-process OpenID Provider (a one-box kiosk with `[oidc]`), else the TEST broker."""

from __future__ import annotations

from kiosk import app
from kiosk.config import from_mapping
from kiosk.demo.login import MemoryLoginBroker
from kiosk.oidc.provider import OpenIdProvider
from kiosk.platform.client import PlatformClient
from kiosk.services.login import LoginService


def _login(cfg, db, closers) -> LoginService:
    service = app.configured_services(cfg, db, closers)["login"]
    assert isinstance(service, LoginService)
    return service


def test_a_kiosk_that_verifies_at_a_platform_signs_in_through_it(db, tmp_path):
    cfg = from_mapping(
        {
            "data_dir": str(tmp_path),
            "verification": "platform",
            "platform_url": "http://127.0.0.1:9",
            "platform_token": "t",
            "services": ["identity", "login"],
            "terminal_id": "kiosk-3",
        }
    )
    closers: list = []
    service = _login(cfg, db, closers)
    assert isinstance(service.broker, PlatformClient) and service.terminal_id == "kiosk-3"
    assert closers  # the client is closed with the kiosk
    for close in closers:
        close()


def test_a_one_box_kiosk_with_oidc_signs_in_through_its_own_provider(db, tmp_path):
    cfg = from_mapping(
        {
            "data_dir": str(tmp_path),
            "services": ["identity", "login"],
            "oidc": {"issuer": "http://127.0.0.1:8480"},
        }
    )
    assert isinstance(_login(cfg, db, []).broker, OpenIdProvider)
    assert (tmp_path / "oidc-pairwise.key").stat().st_mode & 0o077 == 0  # made, private


def test_without_a_provider_the_login_is_the_test_broker(db, tmp_path):
    cfg = from_mapping({"data_dir": str(tmp_path), "services": ["identity", "login"]})
    assert isinstance(_login(cfg, db, []).broker, MemoryLoginBroker)

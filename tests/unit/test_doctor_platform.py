"""`kiosk doctor`'s platform check through the real client against a real platform over HTTP
(uvicorn in a thread): a credential it accepts, one it does not know, and no platform at all."""

from __future__ import annotations

import socket

from test_platform_http import PROVIDER, TOKEN

from kiosk import config
from kiosk.commands.doctor import ask_platform
from kiosk.doctor import Status, check_platform

pytest_plugins = ["test_verify_support", "test_platform_http"]


def kiosk_config(url: str, token: str) -> config.Config:
    return config.from_mapping(
        {
            "verification": "platform",
            "platform_url": url,
            "platform_token": token,
            "provider_id": PROVIDER,
            "terminal_id": "kiosk-3",
        }
    )


def test_a_platform_that_accepts_the_kiosk_is_ok(platform) -> None:
    result = check_platform(kiosk_config(platform.url, TOKEN), ask_platform)
    assert result.status is Status.OK, result
    assert platform.url in result.detail


def test_a_token_the_platform_does_not_know_fails_with_what_to_do(platform) -> None:
    result = check_platform(kiosk_config(platform.url, "not-" + TOKEN), ask_platform)
    assert result.status is Status.FAIL
    assert "refuses this kiosk's token" in result.detail
    assert "kiosk platform credential issue --terminal kiosk-3" in result.remedy
    assert TOKEN not in result.line()


def test_no_platform_listening_fails_as_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = check_platform(kiosk_config(f"http://127.0.0.1:{port}", TOKEN), ask_platform)
    assert result.status is Status.FAIL
    assert "cannot be reached" in result.detail

"""The kiosk with verification = "platform": its card work goes to a real platform over HTTP
(uvicorn in a thread), which issues the challenges, verifies, records and links."""

from __future__ import annotations

import json

import httpx
import pytest
from test_platform_http import PROVIDER, TOKEN

from kiosk import config
from kiosk.app import platform_backend
from kiosk.card.reader import InProcessReader
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.platform import client as client_module
from kiosk.services.base import ServiceContext
from kiosk.simcard.applet import VirtualCard
from kiosk.ui.problems import problem_for

pytest_plugins = ["test_verify_support", "test_platform_http"]

PROOF_KEYS = {"provider_id", "terminal_id", "nonce", "certificate", "signature"}


@pytest.fixture
def sent(monkeypatch):
    """The JSON bodies the kiosk sends to the platform (over a real transport)."""
    bodies: list[dict] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request):
            if request.content:
                bodies.append(json.loads(request.content))
            return super().handle_request(request)

    init = client_module.PlatformClient.__init__

    def recorded(self, base_url, token, **kw):
        init(self, base_url, token, **{"transport": Recording(), **kw})

    monkeypatch.setattr(client_module.PlatformClient, "__init__", recorded)
    return bodies


@pytest.fixture
def kiosk(platform, card_file, tmp_path, sent):
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "verification": "platform",
            "platform_url": platform.url,
            "platform_token": TOKEN,
            "provider_id": PROVIDER,
        }
    )
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    closers: list = []
    backend = platform_backend(cfg, reader.connect, closers)
    yield backend
    backend.close_card()
    for close in closers:
        close()


def test_enrol_then_verify_through_the_platform(kiosk, sent):
    kiosk.read_card()
    first = kiosk.authenticate("1234", "identity", PROVIDER)
    assert first.link is None and not first.needs_reenrolment
    link = kiosk.enrol(kiosk.read_signer("ABC123", first), PROVIDER)
    kiosk.close_card()

    kiosk.read_card()
    again = kiosk.authenticate("1234", "identity", PROVIDER)
    assert again.link is not None and again.link.account_ref == link.account_ref
    context = ServiceContext("identity", PROVIDER, "ja", again.subject, again.not_after, again.link)
    assert kiosk.run_service(context).ok

    # what crossed the network: challenge requests, proofs and one enrolment application —
    # never the PIN or the password (the card checked them)
    kinds = [frozenset(body) for body in sent]
    assert kinds.count(frozenset({"provider_id", "terminal_id"})) == 3
    assert kinds.count(frozenset(PROOF_KEYS)) == 2
    assert kinds.count(frozenset({"document", "sign_certificate", "sign_signature", "auth_proof"}))
    assert len(kinds) == 6
    assert all("ABC123" not in json.dumps(body) for body in sent)


def test_platform_down_is_said_plainly(kiosk, platform):
    kiosk.read_card()
    platform.stop()
    with pytest.raises(KioskError) as e:
        kiosk.authenticate("1234", "identity", PROVIDER)
    assert problem_for(e.value).code is ProblemCode.PLATFORM_UNREACHABLE


def test_a_token_the_platform_does_not_know_is_said_plainly(platform, card_file, tmp_path):
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "kiosk"),
            "verification": "platform",
            "platform_url": platform.url,
            "platform_token": "not-the-token",
            "provider_id": PROVIDER,
        }
    )
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    closers: list = []
    backend = platform_backend(cfg, reader.connect, closers)
    try:
        backend.read_card()
        with pytest.raises(KioskError) as e:
            backend.authenticate("1234", "identity", PROVIDER)
        assert problem_for(e.value).code is ProblemCode.KIOSK_CREDENTIAL_REFUSED
    finally:
        backend.close_card()
        for close in closers:
            close()

"""A platform that relays a provider to another platform (a medical platform reusing a
financial platform's verification): the peer is a real platform over TCP, the front one is
served in process; the front never verifies that provider itself."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime

import pytest
from enrolment_support import bound_application
from fastapi.testclient import TestClient
from test_platform_http import TOKEN
from test_verify_support import PROVIDER, TERMINAL, make_proof

from kiosk import config
from kiosk.config import ConfigError, PeerConfig
from kiosk.platform.client import PlatformClient
from kiosk.platform.relay import RelayRules
from kiosk.platform.service import create_app, peer_clients
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.verdict import EnrolmentVerdict, LinkStatus, Reason, Verdict

pytest_plugins = ["test_verify_support", "test_platform_http"]

FRONT_TOKEN = secrets.token_urlsafe(32)  # the clinic's kiosks' token at the front platform
FRONT_AUTH = {"Authorization": f"Bearer {FRONT_TOKEN}"}
#: The front platform's name in relay chains: not the peer's ("platform", the default).
FRONT = RelayRules("front")


class Untouchable:
    """The front platform's own verifier and challenges: never used for a relayed provider."""

    def __getattr__(self, name):
        raise AssertionError(f"the front platform used its own {name} for a relayed provider")


@pytest.fixture
def front(platform):
    peer = PlatformClient(platform.url, TOKEN, timeout_s=5)  # the front's token at the peer
    app = create_app(
        verifier=Untouchable(),
        challenges=Untouchable(),
        tokens={PROVIDER: hashlib.sha256(FRONT_TOKEN.encode()).hexdigest()},
        clock=lambda: datetime.now(UTC),
        peers={PROVIDER: peer},
        relay_rules=FRONT,
    )
    with TestClient(app) as client:
        yield client
    peer.close()


def challenge(front: TestClient) -> IssuedChallenge:
    r = front.post(
        "/v1/challenges",
        json={"provider_id": PROVIDER, "terminal_id": TERMINAL},
        headers=FRONT_AUTH,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return IssuedChallenge(
        base64.b64decode(body["nonce"]),
        body["provider_id"],
        body["terminal_id"],
        datetime.fromisoformat(body["issued_at"]),
        datetime.fromisoformat(body["expires_at"]),
    )


def post_proof(front: TestClient, body: dict) -> dict:
    r = front.post("/v1/proofs", json=body, headers=FRONT_AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def test_proofs_are_verified_and_recorded_by_the_peer(front, world):
    proof = make_proof(world, challenge(front))
    first = front.post("/v1/proofs", json=proof.to_json(), headers=FRONT_AUTH)
    assert first.status_code == 200
    assert Verdict.from_json(first.json()).reason is Reason.OK
    # the peer's ledger knows the challenge was used: a replay through the front is refused
    again = Verdict.from_json(
        front.post("/v1/proofs", json=proof.to_json(), headers=FRONT_AUTH).json()
    )
    assert again.reason is Reason.CHALLENGE_REPLAYED


def test_enrolment_is_linked_at_the_peer(front, world):
    c = challenge(front)
    application = bound_application(
        PROVIDER, TERMINAL, c.nonce, sign_card=world, account_ref="patient-7"
    )
    r = front.post("/v1/enrolments", json=application.to_json(), headers=FRONT_AUTH)
    assert EnrolmentVerdict.from_json(r.json()).ok, r.text
    verdict = Verdict.from_json(
        front.post(
            "/v1/proofs", json=make_proof(world, challenge(front)).to_json(), headers=FRONT_AUTH
        ).json()
    )
    assert (verdict.account_ref, verdict.link_status) == ("patient-7", LinkStatus.ACTIVE)


def test_the_peer_down_is_503_peer_unreachable(front, platform, world):
    proof = make_proof(world, challenge(front))
    platform.stop()
    r = front.post("/v1/proofs", json=proof.to_json(), headers=FRONT_AUTH)
    assert (r.status_code, r.json()["error"]) == (503, "peer_unreachable")


def test_a_wrong_token_at_the_peer_is_502(platform, world):
    peer = PlatformClient(platform.url, "not-the-token", timeout_s=5)
    app = create_app(
        verifier=Untouchable(),
        challenges=Untouchable(),
        tokens={PROVIDER: hashlib.sha256(FRONT_TOKEN.encode()).hexdigest()},
        clock=lambda: datetime.now(UTC),
        peers={PROVIDER: peer},
        relay_rules=FRONT,
    )
    with TestClient(app) as client:
        r = client.post(
            "/v1/challenges",
            json={"provider_id": PROVIDER, "terminal_id": TERMINAL},
            headers=FRONT_AUTH,
        )
    peer.close()
    assert (r.status_code, r.json()["error"]) == (502, "peer_refused")
    assert "not-the-token" not in r.text


@pytest.mark.parametrize(
    ("peers", "words"),
    [
        ("https://x", "platform_peers: must be a table"),
        ({"not an id": {"url": "https://x", "token": "t"}}, 'platform_peers."not an id": unknown'),
        ({PROVIDER: "https://x"}, f"platform_peers.{PROVIDER}: must be a table"),
        ({PROVIDER: {"url": "https://x"}}, f"platform_peers.{PROVIDER}.token: is required"),
        ({PROVIDER: {"url": "https://x", "tokn": "t"}}, f"platform_peers.{PROVIDER}.tokn: unknown"),
        ({PROVIDER: {"url": "http://bank.example", "token": "t"}}, "must use https://"),
        ({PROVIDER: {"url": "https://bank.example:x", "token": "t"}}, "must be an https:// URL"),
        ({PROVIDER: {"url": 1, "token": "t"}}, f"platform_peers.{PROVIDER}.url: must be a string"),
        ({PROVIDER: {"url": "https://bank.example", "token": ""}}, "printable"),
        ({PROVIDER: {"url": "https://bank.example", "token": "a b"}}, "printable"),
    ],
)
def test_peer_configuration_is_refused_when_it_loads(peers, words):
    with pytest.raises(ConfigError, match=None) as e:
        config.from_mapping({"platform_peers": peers})
    assert words in str(e.value)
    assert "a b" not in str(e.value)  # a token is never echoed


def test_each_configured_peer_gets_a_client_with_this_platforms_token():
    cfg = config.from_mapping(
        {"platform_peers": {PROVIDER: {"url": "https://b.example", "token": "t"}}}
    )
    assert cfg.platform_peers[PROVIDER] == PeerConfig("https://b.example", "t")
    assert "'t'" not in repr(cfg)  # the token is a secret
    clients = peer_clients(cfg)
    try:
        assert list(clients) == [PROVIDER]
        assert repr(clients[PROVIDER]) == "PlatformClient('https://b.example')"
    finally:
        for client in clients.values():
            client.close()
    assert peer_clients(config.from_mapping({})) == {}

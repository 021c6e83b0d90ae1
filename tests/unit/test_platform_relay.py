"""Relays between platforms (kiosk.platform.relay): the chain and time budget a relay carries,
read strictly; a loop, too many hops and a spent budget refused before any work; each way a
peer platform fails its own refusal; each peer's health. The peer is a PlatformClient over an
httpx mock transport, the relaying platform the real app in process, its clock injected."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers
from test_platform_client import Recorder

from kiosk import config
from kiosk.config import PEER_TIMEOUT_S, ConfigError, PeerConfig
from kiosk.platform.client import PlatformClient
from kiosk.platform.edge import ApiError
from kiosk.platform.relay import (
    BUDGET_HEADER,
    CHAIN_HEADER,
    MIN_WAIT_S,
    Hop,
    RelayRules,
    peer_health,
)
from kiosk.platform.schema import ChallengeBody
from kiosk.platform.service import create_app, peer_clients
from kiosk.verify.ports import IssuedChallenge

PROVIDER, TERMINAL = "pay-co", "kiosk-1"
KIOSK_TOKEN = secrets.token_urlsafe(32)  # the kiosk's token at the relaying platform
PEER_TOKEN = secrets.token_urlsafe(32)  # the relaying platform's token at the peer
KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}
CHALLENGE = {"provider_id": PROVIDER, "terminal_id": TERMINAL}
NOW = 1000.0  # the relaying platform's monotonic clock, stopped
ISSUED = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CHALLENGE_ANSWER = ChallengeBody.of(
    IssuedChallenge(bytes(73), PROVIDER, TERMINAL, ISSUED, ISSUED + timedelta(minutes=2))
).wire()


def relay_headers(chain: str | None = None, budget: str | None = None) -> Headers:
    raw = []
    if chain is not None:
        raw.append((CHAIN_HEADER.lower().encode(), chain.encode()))
    if budget is not None:
        raw.append((BUDGET_HEADER.lower().encode(), budget.encode()))
    return Headers(raw=raw)


RULES = RelayRules("med-1", max_hops=3, margin_s=0.2, monotonic=lambda: NOW)


def refused(call) -> tuple[int, str]:
    with pytest.raises(ApiError) as e:
        call()
    return e.value.status, e.value.code


# --- the headers, read strictly ------------------------------------------------------------


def test_a_request_without_relay_headers_comes_straight_from_a_kiosk():
    assert RULES.arrived(relay_headers()) == Hop((), None)


@pytest.mark.parametrize(
    ("chain", "ids"),
    [
        ("fin-1", ("fin-1",)),
        ("clinic-9, fin-1", ("clinic-9", "fin-1")),
        ("clinic-9,fin-1", ("clinic-9", "fin-1")),
        (" clinic-9 ,\tfin-1 ", ("clinic-9", "fin-1")),
    ],
)
def test_the_chain_is_platform_ids_separated_by_commas(chain, ids):
    assert RULES.arrived(relay_headers(chain)).chain == ids


@pytest.mark.parametrize(
    "chain",
    ["", " ", ",", "fin-1,", ",fin-1", "fin-1,,a", "fin 1", "fin-1;a", "-fin", "ｆin", "a" * 65],
)
def test_a_malformed_chain_is_refused(chain):
    assert refused(lambda: RULES.arrived(relay_headers(chain))) == (400, "relay_malformed")


@pytest.mark.parametrize("budget", ["", "-1", "1.5", "1e3", " 100", "abc", "12345678", "١٢٣"])
def test_a_malformed_budget_is_refused(budget):
    assert refused(lambda: RULES.arrived(relay_headers(budget=budget))) == (
        400,
        "relay_malformed",
    )


@pytest.mark.parametrize("name", [CHAIN_HEADER, BUDGET_HEADER])
def test_a_relay_header_sent_twice_is_refused(name):
    twice = Headers(raw=[(name.lower().encode(), b"1"), (name.lower().encode(), b"2")])
    assert refused(lambda: RULES.arrived(twice)) == (400, "relay_malformed")


@pytest.mark.parametrize("chain", ["med-1", "fin-1, med-1", "med-1, fin-1", "fin-1, a, fin-1"])
def test_a_chain_that_passed_this_platform_or_any_twice_is_a_loop(chain):
    assert refused(lambda: RULES.arrived(relay_headers(chain))) == (508, "relay_loop")


def test_a_chain_longer_than_the_hops_allowed_is_refused():
    assert RULES.arrived(relay_headers("a, b, c")).chain == ("a", "b", "c")
    assert refused(lambda: RULES.arrived(relay_headers("a, b, c, d"))) == (
        508,
        "relay_too_many_hops",
    )


def test_a_budget_already_spent_is_refused_at_once():
    assert refused(lambda: RULES.arrived(relay_headers("fin-1", "0"))) == (
        504,
        "relay_budget_spent",
    )


# --- what is sent on ------------------------------------------------------------------------


def test_sent_on_the_chain_gains_this_platform_and_the_wait_is_the_own_timeout():
    hop = RULES.arrived(relay_headers())
    assert RULES.onward(hop, 5.0) == ({CHAIN_HEADER: "med-1", BUDGET_HEADER: "5000"}, 5.0)


def test_the_wait_is_what_the_budget_leaves_minus_the_margin_when_that_is_shorter():
    clock = [NOW]
    rules = RelayRules("med-1", margin_s=0.2, monotonic=lambda: clock[0])
    hop = rules.arrived(relay_headers("clinic-9", "2000"))
    assert hop.deadline == NOW + 2.0
    clock[0] += 0.5  # the body was read, the store asked...
    sent, wait = rules.onward(hop, 5.0)
    assert wait == pytest.approx(1.3)
    assert sent == {CHAIN_HEADER: "clinic-9, med-1", BUDGET_HEADER: "1300"}
    assert rules.onward(hop, 1.0)[1] == 1.0  # the own timeout, when that is shorter


def test_a_budget_that_leaves_no_time_worth_waiting_is_refused_before_relaying():
    clock = [NOW]
    rules = RelayRules("med-1", margin_s=0.2, monotonic=lambda: clock[0])
    hop = rules.arrived(relay_headers(budget="300"))
    clock[0] += 0.1 - MIN_WAIT_S / 2
    assert refused(lambda: rules.onward(hop, 5.0)) == (504, "relay_budget_spent")


# --- the relaying platform, its peer over HTTP --------------------------------------------


#: The peer platform's side of the wire: the requests it got, and its answers in turn.
Peer = Recorder


class Untouchable:
    """The relaying platform's own verifier and challenges: never used for a relayed
    provider, nor for a request refused at the door."""

    def __getattr__(self, name):
        raise AssertionError(f"the platform used its own {name}")


def relaying_platform(peer: Peer, timeout_s: float = 5.0, rules: RelayRules = RULES):
    client = PlatformClient(
        "https://fin.example", PEER_TOKEN, timeout_s=timeout_s, transport=httpx.MockTransport(peer)
    )
    app = create_app(
        verifier=Untouchable(),
        challenges=Untouchable(),
        tokens={PROVIDER: hashlib.sha256(KIOSK_TOKEN.encode()).hexdigest()},
        clock=lambda: ISSUED,
        peers={PROVIDER: client},
        relay_rules=rules,
    )
    return TestClient(app), client


def ask(peer: Peer, extra: dict[str, str] | None = None, **kw) -> httpx.Response:
    http, client = relaying_platform(peer, **kw)
    with http, client:
        return http.post("/v1/challenges", json=CHALLENGE, headers=KIOSK | (extra or {}))


def test_a_relayed_request_carries_the_chain_and_the_budget_and_the_answer_keeps_its_meaning():
    peer = Peer(httpx.Response(201, json=CHALLENGE_ANSWER))
    r = ask(peer, {CHAIN_HEADER: "clinic-9", BUDGET_HEADER: "1000"})
    assert (r.status_code, r.json()) == (201, CHALLENGE_ANSWER)
    (sent,) = peer.requests
    assert sent.headers[CHAIN_HEADER] == "clinic-9, med-1"
    assert sent.headers[BUDGET_HEADER] == "800"  # 1 s left, 0.2 s kept for the way back
    assert sent.extensions["timeout"]["read"] == pytest.approx(0.8)
    assert sent.headers["authorization"] == f"Bearer {PEER_TOKEN}"  # this platform's token


def test_without_a_budget_the_peer_gets_the_configured_timeout():
    peer = Peer(httpx.Response(201, json=CHALLENGE_ANSWER))
    assert ask(peer, timeout_s=2.5).status_code == 201
    (sent,) = peer.requests
    assert (sent.headers[CHAIN_HEADER], sent.headers[BUDGET_HEADER]) == ("med-1", "2500")
    assert sent.extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


def test_a_relaying_view_shares_the_pool_and_leaves_the_client_as_it_was():
    peer = Peer(*(httpx.Response(201, json=CHALLENGE_ANSWER) for _ in range(2)))
    client = PlatformClient(
        "https://fin.example", PEER_TOKEN, timeout_s=5, transport=httpx.MockTransport(peer)
    )
    with client:
        view = client.relaying({CHAIN_HEADER: "med-1"}, 0.5)
        view.issue(PROVIDER, TERMINAL, ISSUED)
        client.issue(PROVIDER, TERMINAL, ISSUED)
        assert view._client is client._client  # one connection pool
    relayed, direct = peer.requests
    assert (relayed.headers[CHAIN_HEADER], relayed.extensions["timeout"]["read"]) == ("med-1", 0.5)
    assert (CHAIN_HEADER not in direct.headers, direct.extensions["timeout"]["read"]) == (True, 5)


@pytest.mark.parametrize(
    ("extra", "answer"),
    [
        ({CHAIN_HEADER: "fin-1, med-1"}, (508, "relay_loop")),
        ({CHAIN_HEADER: "a, b, c, d"}, (508, "relay_too_many_hops")),
        ({BUDGET_HEADER: "0"}, (504, "relay_budget_spent")),
        ({BUDGET_HEADER: "150"}, (504, "relay_budget_spent")),  # less than the margin
        ({CHAIN_HEADER: "fin-1,"}, (400, "relay_malformed")),
    ],
)
def test_a_refused_relay_is_answered_at_once_without_asking_the_peer(extra, answer):
    peer = Peer()
    r = ask(peer, extra)
    assert (r.status_code, r.json()["error"]) == answer
    assert peer.requests == []


def test_a_refused_relay_is_refused_by_a_platform_that_verifies_itself_too():
    app = create_app(
        verifier=Untouchable(),
        challenges=Untouchable(),
        tokens={PROVIDER: hashlib.sha256(KIOSK_TOKEN.encode()).hexdigest()},
        clock=lambda: ISSUED,
        relay_rules=RULES,
    )
    with TestClient(app) as http:
        r = http.post("/v1/challenges", json=CHALLENGE, headers=KIOSK | {CHAIN_HEADER: "med-1"})
    assert (r.status_code, r.json()["error"]) == (508, "relay_loop")


NOT_THE_SHAPE = {"nonce": 1, "provider_id": PROVIDER}
OTHER_TERMINAL = {**CHALLENGE_ANSWER, "terminal_id": "kiosk-2"}  # a challenge for another


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        (httpx.ConnectError("refused"), 503, "peer_unreachable"),
        (httpx.ReadTimeout("slow"), 504, "peer_timeout"),
        (httpx.ConnectTimeout("slow"), 504, "peer_timeout"),
        (httpx.RemoteProtocolError("not HTTP"), 502, "peer_bad_answer"),
        (httpx.Response(201, text='{"not": "declared json"}'), 502, "peer_bad_answer"),
        (httpx.Response(201, json=NOT_THE_SHAPE), 502, "peer_bad_answer"),
        (httpx.Response(201, json=[CHALLENGE_ANSWER]), 502, "peer_bad_answer"),
        (
            httpx.Response(201, content=b"{", headers={"content-type": "application/json"}),
            502,
            "peer_bad_answer",
        ),
        (
            httpx.Response(201, json={**CHALLENGE_ANSWER, "terminal_id": "x"}),
            502,
            "peer_bad_answer",
        ),
        (httpx.Response(401, json={"error": "unauthorized", "message": "?"}), 502, "peer_refused"),
        (httpx.Response(403, json={"error": "forbidden", "message": "?"}), 502, "peer_refused"),
        (httpx.Response(404, text="no"), 502, "peer_refused"),
        (httpx.Response(400, json={"error": "malformed", "message": "?"}), 400, "malformed"),
        (httpx.Response(503, json={"error": "unavailable", "message": "?"}), 503, "unavailable"),
        (httpx.Response(500, text="<html>crash</html>"), 503, "unavailable"),
    ],
)
def test_each_way_a_peer_fails_is_its_own_refusal(answer, status, code):
    r = ask(Peer(answer))
    assert (r.status_code, r.json()["error"]) == (status, code)
    assert PEER_TOKEN not in r.text


@pytest.mark.parametrize(
    ("peer_status", "code", "status"),
    [
        (508, "relay_loop", 508),
        (508, "relay_too_many_hops", 508),
        (504, "relay_budget_spent", 504),
        (504, "peer_timeout", 504),
        (503, "peer_unreachable", 503),
        (502, "peer_bad_answer", 502),
        (502, "peer_refused", 502),
        (500, "relay_loop", 508),  # the code decides the status, not the peer
    ],
)
def test_a_refusal_further_along_the_chain_is_passed_back_with_its_code(peer_status, code, status):
    r = ask(Peer(httpx.Response(peer_status, json={"error": code, "message": "far away"})))
    assert (r.status_code, r.json()["error"]) == (status, code)
    assert "far away" not in r.text  # the peer's words are not repeated to the kiosk


def test_no_log_line_carries_a_token(caplog):
    caplog.set_level(logging.DEBUG)
    ask(Peer(httpx.Response(401, json={"error": "unauthorized", "message": PEER_TOKEN})))
    ask(Peer(httpx.ConnectError("refused")))
    assert caplog.records
    for record in caplog.records:
        assert PEER_TOKEN not in record.getMessage()
        assert KIOSK_TOKEN not in record.getMessage()


# --- each peer's health -------------------------------------------------------------------


def test_peer_health_names_each_peers_state_asking_each_url_once():
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        host = request.url.host
        if host == "down.example":
            raise httpx.ConnectError("refused")
        if host == "slow.example":
            raise httpx.ReadTimeout("slow")
        return {
            "fin.example": httpx.Response(200, json={"status": "ok"}),
            "busy.example": httpx.Response(503, json={"error": "unavailable", "message": "?"}),
            "odd.example": httpx.Response(200, text="ok"),
            "starting.example": httpx.Response(200, json={"status": "starting"}),
        }[host]

    asked: list[httpx.Request] = []
    peers = {
        "pay-a": PeerConfig("https://fin.example/", "t1"),
        "pay-b": PeerConfig("https://fin.example/", "t2"),
        "down": PeerConfig("https://down.example", "t3"),
        "slow": PeerConfig("https://slow.example", "t4"),
        "busy": PeerConfig("https://busy.example", "t5"),
        "odd": PeerConfig("https://odd.example", "t6"),
        "starting": PeerConfig("https://starting.example", "t7"),
    }
    health = {h.provider_id: h for h in peer_health(peers, transport=httpx.MockTransport(answer))}
    states = {provider: (h.state, h.status, h.ok) for provider, h in health.items()}
    assert states == {
        "busy": ("failing", 503, False),
        "down": ("unreachable", None, False),
        "odd": ("bad_answer", 200, False),
        "pay-a": ("ok", 200, True),
        "pay-b": ("ok", 200, True),
        "slow": ("timeout", None, False),
        "starting": ("bad_answer", 200, False),
    }
    assert health["pay-a"].url == "https://fin.example/"
    assert sorted(str(r.url) for r in asked).count("https://fin.example/v1/health") == 1
    assert len(asked) == 6
    assert all("authorization" not in r.headers for r in asked)  # no token for health
    assert peer_health({}) == []


# --- configuration ------------------------------------------------------------------------


def test_a_peers_timeout_is_configured_and_given_to_its_client():
    cfg = config.from_mapping(
        {"platform_peers": {PROVIDER: {"url": "https://b.example", "token": "t", "timeout_s": 2}}}
    )
    assert cfg.platform_peers[PROVIDER].timeout_s == 2.0
    clients = peer_clients(cfg)
    try:
        assert clients[PROVIDER].timeout_s == 2.0
    finally:
        clients[PROVIDER].close()
    default = config.from_mapping(
        {"platform_peers": {PROVIDER: {"url": "https://b.example", "token": "t"}}}
    )
    assert default.platform_peers[PROVIDER].timeout_s == PEER_TIMEOUT_S


@pytest.mark.parametrize("timeout_s", [0, 0.05, 61, True, "5", float("nan"), float("inf")])
def test_a_peers_timeout_out_of_range_is_refused(timeout_s):
    peer = {"url": "https://b.example", "token": "t", "timeout_s": timeout_s}
    with pytest.raises(ConfigError, match=rf"platform_peers\.{PROVIDER}\.timeout_s: must be"):
        config.from_mapping({"platform_peers": {PROVIDER: peer}})

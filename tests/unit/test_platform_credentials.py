"""Terminal credentials at the platform (issue 14): a kiosk's one credential acts for its
providers and as its terminal only; unknown, revoked and rotated tokens are refused without a
restart (the lookup's cache is bounded by an injected clock); each credential is rate-limited
(429 with Retry-After); no token ever reaches a log line."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from test_verify_support import make_proof

from kiosk import config
from kiosk.local import LocalContext
from kiosk.platform.auth import Caller, Callers
from kiosk.platform.ratelimit import TokenBuckets
from kiosk.platform.service import create_app
from kiosk.store.credentials import TerminalCredentials
from kiosk.store.engine import Database
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.ports import IssuedChallenge

pytest_plugins = ["test_verify_support"]

CLINIC, SHOP, THIRD = "demo-clinic", "demo-shop", "demo-bank"
TERMINAL, OTHER_TERMINAL = "kiosk-1", "kiosk-2"
PEER_TOKEN = "peer-platform-token"
TOKENS = {THIRD: hashlib.sha256(PEER_TOKEN.encode()).hexdigest()}
CACHE_S = 2.0


class Ticks:
    """A monotonic clock the test moves on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Platform:
    """The platform's app over a store, with its callers on a hand-moved clock."""

    def __init__(self, world, local: LocalContext, *, per_s: float = 1000.0, burst: int = 1000):
        self.world, self.local = world, local
        self.ticks = Ticks()
        self.credentials = TerminalCredentials(local.db)
        self.callers = Callers(
            TOKENS,
            self.credentials,
            limits=TokenBuckets(per_s, burst, ticks=self.ticks),
            cache_s=CACHE_S,
            ticks=self.ticks,
        )
        app = create_app(
            verifier=local.verifier,
            challenges=local.challenges,
            tokens=TOKENS,
            clock=lambda: world.now,
            callers=self.callers,
        )
        self.http = TestClient(app, raise_server_exceptions=False)

    def issue(self, providers=(CLINIC, SHOP), terminal=TERMINAL) -> tuple[str, str]:
        credential, token = self.credentials.issue(terminal, providers, self.world.now)
        return credential.credential_id, token

    def challenge(self, token: str, provider=CLINIC, terminal=TERMINAL):
        return self.http.post(
            "/v1/challenges",
            json={"provider_id": provider, "terminal_id": terminal},
            headers=bearer(token),
        )


def refusal(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def open_local(world, tmp_path, url: str) -> LocalContext:
    values = {
        "data_dir": str(tmp_path / "data"),
        "trust_dir": str(world.pki.trust_dir),
        "crl_dir": str(tmp_path / "crl"),
        "database_url": url,
    }
    local = LocalContext.from_config(config.from_mapping(values))
    index = SqlRevocationIndex(local.db)
    for which in ("auth", "sign"):
        index.replace(check_crl(world.crl(which), world.trust, world.now), world.now)
    return local


@pytest.fixture
def local(world, tmp_path, store_url):
    local = open_local(world, tmp_path, store_url)
    yield local
    local.db.dispose()


@pytest.fixture
def platform(world, local) -> Platform:
    return Platform(world, local)


def as_challenge(body: dict) -> IssuedChallenge:
    return IssuedChallenge(
        base64.b64decode(body["nonce"]),
        body["provider_id"],
        body["terminal_id"],
        datetime.fromisoformat(body["issued_at"]),
        datetime.fromisoformat(body["expires_at"]),
    )


# --- acting for providers, as a terminal ---------------------------------------------------


def test_one_credential_acts_for_two_providers_and_is_refused_for_a_third(platform):
    _, token = platform.issue()
    for provider in (CLINIC, SHOP):
        answer = platform.challenge(token, provider)
        assert answer.status_code == 201, answer.text
        challenge = as_challenge(answer.json())
        assert (challenge.provider_id, challenge.terminal_id) == (provider, TERMINAL)
        proof = make_proof(platform.world, challenge).to_json()
        verdict = platform.http.post("/v1/proofs", json=proof, headers=bearer(token))
        assert verdict.status_code == 200 and verdict.json()["ok"] is True, verdict.text
    assert refusal(platform.challenge(token, THIRD)) == (403, "provider_not_allowed")


def test_a_terminal_cannot_ask_for_another_terminals_challenge_or_send_its_proof(platform):
    _, token = platform.issue(terminal=TERMINAL)
    _, other = platform.issue(terminal=OTHER_TERMINAL)
    assert refusal(platform.challenge(token, CLINIC, OTHER_TERMINAL)) == (
        403,
        "terminal_not_allowed",
    )
    # the other terminal's own challenge and proof: refused when this terminal sends them
    answer = platform.challenge(other, CLINIC, OTHER_TERMINAL)
    assert answer.status_code == 201
    proof = make_proof(platform.world, as_challenge(answer.json())).to_json()
    sent = platform.http.post("/v1/proofs", json=proof, headers=bearer(token))
    assert refusal(sent) == (403, "terminal_not_allowed")
    # nothing was used up: the proof is still good from its own terminal
    own = platform.http.post("/v1/proofs", json=proof, headers=bearer(other))
    assert own.json()["ok"] is True


def test_a_providers_own_token_still_acts_for_any_of_its_terminals(platform):
    for terminal in (TERMINAL, OTHER_TERMINAL):
        assert platform.challenge(PEER_TOKEN, THIRD, terminal).status_code == 201
    assert refusal(platform.challenge(PEER_TOKEN, CLINIC)) == (403, "provider_not_allowed")


def test_unknown_and_missing_tokens_are_unauthorized(platform):
    platform.issue()
    assert refusal(platform.challenge("made-up-token")) == (401, "unauthorized")
    answer = platform.http.post("/v1/challenges", json={"provider_id": CLINIC})
    assert refusal(answer) == (401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


# --- revocation and rotation without a restart ---------------------------------------------


def test_a_revocation_by_another_process_applies_within_the_cache_time(platform, store_url):
    credential_id, token = platform.issue()
    assert platform.challenge(token).status_code == 201
    elsewhere = Database(store_url)  # the CLI, or another worker
    try:
        assert TerminalCredentials(elsewhere).revoke(credential_id, platform.world.now)
    finally:
        elsewhere.dispose()
    platform.ticks.advance(CACHE_S / 2)
    assert platform.challenge(token).status_code == 201  # still the cached lookup
    platform.ticks.advance(CACHE_S / 2)
    answer = platform.challenge(token)
    assert refusal(answer) == (401, "credential_revoked")
    assert answer.headers["www-authenticate"] == "Bearer"
    platform.ticks.advance(3600)
    assert refusal(platform.challenge(token)) == (401, "credential_revoked")


def test_a_revocation_in_this_process_applies_at_once(platform):
    credential_id, token = platform.issue()
    assert platform.challenge(token).status_code == 201
    assert platform.callers.revoke(credential_id, platform.world.now) is True
    assert refusal(platform.challenge(token)) == (401, "credential_revoked")
    assert platform.callers.revoke(credential_id, platform.world.now) is False


def test_rotation_refuses_the_old_token_and_accepts_the_new(platform, store_url):
    credential_id, old = platform.issue()
    assert platform.challenge(old).status_code == 201
    elsewhere = Database(store_url)
    try:
        _, new = TerminalCredentials(elsewhere).rotate(credential_id, platform.world.now)
    finally:
        elsewhere.dispose()
    assert platform.challenge(new).status_code == 201  # a new digest: asked at once
    platform.ticks.advance(CACHE_S)
    assert refusal(platform.challenge(old)) == (401, "unauthorized")
    _, newer = platform.callers.rotate(credential_id, platform.world.now)
    assert refusal(platform.challenge(new)) == (401, "unauthorized")  # here: at once
    assert platform.challenge(newer).status_code == 201


def test_a_token_issued_after_a_refusal_is_accepted_within_the_cache_time(platform):
    """An unknown digest is cached too, so a flood of made-up tokens costs one lookup each."""
    assert refusal(platform.challenge("made-up-token")) == (401, "unauthorized")
    _, token = platform.issue()
    assert platform.challenge(token).status_code == 201


def test_a_store_that_cannot_be_reached_fails_closed(platform):
    _, token = platform.issue()
    down = Database("postgresql://kiosk@127.0.0.1:1/kiosk")  # nothing listens on port 1
    try:
        app = create_app(
            verifier=platform.local.verifier,
            challenges=platform.local.challenges,
            tokens=TOKENS,
            clock=lambda: platform.world.now,
            callers=Callers(TOKENS, TerminalCredentials(down)),
        )
        answer = TestClient(app, raise_server_exceptions=False).post(
            "/v1/challenges",
            json={"provider_id": CLINIC, "terminal_id": TERMINAL},
            headers=bearer(token),
        )
    finally:
        down.dispose()
    assert refusal(answer) == (503, "unavailable")


def test_lookups_are_cached_for_the_cache_time_and_the_cache_is_bounded(local):
    class Counting(TerminalCredentials):
        asked = 0

        def lookup(self, digest):
            Counting.asked += 1
            return super().lookup(digest)

    ticks = Ticks()
    callers = Callers(TOKENS, Counting(local.db), cache_s=CACHE_S, ticks=ticks, max_cached=1)
    for _ in range(3):
        with pytest.raises(Exception, match="not known"):
            callers("Bearer made-up-a")
    assert Counting.asked == 1
    ticks.advance(CACHE_S)
    with pytest.raises(Exception, match="not known"):
        callers("Bearer made-up-a")
    assert Counting.asked == 2
    with pytest.raises(Exception, match="not known"):
        callers("Bearer made-up-b")  # the cache holds one: "a" goes
    with pytest.raises(Exception, match="not known"):
        callers("Bearer made-up-a")
    assert Counting.asked == 4
    callers(f"Bearer {PEER_TOKEN}")  # a provider's own token never asks the store
    assert Counting.asked == 4


# --- the allowance -------------------------------------------------------------------------


def test_a_burst_over_the_allowance_is_429_with_retry_after(world, local):
    platform = Platform(world, local, per_s=0.5, burst=3)
    _, token = platform.issue()
    _, neighbour = platform.issue(terminal=OTHER_TERMINAL)
    for _ in range(3):
        assert platform.challenge(token).status_code == 201
    answer = platform.challenge(token)
    assert refusal(answer) == (429, "rate_limited")
    assert answer.headers["retry-after"] == "2"  # one request at 0.5 a second
    assert platform.challenge(neighbour, CLINIC, OTHER_TERMINAL).status_code == 201
    platform.ticks.advance(2)
    assert platform.challenge(token).status_code == 201
    assert refusal(platform.challenge(token)) == (429, "rate_limited")


def test_token_buckets_refill_at_their_rate_up_to_the_burst():
    ticks = Ticks()
    buckets = TokenBuckets(per_s=10, burst=2, ticks=ticks, max_buckets=2)
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.1)
    ticks.advance(0.05)
    assert buckets.take("a") == pytest.approx(0.05)  # a refused request takes nothing
    ticks.advance(3600)
    assert [buckets.take("a") for _ in range(3)][-1] > 0  # never more than the burst
    buckets.take("b")
    buckets.take("c")  # "a" is the least recently used: dropped, so it starts full
    assert buckets.take("a") == 0.0
    with pytest.raises(ValueError):
        TokenBuckets(per_s=0, burst=1)


# --- logs ----------------------------------------------------------------------------------


def test_no_token_reaches_a_log_line(platform, caplog):
    caplog.set_level(logging.DEBUG)
    credential_id, token = platform.issue()
    platform.challenge(token)
    platform.challenge(token, THIRD)
    platform.challenge(token, CLINIC, OTHER_TERMINAL)
    platform.callers.revoke(credential_id, platform.world.now)
    platform.challenge(token)
    platform.challenge(token + "x")
    platform.challenge(PEER_TOKEN, THIRD)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (token, PEER_TOKEN, token + "x"):
        assert secret not in text
    assert f"provider={credential_id} status=201 reason=issued" in text
    assert f"provider={credential_id} status=403 reason=provider_not_allowed" in text
    # the structured line names the credential's own terminal (never a body's claim)
    terminals = {getattr(r, "terminal", None) for r in caplog.records if hasattr(r, "endpoint")}
    assert terminals == {TERMINAL, None}  # None: the provider token's request


# --- the caller --------------------------------------------------------------------------


def test_a_caller_is_checked_for_provider_then_terminal():
    kiosk = Caller("tc-0123456789ab", frozenset((CLINIC, SHOP)), TERMINAL)
    kiosk.may_act(SHOP, TERMINAL)
    with pytest.raises(Exception, match="provider") as refused:
        kiosk.may_act(THIRD, OTHER_TERMINAL)
    assert refused.value.code == "provider_not_allowed"
    with pytest.raises(Exception, match="terminal") as refused:
        kiosk.may_act(CLINIC, OTHER_TERMINAL)
    assert refused.value.code == "terminal_not_allowed"
    Caller(THIRD, frozenset((THIRD,))).may_act(THIRD, "any-terminal")


def test_the_configured_platform_takes_credentials_and_limits(world, tmp_path, store_url):
    from kiosk.platform.auth import callers_from_config

    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "d"),
            "database_url": store_url,
            "platform_tokens": TOKENS,
            "platform_limits": {"per_s": 1, "burst": 1},
            "platform_credential_cache_s": 0,
        }
    )
    db = Database(store_url)
    try:
        credential, token = TerminalCredentials(db).issue(TERMINAL, [CLINIC], world.now)
        callers = callers_from_config(cfg, db)
        assert callers(f"Bearer {token}") == Caller(
            credential.credential_id, frozenset((CLINIC,)), TERMINAL
        )
        with pytest.raises(Exception, match="Too many") as limited:
            callers(f"Bearer {token}")
        assert limited.value.headers == {"Retry-After": "1"}
        TerminalCredentials(db).revoke(credential.credential_id, world.now + timedelta(1))
        with pytest.raises(Exception, match="revoked"):  # cache_s 0: asked every time
            callers(f"Bearer {token}")
    finally:
        db.dispose()


# --- the command line --------------------------------------------------------------------


def test_the_cli_issues_lists_rotates_and_revokes(tmp_path, capsys, caplog):
    from kiosk import cli

    settings = tmp_path / "platform.toml"
    settings.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    at = ["--config", str(settings)]
    caplog.set_level(logging.DEBUG)

    argv = ["platform", "credential", "issue", "--terminal", TERMINAL]
    assert cli.main([*argv, "--provider", SHOP, "--provider", CLINIC, *at]) == 0
    issued = capsys.readouterr().out
    token = issued.split("token: ", 1)[1].split()[0]
    assert f'platform_token = "{token}"' in issued and f'terminal_id = "{TERMINAL}"' in issued
    db = Database(f"sqlite:///{tmp_path / 'data' / 'kiosk.sqlite3'}")
    try:
        store = TerminalCredentials(db)
        (credential,) = store.all()
        assert credential.providers == (CLINIC, SHOP)
        assert store.by_token(token) == credential

        assert cli.main(["platform", "credential", "list", *at]) == 0
        listed = capsys.readouterr().out
        assert credential.credential_id in listed and f"{CLINIC},{SHOP}" in listed
        assert token not in listed and "active" in listed

        assert cli.main(["platform", "credential", "rotate", credential.credential_id, *at]) == 0
        new = capsys.readouterr().out.split("token: ", 1)[1].split()[0]
        assert store.by_token(token) is None and store.by_token(new) is not None

        assert cli.main(["platform", "credential", "revoke", credential.credential_id, *at]) == 0
        assert store.by_token(new) is None
        capsys.readouterr()
        # revoked already, unknown, a rotation of a revoked one, a bad id: clear errors
        assert cli.main(["platform", "credential", "revoke", credential.credential_id, *at]) == 2
        assert cli.main(["platform", "credential", "revoke", "tc-000000000000", *at]) == 2
        assert cli.main(["platform", "credential", "rotate", credential.credential_id, *at]) == 2
        assert cli.main([*argv, "--provider", "no spaces", *at]) == 2
        errors = capsys.readouterr().err
        assert "no active credential" in errors and "revoked" in errors
        assert "Traceback" not in errors
    finally:
        db.dispose()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in logged and new not in logged


# --- the kiosk: one credential for its providers; a refusal of the kiosk is its own reason --


def kiosk_visit(platform: Platform, token: str):
    """A platform-mode kiosk's visit over the virtual card: its one client (one credential)
    verifies for every provider, as kiosk.app.platform_backend builds it."""
    import httpx

    from kiosk.card.reader import InProcessReader
    from kiosk.demo.audit import MemoryAudit
    from kiosk.platform.client import PlatformClient
    from kiosk.services.identity import IdentityService
    from kiosk.services.visit import Visit
    from kiosk.simcard.applet import VirtualCard

    wire = TestClient(platform.http.app, raise_server_exceptions=False)
    client = PlatformClient("http://platform.test", token, transport=httpx.MockTransport(wire.send))
    reader = InProcessReader()
    reader.insert(VirtualCard(platform.world.card))
    audit = MemoryAudit()
    services = {"identity": IdentityService()}
    visit = Visit(
        reader.connect, client, client, audit, services, TERMINAL, lambda: platform.world.now
    )
    return visit, audit


def shown(error: BaseException):
    from kiosk.flow.errors_catalogue import CATALOGUE
    from kiosk.ui.problems import problem_for

    problem = problem_for(error)
    return problem.code, CATALOGUE[problem.code]


def test_the_kiosk_acts_for_both_providers_with_its_one_credential(platform):
    _, token = platform.issue()
    visit, _ = kiosk_visit(platform, token)
    for provider in (CLINIC, SHOP):
        visit.read_card()
        assert visit.authenticate("1234", "identity", provider).link is None
        visit.close_card()


def test_the_kiosk_says_it_is_not_registered_for_a_third_provider_and_audits_it(platform):
    from kiosk.flow.errors_catalogue import ProblemCode
    from kiosk.platform.client import PlatformRefused

    _, token = platform.issue()
    visit, audit = kiosk_visit(platform, token)
    visit.read_card()
    with pytest.raises(PlatformRefused) as refused:
        visit.authenticate("1234", "identity", THIRD)
    assert (refused.value.status, refused.value.error) == (403, "provider_not_allowed")
    code, entry = shown(refused.value)
    assert code is ProblemCode.KIOSK_NOT_REGISTERED and entry.retry is False
    assert "not registered" in entry.text.en and "staff" in entry.text.en
    assert "登録されていません" in entry.text.ja and "かかりの ひと" in entry.text.easy
    assert [(r.action, r.ok, r.reason, r.provider_id) for r in audit.records] == [
        ("authenticate", False, "kiosk_not_registered", THIRD)
    ]


def test_the_kiosk_says_its_credential_is_refused_once_revoked(platform):
    from kiosk.flow.errors_catalogue import ProblemCode
    from kiosk.platform.client import PlatformRefused

    credential_id, token = platform.issue()
    platform.callers.revoke(credential_id, platform.world.now)
    visit, audit = kiosk_visit(platform, token)
    visit.read_card()
    with pytest.raises(PlatformRefused) as refused:
        visit.authenticate("1234", "identity", CLINIC)
    assert (refused.value.status, refused.value.error) == (401, "credential_revoked")
    code, entry = shown(refused.value)
    assert code is ProblemCode.KIOSK_CREDENTIAL_REFUSED and "staff" in entry.text.en
    assert [r.reason for r in audit.records] == ["kiosk_credential_refused"]
    assert token not in str(refused.value)


def test_a_platform_that_cannot_be_reached_is_still_unreachable():
    from kiosk.flow.errors_catalogue import ProblemCode
    from kiosk.platform.client import PlatformRefused, PlatformUnavailable

    assert shown(PlatformUnavailable("down"))[0] is ProblemCode.PLATFORM_UNREACHABLE
    assert shown(PlatformRefused("rate_limited", 429))[0] is ProblemCode.PLATFORM_UNREACHABLE


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (403, "provider_not_allowed", "PlatformNotRegistered"),
        (403, "terminal_not_allowed", "PlatformNotRegistered"),
        (401, "credential_revoked", "PlatformCredentialRefused"),
        (401, "unauthorized", "PlatformCredentialRefused"),
        (403, "forbidden", "PlatformRefused"),
        (429, "rate_limited", "PlatformRefused"),
    ],
)
def test_the_client_names_a_refusal_of_the_kiosk_by_its_own_type(status, error, kind):
    import httpx

    from kiosk.platform.client import PlatformClient, PlatformRefused

    answer = httpx.Response(status, json={"error": error, "message": "no"})
    with PlatformClient(
        "http://platform.test", "a-kiosk-token", transport=httpx.MockTransport(lambda r: answer)
    ) as client:
        with pytest.raises(PlatformRefused) as refused:
            client.issue(CLINIC, TERMINAL, datetime.now())
    assert type(refused.value).__name__ == kind
    assert (refused.value.status, refused.value.error) == (status, error)


# --- configuration -----------------------------------------------------------------------


def test_the_limits_and_the_cache_time_are_typed_and_bounded():
    from kiosk.config import ConfigError, PlatformLimitsConfig

    cfg = config.from_mapping({"platform_limits": {"per_s": 0.5}})
    assert (cfg.platform_limits, cfg.platform_credential_cache_s) == (
        PlatformLimitsConfig(0.5, 40),
        2,
    )
    assert config.Config().platform_limits == PlatformLimitsConfig(20.0, 40)
    refused = [
        ({"platform_limits": {"rate": 5}}, "platform_limits.rate: unknown key"),
        ({"platform_limits": {"per_s": 0}}, "platform_limits.per_s"),
        ({"platform_limits": {"per_s": True}}, "platform_limits.per_s"),
        ({"platform_limits": {"burst": 0}}, "platform_limits.burst"),
        ({"platform_limits": {"burst": 2.5}}, "platform_limits.burst"),
        ({"platform_limits": 5}, "platform_limits: must be a table"),
        ({"platform_credential_cache_s": 61}, "platform_credential_cache_s"),
    ]
    for values, message in refused:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            config.from_mapping(values)
    with pytest.raises(ConfigError, match="configuration file only"):
        config.load(None, env={"KIOSK_PLATFORM_LIMITS": "x"})
    cached = config.load(None, env={"KIOSK_PLATFORM_CREDENTIAL_CACHE_S": "0"})
    assert cached.platform_credential_cache_s == 0


def test_the_configured_platform_serves_terminal_credentials(world, tmp_path):
    """`kiosk platform serve`'s app: the credentials of its store, the allowance of
    [platform_limits], and a revocation through its own callers in force at once."""
    from kiosk.platform.service import app_from_config

    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(tmp_path / "crl"),
            "platform_tokens": TOKENS,
            "platform_limits": {"per_s": 1, "burst": 2},
        }
    )
    store = Database(cfg.effective_database_url)
    try:
        store.upgrade()
        credential, token = TerminalCredentials(store).issue(TERMINAL, [CLINIC], world.now)
    finally:
        store.dispose()
    app = app_from_config(cfg)
    with TestClient(app, raise_server_exceptions=False) as client:
        body = {"provider_id": CLINIC, "terminal_id": TERMINAL}
        asked = [client.post("/v1/challenges", json=body, headers=bearer(token)) for _ in range(3)]
        assert [a.status_code for a in asked] == [201, 201, 429]
        assert asked[2].headers["retry-after"].isdigit()
        assert app.state.callers.revoke(credential.credential_id, world.now)
        again = client.post("/v1/challenges", json=body, headers=bearer(token))
        assert refusal(again) == (401, "credential_revoked")

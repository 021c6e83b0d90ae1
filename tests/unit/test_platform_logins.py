"""The platform as the OpenID Provider, end to end over its HTTP API (issue 13).

The real platform app (`create_app(..., openid=...)`) over the store, on SQLite and
PostgreSQL: the browser (a TestClient with its cookies) starts the sign-in at
`/oidc/authorize` with PKCE and reads the binding code off the page; the kiosk's
`PlatformClient`, the LoginBroker port over `/v1/logins/*`, sees the service's name and
approves; the waiting page sends the browser back with the code; the online service exchanges
it at `/oidc/token` and checks the ID token with joserfc against `/oidc/jwks.json`. Each of the
port's refusals is checked through the client, as the login service will see it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

from kiosk import config
from kiosk.local import LocalContext
from kiosk.oidc.claims import ACR_JPKI_KIOSK, pairwise_sub
from kiosk.oidc.clients import OidcClient
from kiosk.oidc.keys import KeyRing
from kiosk.oidc.provider import (
    BINDING_TTL,
    ID_TOKEN_LIFETIME,
    RATE_LIMIT,
    RATE_WINDOW,
    OpenIdProvider,
    link_active_in,
)
from kiosk.platform.client import PlatformClient
from kiosk.platform.oidc_web import MAX_FORM
from kiosk.platform.service import app_from_config, create_app
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingUnknown,
    BindingUsed,
    LinkRefused,
    LoginUnavailable,
    PendingLogin,
)
from kiosk.store.errors import StoreError
from kiosk.store.oidc import OidcStore
from kiosk.store.records import LinkStatus

pytest_plugins = ["test_verify_support"]

ISSUER = "https://platform.example"
CLINIC, SHOP_B = "clinic-a", "shop-b"
TERMINAL = "kiosk-1"
TOKEN, OTHER_TOKEN = "clinic-secret-token", "shop-secret-token"
SECRET = "s3cret-of-the-shop"
CALLBACK = "https://shop.example/callback"
ACCOUNT, REVOKED = "ACCT-0001", "ACCT-REVOKED"
PAIRWISE = bytes(range(32))
T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


TOKENS = {CLINIC: sha256_hex(TOKEN), SHOP_B: sha256_hex(OTHER_TOKEN)}
CLIENTS = {
    "shop": OidcClient(
        "shop",
        "TEST ショップ",
        (CALLBACK,),
        "client_secret_basic",
        secret_sha256=sha256_hex(SECRET),
        providers=frozenset({CLINIC}),
    ),
}


class Clock:
    """A clock the test moves by hand (the platform's and the provider's)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


class Platform:
    """The platform app over one store, with the browser and the kiosks that call it."""

    def __init__(self, local: LocalContext, keys: KeyRing, clock: Clock) -> None:
        self.clock = clock
        self.provider = OpenIdProvider(
            OidcStore(local.db), CLIENTS, keys, ISSUER, PAIRWISE, clock, link_active_in(local.links)
        )
        app = create_app(
            verifier=local.verifier,
            challenges=local.challenges,
            tokens=TOKENS,
            clock=clock,
            openid=self.provider,
        )
        self.http = TestClient(app, base_url=ISSUER, raise_server_exceptions=False,
                               follow_redirects=False)  # fmt: skip

    def browser(self) -> TestClient:
        """A new browser (its own cookie jar) on the same app."""
        return TestClient(self.http.app, base_url=ISSUER, raise_server_exceptions=False,
                          follow_redirects=False)  # fmt: skip

    def kiosk(self, token: str = TOKEN) -> PlatformClient:
        """The kiosk's client of the platform API, its requests served by the app."""
        wire = TestClient(self.http.app, base_url=ISSUER, raise_server_exceptions=False)
        return PlatformClient(ISSUER, token, transport=httpx.MockTransport(wire.send))


class _CodeOnPage(HTMLParser):
    """The text of the page's `id="binding-code"` element."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.code = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = ("id", "binding-code") in attrs

    def handle_endtag(self, tag: str) -> None:
        self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.code += data


class SignIn:
    """One sign-in as the online service starts it in the person's browser."""

    def __init__(self, platform: Platform) -> None:
        self.browser = platform.browser()
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        self.state = secrets.token_urlsafe(16)
        page = self.browser.get(
            "/oidc/authorize",
            params={
                "response_type": "code",
                "client_id": "shop",
                "redirect_uri": CALLBACK,
                "scope": "openid",
                "state": self.state,
                "nonce": self.nonce,
                "code_challenge": create_s256_code_challenge(self.verifier),
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200, page.text
        parser = _CodeOnPage()
        parser.feed(page.text)
        self.shown = parser.code  # as the page shows it: "1234 5678"
        assert len(self.shown.replace(" ", "")) == 8

    def back_to_service(self) -> dict[str, list[str]]:
        """The waiting page's next step: the redirect to the service, its query."""
        answer = self.browser.get("/oidc/authorize/wait")
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        assert location.startswith(CALLBACK + "?")
        return parse_qs(urlsplit(location).query)

    def exchange(self, code: str) -> httpx.Response:
        return self.browser.post(
            "/oidc/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "code_verifier": self.verifier,
            },
            auth=("shop", SECRET),
        )


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def open_store(world, tmp_path, url: str) -> LocalContext:
    """The platform's store, with an active link and a revoked one at the clinic."""
    local = LocalContext.from_config(
        config.from_mapping(
            {
                "data_dir": str(tmp_path / "data"),
                "trust_dir": str(world.pki.trust_dir),
                "crl_dir": str(tmp_path / "crl"),
                "provider_id": CLINIC,
                "terminal_id": TERMINAL,
                "database_url": url,
            }
        )
    )
    local.links.add_provider(CLINIC, "TEST clinic", T0)
    for n, account in enumerate((ACCOUNT, REVOKED), start=1):
        link = local.links.create(
            provider_id=CLINIC,
            account_ref=account,
            auth_issuer_key_id="aa",
            auth_serial=n,
            sign_issuer_key_id="bb",
            sign_serial=n,
            at=T0,
        )
        if account == REVOKED:
            local.links.set_status(link.link_id, LinkStatus.REVOKED, T0)
    return local


@pytest.fixture
def any_platform(world, tmp_path, store_url, clock):
    """The platform on SQLite and on PostgreSQL."""
    local = open_store(world, tmp_path, store_url)
    yield Platform(local, KeyRing(tmp_path / "keys", ID_TOKEN_LIFETIME), clock)
    local.db.dispose()


@pytest.fixture
def platform(world, tmp_path, clock):
    """The platform on SQLite."""
    local = open_store(world, tmp_path, "")
    yield Platform(local, KeyRing(tmp_path / "keys", ID_TOKEN_LIFETIME), clock)
    local.db.dispose()


def sign_in_at_kiosk(platform: Platform, sign_in: SignIn, account: str = ACCOUNT) -> PendingLogin:
    kiosk = platform.kiosk()
    pending = kiosk.pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())
    kiosk.approve(pending, CLINIC, TERMINAL, account, platform.clock(), platform.clock())
    return pending


# -- the whole sign-in ------------------------------------------------------------------------


def test_browser_kiosk_and_service_sign_in_over_the_platform(any_platform):
    platform = any_platform
    sign_in = SignIn(platform)
    assert sign_in.browser.get("/oidc/authorize/wait").status_code == 200  # still waiting

    kiosk = platform.kiosk()
    pending = kiosk.pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())
    assert (pending.client_id, pending.client_name) == ("shop", "TEST ショップ")
    assert pending.claims == ()
    assert pending.expires_at == T0 + BINDING_TTL
    auth_time = T0 - timedelta(seconds=30)
    kiosk.approve(pending, CLINIC, TERMINAL, ACCOUNT, auth_time, platform.clock())

    query = sign_in.back_to_service()
    assert query["state"] == [sign_in.state]
    assert query["iss"] == [ISSUER]
    answer = sign_in.exchange(query["code"][0])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"

    jwks = sign_in.browser.get("/oidc/jwks.json").json()
    token = jwt.decode(answer.json()["id_token"], KeySet.import_key_set(jwks), algorithms=["ES256"])
    jwt.JWTClaimsRegistry(
        now=int(T0.timestamp()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": "shop"},
        nonce={"essential": True, "value": sign_in.nonce},
        exp={"essential": True},
    ).validate(token.claims)
    assert token.claims["sub"] == pairwise_sub(PAIRWISE, "shop", CLINIC, ACCOUNT)
    assert token.claims["auth_time"] == int(auth_time.timestamp())
    assert token.claims["acr"] == ACR_JPKI_KIOSK

    assert sign_in.exchange(query["code"][0]).status_code == 400  # a code is used once


def test_the_same_app_serves_discovery_with_the_issuers_endpoints(platform):
    document = platform.http.get("/.well-known/openid-configuration").json()
    assert document["issuer"] == ISSUER
    assert document["token_endpoint"] == ISSUER + "/oidc/token"
    assert document["code_challenge_methods_supported"] == ["S256"]


def test_without_a_provider_there_are_no_login_or_oidc_endpoints(world, tmp_path, clock):
    local = open_store(world, tmp_path, "")
    try:
        app = create_app(verifier=local.verifier, challenges=local.challenges, tokens=TOKENS,
                         clock=clock)  # fmt: skip
        http = TestClient(app, base_url=ISSUER, raise_server_exceptions=False)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert http.post("/v1/logins/pending", json={}, headers=auth).status_code == 404
        assert http.get("/.well-known/openid-configuration").status_code == 404
    finally:
        local.db.dispose()


# -- each refusal through the client -------------------------------------------------------


def test_a_wrong_code_is_unknown(platform):
    SignIn(platform)
    with pytest.raises(BindingUnknown):
        platform.kiosk().pending(CLINIC, TERMINAL, "0000 0000", platform.clock())


def test_a_code_at_another_providers_kiosk_is_other_provider(any_platform):
    sign_in = SignIn(any_platform)
    with pytest.raises(BindingOtherProvider):
        any_platform.kiosk(OTHER_TOKEN).pending(
            SHOP_B, TERMINAL, sign_in.shown, any_platform.clock()
        )


def test_a_code_used_once_is_used(any_platform):
    sign_in = SignIn(any_platform)
    pending = sign_in_at_kiosk(any_platform, sign_in)
    kiosk = any_platform.kiosk()
    with pytest.raises(BindingUsed):
        kiosk.pending(CLINIC, TERMINAL, sign_in.shown, any_platform.clock())
    with pytest.raises(BindingUsed):
        kiosk.approve(pending, CLINIC, TERMINAL, ACCOUNT, any_platform.clock(),
                      any_platform.clock())  # fmt: skip


def test_a_code_past_its_minutes_is_expired(platform):
    sign_in = SignIn(platform)
    platform.clock.advance(BINDING_TTL + timedelta(seconds=1))
    with pytest.raises(BindingExpired):
        platform.kiosk().pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())


def test_too_many_wrong_codes_are_rate_limited_with_the_wait(platform):
    sign_in = SignIn(platform)
    kiosk = platform.kiosk()
    for n in range(RATE_LIMIT):
        with pytest.raises(BindingUnknown):
            kiosk.pending(CLINIC, TERMINAL, f"{n:08d}", platform.clock())
    with pytest.raises(BindingRateLimited) as refused:
        kiosk.pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())  # even the right one
    assert refused.value.retry_after_s == int(RATE_WINDOW.total_seconds())

    raw = platform.http.post(
        "/v1/logins/pending",
        json={"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": sign_in.shown},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert (raw.status_code, raw.json()["error"]) == (429, "binding_rate_limited")
    assert raw.headers["retry-after"] == str(int(RATE_WINDOW.total_seconds()))
    # another terminal of the provider is not held up
    assert kiosk.pending(CLINIC, "kiosk-2", sign_in.shown, platform.clock()).client_id == "shop"


def test_a_revoked_link_is_link_refused_and_the_page_keeps_waiting(any_platform):
    sign_in = SignIn(any_platform)
    kiosk = any_platform.kiosk()
    pending = kiosk.pending(CLINIC, TERMINAL, sign_in.shown, any_platform.clock())
    with pytest.raises(LinkRefused):
        kiosk.approve(pending, CLINIC, TERMINAL, REVOKED, any_platform.clock(),
                      any_platform.clock())  # fmt: skip
    assert sign_in.browser.get("/oidc/authorize/wait").status_code == 200


def test_another_providers_token_is_403_and_the_kiosk_sees_unavailable(platform):
    sign_in = SignIn(platform)
    body = {"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": sign_in.shown}
    raw = platform.http.post(
        "/v1/logins/pending", json=body, headers={"Authorization": f"Bearer {OTHER_TOKEN}"}
    )
    assert (raw.status_code, raw.json()["error"]) == (403, "provider_not_allowed")
    with pytest.raises(LoginUnavailable):  # a kiosk misconfigured: nothing the person can do
        platform.kiosk(OTHER_TOKEN).pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())
    # and no wrong code was counted against the clinic's kiosk for it
    assert platform.kiosk().pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())


def test_an_approval_needs_the_token_of_the_provider_it_names(platform):
    sign_in = SignIn(platform)
    pending = platform.kiosk().pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())
    with pytest.raises(LoginUnavailable):
        platform.kiosk(OTHER_TOKEN).approve(
            pending, CLINIC, TERMINAL, ACCOUNT, platform.clock(), platform.clock()
        )
    with pytest.raises(BindingOtherProvider):  # its own name, its own token: not its client
        platform.kiosk(OTHER_TOKEN).approve(
            pending, SHOP_B, TERMINAL, ACCOUNT, platform.clock(), platform.clock()
        )
    assert sign_in.browser.get("/oidc/authorize/wait").status_code == 200


class _FailingStore:
    """The provider's store, failing on every use."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise StoreError("the database is gone")

        return fail


def test_store_trouble_is_503_and_the_kiosk_sees_unavailable(platform, monkeypatch):
    monkeypatch.setattr(platform.provider, "_store", _FailingStore())
    raw = platform.http.post(
        "/v1/logins/pending",
        json={"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": "12345678"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert (raw.status_code, raw.json()["error"]) == (503, "unavailable")
    with pytest.raises(LoginUnavailable):
        platform.kiosk().pending(CLINIC, TERMINAL, "12345678", platform.clock())


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.Response(502, json={"error": "bad_gateway", "message": "x"}),
        httpx.Response(200, json={"login_id": "x"}),  # not a pending login
        httpx.Response(429, json={"error": "unknown_code", "message": "x"}),
    ],
)
def test_unreachable_5xx_or_a_wrong_answer_is_unavailable(answer):
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    kiosk = PlatformClient(ISSUER, TOKEN, transport=httpx.MockTransport(handle))
    with pytest.raises(LoginUnavailable):
        kiosk.pending(CLINIC, TERMINAL, "12345678", T0)


@pytest.mark.parametrize(("header", "wait"), [("17", 17), ("soon", 60), ("99999999", 3600)])
def test_a_429_without_a_usable_retry_after_still_waits(header, wait):
    answer = httpx.Response(
        429, json={"error": "binding_rate_limited", "message": "x"}, headers={"Retry-After": header}
    )
    kiosk = PlatformClient(ISSUER, TOKEN, transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(BindingRateLimited) as refused:
        kiosk.pending(CLINIC, TERMINAL, "12345678", T0)
    assert refused.value.retry_after_s == wait


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"provider_id": CLINIC, "terminal_id": TERMINAL},
        {"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": "1" * 33},
        {"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": "1234abcd"},
        {"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": 12345678},
        {"provider_id": CLINIC, "terminal_id": "a b", "binding_code": "12345678"},
    ],
)
def test_a_malformed_pending_request_is_400_and_counts_nothing(platform, body):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(RATE_LIMIT + 1):
        raw = platform.http.post("/v1/logins/pending", json=body, headers=auth)
        assert (raw.status_code, raw.json()["error"]) == (400, "malformed")
    sign_in = SignIn(platform)
    assert platform.kiosk().pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())


@pytest.mark.parametrize(
    "change",
    [
        {"auth_time": "2026-12-03T08:00:00"},  # no zone
        {"login_id": ""},
        {"login_id": "x" * 129},
        {"account_ref": ""},
        {"client_id": None},
    ],
)
def test_a_malformed_approval_is_400(platform, change):
    body = {"provider_id": CLINIC, "terminal_id": TERMINAL, "login_id": "abc",
            "client_id": "shop", "account_ref": ACCOUNT, "auth_time": T0.isoformat()}  # fmt: skip
    body.update(change)
    raw = platform.http.post(
        "/v1/logins/approve", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert (raw.status_code, raw.json()["error"]) == (400, "malformed")


def test_the_token_endpoints_bad_bodies_are_400_never_5xx(platform):
    sign_in = SignIn(platform)
    sign_in_at_kiosk(platform, sign_in)
    code = sign_in.back_to_service()["code"][0]
    form = f"grant_type=authorization_code&code={code}&redirect_uri={CALLBACK}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [
        platform.http.post("/oidc/token", json={"grant_type": "authorization_code"},
                           auth=("shop", SECRET)),  # not a form
        platform.http.post("/oidc/token", content=form + "&code=other", headers=headers,
                           auth=("shop", SECRET)),  # a repeated parameter
        platform.http.post("/oidc/token", content=form + "&pad=" + "x" * MAX_FORM,
                           headers=headers, auth=("shop", SECRET)),  # too large
        platform.http.post("/oidc/token", content=b"code=\xff\xfe", headers=headers,
                           auth=("shop", SECRET)),  # not UTF-8
    ]  # fmt: skip
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_request"
    assert sign_in.exchange(code).status_code == 200  # none of them used the code up


# -- what the log says ---------------------------------------------------------------------------


def test_no_log_line_carries_the_binding_code_or_the_login_id(platform, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in = SignIn(platform)
    kiosk = platform.kiosk()
    with pytest.raises(BindingUnknown):
        kiosk.pending(CLINIC, TERMINAL, "9999 9999", platform.clock())
    pending = sign_in_at_kiosk(platform, sign_in)
    with pytest.raises(BindingUsed):
        kiosk.pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())
    sign_in.back_to_service()

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /v1/logins/pending provider=clinic-a status=200 reason=pending" in text
    assert "POST /v1/logins/approve provider=clinic-a status=204 reason=approved" in text
    assert "status=404 reason=binding_unknown" in text
    assert "status=409 reason=binding_used" in text
    digits = sign_in.shown.replace(" ", "")
    for secret in (digits, sign_in.shown, digits[:4] + "-" + digits[4:], "99999999",
                   "9999 9999", pending.login_id):  # fmt: skip
        assert secret not in text
    assert repr(pending).count(pending.login_id) == 0


# -- from the configuration ---------------------------------------------------------------------


def test_app_from_config_serves_the_provider_of_oidc(world, tmp_path):
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(world.pki.trust_dir),
            "crl_dir": str(tmp_path / "crl"),
            "provider_id": CLINIC,
            "terminal_id": TERMINAL,
            "platform_tokens": TOKENS,
            "oidc": {"issuer": ISSUER},
            "oidc_clients": [
                {
                    "client_id": "shop",
                    "name": "TEST ショップ",
                    "redirect_uris": [CALLBACK],
                    "auth_method": "client_secret_basic",
                    "secret_sha256": sha256_hex(SECRET),
                    "providers": [CLINIC],
                }
            ],
        }
    )
    with TestClient(app_from_config(cfg), base_url=ISSUER) as http:
        assert http.get("/.well-known/openid-configuration").json()["issuer"] == ISSUER
        auth = {"Authorization": f"Bearer {TOKEN}"}
        raw = http.post(
            "/v1/logins/pending",
            json={"provider_id": CLINIC, "terminal_id": TERMINAL, "binding_code": "12345678"},
            headers=auth,
        )
        assert (raw.status_code, raw.json()["error"]) == (404, "binding_unknown")


def test_openapi_documents_the_login_endpoints_and_not_the_browsers(platform):
    spec = platform.http.get("/openapi.json").json()
    assert "/oidc/token" not in spec["paths"]
    schemas = spec["components"]["schemas"]
    pending = spec["paths"]["/v1/logins/pending"]["post"]
    assert pending["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/LoginPendingRequest"
    )
    assert set(spec["paths"]) == {
        "/v1/health",
        "/v1/challenges",
        "/v1/proofs",
        "/v1/enrolments",
        "/v1/logins/pending",
        "/v1/logins/approve",
    }
    assert set(schemas["PendingLoginBody"]["properties"]) == set(PendingLogin.__dataclass_fields__)
    for path in ("/v1/logins/pending", "/v1/logins/approve"):
        documented = spec["paths"][path]["post"]["responses"]
        assert {"400", "401", "403", "404", "409", "410", "429", "503"} <= set(documented)
        assert "422" not in documented
    assert "204" in spec["paths"]["/v1/logins/approve"]["post"]["responses"]
    assert "binding_code" in schemas["LoginPendingRequest"]["required"]


def test_an_auth_time_after_the_platforms_now_is_400_not_a_crash(platform):
    """auth_time is the verdict's time, by the platform's own clock: a later one is a lie."""
    sign_in = SignIn(platform)
    kiosk = platform.kiosk()
    pending = kiosk.pending(CLINIC, TERMINAL, sign_in.shown, platform.clock())
    body = {"provider_id": CLINIC, "terminal_id": TERMINAL, "login_id": pending.login_id,
            "client_id": "shop", "account_ref": ACCOUNT,
            "auth_time": (T0 + timedelta(seconds=1)).isoformat()}  # fmt: skip
    raw = platform.http.post(
        "/v1/logins/approve", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert (raw.status_code, raw.json()["error"]) == (400, "malformed")
    assert sign_in.browser.get("/oidc/authorize/wait").status_code == 200  # nothing approved
    kiosk.approve(pending, CLINIC, TERMINAL, ACCOUNT, T0, platform.clock())
    assert "code" in sign_in.back_to_service()

"""The TEST demo online service (kiosk/demo/online_service.py) against a stand-in OpenID
provider, in Debian's headless chromium: the person clicks "sign in", the browser goes to the
provider and back, and the page says who signed in — or "not signed in" and why, for an ID
token with a wrong nonce, audience, signature, issuer or lifetime, never a traceback.

The stand-in provider below is the least an OP does (discovery, JWKS, an authorization endpoint
that answers at once with a code, a token endpoint checking the client secret and the PKCE
verifier and signing an ID token with joserfc); the real one is kiosk/oidc's. Both services run
on uvicorn on 127.0.0.1, with one fixed clock.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from kiosk.demo.online_service import (
    PENDING_TTL_S,
    OnlineServiceSettings,
    SignInRefused,
    create_online_service_app,
    validate_id_token,
)
from tests.browser_support import wait_for_url

NOW = 1_796_280_000  # 2026-12-03, the one clock of both services
CLIENT_ID = "demo-online-service"
CLIENT_SECRET = "demo-online-service-TEST-secret"
SUB = "pairwise-TEST-3f9a1c"
ACR = "urn:jpki-kiosk:TEST:kiosk-jpki-user-authentication"


@dataclass
class Faults:
    """What the stand-in gets wrong in the ID token it signs (nothing by default)."""

    nonce: str | None = None
    audience: Any = None
    foreign_key: bool = False
    expired: bool = False
    issuer: str | None = None
    sub: str = SUB


@dataclass
class StandInProvider:
    """The stand-in OP's state, and what it was asked."""

    issuer: str = ""
    redirect_uri: str = ""
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", {"kid": "op-1"}))
    faults: Faults = field(default_factory=Faults)
    deny: str | None = None  # answer the authorization request with this error
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, nonce: str) -> str:
        f = self.faults
        claims = {
            "iss": f.issuer or self.issuer,
            "aud": f.audience if f.audience is not None else CLIENT_ID,
            "sub": f.sub,
            "nonce": f.nonce or nonce,
            "iat": NOW - 700 if f.expired else NOW,
            "exp": NOW - 100 if f.expired else NOW + 300,
            "auth_time": NOW,
            "acr": ACR,
            "amr": ["sc", "pin"],
        }
        key = ECKey.generate_key("P-256", {"kid": "op-1"}) if f.foreign_key else self.key
        return jwt.encode({"alg": "ES256", "kid": "op-1"}, claims, key)


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def stand_in_app(op: StandInProvider) -> FastAPI:
    """Discovery, JWKS, an authorization endpoint that approves at once, a token endpoint."""
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        base = op.issuer.rstrip("/")
        return {
            "issuer": op.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return KeySet([op.key]).as_dict(private=False)

    @app.get("/authorize")
    def authorize(request: Request) -> RedirectResponse:
        asked = dict(request.query_params)
        op.authorizations.append(asked)
        assert asked["redirect_uri"] == op.redirect_uri
        if op.deny:
            answer = {"error": op.deny, "state": asked["state"]}
        else:
            code = secrets.token_urlsafe(16)
            op.codes[code] = asked
            answer = {"code": code, "state": asked["state"]}
        return RedirectResponse(f"{op.redirect_uri}?{urlencode(answer)}", status_code=303)

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        op.token_requests.append(form)
        if request.headers.get("authorization") != _basic(CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, 401)
        asked = op.codes.pop(form.get("code", ""), None)
        if (
            asked is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != asked["redirect_uri"]
            or _s256(form.get("code_verifier", "")) != asked["code_challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": op.id_token(asked["nonce"]),
            }
        )

    return app


@pytest.fixture
def op(serve) -> StandInProvider:
    provider = StandInProvider()
    provider.issuer = serve(stand_in_app(provider))
    return provider


class _ServedLater:
    """An ASGI app put in place once its server has a port (its redirect URI names it)."""

    app: Any = None

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


@pytest.fixture
def start_service(serve, op):
    """`start_service(clock)` serves the demo online service, registered at the stand-in as
    CLIENT_ID with its own /callback, and answers its base URL."""

    def start(clock=lambda: NOW) -> str:
        later = _ServedLater()
        base = serve(later)
        op.redirect_uri = f"{base}/callback"
        settings = OnlineServiceSettings(op.issuer, CLIENT_ID, CLIENT_SECRET, op.redirect_uri)
        later.app = create_online_service_app(settings, clock=clock)
        return base

    return start


@pytest.fixture
def service(start_service) -> str:
    """The demo online service's base URL."""
    return start_service()


# -- in chromium ---------------------------------------------------------------------------


@pytest.mark.browser
def test_a_person_signs_in_with_the_button_and_lands_signed_in(page, op, service):
    page.goto(f"{service}/")
    assert "TEST" in page.locator("#test-banner").inner_text()

    page.get_by_role("button", name="Sign in with your My Number Card at the kiosk").click()

    wait_for_url(page, lambda url: url.startswith(f"{service}/callback?"))
    assert page.locator("#outcome").inner_text() == (f"signed in: pairwise sub {SUB}, acr {ACR}")
    assert "TEST" in page.locator("#test-banner").inner_text()
    [asked] = op.authorizations
    assert asked["response_type"] == "code"
    assert asked["client_id"] == CLIENT_ID
    assert asked["scope"] == "openid"
    assert asked["code_challenge_method"] == "S256"
    assert asked["state"] and asked["nonce"] and asked["state"] != asked["nonce"]
    [exchange] = op.token_requests
    assert _s256(exchange["code_verifier"]) == asked["code_challenge"]


REFUSED = [
    (Faults(nonce="a-nonce-from-another-sign-in"), "nonce is not the one this sign-in sent"),
    (Faults(audience="another-online-service"), "for another audience"),
    (Faults(foreign_key=True), "signature does not verify against the provider's published keys"),
    (Faults(issuer="http://127.0.0.1:1/another-issuer"), "comes from another issuer"),
    (Faults(expired=True), "has expired"),
]


@pytest.mark.browser
@pytest.mark.parametrize(
    ("faults", "reason"), REFUSED, ids=["nonce", "audience", "signature", "issuer", "expired"]
)
def test_a_refused_id_token_leaves_the_person_not_signed_in_with_the_reason(
    page, op, service, faults, reason
):
    op.faults = faults
    page.goto(f"{service}/")

    with page.expect_response(lambda r: "/callback?" in r.url) as answered:
        page.get_by_role("button", name="Sign in with your My Number Card at the kiosk").click()

    assert answered.value.status == 403
    outcome = page.locator("#outcome").inner_text()
    assert outcome.startswith("not signed in: ")
    assert reason in outcome
    assert "Traceback" not in page.content()
    assert "TEST" in page.locator("#test-banner").inner_text()


# -- over HTTP -------------------------------------------------------------------------------


def _said(answer: httpx.Response) -> str:
    """The page's text as a browser shows it (entities decoded)."""
    return html.unescape(answer.text)


def _browser_like() -> httpx.Client:
    """A client that keeps cookies and follows redirects, as a browser does."""
    return httpx.Client(follow_redirects=True, timeout=10)


def test_a_callback_used_twice_signs_in_once(op, service):
    with _browser_like() as client:
        first = client.get(f"{service}/login")
        client.cookies.set("demo_online_service_state", first.url.params["state"])

        again = client.get(str(first.url))

    assert "signed in: pairwise sub" in _said(first)
    assert again.status_code == 400
    assert "not signed in: this sign-in is unknown or was used already" in _said(again)


def test_a_callback_opened_in_another_browser_is_refused(op, service):
    with _browser_like() as started_here:
        landed = started_here.get(f"{service}/login", follow_redirects=False)
        to_provider = landed.headers["location"]
        back = started_here.get(to_provider, follow_redirects=False).headers["location"]

    with _browser_like() as elsewhere:  # no cookie: login CSRF
        refused = elsewhere.get(back)

    assert refused.status_code == 400
    assert "not signed in: this browser did not start this sign-in" in _said(refused)
    assert op.token_requests == []  # the code was never exchanged


def test_the_providers_refusal_is_said_on_the_page(op, service):
    op.deny = "access_denied"

    with _browser_like() as client:
        answer = client.get(f"{service}/login")

    assert answer.status_code == 403
    assert "not signed in: the provider refused: access_denied" in _said(answer)


def test_a_provider_that_cannot_be_reached_is_a_page_not_a_500(serve):
    settings = OnlineServiceSettings(
        "http://127.0.0.1:9/nowhere", CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:9/callback"
    )
    base = serve(create_online_service_app(settings, clock=lambda: NOW))

    with _browser_like() as client:
        answer = client.get(f"{base}/login")

    assert answer.status_code == 502
    assert "not signed in: the provider's discovery cannot be read" in _said(answer)


def test_what_the_id_token_says_is_escaped_on_the_page(op, service):
    op.faults = Faults(sub="<script>alert(1)</script>")

    with _browser_like() as client:
        answer = client.get(f"{service}/login")

    assert "<script>alert(1)</script>" not in answer.text
    assert "signed in: pairwise sub &lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


# -- the ID token checks, without a server -------------------------------------------------


SETTINGS = OnlineServiceSettings("https://op.test", CLIENT_ID, CLIENT_SECRET, "https://rp/cb")
KEY = ECKey.generate_key("P-256", {"kid": "k1"})
KEYS = KeySet([KEY])


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {"iss": "https://op.test", "aud": CLIENT_ID, "sub": SUB, "nonce": "n-1"}
    claims |= {"iat": NOW, "exp": NOW + 300, "acr": ACR}
    return claims | overrides


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_valid_id_token_says_who_signed_in():
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, _claims(amr=["sc"], auth_time=NOW), KEY)

    who = validate_id_token(token, KEYS, SETTINGS, "n-1", NOW)

    assert (who.sub, who.acr, who.amr, who.auth_time) == (SUB, ACR, ("sc",), NOW)


def test_an_unsigned_id_token_is_refused():
    token = f"{_b64({'alg': 'none'})}.{_b64(_claims())}."

    with pytest.raises(SignInRefused, match="signature does not verify"):
        validate_id_token(token, KEYS, SETTINGS, "n-1", NOW)


def test_several_audiences_need_this_client_as_the_authorised_party():
    claims = _claims(aud=[CLIENT_ID, "another-client"])
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, KEY)

    with pytest.raises(SignInRefused, match="issued to another client"):
        validate_id_token(token, KEYS, SETTINGS, "n-1", NOW)


def test_an_id_token_without_a_nonce_is_refused():
    claims = _claims()
    del claims["nonce"]
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, KEY)

    with pytest.raises(SignInRefused, match="lacks claims: nonce"):
        validate_id_token(token, KEYS, SETTINGS, "n-1", NOW)


def test_a_callback_with_a_state_in_any_script_is_a_page_not_a_500(service):
    with _browser_like() as client:
        client.cookies.set("demo_online_service_state", "abc")
        answer = client.get(f"{service}/callback", params={"state": "状態", "code": "x"})

    assert answer.status_code == 400
    assert "not signed in: this browser did not start this sign-in" in _said(answer)


def test_an_issuer_ending_in_a_slash_is_discovered_without_a_double_slash(op, start_service):
    op.issuer += "/"
    base = start_service()

    with _browser_like() as client:
        answer = client.get(f"{base}/login")

    assert f"signed in: pairwise sub {SUB}" in _said(answer)


def test_a_sign_in_left_too_long_is_refused_before_the_code_is_exchanged(op, start_service):
    now = [NOW]
    base = start_service(clock=lambda: now[0])

    with _browser_like() as client:
        to_provider = client.get(f"{base}/login", follow_redirects=False).headers["location"]
        back = client.get(to_provider, follow_redirects=False).headers["location"]
        now[0] += PENDING_TTL_S + 1
        answer = client.get(back)

    assert answer.status_code == 400
    assert "not signed in: this sign-in took too long; start again" in _said(answer)
    assert op.token_requests == []

"""The OpenID Provider over HTTP (kiosk/platform/oidc_web.py): the pages a browser walks and
the token endpoint a client calls, over the real provider and store; every bad input is a
4xx (or 503 when the store is down), never a 5xx of the app's own."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient

from kiosk.oidc.clients import OidcClient
from kiosk.oidc.keys import KeyRing
from kiosk.oidc.provider import ID_TOKEN_LIFETIME, OpenIdProvider
from kiosk.platform.oidc_web import COOKIE, create_oidc_app
from kiosk.store.engine import Database
from kiosk.store.oidc import OidcStore

ISSUER = "https://op.example"
CALLBACK = "https://shop.example/callback"
SECRET = "shop-secret"  # noqa: S105 - a test secret
CLIENT = OidcClient(
    "shop",
    "TEST <ショップ>",
    (CALLBACK,),
    "client_secret_basic",
    secret_sha256=hashlib.sha256(SECRET.encode()).hexdigest(),
    providers=frozenset({"clinic-a"}),
)


@pytest.fixture
def provider(db, tmp_path) -> OpenIdProvider:
    return OpenIdProvider(
        OidcStore(db),
        {"shop": CLIENT},
        KeyRing(tmp_path / "keys", ID_TOKEN_LIFETIME),
        ISSUER,
        bytes(range(32)),
        lambda: datetime.now(UTC),
        lambda provider_id, account_ref: True,
    )


@pytest.fixture
def browser(provider):
    with TestClient(create_oidc_app(provider), base_url=ISSUER, follow_redirects=False) as c:
        yield c


def _authorize(browser, **changes):
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": "shop",
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(changes)
    return browser.get("/oidc/authorize", params={k: v for k, v in params.items() if v}), verifier


def _code_on(page_html: str) -> str:
    found = re.search(r'id="binding-code">([\d ]+)<', page_html)
    assert found, page_html
    return found.group(1).replace(" ", "")


def _approve(provider, code: str) -> None:
    now = datetime.now(UTC)
    pending = provider.pending("clinic-a", "kiosk-1", code, now)
    provider.approve(pending, "clinic-a", "kiosk-1", "ACCT-1", now, now)


def test_the_documents_are_served(browser):
    discovery = browser.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == ISSUER
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    keys = browser.get("/oidc/jwks.json").json()["keys"]
    assert keys and all("d" not in key for key in keys)  # public keys only


def test_the_page_shows_the_code_and_the_service_escaped_and_binds_the_browser(browser):
    page, _ = _authorize(browser)
    assert page.status_code == 200
    assert "TEST &lt;ショップ&gt;" in page.text and "<ショップ>" not in page.text
    assert len(_code_on(page.text)) == 8
    assert 'http-equiv="refresh"' in page.text
    cookie = page.headers["set-cookie"]
    assert COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" in cookie  # an https issuer
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_waiting_page_goes_on_to_the_client_once_a_kiosk_approved(browser, provider):
    page, _ = _authorize(browser)
    assert browser.get("/oidc/authorize/wait").status_code == 200  # still waiting
    _approve(provider, _code_on(page.text))
    moved = browser.get("/oidc/authorize/wait")
    assert moved.status_code == 303
    query = parse_qs(urlsplit(moved.headers["location"]).query)
    assert moved.headers["location"].startswith(CALLBACK)
    assert query["state"] == ["st-1"] and query["iss"] == [ISSUER] and query["code"]


def test_a_waiting_page_without_its_cookie_learns_nothing(browser, provider):
    page, _ = _authorize(browser)
    _approve(provider, _code_on(page.text))
    browser.cookies.clear()
    stranger = browser.get("/oidc/authorize/wait")
    assert stranger.status_code == 400 and "location" not in stranger.headers


def test_cancel_sends_the_browser_back_with_access_denied(browser):
    _authorize(browser)
    back = browser.post("/oidc/authorize/cancel")
    assert back.status_code == 303
    assert parse_qs(urlsplit(back.headers["location"]).query)["error"] == ["access_denied"]


def test_an_unknown_client_or_redirect_uri_is_a_page_that_never_redirects(browser):
    for changes in ({"client_id": "nobody"}, {"redirect_uri": "https://evil.example/cb"}):
        page, _ = _authorize(browser, **changes)
        assert page.status_code == 400 and "location" not in page.headers, changes


def test_a_request_without_pkce_goes_back_to_the_client_with_the_error(browser):
    page, _ = _authorize(browser, code_challenge="", code_challenge_method="")
    assert page.status_code == 303
    assert parse_qs(urlsplit(page.headers["location"]).query)["error"] == ["invalid_request"]


def _exchange(browser, provider, verifier_for=None):
    page, verifier = _authorize(browser)
    _approve(provider, _code_on(page.text))
    location = browser.get("/oidc/authorize/wait").headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    basic = base64.b64encode(f"shop:{SECRET}".encode()).decode()
    return browser.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier_for or verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )


def test_the_token_endpoint_exchanges_a_code_once(browser, provider):
    answer = _exchange(browser, provider)
    assert answer.status_code == 200, answer.text
    assert answer.json()["id_token"] and answer.headers["cache-control"] == "no-store"


def test_a_wrong_verifier_is_invalid_grant(browser, provider):
    answer = _exchange(browser, provider, verifier_for=secrets.token_urlsafe(48))
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"grant_type=authorization_code&code=a&code=b", "application/x-www-form-urlencoded"),
        (b'{"grant_type": "authorization_code"}', "application/json"),
        (b"x=" + b"a" * 20_000, "application/x-www-form-urlencoded"),
        (b"grant_type=%ff%fe", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
    ],
)
def test_a_bad_token_request_is_a_4xx(browser, body, content_type):
    answer = browser.post("/oidc/token", content=body, headers={"Content-Type": content_type})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]


def test_a_store_that_is_down_is_a_503_page_not_a_crash(tmp_path):
    down = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    provider = OpenIdProvider(
        OidcStore(down),
        {"shop": CLIENT},
        KeyRing(tmp_path / "keys", ID_TOKEN_LIFETIME),
        ISSUER,
        bytes(range(32)),
        lambda: datetime.now(UTC),
        lambda provider_id, account_ref: True,
    )
    with TestClient(create_oidc_app(provider), base_url=ISSUER, follow_redirects=False) as c:
        page, _ = _authorize(c)
        assert page.status_code == 503 and page.headers["retry-after"]
        c.cookies.set(COOKIE, "x" * 43)
        assert c.get("/oidc/authorize/wait").status_code in (400, 503)

"""The OpenID Provider's core (kiosk.oidc.provider), on SQLite and PostgreSQL.

The online service is played by Authlib's own OAuth 2.0 client (httpx flavour, its requests
routed into the provider by an in-memory transport): discovery, the authorization request
with PKCE and nonce, the code exchange with its client authentication; the ID token is
validated with joserfc against the JWKS the provider publishes. The kiosk's side is the
LoginBroker port (`pending`, `approve`) as the login service calls it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import secrets
import warnings
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from kiosk.oidc.claims import ACR_JPKI_KIOSK, AMR_JPKI_KIOSK, pairwise_sub
from kiosk.oidc.clients import OidcClient
from kiosk.oidc.keys import KeyRing
from kiosk.oidc.provider import (
    BINDING_TTL,
    CODE_TTL,
    DISCOVERY_PATH,
    ID_TOKEN_LIFETIME,
    JWKS_PATH,
    RATE_LIMIT,
    RATE_WINDOW,
    AuthorizeRefused,
    OpenIdProvider,
    Redirect,
    Refused,
    Started,
    TokenError,
    TokenResponse,
    UnknownAuthorizationRequest,
    Waiting,
    link_active_in,
)
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingUnknown,
    BindingUsed,
    LinkRefused,
    PendingLogin,
)
from kiosk.store.links import LinkRepository
from kiosk.store.oidc import OidcStore
from kiosk.store.records import LinkStatus

with warnings.catch_warnings():  # Authlib announces its httpx2 successor; nothing to change
    warnings.filterwarnings("ignore", "The httpx module is deprecated")
    from authlib.integrations.httpx_client import OAuth2Client

ISSUER = "https://op.example"
T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
SECRET = "s3cret-of-the-shop"
OTHER_SECRET = "s3cret-of-the-bank"
PAIRWISE = bytes(range(32))
SHOP_CALLBACK = "https://shop.example/callback"
BANK_CALLBACK = "http://127.0.0.1:8480/callback"
ACCOUNT = "ACCT-0001"
REVOKED = "ACCT-REVOKED"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


CLIENT_KEY = ECKey.generate_key("P-256", parameters={"kid": "jwt-key-1"}, private=True)

CLIENTS = {
    "shop": OidcClient(
        "shop",
        "TEST ショップ",
        (SHOP_CALLBACK,),
        "client_secret_basic",
        secret_sha256=sha256_hex(SECRET),
        providers=frozenset({"clinic-a"}),
    ),
    "bank": OidcClient(
        "bank",
        "TEST 銀行",
        (BANK_CALLBACK,),
        "client_secret_post",
        secret_sha256=sha256_hex(OTHER_SECRET),
        providers=frozenset({"clinic-a", "shop-b"}),
    ),
    "jwt-app": OidcClient(
        "jwt-app",
        "TEST アプリ",
        (SHOP_CALLBACK,),
        "private_key_jwt",
        jwks=(CLIENT_KEY.as_dict(private=False),),
        providers=frozenset({"clinic-a"}),
    ),
    "legacy": OidcClient(
        "legacy",
        "TEST 旧式サービス",
        (SHOP_CALLBACK,),
        "client_secret_basic",
        secret_sha256=sha256_hex(SECRET),
        providers=frozenset({"clinic-a"}),
        id_token_alg="RS256",
    ),
}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def keys(tmp_path) -> KeyRing:
    return KeyRing(tmp_path / "keys", ID_TOKEN_LIFETIME)


@pytest.fixture
def provider(db, keys, clock) -> OpenIdProvider:
    return OpenIdProvider(
        OidcStore(db),
        CLIENTS,
        keys,
        ISSUER,
        PAIRWISE,
        clock,
        link_active=lambda provider_id, account_ref: account_ref != REVOKED,
    )


def transport(provider: OpenIdProvider) -> httpx.MockTransport:
    """The provider's documents and token endpoint as the client reaches them over HTTP."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == DISCOVERY_PATH:
            return httpx.Response(200, json=provider.discovery())
        if path == JWKS_PATH:
            return httpx.Response(200, json=provider.jwks())
        if request.url == provider.token_endpoint and request.method == "POST":
            form = dict(parse_qsl(request.content.decode()))
            answer = provider.token(form, request.headers.get("authorization"))
            if isinstance(answer, TokenResponse):
                return httpx.Response(200, json=dict(answer.body), headers=answer.headers)
            return httpx.Response(answer.status, json=answer.body(), headers=answer.headers)
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def service(provider: OpenIdProvider, client_id: str = "shop", **kwargs) -> OAuth2Client:
    """The online service's OAuth 2.0 client (Authlib's)."""
    settings = {
        "shop": dict(client_secret=SECRET, redirect_uri=SHOP_CALLBACK,
                     token_endpoint_auth_method="client_secret_basic"),
        "bank": dict(client_secret=OTHER_SECRET, redirect_uri=BANK_CALLBACK,
                     token_endpoint_auth_method="client_secret_post"),
        "jwt-app": dict(client_secret=CLIENT_KEY, redirect_uri=SHOP_CALLBACK,
                        token_endpoint_auth_method="private_key_jwt"),
        "legacy": dict(client_secret=SECRET, redirect_uri=SHOP_CALLBACK,
                       token_endpoint_auth_method="client_secret_basic"),
    }[client_id]  # fmt: skip
    settings.update(kwargs)
    client = OAuth2Client(
        client_id=client_id,
        scope="openid",
        code_challenge_method="S256",
        transport=transport(provider),
        **settings,
    )
    if client_id == "jwt-app":  # the assertion's times by the test's clock, not the wall's
        now = int(T0.timestamp())
        signer = PrivateKeyJWT(provider.token_endpoint, claims={"iat": now, "exp": now + 60},
                               alg="ES256")  # fmt: skip
        client.register_client_auth_method(signer)
    return client


class Visit:
    """One sign-in as the online service starts it: its client, verifier, nonce, state."""

    def __init__(self, provider: OpenIdProvider, client_id: str = "shop") -> None:
        self.client = service(provider, client_id)
        self.metadata = self.client.request(
            "GET", ISSUER + DISCOVERY_PATH, withhold_token=True
        ).json()
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        url, self.state = self.client.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce
        )
        self.query = parse_qsl(urlsplit(url).query)
        self.started = provider.authorize(self.query)
        assert isinstance(self.started, Started), self.started

    def exchange(self, redirect: Redirect, **kwargs) -> dict:
        kwargs.setdefault("code_verifier", self.verifier)
        return self.client.fetch_token(
            self.metadata["token_endpoint"], authorization_response=redirect.url, **kwargs
        )


def kiosk_visit(
    provider: OpenIdProvider,
    clock: Clock,
    code: str,
    provider_id: str = "clinic-a",
    terminal: str = "kiosk-1",
    account: str = ACCOUNT,
) -> PendingLogin:
    """The person at a kiosk: types the binding code, sees the service, agrees."""
    pending = provider.pending(provider_id, terminal, code, clock())
    provider.approve(pending, provider_id, terminal, account, clock(), clock())
    return pending


def validate(id_token: str, jwks: dict, audience: str, nonce: str, now: datetime,
             alg: str = "ES256") -> dict:  # fmt: skip
    """The online service's ID token check, with joserfc against the published JWKS."""
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=[alg])
    jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": audience},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(token.claims)
    return token.claims


def signed_in(provider: OpenIdProvider, clock: Clock, client_id: str = "shop",
              account: str = ACCOUNT) -> tuple[Visit, dict]:  # fmt: skip
    visit = Visit(provider, client_id)
    kiosk_visit(provider, clock, visit.started.binding_code, account=account)
    redirect = provider.status(visit.started.request_id)
    assert isinstance(redirect, Redirect)
    return visit, visit.exchange(redirect)


# -- the whole flow -------------------------------------------------------------------------


def test_an_online_service_signs_a_person_in_with_a_standard_oidc_client(provider, clock):
    visit = Visit(provider)
    started = visit.started
    assert started.client_name == "TEST ショップ"
    assert len(started.binding_code) == 8 and started.binding_code.isdigit()
    assert started.expires_at == T0 + BINDING_TTL
    waiting = provider.status(started.request_id)
    assert waiting == Waiting(started.binding_code, started.expires_at, "TEST ショップ")

    clock.advance(timedelta(seconds=40))
    pending = provider.pending("clinic-a", "kiosk-1", started.binding_code, clock())
    assert (pending.client_id, pending.client_name, pending.claims) == ("shop", "TEST ショップ", ())
    auth_time = clock()
    provider.approve(pending, "clinic-a", "kiosk-1", ACCOUNT, auth_time, clock())

    redirect = provider.status(started.request_id)
    assert isinstance(redirect, Redirect)
    back = dict(parse_qsl(urlsplit(redirect.url).query))
    assert redirect.url.startswith(SHOP_CALLBACK + "?")
    assert back["state"] == visit.state and back["iss"] == ISSUER
    assert provider.status(started.request_id) == redirect  # a lost answer loses nothing

    clock.advance(timedelta(seconds=3))
    token = visit.exchange(redirect)
    assert token["token_type"] == "Bearer"
    jwks = visit.client.request("GET", visit.metadata["jwks_uri"], withhold_token=True).json()
    claims = validate(token["id_token"], jwks, "shop", visit.nonce, clock())
    assert claims["acr"] == ACR_JPKI_KIOSK
    assert claims["amr"] == list(AMR_JPKI_KIOSK) == ["sc", "hwk", "pin"]
    assert claims["auth_time"] == int(auth_time.timestamp())
    assert claims["iat"] == int(clock().timestamp())
    assert claims["exp"] - claims["iat"] == 600
    assert claims["sub"] == pairwise_sub(PAIRWISE, "shop", "clinic-a", ACCOUNT)
    header = json.loads(base64.urlsafe_b64decode(token["id_token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256" and header["kid"] == jwks["keys"][0]["kid"]


def test_the_id_token_says_nothing_beyond_the_documented_claims(provider, clock):
    visit, token = signed_in(provider, clock)
    claims = validate(token["id_token"], provider.jwks(), "shop", visit.nonce, clock())
    assert set(claims) == {
        "iss", "aud", "exp", "iat", "nonce", "auth_time", "acr", "amr", "sub", "at_hash"
    }  # fmt: skip
    text = json.dumps(token) + json.dumps(claims)
    assert ACCOUNT not in text and "clinic-a" not in text and "kiosk-1" not in text


def test_private_key_jwt_client_signs_in_and_an_assertion_is_good_once(provider, clock):
    visit = Visit(provider, "jwt-app")
    kiosk_visit(provider, clock, visit.started.binding_code)
    redirect = provider.status(visit.started.request_id)
    form = {
        "grant_type": "authorization_code",
        "code": dict(parse_qsl(urlsplit(redirect.url).query))["code"],
        "redirect_uri": SHOP_CALLBACK,
        "code_verifier": visit.verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(provider.token_endpoint, clock),
    }
    wrong = provider.token(form | {"code_verifier": secrets.token_urlsafe(48)})
    assert isinstance(wrong, TokenError) and wrong.error == "invalid_grant"
    # the assertion authenticated the client on that request, and is spent: not again
    replayed = provider.token(form)
    assert isinstance(replayed, TokenError) and replayed.error == "invalid_client"

    token = visit.exchange(redirect)  # Authlib's PrivateKeyJWT signs a fresh assertion
    claims = validate(token["id_token"], provider.jwks(), "jwt-app", visit.nonce, clock())
    assert claims["aud"] == "jwt-app"


def assertion(audience: str, clock: Clock, jti: str | None = None, key: ECKey = CLIENT_KEY,
              lifetime: int = 60, **changes) -> str:  # fmt: skip
    now = int(clock().timestamp())
    claims = {"iss": "jwt-app", "sub": "jwt-app", "aud": audience, "iat": now,
              "exp": now + lifetime, "jti": jti or secrets.token_urlsafe(16)}  # fmt: skip
    claims.update(changes)
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


def test_private_key_jwt_for_another_audience_or_key_is_refused(provider, clock):
    visit = Visit(provider, "jwt-app")
    kiosk_visit(provider, clock, visit.started.binding_code)
    redirect = provider.status(visit.started.request_id)
    code = dict(parse_qsl(urlsplit(redirect.url).query))["code"]
    base = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": SHOP_CALLBACK,
        "code_verifier": visit.verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    stranger = ECKey.generate_key("P-256", parameters={"kid": "jwt-key-1"}, private=True)
    for bad in (
        assertion(ISSUER + "/elsewhere", clock),
        assertion(provider.token_endpoint, clock, key=stranger),
        assertion(provider.token_endpoint, clock, lifetime=-60),
        assertion(provider.token_endpoint, clock, lifetime=10**12),  # beyond any calendar
        assertion(provider.token_endpoint, clock, lifetime=86_400),
        assertion(provider.token_endpoint, clock, iss="shop"),
        assertion(provider.token_endpoint, clock, jti=None) + "x",
        "not-a-jwt",
    ):
        answer = provider.token(base | {"client_assertion": bad})
        assert isinstance(answer, TokenError) and answer.error == "invalid_client", bad
    good = provider.token(base | {"client_assertion": assertion(provider.token_endpoint, clock)})
    assert isinstance(good, TokenResponse)


def test_a_client_that_registered_rs256_gets_rs256_id_tokens(provider, clock):
    visit, token = signed_in(provider, clock, "legacy")
    jwks = provider.jwks()
    claims = validate(token["id_token"], jwks, "legacy", visit.nonce, clock(), alg="RS256")
    assert claims["acr"] == ACR_JPKI_KIOSK
    assert sorted(k["alg"] for k in jwks["keys"]) == ["ES256", "RS256"]
    with pytest.raises(JoseError):  # an ES256-only client would not take it
        validate(token["id_token"], jwks, "legacy", visit.nonce, clock())


def test_discovery_is_a_valid_provider_configuration(provider):
    document = provider.discovery()
    OpenIDProviderMetadata(document).validate()
    assert document["issuer"] == ISSUER
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert document["acr_values_supported"] == [ACR_JPKI_KIOSK]


# -- the pairwise subject -------------------------------------------------------------------


def test_pairwise_sub_differs_between_clients_and_is_stable_for_one(provider, clock):
    first, shop_1 = signed_in(provider, clock, "shop")
    again, shop_2 = signed_in(provider, clock, "shop")
    bank, bank_1 = signed_in(provider, clock, "bank")
    jwks = provider.jwks()
    sub = [
        validate(shop_1["id_token"], jwks, "shop", first.nonce, clock())["sub"],
        validate(shop_2["id_token"], jwks, "shop", again.nonce, clock())["sub"],
        validate(bank_1["id_token"], jwks, "bank", bank.nonce, clock())["sub"],
    ]
    assert sub[0] == sub[1]
    assert sub[0] != sub[2]
    assert ACCOUNT not in sub[0]
    other = signed_in(provider, clock, "shop", account="ACCT-0002")[1]
    assert jwt.decode(other["id_token"], KeySet.import_key_set(jwks)).claims["sub"] != sub[0]


# -- refusals at the authorization endpoint -------------------------------------------------


def authorize(provider: OpenIdProvider, **changes) -> Started | AuthorizeRefused:
    params = {
        "response_type": "code",
        "client_id": "shop",
        "redirect_uri": SHOP_CALLBACK,
        "scope": "openid",
        "state": "st-1",
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": create_s256_code_challenge("v" * 43),
        "code_challenge_method": "S256",
    }
    params.update(changes)
    return provider.authorize({k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "https://shop.example/callback/"},  # not the exact string
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": None},
        {"client_id": "nobody"},
        {"client_id": None},
    ],
)
def test_an_unknown_client_or_wrong_redirect_uri_is_never_redirected_to(provider, changes):
    refused = authorize(provider, **changes)
    assert isinstance(refused, AuthorizeRefused)
    assert refused.redirect_url is None
    assert refused.error in ("invalid_request", "invalid_client")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain", "code_challenge": "v" * 43}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
        ({"request": "eyJ..."}, "request_not_supported"),
        ({"response_mode": "form_post"}, "invalid_request"),
    ],
)
def test_a_bad_request_of_a_known_client_goes_back_to_it_with_the_error(provider, changes, error):
    refused = authorize(provider, **changes)
    assert isinstance(refused, AuthorizeRefused)
    assert refused.error == error
    assert refused.redirect_url is not None
    back = dict(parse_qsl(urlsplit(refused.redirect_url).query))
    assert refused.redirect_url.startswith(SHOP_CALLBACK + "?")
    assert (back["error"], back["state"]) == (error, "st-1")


def test_a_repeated_parameter_or_a_reused_nonce_is_refused(provider):
    params = [(k, v) for k, v in {
        "response_type": "code", "client_id": "shop", "redirect_uri": SHOP_CALLBACK,
        "scope": "openid", "nonce": "n-1", "code_challenge": create_s256_code_challenge("v" * 43),
        "code_challenge_method": "S256"}.items()]  # fmt: skip
    assert isinstance(provider.authorize(params + [("scope", "openid")]), AuthorizeRefused)
    assert isinstance(provider.authorize(params), Started)
    again = provider.authorize(params)
    assert isinstance(again, AuthorizeRefused) and again.error == "invalid_request"


# -- refusals at the token endpoint ---------------------------------------------------------


def approved(provider: OpenIdProvider, clock: Clock, client_id: str = "shop") -> tuple[Visit, str]:
    visit = Visit(provider, client_id)
    kiosk_visit(provider, clock, visit.started.binding_code)
    redirect = provider.status(visit.started.request_id)
    assert isinstance(redirect, Redirect)
    return visit, dict(parse_qsl(urlsplit(redirect.url).query))["code"]


def basic(client_id: str = "shop", secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def exchange(provider, code, verifier, auth=None, **changes) -> TokenResponse | TokenError:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": SHOP_CALLBACK,
            "code_verifier": verifier}  # fmt: skip
    form.update(changes)
    return provider.token({k: v for k, v in form.items() if v is not None}, auth or basic())


def test_a_missing_or_wrong_pkce_verifier_is_refused(provider, clock):
    visit, code = approved(provider, clock)
    missing = exchange(provider, code, None)
    assert isinstance(missing, TokenError) and missing.error == "invalid_request"
    wrong = exchange(provider, code, secrets.token_urlsafe(48))
    assert isinstance(wrong, TokenError) and (wrong.status, wrong.error) == (400, "invalid_grant")
    assert isinstance(exchange(provider, code, visit.verifier), TokenResponse)


def test_a_reused_authorization_code_is_invalid_grant(provider, clock):
    visit, code = approved(provider, clock)
    assert isinstance(exchange(provider, code, visit.verifier), TokenResponse)
    again = exchange(provider, code, visit.verifier)
    assert isinstance(again, TokenError) and again.error == "invalid_grant"
    # the waiting page may still be asked: it gives the same (now spent) redirect
    assert isinstance(provider.status(visit.started.request_id), Redirect)


def test_a_token_request_with_another_redirect_uri_is_refused(provider, clock):
    visit, code = approved(provider, clock)
    answer = exchange(provider, code, visit.verifier, redirect_uri="https://shop.example/other")
    assert isinstance(answer, TokenError) and answer.error == "invalid_grant"


def test_a_code_expires_and_belongs_to_its_client(provider, clock):
    visit, code = approved(provider, clock)
    other = exchange(provider, code, visit.verifier, auth="x", client_id="bank",
                     client_secret=OTHER_SECRET, redirect_uri=BANK_CALLBACK)  # fmt: skip
    assert isinstance(other, TokenError) and other.error == "invalid_grant"
    clock.advance(CODE_TTL)
    late = exchange(provider, code, visit.verifier)
    assert isinstance(late, TokenError) and late.error == "invalid_grant"
    refused = provider.status(visit.started.request_id)
    assert isinstance(refused, Refused) and refused.reason == "expired"


@pytest.mark.parametrize(
    "auth",
    [basic(secret="wrong"), basic("nobody"), None],
)
def test_client_authentication_is_required_and_checked(provider, clock, auth):
    visit, code = approved(provider, clock)
    answer = provider.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": SHOP_CALLBACK,
            "code_verifier": visit.verifier,
        },  # fmt: skip
        auth,
    )
    assert isinstance(answer, TokenError) and answer.error == "invalid_client"
    assert isinstance(exchange(provider, code, visit.verifier), TokenResponse)


def test_a_client_may_only_use_its_registered_authentication_method(provider, clock):
    visit, code = approved(provider, clock)
    post = exchange(provider, code, visit.verifier, auth="x", client_id="shop",
                    client_secret=SECRET)  # fmt: skip
    assert isinstance(post, TokenError) and post.error == "invalid_client"


def test_an_id_token_for_another_audience_fails_validation(provider, clock):
    visit, token = signed_in(provider, clock, "shop")
    with pytest.raises(JoseError):
        validate(token["id_token"], provider.jwks(), "bank", visit.nonce, clock())
    with pytest.raises(JoseError):
        validate(token["id_token"], provider.jwks(), "shop", "another-nonce", clock())
    clock.advance(ID_TOKEN_LIFETIME + timedelta(seconds=1))
    with pytest.raises(JoseError):
        validate(token["id_token"], provider.jwks(), "shop", visit.nonce, clock())


def test_after_rotation_old_tokens_verify_until_their_key_is_dropped(provider, keys, clock):
    visit, token = signed_in(provider, clock)
    old_kid = provider.jwks()["keys"][0]["kid"]
    keys.rotate(clock())
    published = provider.jwks()
    assert [k["kid"] for k in published["keys"]][1] == old_kid
    validate(token["id_token"], published, "shop", visit.nonce, clock())
    newer, fresh = signed_in(provider, clock)
    assert jwt.decode(fresh["id_token"], KeySet.import_key_set(published)).header["kid"] != old_kid

    clock.advance(ID_TOKEN_LIFETIME)
    later = provider.jwks()
    assert old_kid not in [k["kid"] for k in later["keys"]]
    with pytest.raises(JoseError):
        jwt.decode(token["id_token"], KeySet.import_key_set(later), algorithms=["ES256"])


# -- the kiosk's side (LoginBroker) ---------------------------------------------------------


def test_a_binding_code_expires_in_five_minutes(provider, clock):
    visit = Visit(provider)
    clock.advance(BINDING_TTL)
    with pytest.raises(BindingExpired):
        provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())
    refused = provider.status(visit.started.request_id)
    assert isinstance(refused, Refused) and refused.reason == "expired"
    back = dict(parse_qsl(urlsplit(refused.url).query))
    assert (back["error"], back["state"]) == ("access_denied", visit.state)


def test_a_code_that_expires_between_pending_and_approve_is_refused(provider, clock):
    visit = Visit(provider)
    pending = provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())
    clock.advance(BINDING_TTL)
    with pytest.raises(BindingExpired):
        provider.approve(pending, "clinic-a", "kiosk-1", ACCOUNT, clock(), clock())


def test_an_auth_time_after_now_is_refused(provider, clock):
    visit = Visit(provider)
    pending = provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())
    with pytest.raises(ValueError):
        provider.approve(pending, "clinic-a", "kiosk-1", ACCOUNT, clock() + timedelta(seconds=1),
                         clock())  # fmt: skip
    assert isinstance(provider.status(visit.started.request_id), Waiting)


def test_a_binding_code_is_good_once(provider, clock):
    visit = Visit(provider)
    pending = kiosk_visit(provider, clock, visit.started.binding_code)
    with pytest.raises(BindingUsed):
        provider.pending("clinic-a", "kiosk-2", visit.started.binding_code, clock())
    with pytest.raises(BindingUsed):
        provider.approve(pending, "clinic-a", "kiosk-2", "ACCT-9", clock(), clock())


def test_a_code_typed_at_a_kiosk_of_another_provider_is_refused(provider, clock):
    visit = Visit(provider, "shop")  # shop signs in through clinic-a's kiosks only
    with pytest.raises(BindingOtherProvider):
        provider.pending("shop-b", "kiosk-9", visit.started.binding_code, clock())
    pending = provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())
    with pytest.raises(BindingOtherProvider):
        provider.approve(pending, "shop-b", "kiosk-9", ACCOUNT, clock(), clock())
    assert isinstance(provider.status(visit.started.request_id), Waiting)


def test_a_revoked_or_re_enrolment_link_cannot_sign_in(provider, clock):
    visit = Visit(provider)
    pending = provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())
    with pytest.raises(LinkRefused):
        provider.approve(pending, "clinic-a", "kiosk-1", REVOKED, clock(), clock())
    assert isinstance(provider.status(visit.started.request_id), Waiting)


def test_wrong_codes_are_rate_limited_per_terminal(provider, clock):
    visit = Visit(provider)
    right = visit.started.binding_code
    wrong = f"{(int(right) + 1) % 10**8:08d}"
    for _ in range(RATE_LIMIT):
        with pytest.raises(BindingUnknown):
            provider.pending("clinic-a", "kiosk-1", wrong, clock())
        clock.advance(timedelta(seconds=10))
    with pytest.raises(BindingRateLimited) as limited:
        provider.pending("clinic-a", "kiosk-1", right, clock())  # even the right code waits
    assert limited.value.retry_after_s == int(RATE_WINDOW.total_seconds()) - 50
    # another terminal is not held up, and the right code costs nothing
    assert provider.pending("clinic-a", "kiosk-2", right, clock()).client_id == "shop"
    clock.advance(timedelta(seconds=limited.value.retry_after_s - 1))
    with pytest.raises(BindingRateLimited):
        provider.pending("clinic-a", "kiosk-1", wrong, clock())
    clock.advance(timedelta(seconds=1))  # the first wrong code has left the window
    later = Visit(provider)
    assert provider.pending("clinic-a", "kiosk-1", later.started.binding_code, clock())


@pytest.mark.parametrize("typed", ["", "1234567", "123456789", "abcdefgh", "１２３４５６７８"])
def test_malformed_codes_are_unknown_and_count(provider, clock, typed):
    with pytest.raises(BindingUnknown):
        provider.pending("clinic-a", "kiosk-1", typed, clock())


def test_a_code_typed_with_spaces_or_hyphens_is_the_same_code(provider, clock):
    visit = Visit(provider)
    code = visit.started.binding_code
    assert provider.pending("clinic-a", "kiosk-1", f"{code[:4]} {code[4:]}", clock())
    assert provider.pending("clinic-a", "kiosk-1", f"{code[:4]}-{code[4:]}", clock())


def test_the_browser_can_cancel_while_waiting(provider, clock):
    visit = Visit(provider)
    refused = provider.cancel(visit.started.request_id)
    assert isinstance(refused, Refused) and refused.reason == "denied"
    assert dict(parse_qsl(urlsplit(refused.url).query))["error"] == "access_denied"
    with pytest.raises(BindingExpired):
        provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())


def test_an_unknown_request_id_is_an_error(provider):
    with pytest.raises(UnknownAuthorizationRequest):
        provider.status("no-such-request")
    with pytest.raises(UnknownAuthorizationRequest):
        provider.cancel("x" * 500)


def test_no_code_account_or_certificate_data_reaches_a_log_line(provider, clock, caplog):
    caplog.set_level(logging.DEBUG)
    visit, token = signed_in(provider, clock)
    with pytest.raises(BindingUnknown):
        provider.pending("clinic-a", "kiosk-1", "00000000", clock())
    text = caplog.text
    code = dict(parse_qsl(urlsplit(provider.status(visit.started.request_id).url).query))["code"]
    for secret in (visit.started.binding_code, code, visit.started.request_id, ACCOUNT,
                   token["id_token"], visit.verifier, SECRET, "00000000"):  # fmt: skip
        assert secret not in text
    assert "oidc ID token issued to client shop" in caplog.text
    assert visit.started.binding_code not in repr(visit.started)


def test_the_provider_refuses_an_unsafe_issuer_or_a_short_pairwise_secret(db, keys, clock):
    def build(issuer: str, secret: bytes = PAIRWISE) -> OpenIdProvider:
        return OpenIdProvider(OidcStore(db), CLIENTS, keys, issuer, secret, clock, lambda *_: True)

    for issuer in ("http://op.example", "https://op.example/", "https://op.example?x=1"):
        with pytest.raises(ValueError):
            build(issuer)
    with pytest.raises(ValueError):
        build(ISSUER, b"short")
    assert build("http://127.0.0.1:8700").token_endpoint == "http://127.0.0.1:8700/oidc/token"


def test_only_an_active_link_in_the_store_signs_in(db):
    links = LinkRepository(db)
    links.add_provider("clinic-a", "TEST clinic", T0)
    made = [
        links.create(provider_id="clinic-a", account_ref=f"ACCT-{n}", auth_issuer_key_id="aa",
                     auth_serial=n, sign_issuer_key_id="bb", sign_serial=n, at=T0)
        for n in (1, 2, 3)
    ]  # fmt: skip
    links.set_status(made[1].link_id, LinkStatus.REVOKED, T0)
    links.set_status(made[2].link_id, LinkStatus.NEEDS_REENROLMENT, T0)
    active = link_active_in(links)
    assert active("clinic-a", "ACCT-1")
    assert not active("clinic-a", "ACCT-2")
    assert not active("clinic-a", "ACCT-3")
    assert not active("clinic-a", "ACCT-9")
    assert not active("shop-b", "ACCT-1")


def test_an_approval_for_another_service_than_the_one_shown_is_refused(provider, clock):
    visit = Visit(provider)
    pending = provider.pending("clinic-a", "kiosk-1", visit.started.binding_code, clock())
    swapped = dataclasses.replace(pending, client_id="bank")  # not what the person saw
    with pytest.raises(BindingUnknown):
        provider.approve(swapped, "clinic-a", "kiosk-1", ACCOUNT, clock(), clock())
    assert isinstance(provider.status(visit.started.request_id), Waiting)  # still waiting

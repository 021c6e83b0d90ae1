"""TEST demo online service: a web page that signs a person in over OpenID Connect.

It plays what issue 13 promises any online service: nothing but a standard OIDC client library
(Authlib's OAuth 2.0 client for the protocol, joserfc for the ID token) to let people sign in
with their My Number Card at a kiosk. Three pages, each marked TEST:

- ``/``: a button, "sign in with your My Number Card at the kiosk";
- ``/login``: discovery from ``{issuer}/.well-known/openid-configuration``, then a redirect to
  the provider's authorization endpoint with a fresh ``state``, ``nonce`` and PKCE ``S256``
  challenge (the verifier stays here);
- ``/callback``: the code is exchanged at the token endpoint (client secret, PKCE verifier) and
  the ID token validated against the provider's published JWKS — signature (ES256 or RS256
  only), ``iss``, ``aud`` (and ``azp`` when there are several audiences), ``nonce``, ``exp``,
  ``iat`` — before the page says who signed in: the pairwise ``sub`` and the ``acr``.

Anything else says "not signed in" with the reason, never a traceback: a refused ID token is
403, a sign-in this browser did not start (unknown, used or foreign ``state``) is 400, a
provider that cannot be reached or answers nonsense is 502.

The ``state`` is bound to the browser by an HttpOnly cookie set with the redirect, so a
callback link planted in someone else's browser does not sign them in (login CSRF); each
``state`` is used once. The JWKS is fetched at each callback: a demo signs in rarely, and a
rotated key is then always seen.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # noqa: F401 (see the import of OAuth2Client)
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import (
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

# Authlib 1.9 announces, once at import, that it would rather drive the `httpx2` fork; the
# project uses httpx, which Authlib still supports: that one announcement is ignored while the
# client is imported (authlib.deprecate, imported above, has put its "always" filter in place
# already, so the "ignore" below comes before it).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.httpx_client import OAuth2Client

#: The algorithms an ID token may be signed with (issue 13: ES256 or RS256; never none or HS*).
ID_TOKEN_ALGORITHMS = ("ES256", "RS256")
#: How long a started sign-in may take before its callback is refused, in seconds.
PENDING_TTL_S = 600
#: Clock skew tolerated on exp and iat, in seconds.
LEEWAY_S = 30
#: The cookie that binds a sign-in's state to the browser that started it.
STATE_COOKIE = "demo_online_service_state"
#: How long each call to the provider may take, in seconds.
HTTP_TIMEOUT_S = 5.0

_TEST_BANNER = "TEST — demo online service, no real account"


@dataclass(frozen=True, slots=True)
class OnlineServiceSettings:
    """Who the demo service is to the provider: its client registration, and the issuer."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    name: str = "TEST online service"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """What the validated ID token says about the person who signed in."""

    sub: str
    acr: str
    amr: tuple[str, ...]
    auth_time: int | None


@dataclass(frozen=True, slots=True)
class _Pending:
    nonce: str
    code_verifier: str
    started_at: float


@dataclass(frozen=True, slots=True)
class _Provider:
    """The endpoints discovery named."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class SignInRefused(Exception):
    """The sign-in did not happen; `reason` is what the page says, `status` its HTTP status."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _PendingSignIns:
    """Started sign-ins by state: each taken once, and only within PENDING_TTL_S."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_state: dict[str, _Pending] = {}

    def add(self, state: str, nonce: str, code_verifier: str) -> None:
        now = self._clock()
        with self._lock:
            for old, pending in list(self._by_state.items()):
                if now - pending.started_at > PENDING_TTL_S:
                    del self._by_state[old]
            self._by_state[state] = _Pending(nonce, code_verifier, now)

    def take(self, state: str) -> _Pending:
        with self._lock:
            pending = self._by_state.pop(state, None)
        if pending is None:
            raise SignInRefused("this sign-in is unknown or was used already", 400)
        if self._clock() - pending.started_at > PENDING_TTL_S:
            raise SignInRefused("this sign-in took too long; start again", 400)
        return pending


def create_online_service_app(
    settings: OnlineServiceSettings,
    *,
    clock: Callable[[], float] = time.time,
    new_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
) -> FastAPI:
    """The demo online service's pages; `clock()` is epoch seconds, `new_secret()` makes each
    state, nonce and PKCE verifier."""
    app = FastAPI(title=settings.name, docs_url=None, redoc_url=None, openapi_url=None)
    pending = _PendingSignIns(clock)

    @app.get("/", response_class=HTMLResponse)
    def home() -> HTMLResponse:
        """The start page: one button."""
        body = (
            f"<p>{html.escape(settings.name)}</p>"
            '<form action="/login" method="get">'
            '<button type="submit">Sign in with your My Number Card at the kiosk</button>'
            "</form>"
        )
        return _page("Sign in", body)

    @app.get("/login")
    def login() -> Response:
        """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
        state, nonce, verifier = new_secret(), new_secret(), new_secret()
        try:
            with _client(settings) as client:
                provider = _discover(client, settings.issuer)
                url, _ = client.create_authorization_url(
                    provider.authorization_endpoint,
                    state=state,
                    code_verifier=verifier,
                    nonce=nonce,
                )
        except SignInRefused as refused:
            return _not_signed_in(refused)
        pending.add(state, nonce, verifier)
        redirect = RedirectResponse(url, status_code=303)
        redirect.set_cookie(
            STATE_COOKIE, state, max_age=PENDING_TTL_S, httponly=True, samesite="lax"
        )
        return redirect

    @app.get("/callback", response_class=HTMLResponse)
    def callback(request: Request) -> HTMLResponse:
        """Exchange the code, validate the ID token, and say who signed in (or why not)."""
        try:
            signed_in = _complete(settings, pending, request.query_params, request.cookies, clock)
        except SignInRefused as refused:
            answer = _not_signed_in(refused)
        else:
            answer = _signed_in_page(signed_in)
        answer.delete_cookie(STATE_COOKIE)
        return answer

    return app


def _complete(
    settings: OnlineServiceSettings,
    pending: _PendingSignIns,
    query: Mapping[str, str],
    cookies: Mapping[str, str],
    clock: Callable[[], float],
) -> SignedIn:
    """The callback's work: the provider's answer, the code exchange, the ID token."""
    state = query.get("state", "")
    started_here = cookies.get(STATE_COOKIE, "")
    # compared as bytes: compare_digest refuses str with characters beyond ASCII
    if not state or not secrets.compare_digest(state.encode(), started_here.encode()):
        raise SignInRefused("this browser did not start this sign-in", 400)
    started = pending.take(state)
    if "error" in query:
        error = query["error"]
        described = query.get("error_description", "")
        raise SignInRefused(f"the provider refused: {error} {described}".strip())
    code = query.get("code", "")
    if not code:
        raise SignInRefused("the provider sent no authorization code", 400)
    with _client(settings) as client:
        provider = _discover(client, settings.issuer)
        id_token = _exchange(client, provider, code, started.code_verifier)
        keys = _fetch_keys(client, provider)
    return validate_id_token(id_token, keys, settings, started.nonce, int(clock()))


def _client(settings: OnlineServiceSettings) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method's name)
        scope="openid",
        redirect_uri=settings.redirect_uri,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_S,
    )


def _get_json(client: OAuth2Client, url: str, what: str) -> dict[str, Any]:
    try:
        answer = client.request("GET", url, withhold_token=True)  # no token yet: none is sent
        answer.raise_for_status()
        body = answer.json()
    except (httpx.HTTPError, ValueError) as e:
        reason = f"the provider's {what} cannot be read ({type(e).__name__})"
        raise SignInRefused(reason, 502) from e
    if not isinstance(body, dict):
        raise SignInRefused(f"the provider's {what} is not a JSON object", 502)
    return body


def _discover(client: OAuth2Client, issuer: str) -> _Provider:
    """The provider's endpoints, from its discovery document (which must name this issuer)."""
    well_known = f"{issuer.rstrip('/')}/.well-known/openid-configuration"  # Discovery 4.1
    document = _get_json(client, well_known, "discovery")
    if document.get("issuer") != issuer:
        raise SignInRefused("the provider's discovery names another issuer", 502)
    methods = document.get("code_challenge_methods_supported", ["S256"])
    if not isinstance(methods, list) or "S256" not in methods:
        raise SignInRefused("the provider does not support PKCE with S256", 502)
    endpoints = [document.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")]
    if not all(isinstance(e, str) and e for e in endpoints):
        raise SignInRefused("the provider's discovery lacks an endpoint", 502)
    authorization, token, jwks = (str(e) for e in endpoints)
    return _Provider(authorization, token, jwks)


def _exchange(client: OAuth2Client, provider: _Provider, code: str, verifier: str) -> str:
    """The ID token the token endpoint gives for the code and the PKCE verifier."""
    try:
        token = client.fetch_token(provider.token_endpoint, code=code, code_verifier=verifier)
    except AuthlibBaseError as e:
        raise SignInRefused(f"the provider refused the code: {e.error}") from e
    except (httpx.HTTPError, ValueError) as e:
        reason = f"the provider's token endpoint failed ({type(e).__name__})"
        raise SignInRefused(reason, 502) from e
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SignInRefused("the provider sent no ID token", 502)
    return id_token


def _fetch_keys(client: OAuth2Client, provider: _Provider) -> KeySet:
    """The provider's published public keys."""
    document = _get_json(client, provider.jwks_uri, "key set (JWKS)")
    try:
        return KeySet.import_key_set(document)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise SignInRefused("the provider's key set (JWKS) does not parse", 502) from e


_CLAIM_REASONS = {
    "iss": "the ID token comes from another issuer",
    "aud": "the ID token is for another audience (another client)",
    "azp": "the ID token was issued to another client (azp)",
    "nonce": "the ID token's nonce is not the one this sign-in sent",
    "iat": "the ID token was issued in the future",
    "sub": "the ID token names no subject",
}


def validate_id_token(
    id_token: str, keys: KeySet, settings: OnlineServiceSettings, nonce: str, now: int
) -> SignedIn:
    """Check the ID token's signature against `keys` and its claims against this sign-in
    (OIDC Core 3.1.3.7); raises SignInRefused with the reason."""
    try:
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
    except (JoseError, ValueError) as e:
        raise SignInRefused(
            "the ID token's signature does not verify against the provider's published keys "
            f"({type(e).__name__})"
        ) from e
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_S,
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError as e:
        raise SignInRefused("the ID token has expired") from e
    except MissingClaimError as e:
        raise SignInRefused(f"the ID token lacks claims: {e.claim}") from e
    except ClaimError as e:
        reason = _CLAIM_REASONS.get(e.claim, f"the ID token's {e.claim} is wrong")
        raise SignInRefused(reason) from e
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.client_id:
        raise SignInRefused(_CLAIM_REASONS["azp"])
    return _signed_in(claims)


def _signed_in(claims: Mapping[str, Any]) -> SignedIn:
    amr = claims.get("amr", [])
    auth_time = claims.get("auth_time")
    return SignedIn(
        sub=str(claims["sub"]),
        acr=str(claims.get("acr", "")),
        amr=tuple(str(a) for a in amr) if isinstance(amr, list) else (),
        auth_time=auth_time if isinstance(auth_time, int) else None,
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """One HTML page with the TEST banner; `body` is HTML whose values are escaped already."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>TEST · {html.escape(title)}</title></head><body>"
        f'<p id="test-banner"><strong>{_TEST_BANNER}</strong></p>'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status)


def _signed_in_page(who: SignedIn) -> HTMLResponse:
    amr = ", ".join(who.amr) or "none"
    body = (
        f'<p id="outcome">signed in: pairwise sub {html.escape(who.sub)}, '
        f"acr {html.escape(who.acr or 'none')}</p>"
        f"<p>amr {html.escape(amr)}"
        + (f", auth_time {who.auth_time}" if who.auth_time is not None else "")
        + '</p><p><a href="/">back</a></p>'
    )
    return _page("Signed in", body)


def _not_signed_in(refused: SignInRefused) -> HTMLResponse:
    body = (
        f'<p id="outcome">not signed in: {html.escape(refused.reason)}</p>'
        '<p><a href="/">try again</a></p>'
    )
    return _page("Not signed in", body, refused.status)

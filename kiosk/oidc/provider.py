"""The OpenID Provider's core, without HTTP: authorization, the kiosk's binding, the token.

OpenID Connect Core 1.0's authorization code flow with PKCE (S256 only), across two devices:

1. `authorize` — the online service sent the person's browser here. Authlib's
   `AuthorizationServer` with its `AuthorizationCodeGrant`, the `OpenIDCode` extension
   (nonce required) and `CodeChallenge` (S256 required) validates the request; the provider
   keeps it, waiting, with a fresh 8-digit **binding code** for the waiting page to show.
2. At a kiosk of one of the client's providers, the person proves with the card and PIN and
   types the code: `pending` says which service it is for, `approve` records the login (the
   `kiosk.services.login_broker.LoginBroker` port, which the kiosk's login service uses) and
   issues the authorization code.
3. `status` — the waiting page's poll — answers with the redirect back to the service,
   carrying the code and the state (or the refusal, once denied or expired).
4. `token` — the service exchanges the code at the token endpoint (Authlib again: client
   authentication, single-use code, redirect URI, PKCE verifier) for an ID token signed with
   the key ring's ES256 key (RS256 for a client that registered it).

Why not Authlib's whole authorization endpoint: its `create_authorization_response` answers
the browser in the same request that the person consents in. Here consent happens later on
another device, and the waiting page may poll more than once (a lost answer must not lose
the login), so steps 2 and 3 are the provider's own: the code is derived from the request id
under a key of the provider (HMAC), stored only as its SHA-256 when the kiosk approves, and
the same redirect can be given again. Everything that validates a request or a token
request, authenticates a client and makes the ID token is Authlib's and joserfc's.

Codes are credentials: no log line, message or repr carries a binding code, an
authorization code or a request id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oidc.core.grants import OpenIDCode
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from kiosk.errors import KioskError
from kiosk.oidc.claims import ACR_JPKI_KIOSK, AMR_JPKI_KIOSK, PAIRWISE_SECRET_BYTES, pairwise_sub
from kiosk.oidc.clients import AUTH_METHODS, OidcClient
from kiosk.oidc.keys import ALGORITHMS, KeyRing
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
from kiosk.store.links import LinkRepository
from kiosk.store.oidc import (
    Approval,
    Authorization,
    AuthorizationClosed,
    BindingTaken,
    NewAuthorization,
    OidcStore,
    UnknownAuthorization,
)
from kiosk.store.records import LinkStatus

log = logging.getLogger(__name__)

#: Where the HTTP layer serves each endpoint, below the issuer URL.
DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZATION_PATH = "/oidc/authorize"
TOKEN_PATH = "/oidc/token"  # noqa: S105 (a path, not a secret)
JWKS_PATH = "/oidc/jwks.json"

#: How long an ID token is valid (its `exp`), and so how long a retired key stays published.
ID_TOKEN_LIFETIME = timedelta(minutes=10)
#: How long a binding code waits for a kiosk, and how many digits it has.
BINDING_TTL = timedelta(minutes=5)
BINDING_DIGITS = 8
#: How long an authorization code is good for, once the kiosk approved (RFC 6749 §4.1.2:
#: "a maximum … lifetime of 10 minutes is RECOMMENDED"; the waiting page collects it at once).
CODE_TTL = timedelta(minutes=2)
#: Wrong binding codes a kiosk terminal may type in `RATE_WINDOW` before it must wait.
RATE_LIMIT = 5
RATE_WINDOW = timedelta(minutes=10)
#: How long ended requests, wrong-code counts and assertion ids are kept before `purge`.
KEEP = timedelta(days=1)
#: The only scope: the ID token carries the pairwise identifier and nothing else.
SCOPE = "openid"
#: Longest `nonce` and `state` kept (the store's columns).
MAX_NONCE = 255
MAX_STATE = 512
#: The longest a client assertion may live: its `jti` is kept until it expires.
MAX_ASSERTION_LIFETIME = timedelta(hours=1, minutes=5)
#: Client assertion algorithms accepted for private_key_jwt (asymmetric only).
ASSERTION_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
_CODE_LABEL = b"kiosk-oidc authorization code v1"
_BINDING_LABEL = b"kiosk-oidc binding code v1"


class OidcError(KioskError):
    """Base of the provider's own errors (its refusals are results, not errors)."""

    code = "oidc"


class UnknownAuthorizationRequest(OidcError):
    """No authorization request with this id (the waiting page's link is wrong or old)."""

    code = "oidc_request_unknown"


@dataclass(frozen=True, slots=True)
class Started:
    """An authorization request accepted: the waiting page shows the binding code."""

    request_id: str = field(repr=False)  # the browser's handle: its waiting page polls it
    binding_code: str = field(repr=False)
    expires_at: datetime
    client_name: str


@dataclass(frozen=True, slots=True)
class AuthorizeRefused:
    """An authorization request refused. With `redirect_url` (the client and its redirect
    URI are known good) the browser is sent back to the client with the error; without, the
    page shows it and never redirects (unknown client, wrong redirect URI)."""

    error: str
    description: str
    redirect_url: str | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """Still waiting for a kiosk: the code to show, until when, for which service."""

    binding_code: str = field(repr=False)
    expires_at: datetime
    client_name: str


@dataclass(frozen=True, slots=True)
class Redirect:
    """Approved: send the browser to `url` (the client's redirect URI with code and state)."""

    url: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Refused:
    """Ended without a login: send the browser to `url` (error=access_denied and state).
    `reason` says why for the page: the person cancelled, or the code's time ran out."""

    url: str = field(repr=False)
    error: str
    reason: Literal["denied", "expired"]


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """The token endpoint's 200 answer (JSON body; Cache-Control: no-store)."""

    body: Mapping[str, Any] = field(repr=False)
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TokenError:
    """The token endpoint's error answer: HTTP status, OAuth error code, description."""

    status: int
    error: str
    description: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, str]:
        """The JSON body (RFC 6749 §5.2)."""
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


Status = Waiting | Redirect | Refused


def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, label, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode("ascii")).digest()


def normalise_binding(typed: str) -> str:
    """A binding code as typed (spaces and hyphens dropped: "1234 5678" -> "12345678")."""
    return "".join(c for c in typed if c not in " -\u3000")


def _issuer(issuer: str) -> str:
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError("the issuer is an https URL (plain http only to this machine)")
    if not parts.hostname or parts.query or parts.fragment or issuer.endswith("/"):
        raise ValueError("the issuer is a URL without query, fragment or trailing slash")
    return issuer


# -- Authlib's server core, fitted to the provider ------------------------------------------


class _Payload(OAuth2Payload):  # type: ignore[misc]
    """Request parameters as Authlib reads them (the first of each, and all of them)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = {}
        for key, value in pairs:
            self._datalist.setdefault(key, []).append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    """An authorization (GET) or token (POST) request, built from what the HTTP layer read."""

    def __init__(
        self,
        method: str,
        uri: str,
        pairs: Iterable[tuple[str, str]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(method, uri, headers=dict(headers or {}))
        self.payload = _Payload(pairs)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data if self.method == "POST" else {}


class _Client:
    """An `OidcClient` as Authlib's ClientMixin; one per request, so the signing key and
    the time its ID token is made at are taken once for that request."""

    def __init__(self, client: OidcClient) -> None:
        self.oidc = client
        self.signing: Any = None
        self.now: datetime | None = None

    def get_client_id(self) -> str:
        return self.oidc.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # OpenID Connect requires redirect_uri in every request

    def get_allowed_scope(self, scope: str | None) -> str | None:
        return SCOPE if scope and SCOPE in scope.split() else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.oidc.redirect_uris  # the exact string, nothing else

    def check_client_secret(self, client_secret: str) -> bool:
        if self.oidc.secret_sha256 is None:
            return False
        given = hashlib.sha256(client_secret.encode("utf-8")).hexdigest()
        return hmac.compare_digest(given, self.oidc.secret_sha256)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == self.oidc.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class _User:
    """The person as the ID token names them: the pairwise identifier only."""

    def __init__(self, sub: str) -> None:
        self.sub = sub


class _Code:
    """An issued authorization code as Authlib's AuthorizationCodeMixin."""

    def __init__(self, digest: bytes, found: Authorization) -> None:
        if found.approval is None:
            raise ValueError("an authorization code belongs to an approved request")
        self.digest = digest
        self.request = found
        self.approval = found.approval
        self.code_challenge = found.code_challenge
        self.code_challenge_method = "S256"

    def get_redirect_uri(self) -> str:
        return self.request.redirect_uri

    def get_scope(self) -> str:
        return self.request.scope

    def get_nonce(self) -> str:
        return self.request.nonce

    def get_auth_time(self) -> int:
        return int(self.approval.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.approval.acr

    def get_amr(self) -> list[str]:
        return list(self.approval.amr)


class _S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 and nothing else: a challenge is required, `plain` is refused."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {
        "S256": lambda verifier, challenge: hmac.compare_digest(
            create_s256_code_challenge(verifier), challenge
        )
    }

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIdCode(OpenIDCode):  # type: ignore[misc]
    """ID tokens: nonce required and never reused by a client, signed with the key ring's
    current key of the client's algorithm (ES256 unless it registered RS256), claims from
    the approval (pairwise sub, auth_time, acr, amr)."""

    def __init__(self, provider: OpenIdProvider) -> None:
        super().__init__(require_nonce=True)
        self._provider = provider

    def exists_nonce(self, nonce: str, request: _Request) -> bool:
        return self._provider._store.nonce_seen(request.payload.client_id, nonce)

    def _signing(self, client: _Client) -> Any:
        if client.signing is None:
            client.now = self._provider._clock()
            client.signing = self._provider._keys.current(client.now, client.oidc.id_token_alg)
        return client.signing

    def get_client_algorithm(self, client: _Client) -> str:
        return client.oidc.id_token_alg

    def get_encode_header(self, client: _Client) -> dict[str, str]:
        signing = self._signing(client)
        return {"alg": signing.alg, "kid": signing.kid}

    def resolve_client_private_key(self, client: _Client) -> Any:
        return self._signing(client).key

    def get_client_claims(self, client: _Client) -> dict[str, Any]:
        self._signing(client)
        assert client.now is not None  # set with the key  # noqa: S101
        issued = int(client.now.timestamp())
        return {
            "iss": self._provider.issuer,
            "aud": client.get_client_id(),
            "iat": issued,
            "exp": issued + int(ID_TOKEN_LIFETIME.total_seconds()),
        }

    def generate_user_info(self, user: _User, scope: str) -> dict[str, str]:
        return {"sub": user.sub}


class _ClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """private_key_jwt (RFC 7523 §2.2): the assertion verified by joserfc against the
    client's registered keys, audience the token endpoint, each `jti` accepted once."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, provider: OpenIdProvider) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self._provider = provider

    def get_audiences(self) -> list[str]:
        return [self._provider.token_endpoint]

    def resolve_client_public_key(self, client: _Client) -> KeySet:
        return client.oidc.key_set()

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except JoseError as e:
            raise _invalid_client("The client assertion's signature does not verify.") from e
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: Any) -> None:
        now = int(self._provider._clock().timestamp())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "values": self.get_audiences()},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as e:  # its description may quote, which an OAuth error may not
            raise _invalid_client(f"The client assertion's claims are refused ({e.error}).") from e
        if claims["sub"] != claims["iss"]:
            raise _invalid_client("The client assertion's iss and sub differ.")
        if claims["exp"] > now + int(MAX_ASSERTION_LIFETIME.total_seconds()):
            raise _invalid_client("The client assertion lives too long.")
        if not self.validate_jti(claims, claims["jti"]):
            raise _invalid_client("The client assertion has been used before.")

    def validate_jti(self, claims: Mapping[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            return False
        expires = datetime.fromtimestamp(int(claims["exp"]) + self.leeway, tz=UTC)
        return self._provider._store.use_assertion(claims["sub"], jti, expires)


def _invalid_client(description: str) -> OAuth2Error:
    return InvalidClientError(description=description)


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant over the provider's store: codes by SHA-256, used once."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    provider: OpenIdProvider  # set on the subclass made per provider

    def save_authorization_code(self, code: str, request: Any) -> None:
        raise NotImplementedError("codes are issued by OpenIdProvider.approve")

    def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
        if not isinstance(code, str) or not 0 < len(code) <= 128 or not code.isascii():
            return None
        digest = _sha256(code)
        store = self.provider._store
        issued = store.code(digest)
        now = self.provider._clock()
        if issued is None or issued.client_id != client.get_client_id():
            return None
        if issued.used_at is not None or issued.expires_at <= now:
            return None
        found = store.get(issued.request_id, now)
        if found.approval is None or found.status != "approved":
            return None
        return _Code(digest, found)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        # the one atomic step that makes a code single use: of two racing exchanges, one wins
        if not self.provider._store.use_code(authorization_code.digest, self.provider._clock()):
            raise InvalidGrantError("Invalid 'code' in request.")

    def authenticate_user(self, authorization_code: _Code) -> _User:
        return _User(authorization_code.approval.sub)


class _Server(AuthorizationServer):  # type: ignore[misc]
    """Authlib's framework-agnostic server: requests come in built, answers go out as
    (status, body, headers)."""

    def __init__(self, clients: Mapping[str, OidcClient]) -> None:
        super().__init__(scopes_supported=None)
        self._clients = clients

    def query_client(self, client_id: str) -> _Client | None:
        found = self._clients.get(client_id) if isinstance(client_id, str) else None
        return None if found is None else _Client(found)

    def save_token(self, token: Mapping[str, Any], request: Any) -> None:
        return None  # the access token grants nothing here (no userinfo): nothing to keep

    def create_oauth2_request(self, request: Any) -> _Request:
        if not isinstance(request, _Request):
            raise TypeError("the provider builds its requests itself")
        return request

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        return status, body, headers


def _bearer(
    grant_type: str,
    client: _Client,
    user: _User | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """The OAuth token response's access token: required by RFC 6749, but it grants nothing
    (the provider has no userinfo or other resource); the ID token is the answer."""
    return {
        "token_type": "Bearer",
        "access_token": secrets.token_urlsafe(32),
        "expires_in": int(ID_TOKEN_LIFETIME.total_seconds()),
        "scope": scope or SCOPE,
    }


# -- the provider -----------------------------------------------------------------------------


class OpenIdProvider:
    """The OpenID Provider: the authorization and token endpoints' logic, the kiosk's
    LoginBroker, and the discovery and JWKS documents."""

    def __init__(
        self,
        store: OidcStore,
        clients: Mapping[str, OidcClient],
        keys: KeyRing,
        issuer: str,
        pairwise_secret: bytes,
        clock: Callable[[], datetime],
        link_active: Callable[[str, str], bool],
    ) -> None:
        if len(pairwise_secret) < PAIRWISE_SECRET_BYTES:
            raise ValueError(f"the pairwise secret has at least {PAIRWISE_SECRET_BYTES} bytes")
        self.issuer = _issuer(issuer)
        self.authorization_endpoint = issuer + AUTHORIZATION_PATH
        self.token_endpoint = issuer + TOKEN_PATH
        self.jwks_uri = issuer + JWKS_PATH
        self._store = store
        self._clients = clients
        self._keys = keys
        self._pairwise = pairwise_secret
        self._code_key = _derive(pairwise_secret, _CODE_LABEL)
        self._binding_key = _derive(pairwise_secret, _BINDING_LABEL)
        self._clock = clock
        self._link_active = link_active
        self._last_purge: datetime | None = None
        grant = type("_ProviderCodeGrant", (_CodeGrant,), {"provider": self})
        self._server = _Server(clients)
        self._server.register_grant(grant, [_S256Only(required=True), _OpenIdCode(self)])
        self._server.register_token_generator("default", _bearer)
        self._server.register_client_auth_method("private_key_jwt", _ClientAssertion(self))

    # -- the authorization endpoint --

    def authorize(
        self, params: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> Started | AuthorizeRefused:
        """Validate an authorization request (its query parameters, repeated ones as pairs)
        and keep it waiting under a fresh binding code, or say why not."""
        pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        request = _Request("GET", self.authorization_endpoint, pairs)
        try:
            grant = self._server.get_consent_grant(request)
            self._check_extras(request.payload.data, grant.redirect_uri)
        except OAuth2Error as error:
            return self._refusal(error, request.payload.state)
        now = self._clock()
        self._purge_now_and_then(now)
        client: OidcClient = request.client.oidc
        data = request.payload.data
        for _ in range(16):  # 10^8 codes: a clash with a waiting one is rare, 16 in a row never
            request_id, login_id = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            binding = self._binding_code(request_id)
            new = NewAuthorization(
                request_id=request_id,
                login_id=login_id,
                client_id=client.client_id,
                redirect_uri=grant.redirect_uri,
                state=data.get("state"),
                nonce=data["nonce"],
                code_challenge=data["code_challenge"],
                scope=request.scope,
                binding_digest=self._binding_digest(binding),
            )
            try:
                kept = self._store.create(new, BINDING_TTL, now)
            except BindingTaken:
                continue
            log.info("oidc authorization request started for client %s", client.client_id)
            return Started(request_id, binding, kept.expires_at, client.name)
        raise StoreError("no free binding code")  # pragma: no cover

    def _check_extras(self, data: Mapping[str, str], redirect_uri: str) -> None:
        """What Authlib leaves to the provider: request objects (not supported), the
        response mode (query only), and the lengths the store keeps."""
        if "request" in data:
            raise _error(
                "request_not_supported", "Request objects are not supported.", redirect_uri
            )
        if "request_uri" in data:
            raise _error("request_uri_not_supported", "request_uri is not supported.", redirect_uri)
        if data.get("response_mode", "query") != "query":
            raise InvalidRequestError("Only response_mode=query.", redirect_uri=redirect_uri)
        if len(data["nonce"]) > MAX_NONCE:
            raise InvalidRequestError("The 'nonce' is too long.", redirect_uri=redirect_uri)
        if len(data.get("state") or "") > MAX_STATE:
            raise InvalidRequestError("The 'state' is too long.", redirect_uri=redirect_uri)

    def _refusal(self, error: OAuth2Error, state: str | None) -> AuthorizeRefused:
        description = error.get_error_description() or ""
        if error.redirect_uri is None:  # the client or its redirect URI is not known good
            return AuthorizeRefused(error.error, description)
        error.state = state
        status, _, headers = error()
        location = dict(headers).get("Location") if status == 302 else None
        return AuthorizeRefused(error.error, description, location)

    # -- the waiting page --

    def status(self, request_id: str) -> Status:
        """What the browser's waiting page does next. Raises UnknownAuthorizationRequest."""
        now = self._clock()
        found = self._request(request_id, now)
        if found.status == "waiting":
            client = self._clients.get(found.client_id)
            name = client.name if client is not None else found.client_id
            return Waiting(self._binding_code(found.request_id), found.expires_at, name)
        if found.status in ("approved", "exchanged"):
            issued = self._store.code(_sha256(self._authorization_code(found.request_id)))
            if issued is not None and (issued.used_at is not None or issued.expires_at > now):
                params = [("code", self._authorization_code(found.request_id))]
                params += [("state", found.state)] if found.state is not None else []
                params.append(("iss", self.issuer))  # RFC 9207
                return Redirect(add_params_to_uri(found.redirect_uri, params))
            return self._refused(found, "expired")
        return self._refused(found, "denied" if found.status == "denied" else "expired")

    def cancel(self, request_id: str) -> Status:
        """The person cancelled on the waiting page: a waiting request ends as denied (one
        approved meanwhile is not undone). Raises UnknownAuthorizationRequest."""
        try:
            self._store.deny(request_id, self._clock())
        except UnknownAuthorization as e:
            raise UnknownAuthorizationRequest("no such authorization request") from e
        except AuthorizationClosed:
            pass
        return self.status(request_id)

    def _refused(self, found: Authorization, reason: Literal["denied", "expired"]) -> Refused:
        description = (
            "The person cancelled the sign-in."
            if reason == "denied"
            else "The sign-in was not completed at a kiosk in time."
        )
        params = [("error", "access_denied"), ("error_description", description)]
        params += [("state", found.state)] if found.state is not None else []
        params.append(("iss", self.issuer))
        return Refused(add_params_to_uri(found.redirect_uri, params), "access_denied", reason)

    def _request(self, request_id: str, now: datetime) -> Authorization:
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
            raise UnknownAuthorizationRequest("no such authorization request")
        try:
            return self._store.get(request_id, now)
        except UnknownAuthorization as e:
            raise UnknownAuthorizationRequest("no such authorization request") from e

    # -- the kiosk (LoginBroker) --

    def pending(
        self, provider_id: str, terminal_id: str, binding_code: str, now: datetime
    ) -> PendingLogin:
        """The login waiting under this binding code for a service of this provider (the
        LoginBroker port). A wrong code counts against the terminal and nothing else."""
        try:
            self._check_rate(provider_id, terminal_id, now)
            code = normalise_binding(binding_code)
            found = None
            if len(code) == BINDING_DIGITS and code.isdigit() and code.isascii():
                found = self._store.by_binding(self._binding_digest(code), now)
            if found is None:
                self._store.record_failure(provider_id, terminal_id, now)
                raise BindingUnknown("no sign-in waits with this code")
            client = self._usable(found, provider_id)
        except StoreError as e:
            raise LoginUnavailable("the sign-in service is unavailable") from e
        return PendingLogin(
            login_id=found.login_id,
            client_id=client.client_id,
            client_name=client.name,
            claims=(),
            expires_at=found.expires_at,
        )

    def approve(
        self,
        pending: PendingLogin,
        provider_id: str,
        terminal_id: str,
        account_ref: str,
        auth_time: datetime,
        now: datetime,
    ) -> None:
        """The card holder of `account_ref` agreed: issue the authorization code for the
        waiting page (the LoginBroker port). Only `pending.login_id` is read from `pending`
        (the rest is for the screen). Raises the binding refusals, LinkRefused when the link
        may not sign in, LoginUnavailable; ValueError for an `auth_time` after `now`."""
        if auth_time > now:  # the ID token's auth_time must be a time the card was used
            raise ValueError("auth_time is later than now")
        try:
            try:
                found = self._store.by_login(pending.login_id, now)
            except UnknownAuthorization as e:
                raise BindingUnknown("no sign-in waits for this approval") from e
            if found.client_id != pending.client_id:  # not the service the person was shown
                raise BindingUnknown("no sign-in waits for this approval")
            client = self._usable(found, provider_id)
            if not self._link_active(provider_id, account_ref):
                raise LinkRefused("the card's link cannot sign in (revoked or to be re-made)")
            approval = Approval(
                provider_id=provider_id,
                terminal_id=terminal_id,
                sub=pairwise_sub(self._pairwise, client.client_id, provider_id, account_ref),
                auth_time=auth_time,
                acr=ACR_JPKI_KIOSK,
                amr=AMR_JPKI_KIOSK,
            )
            code = self._authorization_code(found.request_id)
            try:
                self._store.approve(found.login_id, approval, _sha256(code), CODE_TTL, now)
            except AuthorizationClosed as e:
                raise _closed(e.status) from e
        except StoreError as e:
            raise LoginUnavailable("the sign-in service is unavailable") from e
        log.info(
            "oidc sign-in approved for client %s at %s/%s",
            client.client_id,
            provider_id,
            terminal_id,
        )

    def _usable(self, found: Authorization, provider_id: str) -> OidcClient:
        """The client a waiting request is for, if a kiosk of `provider_id` may approve it."""
        if not found.waiting:
            raise _closed(found.status)
        client = self._clients.get(found.client_id)
        if client is None:
            raise BindingUnknown("the online service is no longer registered")
        if provider_id not in client.providers:
            raise BindingOtherProvider("the online service does not sign in through this kiosk")
        return client

    def _check_rate(self, provider_id: str, terminal_id: str, now: datetime) -> None:
        wrong = self._store.failures_since(provider_id, terminal_id, now - RATE_WINDOW)
        if len(wrong) >= RATE_LIMIT:
            frees_at = wrong[len(wrong) - RATE_LIMIT] + RATE_WINDOW
            wait = max(1, int((frees_at - now).total_seconds() + 0.999))
            raise BindingRateLimited("too many wrong codes at this kiosk", retry_after_s=wait)

    # -- the token endpoint --

    def token(
        self, form: Mapping[str, str], authorization: str | None = None
    ) -> TokenResponse | TokenError:
        """Exchange an authorization code (the token endpoint's form, and its Authorization
        header if any) for the ID token, or say why not."""
        headers = {"Authorization": authorization} if authorization else {}
        request = _Request("POST", self.token_endpoint, list(form.items()), headers)
        try:
            status, body, answer = self._server.create_token_response(request)
        except StoreError:
            return TokenError(
                503, "temporarily_unavailable", "The provider's store is unavailable."
            )
        except (JoseError, ValueError) as e:
            log.warning("oidc token request failed: %s", e.__class__.__name__)
            return TokenError(500, "server_error")
        answer = tuple((str(k), str(v)) for k, v in answer)
        if status == 200:
            log.info("oidc ID token issued to client %s", request.client.get_client_id())
            return TokenResponse(dict(body), answer)
        return TokenError(
            status, str(body.get("error")), str(body.get("error_description") or ""), answer
        )

    # -- the documents --

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider Configuration document (OpenID Connect Discovery 1.0 §3)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "scopes_supported": [SCOPE],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": list(ALGORITHMS),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": [ACR_JPKI_KIOSK],
            "claims_supported": [
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "sub",
            ],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        }

    def jwks(self) -> dict[str, Any]:
        """The JWK Set: the signing key and the retired keys whose tokens may still be valid."""
        return self._keys.jwks(self._clock())

    def purge(self, now: datetime) -> int:
        """Delete ended requests, old wrong-code counts and expired assertion ids."""
        return self._store.purge(now, KEEP)

    def _purge_now_and_then(self, now: datetime) -> None:
        if self._last_purge is None or now - self._last_purge >= timedelta(hours=1):
            self._last_purge = now
            self.purge(now)

    # -- codes derived from the request id --

    def _binding_code(self, request_id: str) -> str:
        mac = hmac.new(self._binding_key, request_id.encode("ascii"), hashlib.sha256).digest()
        return f"{int.from_bytes(mac[:8], 'big') % 10**BINDING_DIGITS:0{BINDING_DIGITS}d}"

    def _binding_digest(self, code: str) -> bytes:
        # keyed: a plain SHA-256 of 8 digits is undone by trying all 10^8 of them
        return hmac.new(
            self._binding_key, b"digest:" + code.encode("ascii"), hashlib.sha256
        ).digest()

    def _authorization_code(self, request_id: str) -> str:
        return _b64(hmac.new(self._code_key, request_id.encode("ascii"), hashlib.sha256).digest())


def link_active_in(links: LinkRepository) -> Callable[[str, str], bool]:
    """`link_active` over the store's links: only an `active` link signs in (a revoked one,
    or one that needs re-enrolment, does not; nor does an account without a link)."""

    def active(provider_id: str, account_ref: str) -> bool:
        found = links.find_by_account(provider_id, account_ref)
        return found is not None and found.status == LinkStatus.ACTIVE

    return active


def _error(error: str, description: str, redirect_uri: str) -> OAuth2Error:
    return OAuth2Error(description=description, redirect_uri=redirect_uri, error=error)


def _closed(status: str) -> BindingExpired | BindingUsed:
    if status in ("approved", "exchanged"):
        return BindingUsed("this code has been used already")
    return BindingExpired("this code is no longer valid: start again at the online service")

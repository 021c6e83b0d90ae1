"""The online services registered with the provider (`[[oidc_clients]]` in the configuration).

Each client names the redirect URIs it may be sent back to (exact strings: no prefix, no
pattern, https — or plain http to this machine only), how it authenticates at the token
endpoint (the SHA-256 of a client secret, or `private_key_jwt` with its public keys), and
the providers whose kiosks may sign people in to it, and (optionally) the algorithm its ID
tokens are signed with: ES256 unless it registers RS256. `clients_from_config` reads the list of
TOML tables; anything it does not know is refused with the key's path, as kiosk.config does
(which calls it and turns ClientConfigError into its ConfigError).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from kiosk.errors import KioskError

AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt"]
AUTH_METHODS: tuple[str, ...] = get_args(AuthMethod)

#: A client id or provider id: a short code (the form provider ids take everywhere).
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Longest redirect URI kept (the store's column).
MAX_REDIRECT_URI = 1024
#: Longest client name shown on the kiosk's screen.
MAX_NAME = 100
_KEYS = (
    "client_id",
    "name",
    "redirect_uris",
    "auth_method",
    "secret_sha256",
    "jwks",
    "providers",
    "id_token_alg",
)
#: The ID token algorithms a client may register (kiosk.oidc.keys.ALGORITHMS).
ID_TOKEN_ALGS = ("ES256", "RS256")
_REQUIRED = ("client_id", "name", "redirect_uris", "auth_method", "providers")


class ClientConfigError(KioskError):
    """An `[[oidc_clients]]` entry is wrong; the message starts with the key's path."""

    code = "oidc_client_config"


@dataclass(frozen=True, slots=True)
class OidcClient:
    """One online service that signs people in through the provider."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    auth_method: AuthMethod
    #: SHA-256 (lowercase hex) of the client secret, for the two client_secret methods.
    secret_sha256: str | None = field(default=None, repr=False)
    #: The client's public JWKs (a JWK Set's `keys`), for private_key_jwt.
    jwks: tuple[Mapping[str, Any], ...] = ()
    #: The provider ids whose kiosks may sign people in to this client.
    providers: frozenset[str] = frozenset()
    #: The algorithm of its ID tokens (`id_token_signed_response_alg`).
    id_token_alg: str = "ES256"  # noqa: S105 (an algorithm's name)

    def key_set(self) -> KeySet:
        """The client's public keys as joserfc verifies with them."""
        return KeySet.import_key_set({"keys": [dict(k) for k in self.jwks]})


def _path(*parts: str | int) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{text}" if out else text
    return out


def _refuse(problem: str, *where: str | int) -> ClientConfigError:
    return ClientConfigError(f"{_path('oidc_clients', *where)}: {problem}")


def _identifier(value: Any, *where: str | int) -> str:
    if not isinstance(value, str) or IDENTIFIER.fullmatch(value) is None:
        raise _refuse("must be 1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)", *where)
    return value


def check_redirect_uri(value: Any, *where: str | int) -> str:
    """A redirect URI as registered: https, or http to this machine; no fragment."""
    if not isinstance(value, str) or not value or len(value) > MAX_REDIRECT_URI:
        raise _refuse(f"must be a URL of at most {MAX_REDIRECT_URI} characters", *where)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError:
        raise _refuse("is not a URL", *where) from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise _refuse("must be an https:// URL", *where)
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise _refuse("must use https:// (plain http only to 127.0.0.1 or localhost)", *where)
    if parts.fragment or "#" in value:
        raise _refuse("must not have a fragment", *where)
    if parts.username is not None or parts.password is not None:
        raise _refuse("must not carry a user name or password", *where)
    return value


def _redirect_uris(value: Any, *where: str | int) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise _refuse("must be a list of at least one URL", *where)
    uris = tuple(check_redirect_uri(uri, *where, index) for index, uri in enumerate(value))
    if len(set(uris)) != len(uris):
        raise _refuse("lists a URL twice", *where)
    return uris


def _providers(value: Any, *where: str | int) -> frozenset[str]:
    if not isinstance(value, list | tuple) or not value:
        raise _refuse("must be a list of at least one provider id", *where)
    return frozenset(_identifier(item, *where, index) for index, item in enumerate(value))


def _jwks(value: Any, *where: str | int) -> tuple[Mapping[str, Any], ...]:
    """The client's public keys: a table with `keys`, a list of public JWKs with a kid."""
    if not isinstance(value, Mapping) or set(value) != {"keys"}:
        raise _refuse("must be a table of exactly `keys` (a JWK Set)", *where)
    keys = value["keys"]
    if not isinstance(keys, list | tuple) or not keys:
        raise _refuse("must list at least one public key", *where, "keys")
    found: list[Mapping[str, Any]] = []
    for index, key in enumerate(keys):
        if not isinstance(key, Mapping) or not all(isinstance(k, str) for k in key):
            raise _refuse("must be a table (a JWK)", *where, "keys", index)
        if "d" in key or "p" in key or "k" in key:  # never hold a private or shared key
            raise _refuse("must be a public key (no private parts)", *where, "keys", index)
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            raise _refuse("must have a kid", *where, "keys", index)
        found.append(MappingProxyType(dict(key)))
    try:
        KeySet.import_key_set({"keys": [dict(k) for k in found]})
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise _refuse(f"is not a usable JWK Set ({e.__class__.__name__})", *where) from None
    return tuple(found)


def _client(item: Any, index: int) -> OidcClient:
    if not isinstance(item, Mapping) or not all(isinstance(k, str) for k in item):
        raise _refuse("must be a table", index)
    for key in item:
        if key not in _KEYS:
            raise _refuse("unknown key", index, key)
    for key in _REQUIRED:
        if key not in item:
            raise _refuse("is required", index, key)
    name = item["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise _refuse(f"must be a name of 1 to {MAX_NAME} characters", index, "name")
    method = item["auth_method"]
    if method not in AUTH_METHODS:
        raise _refuse(
            "must be " + " or ".join(f'"{m}"' for m in AUTH_METHODS), index, "auth_method"
        )
    secret: str | None = None
    jwks: tuple[Mapping[str, Any], ...] = ()
    if method == "private_key_jwt":
        if "secret_sha256" in item:
            raise _refuse(
                'is not used with auth_method = "private_key_jwt"', index, "secret_sha256"
            )
        if "jwks" not in item:
            raise _refuse('is required with auth_method = "private_key_jwt"', index, "jwks")
        jwks = _jwks(item["jwks"], index, "jwks")
    else:
        if "jwks" in item:
            raise _refuse(f'is not used with auth_method = "{method}"', index, "jwks")
        secret = item.get("secret_sha256")
        if not isinstance(secret, str) or _SHA256_HEX.fullmatch(secret.lower()) is None:
            raise _refuse("must be 64 hex digits, the secret's SHA-256", index, "secret_sha256")
        secret = secret.lower()
    alg = item.get("id_token_alg", "ES256")
    if alg not in ID_TOKEN_ALGS:
        raise _refuse('must be "ES256" or "RS256"', index, "id_token_alg")
    return OidcClient(
        client_id=_identifier(item["client_id"], index, "client_id"),
        name=name,
        redirect_uris=_redirect_uris(item["redirect_uris"], index, "redirect_uris"),
        auth_method=cast(AuthMethod, method),
        secret_sha256=secret,
        jwks=jwks,
        providers=_providers(item["providers"], index, "providers"),
        id_token_alg=alg,
    )


def clients_from_config(value: Any) -> Mapping[str, OidcClient]:
    """The `[[oidc_clients]]` tables as clients by client id. Raises ClientConfigError
    naming the key (`oidc_clients[1].redirect_uris[0]: …`) for anything wrong or unknown."""
    if not isinstance(value, list | tuple):
        raise ClientConfigError("oidc_clients: must be a list of [[oidc_clients]] tables")
    clients: dict[str, OidcClient] = {}
    for index, item in enumerate(value):
        client = _client(item, index)
        if client.client_id in clients:
            raise _refuse("names a client given already", index, "client_id")
        clients[client.client_id] = client
    return MappingProxyType(clients)

"""Who is calling: each provider's bearer token, known to the platform by its SHA-256 only.

A token speaks for its provider and no other: the request boundary (kiosk.platform.edge) asks
`Tokens.provider` before it reads a body, and each route checks that the body names the
token's provider (`same_provider`). Digests and provider ids are compared in constant time,
and every known digest is compared, so the time of an answer says nothing about the tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kiosk.platform.edge import ApiError, noted_provider

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

#: Declares the bearer scheme in the OpenAPI schema (the boundary has checked the token).
_bearer = HTTPBearer(auto_error=False, description="the provider's bearer token")


class Tokens:
    """Provider ids by the SHA-256 of their tokens, compared in constant time."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._digests = [(bytes.fromhex(h), provider) for provider, h in tokens.items()]
        if len({d for d, _ in self._digests}) != len(self._digests):
            raise ValueError("each provider needs its own token")  # it would speak for both

    def provider(self, authorization: str | None) -> str:
        """The provider the header's bearer token belongs to; else ApiError 401."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "A bearer token is required.", _UNAUTHORIZED)
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for expected, provider in self._digests:  # every one, so timing says nothing
            if hmac.compare_digest(digest, expected):
                found = provider
        if found is None:
            raise ApiError(401, "unauthorized", "The bearer token is not known.", _UNAUTHORIZED)
        return found


def caller(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> str:
    """The provider the (already checked) token speaks for: a route's dependency."""
    return noted_provider(request)


def same_provider(caller: str, named: str) -> None:
    """ApiError 403 unless the body names the token's own provider."""
    if not hmac.compare_digest(caller.encode("utf-8"), named.encode("utf-8")):
        raise ApiError(403, "forbidden", "The body names another provider than the token's.")

"""The HTTP client this kiosk talks JSON with to another system (the platform, an insurer's
directory): it presents a bearer token, bounds every phase by a timeout and never follows a
redirect (a redirect would carry the token somewhere else)."""

from __future__ import annotations

import re

import httpx

#: A bearer token is one header value: printable ASCII without spaces (RFC 6750 b64token-ish).
TOKEN = re.compile(r"[\x21-\x7e]+")


def bearer_client(
    base_url: str,
    token: str,
    timeout_s: float,
    transport: httpx.BaseTransport | None = None,
    *,
    what: str,
) -> httpx.Client:
    """A client of `base_url` sending `Authorization: Bearer <token>`; ValueError naming
    `what` (never echoing the value: it is a secret) when the token cannot be a header."""
    if not isinstance(token, str) or TOKEN.fullmatch(token) is None:
        raise ValueError(f"the {what} token must be printable ASCII without spaces")
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=httpx.Timeout(timeout_s),
        transport=transport,
        follow_redirects=False,
    )

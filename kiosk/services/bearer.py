"""The HTTP client this kiosk talks JSON with to another system (the platform, an insurer's
directory, a card company's gateway): https (plain http only to this machine), a bearer
token, every phase bounded by a timeout, no redirect followed (a redirect would carry the
token somewhere else), and an answer read only up to a size and a total time."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import ClassVar, Self
from urllib.parse import urlsplit

import httpx

#: A bearer token is one header value: printable ASCII without spaces (RFC 6750 b64token-ish).
TOKEN = re.compile(r"[\x21-\x7e]+")
#: The hosts plain http may go to: this machine.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class AnswerRefused(Exception):
    """An answer that is not JSON, or larger than allowed (`why` says which)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class AnswerTooSlow(Exception):
    """An answer that took longer than its total time to read."""


def check_https(url: str, what: str) -> None:
    """Raise ValueError unless `url` is https, or plain http to this machine (`what` names
    the system in the message, e.g. "the payment gateway")."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what}'s URL must be https://")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ValueError(f"{what} needs https:// (plain http only to this machine)")


def read_json_answer(
    response: httpx.Response, deadline: float, max_bytes: int, monotonic: Callable[[], float]
) -> bytes:
    """The body of a JSON answer, read chunk by chunk: AnswerRefused when it is not
    `application/json` or grows past `max_bytes`, AnswerTooSlow past `deadline`."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise AnswerRefused("not application/json")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise AnswerRefused("too large")
        if monotonic() > deadline:
            raise AnswerTooSlow
    return bytes(body)


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
        raise ValueError(f"{what}'s token must be printable ASCII without spaces")
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=httpx.Timeout(timeout_s),
        transport=transport,
        follow_redirects=False,
    )


class JsonClient:
    """The common part of an adapter that asks another system over HTTP (JSON): the https
    rule, the bearer client, the total time of an answer, the pool closed with the adapter.
    A subclass names the system (`what`, for messages) and its answer size limit."""

    #: The system, as messages name it ("the payment gateway").
    what: ClassVar[str]
    #: How large an answer may be.
    max_answer_bytes: ClassVar[int]

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float,
        total_s: float,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        check_https(base_url, self.what)
        self._total_s = total_s
        self._monotonic = monotonic
        self._client = bearer_client(base_url, token, timeout_s, transport, what=self.what)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._client.base_url)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _deadline(self) -> float:
        """When an answer asked for now must have been read whole."""
        return self._monotonic() + self._total_s

    def _read_json(self, response: httpx.Response, deadline: float) -> bytes:
        """The answer's body: AnswerRefused (not JSON, too large) or AnswerTooSlow."""
        return read_json_answer(response, deadline, self.max_answer_bytes, self._monotonic)

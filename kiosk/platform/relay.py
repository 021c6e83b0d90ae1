"""Relays between platforms: the chain a relayed request carries, its time budget, each way a
peer platform can fail as its own refusal, and each peer's health.

A platform that verifies a provider at a peer platform (`[platform_peers.<provider>]`,
docs/platform-api.md) relays the request there with two headers:

- `Jpki-Relay-Chain: med-1, fin-1`: the platforms (their `platform_id`) the request passed, in
  order; its length is the hop count (one list, so a count and a chain can never disagree).
  A platform refuses a request whose chain names itself (a loop, 508 `relay_loop`) or passed
  more than `max_hops` platforms (508 `relay_too_many_hops`), before it verifies or relays.
- `Jpki-Relay-Budget-Ms: 4800`: how many milliseconds the sender still waits for the answer.
  The receiver waits for its own peer at most min(its configured timeout for that peer, what
  is left of the budget minus `margin_s`, kept for its answer's way back), and refuses at once
  (504 `relay_budget_spent`) when nothing is left, so a chain of any length answers before the
  first platform gives up, and no platform waits on a request nobody waits for any more.

Both headers are read strictly (400 `relay_malformed`). A kiosk may send them too: it can
only shorten its own request's time or have it refused, never reach further.

A peer's failure is this platform's answer (`peer_failures`), each kind its own code: the peer
down (503 `peer_unreachable`), too slow (504 `peer_timeout`), answering what is not the API's
JSON (502 `peer_bad_answer`), refusing this platform (502 `peer_refused`: a 401 or 403 there,
it does not know this platform's token), a body it calls malformed (400 `malformed`, as if
refused here), its own store down (503 `unavailable`). A relay refusal from further along the
chain is passed back with its own code, so the kiosk's platform answers what went wrong where.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import httpx

from kiosk.platform.client import PlatformClient, PlatformRefused, PlatformUnavailable
from kiosk.platform.edge import ERRORS, ApiError
from kiosk.platform.schema import ErrorBody
from kiosk.verify.challenge import IDENTIFIER

if TYPE_CHECKING:
    from starlette.datastructures import Headers

    from kiosk.config import PeerConfig

__all__ = [
    "BUDGET_HEADER",
    "CHAIN_HEADER",
    "RELAY_ERRORS",
    "Hop",
    "PeerHealth",
    "RelayRules",
    "peer_failures",
    "peer_health",
]

log = logging.getLogger(__name__)

_Peer = TypeVar("_Peer")

#: The platforms a relayed request passed, comma-separated, oldest first.
CHAIN_HEADER = "Jpki-Relay-Chain"
#: The milliseconds the sender still waits for the answer.
BUDGET_HEADER = "Jpki-Relay-Budget-Ms"
#: The most platforms a request may have passed when it arrives.
MAX_HOPS = 4
#: Seconds of a budget each platform keeps for its answer's way back to its sender.
MARGIN_S = 0.2
#: The shortest wait worth relaying for (seconds); less left is a spent budget.
MIN_WAIT_S = 0.05
#: The budget header's most digits (about 2.7 hours; any timeout configured is far shorter).
_BUDGET_DIGITS = 7
#: How long a chain header may be (bytes), checked before it is split.
_MAX_CHAIN_CHARS = 1024
_LIST_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")
_BUDGET = re.compile(rf"[0-9]{{1,{_BUDGET_DIGITS}}}")
#: Seconds the health check waits for each peer.
HEALTH_TIMEOUT_S = 1.0

#: Each relay refusal: (HTTP status, what it means). A peer's answer naming one of these codes
#: is passed back under the same code and this status (never a status the peer picked).
RELAY_REFUSALS: Mapping[str, tuple[int, str]] = {
    "relay_malformed": (400, "The relay headers are malformed."),
    "relay_loop": (508, "The relay came back to a platform it had passed (a loop)."),
    "relay_too_many_hops": (508, "The relay passed more platforms than a platform takes."),
    "relay_budget_spent": (504, "The relay's time budget is spent."),
    "peer_unreachable": (503, "The platform that verifies for this provider cannot be reached."),
    "peer_timeout": (504, "The platform that verifies for this provider did not answer in time."),
    "peer_bad_answer": (
        502,
        "The platform that verifies for this provider answered with what is not the API's.",
    ),
    "peer_refused": (502, "The verifying platform refused the request."),
}


def _errors() -> dict[int | str, dict[str, Any]]:
    """The relaying routes' error answers, for the OpenAPI schema (edge.ERRORS and these)."""
    errors = {status: dict(answer) for status, answer in ERRORS.items()}
    for code, (status, _) in RELAY_REFUSALS.items():
        seen = errors.get(status, {}).get("description")
        if seen is None or code not in seen.split(" or "):
            errors[status] = {
                "model": ErrorBody,
                "description": f"{seen} or {code}" if seen else code,
            }
    return errors


#: The error answers of a route that may relay (`responses=` of its decorator).
RELAY_ERRORS: dict[int | str, dict[str, Any]] = _errors()


def refusal(code: str, message: str | None = None) -> ApiError:
    """The relay refusal `code` (RELAY_REFUSALS) as an API error."""
    status, meaning = RELAY_REFUSALS[code]
    return ApiError(status, code, message or meaning)


# --- the request as it arrived, and the request sent on -----------------------------------


@dataclass(frozen=True, slots=True)
class Hop:
    """A request as it arrived: the platforms it passed (oldest first), and when its sender
    stops waiting for the answer (`monotonic` seconds; None when it gave no budget)."""

    chain: tuple[str, ...] = ()
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class RelayRules:
    """How this platform takes part in relays: its name in chains, the most platforms a
    request may have passed, the time it keeps for its answer, and the clock budgets run on."""

    platform_id: str = "platform"
    max_hops: int = MAX_HOPS
    margin_s: float = MARGIN_S
    monotonic: Callable[[], float] = time.monotonic

    def arrived(self, headers: Headers) -> Hop:
        """The relay headers of a request, checked: ApiError `relay_malformed`, `relay_loop`,
        `relay_too_many_hops` or `relay_budget_spent` (a budget of 0), before any work."""
        chain = _chain(_one(headers, CHAIN_HEADER))
        budget = _one(headers, BUDGET_HEADER)
        budget_ms = None if budget is None else _budget_ms(budget)
        if self.platform_id in chain or len(set(chain)) != len(chain):
            log.warning("relay refused: a loop (%d platforms passed)", len(chain))
            raise refusal("relay_loop")
        if len(chain) > self.max_hops:
            log.warning("relay refused: %d platforms passed", len(chain))
            raise refusal(
                "relay_too_many_hops", f"The relay passed more than {self.max_hops} platforms."
            )
        if budget_ms == 0:
            raise refusal("relay_budget_spent")
        deadline = None if budget_ms is None else self.monotonic() + budget_ms / 1000
        return Hop(chain, deadline)

    def onward(self, hop: Hop, timeout_s: float) -> tuple[dict[str, str], float]:
        """The headers and the timeout of the request relayed on for `hop` to a peer this
        platform waits at most `timeout_s` for: ApiError `relay_budget_spent` when the budget
        leaves no time worth waiting."""
        wait = timeout_s
        if hop.deadline is not None:
            wait = min(wait, hop.deadline - self.monotonic() - self.margin_s)
        if wait < MIN_WAIT_S:
            raise refusal("relay_budget_spent")
        headers = {
            CHAIN_HEADER: ", ".join((*hop.chain, self.platform_id)),
            BUDGET_HEADER: str(int(wait * 1000)),
        }
        return headers, wait

    def through(self, peer: _Peer, hop: Hop) -> _Peer:
        """The peer to ask for this request: a peer platform's client with the relay headers
        and the wait `onward` allows; an in-process peer (a test's) as it is."""
        if not isinstance(peer, PlatformClient):
            return peer
        headers, wait = self.onward(hop, peer.timeout_s)
        return cast(_Peer, peer.relaying(headers, wait))


def _one(headers: Headers, name: str) -> str | None:
    """The header's one value, None when absent; sent twice is malformed (two values could be
    read two ways)."""
    values = headers.getlist(name)
    if len(values) > 1:
        raise refusal("relay_malformed", f"'{name}' is sent more than once.")
    return values[0] if values else None


def _chain(value: str | None) -> tuple[str, ...]:
    """The chain header's platform ids: identifiers separated by commas (spaces around them
    allowed); anything else, an empty one included, is `relay_malformed`."""
    if value is None:
        return ()
    malformed = refusal(
        "relay_malformed", f"'{CHAIN_HEADER}' must be platform ids separated by commas."
    )
    if len(value) > _MAX_CHAIN_CHARS:
        raise malformed
    ids = tuple(_LIST_SEPARATOR.split(value.strip(" \t")))
    if not all(IDENTIFIER.fullmatch(platform) for platform in ids):
        raise malformed
    return ids


def _budget_ms(value: str) -> int:
    """The budget header: whole milliseconds, ASCII digits only."""
    if _BUDGET.fullmatch(value) is None:
        raise refusal(
            "relay_malformed",
            f"'{BUDGET_HEADER}' must be whole milliseconds (at most {_BUDGET_DIGITS} digits).",
        )
    return int(value)


# --- a peer's failure as this platform's answer --------------------------------------------


@contextmanager
def peer_failures() -> Iterator[None]:
    """A peer platform's failure as this platform's answer, each its own code (the module's
    docstring); a relay refusal from further along the chain keeps its code."""
    try:
        yield
    except PlatformUnavailable as e:
        raise _unavailable(e) from e
    except PlatformRefused as e:
        if e.error == "malformed":
            raise ApiError(400, "malformed", "The request is malformed.") from e
        log.warning("peer platform refused: %s (%d)", e.error, e.status)
        raise refusal("peer_refused") from e


def _unavailable(e: PlatformUnavailable) -> ApiError:
    """What a peer that could not give its answer means here."""
    if e.why == "unreachable":
        log.warning("peer platform unreachable")
        return refusal("peer_unreachable")
    if e.why == "timeout":
        log.warning("peer platform timed out")
        return refusal("peer_timeout")
    if e.why in ("broken", "bad_answer"):
        log.warning("peer platform answered with what is not the API's (%s)", e.why)
        return refusal("peer_bad_answer")
    further = RELAY_REFUSALS.get(e.error or "")
    if e.error and further:  # refused further along the chain: passed back as it is
        log.warning("relay refused further along the chain: %s", e.error)
        status, meaning = further
        return ApiError(status, e.error, f"Further along the chain: {meaning}")
    log.warning("peer platform unavailable (status %s)", e.status)
    return ApiError(503, "unavailable", "The verification service cannot be reached.")


# --- each peer's health, for the console and metrics -------------------------------------

Health = Literal["ok", "unreachable", "timeout", "bad_answer", "failing"]


@dataclass(frozen=True, slots=True)
class PeerHealth:
    """A peer platform's answer to `GET /v1/health`: `state` is "ok", "unreachable",
    "timeout", "bad_answer" (not `{"status": "ok"}` as JSON) or "failing" (an error status,
    in `status`); `elapsed_ms` how long the answer took (None without one)."""

    provider_id: str
    url: str
    state: Health
    status: int | None = None
    elapsed_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def peer_health(
    peers: Mapping[str, PeerConfig],
    *,
    timeout_s: float = HEALTH_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[PeerHealth]:
    """Each configured peer's health (`cfg.platform_peers`), by provider id, asked once per
    peer URL and all at once, so the whole check takes about `timeout_s` at most; never
    raises. The health endpoint needs no token: none is sent."""
    urls = sorted({peer.url for peer in peers.values()})
    if not urls:
        return []
    with (
        httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool,
    ):
        answers = dict(
            zip(urls, pool.map(lambda url: _health(client, url, monotonic), urls), strict=True)
        )
    return [
        PeerHealth(provider, peer.url, *answers[peer.url])
        for provider, peer in sorted(peers.items())
    ]


def _health(
    client: httpx.Client, url: str, monotonic: Callable[[], float]
) -> tuple[Health, int | None, int | None]:
    """One peer's (state, status, elapsed_ms)."""
    started = monotonic()
    try:
        response = client.get(
            url.rstrip("/") + "/v1/health", headers={"Accept": "application/json"}
        )
    except httpx.TimeoutException:
        return "timeout", None, None
    except httpx.ConnectError:
        return "unreachable", None, None
    except httpx.HTTPError:
        return "bad_answer", None, None
    elapsed_ms = int((monotonic() - started) * 1000)
    if not 200 <= response.status_code < 300:
        return "failing", response.status_code, elapsed_ms
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        body = response.json() if kind == "application/json" else None
    except ValueError:
        body = None
    state: Health = "ok" if body == {"status": "ok"} else "bad_answer"
    return state, response.status_code, elapsed_ms

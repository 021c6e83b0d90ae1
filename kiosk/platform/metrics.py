"""Operations: `/metrics` (Prometheus text format), `/v1/ready`, and the request metrics.

Two kinds of figures, kept apart on purpose:

- **Counted per request** (`RequestMetrics`, fed by the `MetricsLayer` ASGI middleware):
  requests by route template, method and status; verdicts by route and the reason code the
  handlers noted (`kiosk.platform.edge.note`); latency histograms by route. The route is the
  matched route's template (`/v1/proofs`), never the raw path: a path is the caller's to
  choose, and every distinct label value is a new time series kept for ever, so anything that
  matched no route is `unmatched`, a method outside HTTP's own is `other`, a reason that is
  not a short code is `other`. The label children are resolved once per (route, method,
  status, reason) and kept, so a request costs a dict lookup and three increments.
- **Read from the store when scraped** (`StoreCollector`): the CRL in force per issuer (its
  age since thisUpdate, the seconds left until nextUpdate + `crl_grace_s`, a stale flag, its
  entries), the outbox's undelivered messages, the CRL refresher's record per URL (last
  success, last check, failing and with which code), and whether the store answered. These
  are the store's facts, the same whichever worker is asked, so they are never per-process
  gauges that would be summed or duplicated across workers.

Under several worker processes (`kiosk platform serve --workers N`) the counters must add up
across workers: prometheus-client's multiprocess mode keeps each process's values in memory-
mapped files of one directory, and a scrape answered by any worker sums them. The serving
command calls `workers.prepare_metrics(directory)` once before gunicorn starts the workers: it
sets `PROMETHEUS_MULTIPROC_DIR`, which the workers inherit, so prometheus-client chooses its file-
backed values when they import it. Only counters and histograms are kept per process: a dead
worker's counts stay in the sums (counters never go back), and no live gauge needs
`mark_process_dead` when a worker exits.

Who may read `/metrics`: no bearer token (a scraper has none), but only a client whose
address is in `platform_metrics_networks` (default: this machine only); anyone else is 403.
`/v1/ready` needs no token (load balancers): 200 with a reachable store and every CRL in force
fresh (within nextUpdate + `crl_grace_s`, the rule verification refuses by), else 503 with the
reasons as codes: `store_unavailable`, `no_crl`, `crl_stale:<issuer key id>`. The store is
asked at most once a second per worker however often a balancer polls; the freshness is
judged against the clock at every poll.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from kiosk.platform.edge import error_response, note, noted
from kiosk.platform.schema import ReadyBody
from kiosk.platform.workers import MULTIPROC_ENV
from kiosk.store.errors import StoreError
from kiosk.verify.crl import check_fresh
from kiosk.verify.verdict import Refused

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from kiosk.config import Config
    from kiosk.store.crlsources import CrlSourceState
    from kiosk.store.engine import Database
    from kiosk.verify.ports import CrlInfo

__all__ = [
    "METRICS_PATH",
    "MULTIPROC_ENV",
    "READY_PATH",
    "MetricsLayer",
    "Operations",
    "Readiness",
    "RequestMetrics",
    "StoreCollector",
    "install_operations",
    "label_values",
    "may_scrape",
    "scrape",
    "url_label",
]

METRICS_PATH: Final = "/metrics"
READY_PATH: Final = "/v1/ready"
#: Every metric's name starts so.
PREFIX: Final = "jpki_platform"
#: The route label of a request that matched no route (a 404 to any path).
UNMATCHED: Final = "unmatched"
#: Latency buckets (seconds): a verified proof takes about a millisecond; a relayed one or a
#: store under load, tens; anything past 5 s has timed out somewhere.
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
)  # fmt: skip
#: Seconds a readiness answer's store reading is reused (a balancer may poll every second,
#: from each of several balancers).
READY_CACHE_S: Final = 1.0

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REASON: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")

Clock = Callable[[], datetime]
Network = IPv4Network | IPv6Network


class CrlStatus(Protocol):
    """The CRLs in force (`kiosk.store.revocation.SqlRevocationIndex`)."""

    def all_info(self) -> list[CrlInfo]: ...


class OutboxDepth(Protocol):
    """The outbox (`kiosk.store.outbox.Outbox`)."""

    def pending(self) -> int: ...


class CrlSourceStates(Protocol):
    """What the CRL refresher recorded per URL (`kiosk.store.crlsources.CrlSources`)."""

    def all(self) -> list[CrlSourceState]: ...


@dataclass(frozen=True, slots=True)
class Operations:
    """What `/metrics` and `/v1/ready` read, and who may scrape: the CRLs in force, the
    grace past nextUpdate verification allows, the networks allowed to read `/metrics`, the
    outbox, the CRL refresher's record per URL; `ticks` (monotonic seconds) times the
    readiness cache."""

    crls: CrlStatus
    crl_grace_s: int
    metrics_networks: tuple[Network, ...]
    outbox: OutboxDepth | None = None
    sources: CrlSourceStates | None = None
    ticks: Callable[[], float] = time.monotonic
    ready_cache_s: float = READY_CACHE_S

    @classmethod
    def from_config(cls, cfg: Config, db: Database) -> Operations:
        """Over the platform's store, with the configured grace and metrics networks."""
        from kiosk.store.crlsources import CrlSources
        from kiosk.store.outbox import Outbox
        from kiosk.store.revocation import SqlRevocationIndex

        return cls(
            SqlRevocationIndex(db),
            cfg.crl_grace_s,
            cfg.platform_metrics_networks,
            Outbox(db),
            CrlSources(db),
        )


# --- per request ---------------------------------------------------------------------------


class RequestMetrics:
    """The counted figures of one app: requests, verdicts by reason, latency by route.
    Observed from the event loop only (`MetricsLayer`), so its cache of children needs no
    lock."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            f"{PREFIX}_requests",
            "Requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self._verdicts = Counter(
            f"{PREFIX}_verdicts",
            "Requests by the reason code their route noted (a verdict's reason, or the "
            "refusal's error code), by route template.",
            ("route", "reason"),
            registry=registry,
        )
        self._latency = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer, by route template.",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        #: (id of the route, method, status, reason) -> its label children, resolved on first
        #: use; as many keys as routes x methods x statuses x reason codes, all bounded. (A
        #: route lives as long as the app, so its id stays its own.)
        self._children: dict[tuple[int, str, int, str | None], _Children] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request: its route, method and noted reason from `scope`."""
        route = scope.get("route")
        method = scope.get("method", "")
        method = method if method in _METHODS else "other"
        reason = noted(scope).get("reason")
        key = (id(route), method, status, reason)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._resolve(route, method, status, reason)
        children.requests.inc()
        if children.verdicts is not None:
            children.verdicts.inc()
        children.latency.observe(seconds)

    def _resolve(self, route: object, method: str, status: int, reason: str | None) -> _Children:
        route_label, reason_label = label_values(route, reason)
        return _Children(
            self._requests.labels(route_label, method, str(status)),
            None if reason_label is None else self._verdicts.labels(route_label, reason_label),
            self._latency.labels(route_label),
        )


@dataclass(frozen=True, slots=True)
class _Children:
    requests: Counter
    verdicts: Counter | None
    latency: Histogram


def label_values(route: object, reason: str | None) -> tuple[str, str | None]:
    """The route's template and the noted reason as label values from a fixed, small set:
    nothing the caller typed becomes a label (the method is bounded by `observe`)."""
    path = getattr(route, "path", None)
    return (
        path if isinstance(path, str) else UNMATCHED,
        None if reason is None else reason if _REASON.fullmatch(reason) else "other",
    )


class MetricsLayer:
    """The outermost ASGI layer: times each HTTP request and counts it once it is answered
    (a pure ASGI middleware: a closure around `send`, no request object, no extra task)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts: nothing answered is a server failure

        async def status_of(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_of)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - started)


# --- read from the store when scraped ------------------------------------------------------


class StoreCollector:
    """The store's facts at scrape time: the CRL in force per issuer and the outbox."""

    def __init__(self, operations: Operations, clock: Clock) -> None:
        self._ops = operations
        self._clock = clock

    def describe(self) -> list[Metric]:
        """Nothing up front: a registry must not query the store when this is registered."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The store's gauges now; `store_up` 0 (and nothing else) when it cannot be read."""
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 when the store answered this scrape.")
        ops = self._ops
        try:
            crls = ops.crls.all_info()
            pending = None if ops.outbox is None else ops.outbox.pending()
            sources = None if ops.sources is None else ops.sources.all()
        except StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._crl_metrics(crls, self._clock())
        if pending is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_outbox_pending", "Outbox messages not delivered yet.", value=pending
            )
        if sources is not None:
            yield from _source_metrics(sources)

    def _crl_metrics(self, crls: Sequence[CrlInfo], now: datetime) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            f"{PREFIX}_crl_age_seconds",
            "Seconds since the thisUpdate of the CRL in force, by issuer key id.",
            labels=("issuer",),
        )
        left = GaugeMetricFamily(
            f"{PREFIX}_crl_fresh_seconds",
            "Seconds until the CRL in force is stale (nextUpdate + crl_grace_s; negative: "
            "stale since), by issuer key id; absent for a CRL without nextUpdate.",
            labels=("issuer",),
        )
        stale = GaugeMetricFamily(
            f"{PREFIX}_crl_stale",
            "1 when verification refuses with crl_stale under this issuer's CRL.",
            labels=("issuer",),
        )
        entries = GaugeMetricFamily(
            f"{PREFIX}_crl_entries",
            "Revoked serials listed by the CRL in force, by issuer key id.",
            labels=("issuer",),
        )
        for info in crls:
            issuer = [info.issuer_key_id]
            age.add_metric(issuer, (now - info.this_update).total_seconds())
            if info.next_update is not None:
                until = info.next_update.timestamp() + self._ops.crl_grace_s - now.timestamp()
                left.add_metric(issuer, until)
            stale.add_metric(issuer, 0 if _fresh(info, now, self._ops.crl_grace_s) else 1)
            entries.add_metric(issuer, info.entries)
        yield from (age, left, stale, entries)


def _source_metrics(sources: Sequence[CrlSourceState]) -> Iterator[Metric]:
    """The CRL refresher's record per configured URL (`[crl_refresh] urls`)."""
    success = GaugeMetricFamily(
        f"{PREFIX}_crl_source_last_success_timestamp_seconds",
        "When a check of this CRL URL last succeeded (Unix time); absent before the first.",
        labels=("url",),
    )
    check = GaugeMetricFamily(
        f"{PREFIX}_crl_source_last_check_timestamp_seconds",
        "When this CRL URL was last checked, successfully or not (Unix time).",
        labels=("url",),
    )
    failing = GaugeMetricFamily(
        f"{PREFIX}_crl_source_failing",
        "1 when the last check of this CRL URL failed, with the failure's code; the CRL in "
        "force stays meanwhile.",
        labels=("url", "error"),
    )
    for source in sources:
        url = [url_label(source.url)]
        if source.last_success_at is not None:
            success.add_metric(url, source.last_success_at.timestamp())
        if source.last_check_at is not None:
            check.add_metric(url, source.last_check_at.timestamp())
        error = source.last_error
        failing.add_metric([*url, error or ""], 0 if error is None else 1)
    yield from (success, check, failing)


def url_label(url: str) -> str:
    """A configured URL as a label: scheme, host, port and path; never a user name, a
    password or a query, which may carry a secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _fresh(info: CrlInfo, now: datetime, grace_s: int) -> bool:
    """Whether verification would use this CRL now (`check_fresh`: one rule for both)."""
    try:
        check_fresh(info.next_update, now, grace_s)
    except Refused:
        return False
    return True


def scrape(
    registry: CollectorRegistry, store: StoreCollector, multiprocess_dir: str | None
) -> bytes:
    """The Prometheus text of this process's `registry` (or, in multiprocess mode, of every
    worker's files in `multiprocess_dir`) and the store's figures."""
    if multiprocess_dir is None:
        return generate_latest(registry)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    merged.register(store)
    return generate_latest(merged)


def _multiprocess_dir() -> str | None:
    """The multiprocess directory when this process keeps its values in files, else None.
    A directory named only after prometheus-client was imported would leave every count in
    memory and the scrape reading empty files: refused, not served wrong."""
    directory = os.environ.get(MULTIPROC_ENV) or None
    in_files = bool(getattr(values.ValueClass, "_multiprocess", False))
    if (directory is not None) == in_files:
        return directory
    raise RuntimeError(
        f"{MULTIPROC_ENV} must be set before prometheus-client is first imported "
        "(workers.prepare_metrics, before the workers start)"
    )


# --- readiness -----------------------------------------------------------------------------


class Readiness:
    """Whether this worker should get traffic: the store answers and every CRL in force is
    fresh. The store's answer is reused for `cache_s` seconds of `ticks`."""

    def __init__(self, operations: Operations, clock: Clock) -> None:
        self._ops = operations
        self._clock = clock
        self._read: tuple[float, list[CrlInfo] | None] | None = None

    def reasons(self) -> list[str]:
        """Why not ready, as codes; empty when ready."""
        crls = self._crls()
        if crls is None:
            return ["store_unavailable"]
        if not crls:
            return ["no_crl"]
        now = self._clock()
        return [
            f"crl_stale:{info.issuer_key_id}"
            for info in crls
            if not _fresh(info, now, self._ops.crl_grace_s)
        ]

    def _crls(self) -> list[CrlInfo] | None:
        """The CRLs in force (None: the store did not answer), read at most once per
        `cache_s` (two threads may both read at the turn of a second: harmless)."""
        now = self._ops.ticks()
        read = self._read
        if read is not None and now - read[0] < self._ops.ready_cache_s:
            return read[1]
        try:
            crls: list[CrlInfo] | None = self._ops.crls.all_info()
        except StoreError:
            crls = None
        self._read = (now, crls)
        return crls


# --- wiring --------------------------------------------------------------------------------


def may_scrape(client: tuple[str, int] | None, networks: Sequence[Network]) -> bool:
    """Whether a client at this address may read `/metrics` (an address that is not an IP,
    such as a Unix socket's, may not)."""
    if client is None:
        return False
    try:
        address = ip_address(client[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def install_operations(app: FastAPI, operations: Operations, clock: Clock) -> None:
    """Add `/metrics`, `/v1/ready` and the request metrics' layer to the platform's app.

    Called after every other middleware is added: the layer must be the outermost, so that it
    sees the status and the noted reason of every answer, including the boundary's own."""
    registry = CollectorRegistry()
    multiprocess_dir = _multiprocess_dir()
    store = StoreCollector(operations, clock)
    if multiprocess_dir is None:
        registry.register(store)
    readiness = Readiness(operations, clock)
    app.add_middleware(MetricsLayer, metrics=RequestMetrics(registry))

    @app.get(
        READY_PATH,
        response_model=ReadyBody,
        tags=["health"],
        responses={503: {"model": ReadyBody, "description": "not ready, and why"}},
    )
    def ready() -> JSONResponse:
        """No token needed (for load balancers): 200 with a reachable store and every CRL in
        force fresh; else 503 with the reasons as codes."""
        reasons = readiness.reasons()
        body = ReadyBody(status="not_ready" if reasons else "ready", reasons=reasons)
        return JSONResponse(
            body.wire(), status_code=503 if reasons else 200, headers={"Cache-Control": "no-store"}
        )

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus text format, for a client in `platform_metrics_networks`."""
        if not may_scrape(request.scope.get("client"), operations.metrics_networks):
            note(request, reason="forbidden")
            return error_response(403, "forbidden", "Metrics are not served to this address.")
        return Response(
            scrape(registry, store, multiprocess_dir),
            media_type=CONTENT_TYPE_PLAIN_0_0_4,
            headers={"Cache-Control": "no-store"},
        )

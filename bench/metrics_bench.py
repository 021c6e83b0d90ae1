"""Metrics benchmark: what the request metrics' ASGI layer (kiosk.platform.metrics.MetricsLayer)
adds to one request, in process and in prometheus-client's multiprocess mode.

Run: .venv/bin/python bench/metrics_bench.py [--requests 200000]

A minimal ASGI app that answers like a platform route (the route matched, a reason noted, a
status and a body sent) is called directly on an event loop, bare and wrapped in the layer;
the difference per request is the layer's cost: timing, the status taken from `send`, the
labels looked up once per (route, method, status, reason), two counters and a histogram.
The multiprocess figure runs the same in a fresh interpreter with PROMETHEUS_MULTIPROC_DIR
set (the values then live in memory-mapped files, as under `serve --workers N`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from prometheus_client import CollectorRegistry

from kiosk.platform.metrics import MULTIPROC_ENV, MetricsLayer, RequestMetrics


class _Route:
    path = "/v1/proofs"


_ROUTE = _Route()


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = _ROUTE
    scope["jpki.outcome"]["reason"] = "ok"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _send(message: Any) -> None:
    return None


async def _receive() -> dict[str, Any]:
    return {"type": "http.request"}


async def _per_request_us(target: Any, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        scope = {"type": "http", "method": "POST", "path": "/v1/proofs", "jpki.outcome": {}}
        await target(scope, _receive, _send)
    return (time.perf_counter() - started) / n * 1e6


async def _measure(n: int) -> tuple[float, float]:
    layer = MetricsLayer(_app, RequestMetrics(CollectorRegistry()))  # type: ignore[arg-type]
    await _per_request_us(_app, n // 10)  # warm up both
    await _per_request_us(layer, n // 10)
    bare = min([await _per_request_us(_app, n) for _ in range(3)])
    wrapped = min([await _per_request_us(layer, n) for _ in range(3)])
    return bare, wrapped


def _line(mode: str, bare: float, wrapped: float) -> str:
    return (
        f"{mode:<14} bare app {bare:6.2f} µs/request   with the layer {wrapped:6.2f} µs"
        f"   layer {wrapped - bare:5.2f} µs/request"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--only", choices=("in-process", "multiprocess"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(_line(args.only, *asyncio.run(_measure(args.requests))))
        return 0
    if MULTIPROC_ENV in os.environ:
        parser.error(f"run without {MULTIPROC_ENV}: the bench sets it for its second run")
    print(_line("in-process", *asyncio.run(_measure(args.requests))))
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as directory:
        done = subprocess.run(  # noqa: S603 - this interpreter, this script
            [sys.executable, __file__, "--only", "multiprocess", f"--requests={args.requests}"],
            env={**os.environ, MULTIPROC_ENV: directory},
            check=True,
            capture_output=True,
            text=True,
        )
    print(done.stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

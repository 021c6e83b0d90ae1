"""The platform in several worker processes: gunicorn's master and workers, each running uvicorn.

`kiosk platform serve --workers N` (N > 1) calls `serve`: gunicorn's master process forks N
workers and starts another when one dies; each is uvicorn's gunicorn worker (`PlatformWorker`)
serving the app kiosk.platform.workers.worker_app builds, after the serving command has done
what the workers share (kiosk.platform.workers.prepare, prepare_metrics).

How connections reach the workers: each worker listens on a socket of its own, all bound to the
one address with SO_REUSEPORT (gunicorn's `reuse_port`), and the kernel hands each new
connection to one of them by a hash of its addresses, so a fleet's kiosks are shared out among
the workers. With one socket shared by all, the sharing was left to whichever worker woke first:
asyncio's loop accepts every waiting connection at once (one worker took them all), and uvloop
told to take one a wake-up (UV_TCP_SINGLE_ACCEPT) still let 8 connections land on one worker in
most runs, and kept its unfair tail at saturation (bench/RESULTS.md). With a socket each, every
worker runs asyncio's own loop, which answers its connections in turn. A worker binds its socket
once its app is loaded, not as it is forked: the kernel hands connections only to sockets that
exist, so none waits in the queue of a worker still starting (at a start, or when the master
replaces a worker; with 4 workers the benchmark's p99 at 1,000 proofs/s offered went from
10–216 ms a run to 8–10 ms).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn import sock
from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from kiosk.errors import KioskError
from kiosk.platform import workers as shared

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kiosk.config import Config

#: Seconds a stopping worker has to finish the requests it holds (then it is killed).
GRACEFUL_S = 15
#: Seconds an idle kept-alive connection stays open (uvicorn's own default).
KEEP_ALIVE_S = 5
#: Seconds a worker's event loop may go without a turn before the master kills it and starts
#: another (gunicorn's `timeout`; the loop reports every second it turns).
WATCHDOG_S = 30


class PlatformWorker(UvicornWorker):  # type: ignore[misc]  # uvicorn-worker is untyped
    """uvicorn's gunicorn worker as the platform runs it: asyncio's loop (it answers a
    saturated worker's connections in turn; uvloop let some wait seconds), httptools (uvicorn's
    C parser), no Server header, no access log (kiosk.platform.edge logs one line a request),
    and uvicorn's records through the root logger's handler like every other."""

    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "asyncio",
        "http": "httptools",
        "server_header": False,
        "access_log": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn.access stays as uvicorn's Config left it for access_log=False: silent
        logger = logging.getLogger("uvicorn.error")
        logger.handlers, logger.propagate = [], True

    def init_process(self) -> None:
        # The master made this worker's socket as it forked it (reuse_port); a worker still
        # loading the app (most of a second) would have the kernel queue connections on it,
        # to wait the load out. It binds again once it can answer (load_wsgi).
        for listener in self.sockets:
            listener.close()
        self.sockets: list[socket.socket] = []
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.sockets = sock.create_sockets(self.cfg, self.log)


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped too
    """gunicorn, configured here rather than from its command line or a file of its own."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._settings.items():
            self.cfg.set(name, value)
        if "control_socket_disable" in self.cfg.settings:  # releases with gunicornc
            # no gunicornc control socket under $HOME or $XDG_RUNTIME_DIR: the platform is
            # run by systemd (or the operator's own supervisor) and stopped by its signals
            self.cfg.set("control_socket_disable", True)

    def load(self) -> FastAPI:  # in each worker, after the fork
        return shared.worker_app()


class AddressInUse(KioskError):
    """Something already listens on the address the platform was to serve on."""


def _check_free(host: str, port: int, where: str) -> None:
    """Refuse an address something already listens on. The workers bind theirs with
    SO_REUSEPORT after the fork: on a busy port each would fail and the master start another,
    forever; and a second platform started on the same port would silently share the first's
    connections. A probe without SO_REUSEPORT fails against any listener, of either kind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the workers bind
        try:
            probe.bind((host, port))
        except OSError as e:
            raise AddressInUse(f"cannot listen on {where}: {e.strerror or e}") from None


def _through_root(log_config: dict[str, Any]) -> dict[str, Any]:
    """The platform's logging configuration (kiosk.platform.logs.log_config) with gunicorn's
    own records (master and workers: starting, booting, a worker killed) through the root
    logger's handler, in the platform's format (JSON lines with --log-format json)."""
    through_root = {"handlers": [], "propagate": True}
    loggers = log_config.get("loggers", {})
    return log_config | {"loggers": loggers | {"gunicorn.error": through_root}}


def serve(
    cfg: Config,
    config_path: Path | None,
    *,
    host: str,
    port: int,
    workers: int,
    log_config: dict[str, Any],
) -> None:
    """Serve the platform in `workers` processes until stopped (SIGTERM or SIGINT: the workers
    finish what they hold, within GRACEFUL_S)."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    _check_free(host, port, where)
    shared.prepare_metrics(cfg.data_dir / "metrics")  # before prometheus-client is imported
    shared.prepare(cfg)
    os.environ[shared.CONFIG_ENV] = str(config_path.resolve()) if config_path else ""
    os.environ[shared.LOOP_WAITS_ENV] = "1" if shared.loop_waits(workers) else "0"
    _Server(
        {
            "bind": [where],
            "workers": workers,
            "worker_class": f"{__name__}.PlatformWorker",
            "reuse_port": True,  # a socket for each worker, the kernel sharing connections out
            "keepalive": KEEP_ALIVE_S,
            "graceful_timeout": GRACEFUL_S,
            "timeout": WATCHDOG_S,
            "logconfig_dict": _through_root(log_config),
            "when_ready": lambda master: master.log.info(
                "listening at http://%s, a socket in each of %d workers", where, workers
            ),
            "proc_name": "kiosk-platform",
        }
    ).run()

"""Serving the POS API inside the kiosk's process: uvicorn on a thread of its own.

The socket is bound by `start()` itself, in the caller's thread, before uvicorn runs: a port
that is taken or an address this machine does not have is a `PosServerError` at once (uvicorn
would log it and call `sys.exit` on its thread), and `port` is known as soon as `start()`
returns (port 0 takes any free one, for tests). The TLS certificate and key are loaded there
too, so a file that is missing or does not parse is the same error, not a dead thread.

uvicorn is configured for a process it does not own: no logging configuration of its own (the
kiosk's applies), no access log (nothing about a request is logged by the server, so neither
its Authorization header nor its ids), no lifespan, no signal handlers (it is not on the main
thread), and a bounded number of connections.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading

import uvicorn
from starlette.types import ASGIApp

from kiosk.errors import KioskError

log = logging.getLogger(__name__)

#: How long `start()` waits for uvicorn to be serving on its thread.
START_TIMEOUT_S = 10.0
#: How long open connections may finish their answer when the server stops.
GRACEFUL_S = 2
#: Connections served at once; further ones are answered 503. A shop has one POS per
#: terminal: this bounds what a misbehaving client can take from the kiosk.
MAX_CONNECTIONS = 32


class PosServerError(KioskError):
    """The POS API cannot be served (the port is taken, the address or the certificate is
    unusable)."""

    code = "pos_server"


class _Server(uvicorn.Server):
    """uvicorn's server, telling `ready` when its startup is over (serving or failed)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self._ready.set()


class PosServer:
    """The POS API (an ASGI app, `kiosk.pos.api.create_pos_app`) served on `host:port`, in
    TLS when a certificate and its key are given; `start()` once, `stop()` at the end."""

    def __init__(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        tls_cert: str = "",
        tls_key: str = "",
        name: str = "POS API",
    ) -> None:
        self.name = name  # what it serves, for the log
        if bool(tls_cert) != bool(tls_key):
            raise PosServerError("the POS API's TLS needs both the certificate and its key")
        self._app = app
        self._host = host
        self._requested_port = port
        self._tls_cert = tls_cert
        self._tls_key = tls_key
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._bound_port = port
        self._started = False

    @property
    def port(self) -> int:
        """The port the API is bound to (the one chosen when 0 was asked for)."""
        return self._bound_port

    @property
    def tls(self) -> bool:
        """Whether the API is served in TLS."""
        return bool(self._tls_cert)

    def start(self) -> None:
        """Bind, then serve on a thread; returns once serving, else raises PosServerError."""
        if self._started:
            raise PosServerError("the POS API is served already")
        self._started = True
        config = self._config()
        sock = self._bind()
        ready = threading.Event()
        server = _Server(config, ready)
        thread = threading.Thread(
            target=_serve, args=(server, sock, ready), name="pos-api", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        ready.wait(START_TIMEOUT_S)
        if not server.started:
            self.stop()
            raise PosServerError(f"the POS API did not start on {self._address()}")
        scheme = "https" if self.tls else "http"
        log.info("%s served at %s://%s", self.name, scheme, self._address())

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving and wait for the thread (at most about `timeout_s`); idempotent."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive() and server is not None:
                server.force_exit = True  # a connection that would not finish
                thread.join(timeout_s)
            log.info("POS API stopped")
        if sock is not None:
            sock.close()

    def _config(self) -> uvicorn.Config:
        config = uvicorn.Config(
            self._app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            limit_concurrency=MAX_CONNECTIONS,
            timeout_graceful_shutdown=GRACEFUL_S,
            ssl_certfile=self._tls_cert or None,
            ssl_keyfile=self._tls_key or None,
        )
        try:
            config.load()  # the certificate and key are read here, in the caller's thread
        except (ssl.SSLError, OSError, ValueError) as e:
            raise PosServerError(
                f"the POS API's TLS certificate or key does not load ({type(e).__name__})"
            ) from e
        return config

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        try:
            sock = socket.create_server((self._host, self._requested_port), family=family)
        except OSError as e:
            reason = e.strerror or type(e).__name__
            raise PosServerError(f"the POS API cannot listen on {self._address()}: {reason}") from e
        self._bound_port = int(sock.getsockname()[1])
        return sock

    def _address(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self.port}"


def _serve(server: _Server, sock: socket.socket, ready: threading.Event) -> None:
    """The server's thread: uvicorn's loop until stopped; nothing escapes it."""
    try:
        server.run(sockets=[sock])
    except SystemExit:  # uvicorn's own way of failing a startup
        log.error("POS API: the server could not start")
    except Exception as e:  # the thread's top level
        log.error("POS API: the server failed: %s", type(e).__name__, exc_info=e)
    finally:
        ready.set()  # start() waits no longer for a thread that has ended

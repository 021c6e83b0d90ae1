"""`kiosk platform`: run the common verification platform, make providers' bearer tokens.

`kiosk platform serve` runs the platform's FastAPI app (docs/platform-api.md) on uvicorn;
`kiosk platform token PROVIDER` prints a new random token for a provider and the line the
platform's configuration keeps for it (the token's SHA-256, never the token).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
from typing import Any

from kiosk.commands import platform_credentials, platform_operators

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
#: The most worker processes `serve` starts (a few per CPU is plenty: each is one event loop).
MAX_WORKERS = 64

#: What a TOML bare key may hold; any other provider id is written as a quoted key.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def register(subparsers: Any) -> None:
    """Add the `platform` command and its actions."""
    parser = subparsers.add_parser(
        "platform", help="the common verification platform (HTTP API for providers' kiosks)"
    )
    sub = parser.add_subparsers(dest="platform_command", required=True, metavar="ACTION")

    serve = sub.add_parser("serve", help="serve the platform API (FastAPI on uvicorn)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    serve.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument("--config", default=None, help="configuration file (TOML)")
    serve.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="worker processes (gunicorn's, each running uvicorn; several share a PostgreSQL "
        "store); default 1",
    )
    serve.add_argument(
        "--log-format",
        choices=("plain", "json"),
        default="plain",
        help="log lines as text (default) or one JSON object a line (for the journal)",
    )
    serve.set_defaults(func=serve_command)

    token = sub.add_parser(
        "token", help="make a new bearer token for a provider (prints the configuration line)"
    )
    token.add_argument("provider", help="the provider id the token speaks for")
    token.set_defaults(func=token_command)

    platform_credentials.register(sub)  # `credential issue|list|revoke|rotate`
    platform_operators.register(sub)  # `operator add|list|remove`: the console's operators


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (argparse type)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return port


def worker_count(text: str) -> int:
    """1 to MAX_WORKERS worker processes (argparse type)."""
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"workers must be 1 to {MAX_WORKERS}, not {text!r}")
    return workers


def serve_command(args: argparse.Namespace) -> int:
    """Build the platform app from the configuration and serve it until interrupted: in this
    process (one worker), or in gunicorn's worker processes, each building it from the same
    configuration (kiosk.platform.workers) after this process has migrated the store and put
    the CRLs of crl_dir in force."""
    from pathlib import Path

    from kiosk import config
    from kiosk.platform import logs

    cfg = config.load(args.config)  # a broken configuration stops here, in this process
    server = {"host": args.host, "port": args.port, "server_header": False}
    # httptools: uvicorn's C HTTP parser. Edge logs one line per request: uvicorn's access
    # log would be a second.
    server |= {"http": "httptools", "access_log": False}
    server |= {"log_config": logs.log_config(args.log_format)}  # applied in every worker
    if args.workers == 1:
        import uvicorn

        from kiosk.platform.service import app_from_config
        from kiosk.platform.workers import loop_waits

        app = app_from_config(cfg, loop_waits=loop_waits(1))
        # asyncio's own loop serves a saturated worker's connections in turn (uvloop let some
        # wait seconds while others were answered in milliseconds: bench/RESULTS.md)
        uvicorn.run(app, loop="asyncio", **server)
        return 0
    # several workers: gunicorn's, a listening socket each
    from kiosk.platform import serving

    serving.serve(
        cfg,
        Path(args.config) if args.config else None,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=server["log_config"],
    )
    return 0


def token_command(args: argparse.Namespace) -> int:
    """Print a new token for the provider and its configuration line."""
    from kiosk.config import ConfigError
    from kiosk.verify.challenge import IDENTIFIER

    provider = args.provider
    if IDENTIFIER.fullmatch(provider) is None:
        raise ConfigError(
            "the provider id must be an identifier ([A-Za-z0-9][A-Za-z0-9_.:-]{0,63})"
        )
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode("ascii")).hexdigest()
    key = provider if _BARE_KEY.fullmatch(provider) else f'"{provider}"'
    print(f"token: {token}")
    print(f"  (give it to {provider} for its kiosks' platform_token; it is not kept anywhere)")
    print("platform configuration (only the token's SHA-256):")
    print("[platform_tokens]")
    print(f'{key} = "{digest}"')
    return 0

"""The `kiosk` command: one entry point, one subcommand per task.

Each subcommand lives in `kiosk/commands/<name>.py` with a `register(subparsers)` function
that adds its parser and sets `func`. Heavy imports happen inside the handlers, so
`kiosk --help` and the kiosk window start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from kiosk.errors import KioskError

#: Subcommand modules under kiosk.commands, in the order `--help` lists them.
COMMAND_MODULES = (
    "run",
    "demo",
    "pki",
    "sim",
    "card",
    "verify",
    "crl",
    "enrol",
    "platform",
    "db",
    "audit",
    "staff",
    "insurance",
    "outbox",
    "payment",
    "oidc",
    "doctor",
    "renewal",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk", description="jpki-kiosk: one My Number Card, many services."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (never secrets)")
    parser.add_argument(
        "--log-format",
        dest="log_lines",
        choices=("plain", "json"),
        default=None,
        help="log lines as text or one JSON object each (default: json to systemd's journal)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"kiosk.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"kiosk.commands.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def log_handler(choice: str | None) -> logging.Handler:
    """Standard error's handler: one JSON object a line (`kiosk.platform.logs.JsonFormatter`:
    time, level, logger, event and the allowed structured fields) when asked, or by default
    when standard error is systemd's journal; plain text lines otherwise."""
    from kiosk.platform.logs import PLAIN_FORMAT, JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    as_json = choice == "json" or (choice is None and stderr_is_journal())
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(PLAIN_FORMAT))
    return handler


def stderr_is_journal() -> bool:
    """Whether standard error is the journal's stream: systemd sets JOURNAL_STREAM to its
    "device:inode", which a child whose stderr was redirected elsewhere still inherits."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        status = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False  # no real file behind standard error
    return bool(expected) and expected == f"{status.st_dev}:{status.st_ino}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        handlers=[log_handler(args.log_lines)],
    )
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = args.func(args)
    except KioskError as e:
        print(f"kiosk: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # the top level: a clear line, never a traceback (unless -v)
        logging.getLogger("kiosk").debug("unexpected error", exc_info=True)
        print(
            f"kiosk: unexpected error ({type(e).__name__}); run with -v for details",
            file=sys.stderr,
        )
        return 70
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

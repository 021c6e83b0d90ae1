"""The `kiosk` command: one entry point, one subcommand per task.

Each subcommand lives in `kiosk/commands/<name>.py` with a `register(subparsers)` function
that adds its parser and sets `func`. Heavy imports happen inside the handlers, so
`kiosk --help` and the kiosk window start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
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

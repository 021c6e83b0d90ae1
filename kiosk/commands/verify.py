"""`kiosk verify-card`: one user proof against the card in the reader, verified locally.

The PIN is read from the terminal (or one line of stdin with --pin-stdin), sent to the card
once, and forgotten; the verdict is printed as JSON (exit 0 when verified, 1 when refused).
The local verification context is `kiosk.local.LocalContext` (shared with `kiosk enrol`, the
kiosk and the platform).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from kiosk.card.connection import CardConnection
    from kiosk.jpki.session import JpkiSession
    from kiosk.verify.verdict import Verdict

from kiosk.clock import utc_now
from kiosk.local import LocalContext

Clock = Callable[[], datetime]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `verify-card` command."""
    parser = subparsers.add_parser(
        "verify-card", help="prove who holds the card in the reader (local verification, JSON)"
    )
    add_card_options(parser)
    parser.add_argument(
        "--pin-stdin", action="store_true", help="read the PIN as one line of standard input"
    )
    parser.set_defaults(func=run)


def add_card_options(parser: argparse.ArgumentParser) -> None:
    """The options every card command shares: --reader and --config."""
    parser.add_argument("--reader", default=None, help="PC/SC reader (default: config, else any)")
    parser.add_argument("--config", default=None, help="configuration file (TOML)")


def read_secret(prompt: str, from_stdin: bool = False) -> str:
    """A PIN or password from the terminal without echo, or one line of stdin; never logged."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(prompt)


@contextmanager
def open_card(reader: str) -> Iterator[CardConnection]:
    """Exclusive PC/SC access to the card in `reader` (empty: the first reader with a card);
    the card is reset on the way out, so no verified PIN outlives the command."""
    from kiosk.card.reader import exclusive

    with exclusive(reader or None) as connection:
        yield connection


def prove(session: JpkiSession, pin: str, local: LocalContext, clock: Clock) -> Verdict:
    """One user proof on the card, verified and recorded by the local verifier."""
    from kiosk.services.visit import Terminal, prove_user

    at = Terminal(local.provider_id, local.terminal_id)
    proved = prove_user(
        session, pin, at, local.challenges, local.verifier, clock, action="verify_card"
    )
    return proved.verdict


def print_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on stdout."""
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def run(args: argparse.Namespace) -> int:
    """Read the PIN, run one proof on the card, print the verdict."""
    from kiosk import config
    from kiosk.jpki.session import JpkiSession

    cfg = config.load(args.config)
    local = LocalContext.from_config(cfg)
    try:
        pin = read_secret("利用者証明用暗証番号 / authentication PIN (4 digits): ", args.pin_stdin)
        with open_card(args.reader or cfg.reader) as connection:
            verdict = prove(JpkiSession(connection), pin, local, utc_now)
    finally:
        local.db.dispose()
    print_json(verdict.to_json())
    return 0 if verdict.ok else 1

"""`kiosk outbox list|retry`: what waits for the reception system, and sending it again now.

`list` shows the latest messages (newest first): id, destination, delivered or waiting,
attempts, the last failure's code and when it goes next; never the message itself (it names
the patient). `retry ID` (or `--all`) makes waiting messages due now: the kiosk's sender
takes them on its next pass, within seconds. A retry is audited (`outbox.retry` and who ran
it), like every staff action.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from kiosk.clock import utc_now
from kiosk.errors import KioskError


class OutboxCommandError(KioskError):
    """`kiosk outbox` was asked for something it cannot do (e.g. retry an unknown id)."""

    code = "outbox_command"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "outbox", help="messages for the reception system: list, retry now"
    )
    sub = parser.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="the latest messages, newest first")
    listing.add_argument("--config", help="configuration file (TOML)")
    listing.add_argument("--pending", action="store_true", help="only those not delivered")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.set_defaults(func=list_command)
    retry = sub.add_parser("retry", help="send a waiting message (or all) on the next pass")
    retry.add_argument("--config", help="configuration file (TOML)")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?", metavar="ID", help="the message's id")
    which.add_argument("--all", action="store_true", help="every waiting message")
    retry.add_argument(
        "--by", metavar="ID", help="who retries, for the audit (default: your login name)"
    )
    retry.set_defaults(func=retry_command)


def _open(config_path: str | None) -> Any:
    from kiosk import config
    from kiosk.store.engine import Database

    cfg = config.load(config_path)
    if not cfg.database_url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    db.upgrade()  # the outbox comes with the schema
    return cfg, db


def _when(value: Any) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def list_command(args: argparse.Namespace) -> int:
    """Print the latest messages as a table."""
    from kiosk.store.outbox import Outbox

    _cfg, db = _open(args.config)
    try:
        outbox = Outbox(db)
        messages = outbox.list(pending_only=args.pending, limit=args.limit)
        waiting = outbox.pending()
    finally:
        db.dispose()
    print(
        f"{'MESSAGE':36}  {'TO':10}  {'STATE':9}  TRIES  {'LAST ERROR':16}  {'NEXT / DONE (UTC)'}"
    )
    for m in messages:
        state = "delivered" if m.delivered else "waiting"
        when = _when(m.delivered_at if m.delivered else m.next_attempt_at)
        print(
            f"{m.message_id:36}  {m.destination:10}  {state:9}  {m.attempts:5}  "
            f"{m.last_error or '-':16}  {when}"
        )
    print(f"{waiting} waiting")
    return 0


def retry_command(args: argparse.Namespace) -> int:
    """Make one waiting message (or all) due now, and audit it."""
    from kiosk.store.audit import AuditLog
    from kiosk.store.outbox import Outbox

    cfg, db = _open(args.config)
    actor = args.by or getpass.getuser()
    now = utc_now()
    try:
        outbox = Outbox(db)
        if args.all:
            count = outbox.retry_all(now)
        elif outbox.retry(args.message_id, now):
            count = 1
        else:
            found = outbox.get(args.message_id)
            why = "is delivered already" if found is not None else "is not in the outbox"
            raise OutboxCommandError(f"message {args.message_id} {why}")
        AuditLog(db).append(
            at=now,
            provider_id=cfg.provider_id,
            terminal_id=cfg.terminal_id,
            action="outbox.retry",
            ok=True,
            actor=actor,
        )
    finally:
        db.dispose()
    noun = "message" if count == 1 else "messages"
    print(f"{count} {noun} due now; the kiosk sends on its next pass")
    return 0

"""`kiosk audit purge`: remove the audit rows older than the configured retention period.

The period is `audit_retention_days` (see `kiosk.config`); the purge appends its own audit row
first (who ran it, how many rows it removed, the cutoff; nothing about anyone it removed), in
the transaction that removes the rows, and the database refuses any other DELETE (migration
0004). Meant to run daily, e.g. from a systemd timer, so each run removes about one day.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import timedelta
from typing import Any

from kiosk.clock import utc_now


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="keep the audit log (retention)")
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    purge = sub.add_parser(
        "purge", help="remove audit rows older than audit_retention_days (and audit that)"
    )
    purge.add_argument("--config", help="configuration file (TOML)")
    purge.add_argument(
        "--by",
        metavar="ID",
        help="who runs the purge, recorded in its audit row (default: your login name)",
    )
    purge.set_defaults(func=purge_command)


def purge_command(args: argparse.Namespace) -> int:
    """Purge the configured store; print how many rows went and the cutoff."""
    from kiosk import config
    from kiosk.store.audit import AuditLog
    from kiosk.store.engine import Database

    cfg = config.load(args.config)
    actor = args.by or getpass.getuser()
    now = utc_now()
    cutoff = now - timedelta(days=cfg.audit_retention_days)
    if not cfg.database_url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    try:
        db.upgrade()  # the retention columns and triggers come with the schema
        removed = AuditLog(db).purge(
            before=cutoff,
            at=now,
            provider_id=cfg.provider_id,
            terminal_id=cfg.terminal_id,
            actor=actor,
        )
    finally:
        db.dispose()
    rows = "row" if removed == 1 else "rows"
    print(
        f"removed {removed} audit {rows} older than {cutoff:%Y-%m-%d %H:%M:%S} UTC "
        f"(retention {cfg.audit_retention_days} days)"
    )
    return 0

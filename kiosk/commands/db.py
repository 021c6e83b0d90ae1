"""`kiosk db upgrade`: create or migrate the linkage store's schema."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="manage the linkage store database")
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = sub.add_parser("upgrade", help="apply the schema migrations (creates the database)")
    upgrade.add_argument("--url", help="SQLAlchemy database URL (default: from the configuration)")
    upgrade.add_argument("--config", help="configuration file (TOML)")
    upgrade.set_defaults(func=upgrade_command)


def database_url(args: argparse.Namespace) -> str:
    """The database URL given on the command line, else the configured one."""
    if args.url:
        return str(args.url)
    from kiosk import config

    return config.load(args.config).effective_database_url


def upgrade_command(args: argparse.Namespace) -> int:
    """Apply the migrations to the database."""
    from kiosk.store.engine import Database

    db = Database(database_url(args))
    try:
        db.upgrade()
    finally:
        db.dispose()
    print(f"database schema is up to date ({db.engine.url.render_as_string(hide_password=True)})")
    return 0

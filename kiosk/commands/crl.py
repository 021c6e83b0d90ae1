"""`kiosk crl import FILE|DIR|URL`: verify CRLs against the trust anchors and put them in force;
`kiosk crl refresh`: one pass over the `[crl_refresh]` URLs (for a systemd timer)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("crl", help="import certificate revocation lists")
    sub = parser.add_subparsers(dest="crl_command", required=True, metavar="ACTION")
    imp = sub.add_parser(
        "import", help="import CRLs (DER or PEM) from files, a directory or an HTTP URL"
    )
    imp.add_argument(
        "sources", nargs="*", metavar="FILE|DIR|URL", help="default: the configured crl_dir"
    )
    imp.add_argument("--trust", type=Path, help="trust anchor directory (default: trust_dir)")
    imp.add_argument("--url", help="SQLAlchemy database URL (default: from the configuration)")
    imp.add_argument("--config", help="configuration file (TOML)")
    imp.set_defaults(func=import_command)
    refresh = sub.add_parser(
        "refresh", help="fetch the [crl_refresh] URLs once and put new CRLs in force"
    )
    refresh.add_argument(
        "--due-only",
        action="store_true",
        help="only URLs whose interval_s has passed since their last check (default: all)",
    )
    refresh.add_argument("--config", help="configuration file (TOML)")
    refresh.set_defaults(func=refresh_command)


def import_command(args: argparse.Namespace) -> int:
    """Import every CRL named; print one line each (a refused one with why); 2 when any was
    refused. A refused file is skipped: the others are imported all the same."""
    from functools import partial

    from kiosk import config
    from kiosk.clock import utc_now
    from kiosk.local import trust_store
    from kiosk.store.crlimport import import_sources
    from kiosk.store.engine import Database
    from kiosk.store.revocation import SqlRevocationIndex
    from kiosk.verify.crl import check_crl
    from kiosk.verify.trust import TrustStore

    cfg = config.load(args.config)
    if cfg.verification == "platform" and not args.url:
        # Revocation lists are for authorised verifiers (公的個人認証法 §63); a kiosk that
        # verifies at a platform keeps no list of certificate serials.
        raise config.ConfigError(
            'this configuration verifies at a platform (verification = "platform"): '
            "CRLs are imported by the platform, not by the kiosk"
        )
    if not args.url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(args.url or cfg.effective_database_url)
    try:
        db.upgrade()  # a fresh store gets its schema first, as `kiosk run` does
        # the anchors verification pins (every group), unless --trust names a directory
        trust = TrustStore.from_dir(args.trust) if args.trust else trust_store(cfg)
        now = utc_now()
        check = partial(check_crl, trust=trust, now=now)
        sources = args.sources or [str(cfg.crl_dir)]
        failures = 0
        for outcome in import_sources(sources, check, SqlRevocationIndex(db), now):
            failures += outcome.result is None
            print(outcome.line())
    finally:
        db.dispose()
    return 2 if failures else 0


def refresh_command(args: argparse.Namespace) -> int:
    """One pass over the configured CRL URLs; one line each; 2 when any failed (its CRL in
    force stays), 1 when none is configured. A URL another process is fetching is skipped."""
    from kiosk import config
    from kiosk.platform.crlrefresh import crl_refresher
    from kiosk.store.engine import Database

    cfg = config.load(args.config)
    if cfg.verification == "platform":
        raise config.ConfigError(
            'this configuration verifies at a platform (verification = "platform"): '
            "CRLs are refreshed by the platform, not by the kiosk"
        )
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    try:
        db.upgrade()
        refresher = crl_refresher(cfg, db)
        if refresher is None:
            print("no CRL URLs configured ([crl_refresh] urls)")
            return 1
        try:
            outcomes = refresher.refresh_once(force=not args.due_only)
        finally:
            refresher.close()
    finally:
        db.dispose()
    for outcome in outcomes:
        print(outcome.line())
    return 2 if any(o.status == "failed" for o in outcomes) else 0

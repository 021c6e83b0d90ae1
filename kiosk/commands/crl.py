"""`kiosk crl import FILE|DIR|URL`: verify CRLs against the trust anchors and put them in force."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
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


def import_command(args: argparse.Namespace) -> int:
    """Import every CRL named; print one line each; 2 when any was refused."""
    from kiosk import config
    from kiosk.store.crlimport import check_crl, crl_paths, fetch_url, open_crl
    from kiosk.store.engine import Database
    from kiosk.store.errors import StoreError
    from kiosk.store.revocation import SqlRevocationIndex
    from kiosk.verify.trust import TrustStore
    from kiosk.verify.verdict import VerifyError

    cfg = config.load(args.config)
    if not args.url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(args.url or cfg.effective_database_url)
    try:
        db.upgrade()  # a fresh store gets its schema first, as `kiosk run` does
        trust = TrustStore.from_dir(args.trust or cfg.trust_dir)
        index = SqlRevocationIndex(db)
        failures = 0
        for source in args.sources or [str(cfg.crl_dir)]:
            if source.startswith(("http://", "https://")):
                jobs = [(source, None)]
            else:
                jobs = [(str(p), p) for p in crl_paths(Path(source))]
            for name, path in jobs:
                try:
                    if path is None:
                        result = index.replace(check_crl(fetch_url(name), trust), _now())
                    else:
                        with open_crl(path) as buf:
                            result = index.replace(check_crl(buf, trust), _now())
                except (StoreError, VerifyError) as e:
                    failures += 1
                    print(f"{name}: refused: {e}")
                    continue
                state = "imported" if result.replaced else "already in force"
                print(
                    f"{name}: {state}: issuer {result.issuer_key_id}, number {result.crl_number}, "
                    f"{result.entries} entries, {result.seconds:.1f}s"
                )
    finally:
        db.dispose()
    return 2 if failures else 0


def _now() -> datetime:
    return datetime.now(UTC)

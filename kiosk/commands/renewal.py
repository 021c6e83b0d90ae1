"""`kiosk renewal import FILE` and `kiosk renewal sweep`: the certificate authority's old → new
serial link, imported, and every renewed card's links moved to its new certificates.

The operator of a verifier (a kiosk with local verification, or the platform) obtains the
link data from the authority under its own notification (届出) and imports each delivery
(format: kiosk.services.renewal, docs/renewal.md); a sweep then moves every link whose
authentication certificate the CRLs in force list as superseded and whose successor is known
(one audited transaction each). Between sweeps, a renewed card's first proof moves its link
itself (kiosk.store.renewal.RenewingVerificationStore). Meant to run after each CRL refresh.

Refused for a kiosk that verifies at a platform: only a verifier may keep certificate serials
(公的個人認証法 §52, §63), so the link data is the platform's to import.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.clock import utc_now

if TYPE_CHECKING:
    from kiosk.store.engine import Database


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "renewal", help="links that survive a card's renewal (the CA's old -> new serial link)"
    )
    sub = parser.add_subparsers(dest="renewal_command", required=True, metavar="ACTION")
    load = sub.add_parser("import", help="import a file of the CA's old -> new serial links")
    load.add_argument("file", type=Path, help="the link-data file (see docs/renewal.md)")
    load.add_argument("--config", help="configuration file (TOML)")
    load.set_defaults(func=import_command)
    run = sub.add_parser(
        "sweep", help="move the links of superseded certificates whose successor is known"
    )
    run.add_argument("--config", help="configuration file (TOML)")
    run.set_defaults(func=sweep_command)


def import_command(args: argparse.Namespace) -> int:
    """Check the whole file, then import its records in one transaction."""
    from kiosk.services.renewal import MAX_FILE_BYTES, SuccessionFileError, parse_successions
    from kiosk.store.renewal import SqlSuccessionSource

    path: Path = args.file
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SuccessionFileError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SuccessionFileError(f"cannot read {path} ({type(e).__name__})") from e
    records = parse_successions(text)
    db = _verifier_store(args.config)
    try:
        added = SqlSuccessionSource(db).put(records, utc_now())
    finally:
        db.dispose()
    print(f"imported {added} new link record(s) of {len(records)} in {path.name}")
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    """Move every renewed card's links; print how many ended in each outcome."""
    from kiosk.services.renewal import sweep
    from kiosk.store.renewal import LinkRenewals, SqlSuccessionSource

    db = _verifier_store(args.config)
    try:
        report = sweep(LinkRenewals(db, SqlSuccessionSource(db)), utc_now())
    finally:
        db.dispose()
    print(f"renewal sweep: {report.line()}")
    return 0


def _verifier_store(config_path: str | None) -> Database:
    """The configured store, migrated; refused for a kiosk that verifies at a platform."""
    from kiosk import config
    from kiosk.store.engine import Database

    cfg = config.load(config_path)
    if cfg.verification == "platform":
        raise config.ConfigError(
            'this kiosk verifies at a platform (verification = "platform"): the link data '
            "is the platform's to import, as only a verifier keeps certificate serials"
        )
    if not cfg.database_url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    db.upgrade()
    return db

"""`kiosk insurance import FILE.csv` and `kiosk patients import --provider P FILE.csv`.

The operator loads an insurer's member roster, or a clinic's own patient records, from CSV
(the columns are in docs/insurance.md). The whole file is checked first
(`kiosk.services.records_csv`): on the first bad row the command prints its line and field,
exits 1, and the store is not touched. A good file replaces the insurer's roster (or the
clinic's records) in one transaction, and the command prints how many rows it loaded and how
many it replaced. Nothing a row holds (names, numbers) is printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kiosk.clock import utc_now

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.store.engine import Database

_Parsed = TypeVar("_Parsed")


def register(subparsers: Any) -> None:
    insurance = subparsers.add_parser("insurance", help="load an insurer's member roster")
    sub = insurance.add_subparsers(dest="insurance_command", required=True, metavar="ACTION")
    load = sub.add_parser(
        "import", help="replace an insurer's roster with a CSV file (docs/insurance.md)"
    )
    load.add_argument("file", type=Path, metavar="FILE.csv")
    load.add_argument("--config", help="configuration file (TOML)")
    load.add_argument("--by", metavar="ID", help="who loads it, for the audit (default: login)")
    load.set_defaults(func=import_roster_command)

    patients = subparsers.add_parser("patients", help="load a clinic's patient records")
    sub = patients.add_subparsers(dest="patients_command", required=True, metavar="ACTION")
    load = sub.add_parser(
        "import", help="replace a clinic's patient records with a CSV file (docs/insurance.md)"
    )
    load.add_argument("file", type=Path, metavar="FILE.csv")
    load.add_argument("--provider", required=True, metavar="P", help="the clinic's provider id")
    load.add_argument("--config", help="configuration file (TOML)")
    load.add_argument("--by", metavar="ID", help="who loads it, for the audit (default: login)")
    load.set_defaults(func=import_patients_command)


def import_roster_command(args: argparse.Namespace) -> int:
    """Check the roster file whole, then put it in force for its insurer."""
    from kiosk.services.records_csv import parse_roster
    from kiosk.store.roster import InsuranceRoster

    roster = _parsed(args.file, parse_roster)
    if roster is None:
        return 1
    with _store(args.config) as (cfg, db):
        loaded = _loaded(
            args.file,
            lambda: InsuranceRoster(db).replace_insurer(
                roster.insurer, roster.members, roster.sha256, utc_now()
            ),
        )
        if loaded is not None:
            _audit(db, cfg.provider_id, cfg.terminal_id, "insurance.import", args.by)
    if loaded is None:
        return 1
    print(
        f"{args.file.name}: insurer {loaded.insurer}: {_rows(loaded.rows)} imported, "
        f"{_rows(loaded.replaced)} replaced (sha256 {loaded.sha256.hex()[:16]}…)"
    )
    return 0


def import_patients_command(args: argparse.Namespace) -> int:
    """Check the patients file whole, then put it in force as the clinic's records."""
    from kiosk.services.records_csv import parse_patients
    from kiosk.store.roster import PatientRecords

    patients = _parsed(args.file, parse_patients)
    if patients is None:
        return 1
    with _store(args.config) as (cfg, db):
        replaced = _loaded(
            args.file,
            lambda: PatientRecords(db).replace(args.provider, patients.records, utc_now()),
        )
        if replaced is not None:
            _audit(db, args.provider, cfg.terminal_id, "patients.import", args.by)
    if replaced is None:
        return 1
    print(
        f"{args.file.name}: provider {args.provider}: {_rows(len(patients.records))} imported, "
        f"{_rows(replaced)} replaced"
    )
    return 0


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _parsed(path: Path, parse: Callable[[bytes], _Parsed]) -> _Parsed | None:
    """The checked file, or None after printing why it was refused (nothing changed)."""
    from kiosk.services.records_csv import MAX_BYTES, RecordRefused

    try:
        if path.stat().st_size > MAX_BYTES:
            print(f"kiosk: {path.name}: larger than {MAX_BYTES} bytes", file=sys.stderr)
            return None
        data = path.read_bytes()
    except OSError as e:
        print(f"kiosk: {path.name}: unreadable: {e.strerror or e}", file=sys.stderr)
        return None
    try:
        return parse(data)
    except RecordRefused as e:
        print(f"kiosk: {path.name}: {e}; nothing was imported", file=sys.stderr)
        return None


def _loaded(path: Path, load: Callable[[], _Parsed]) -> _Parsed | None:
    """The load's result, or None after printing why the store refused it."""
    from kiosk.store.roster import RosterError

    try:
        return load()
    except RosterError as e:
        print(f"kiosk: {path.name}: {e}", file=sys.stderr)
        return None


def _audit(db: Database, provider_id: str, terminal_id: str, action: str, by: str | None) -> None:
    """Audit a load: what was loaded for whom, by whom (codes only: no name from the file)."""
    import getpass

    from kiosk.store.audit import AuditLog

    AuditLog(db).append(
        at=utc_now(),
        provider_id=provider_id,
        terminal_id=terminal_id,
        action=action,
        ok=True,
        actor=by or getpass.getuser(),
    )


@contextmanager
def _store(config_path: str | None) -> Iterator[tuple[Config, Database]]:
    """The configuration and its store, migrated, disposed of afterwards."""
    from kiosk import config
    from kiosk.store.engine import Database

    cfg = config.load(config_path)
    if not cfg.database_url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    try:
        db.upgrade()  # the roster's tables come with the schema (0005)
        yield cfg, db
    finally:
        db.dispose()

"""`kiosk audit purge` and `kiosk audit export`: keep the audit log, and hand it to the operator.

`purge` removes the audit rows older than the configured retention period.

The period is `audit_retention_days` (see `kiosk.config`); the purge appends its own audit row
first (who ran it, how many rows it removed, the cutoff; nothing about anyone it removed), in
the transaction that removes the rows, and the database refuses any other DELETE (migration
0004). Meant to run daily, e.g. from a systemd timer, so each run removes about one day.

`export --from WHEN --to WHEN [--tz ZONE] [--format jsonl|csv] [--out FILE]` writes the events
of a period (the audit log's and the recorded verdicts, oldest first) as JSON lines or CSV. A
bare date is a whole day in `--tz` (JST unless told: the kiosks are in Japan), `--to`'s day
included; an instant must carry its offset (2026-12-01T09:00+09:00), since a time without one
means a different period on every machine. Every time written carries its offset too.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kiosk.clock import JST, utc_now
from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.store.records import AuditEvent

#: The columns of an export, in order (a CSV's header row; a JSON line's keys).
EXPORT_FIELDS = (
    "at",
    "source",
    "event_id",
    "provider_id",
    "terminal_id",
    "action",
    "ok",
    "reason",
    "issuer_key_id",
    "serial",
    "actor",
    "affected_rows",
    "cutoff_at",
)


class ExportRefused(KioskError):
    """The export's period or time zone is not one the command can read."""

    code = "audit_export"


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
    export = sub.add_parser(
        "export", help="write the audit events of a period as JSON lines or CSV (oldest first)"
    )
    export.add_argument("--config", help="configuration file (TOML)")
    export.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="WHEN",
        help="first day (YYYY-MM-DD, in --tz) or instant with its offset (2026-12-01T09:00+09:00)",
    )
    export.add_argument(
        "--to",
        dest="end",
        required=True,
        metavar="WHEN",
        help="last day, included (YYYY-MM-DD, in --tz), or the instant the export stops before",
    )
    export.add_argument(
        "--tz",
        default="JST",
        metavar="ZONE",
        help="time zone of bare dates and of the times written: JST (default), UTC, an offset "
        "such as +09:00, or an IANA name such as Asia/Tokyo",
    )
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    export.set_defaults(func=export_command)


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


def export_command(args: argparse.Namespace) -> int:
    """Write the period's events; say how many, and the period with its offsets, on stderr."""
    from kiosk import config
    from kiosk.store.audit import AuditLog
    from kiosk.store.engine import Database
    from kiosk.store.health import inspect

    zone = time_zone(args.tz)
    start, end = period(args.start, args.end, zone)
    cfg = config.load(args.config)
    store = inspect(cfg.effective_database_url)  # never creates one (StoreError if absent)
    if not store.at_head:
        raise ExportRefused(f"the store at {store.where} is not migrated: run `kiosk db upgrade`")
    db = Database(cfg.effective_database_url)
    try:
        events = AuditLog(db).between(start, end)
        if args.out:
            with Path(args.out).open("w", encoding="utf-8", newline="") as out:
                count = write_events(events, out, args.format, zone)
        else:
            count = write_events(events, sys.stdout, args.format, zone)
    finally:
        db.dispose()
    noun = "event" if count == 1 else "events"
    print(
        f"exported {count} audit {noun} from {start.astimezone(zone).isoformat()} "
        f"to {end.astimezone(zone).isoformat()} (end excluded)",
        file=sys.stderr,
    )
    return 0


def time_zone(name: str) -> tzinfo:
    """JST, UTC, a fixed offset (+09:00) or an IANA zone name; ExportRefused otherwise."""
    if name.upper() == "JST":
        return JST
    if name.upper() in ("UTC", "Z"):
        return UTC
    if name[:1] in "+-" and name[1:]:
        try:
            offset = datetime.fromisoformat(f"2000-01-01T00:00{name}").utcoffset()
        except ValueError:
            offset = None
        if offset is not None:
            return timezone(offset)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ExportRefused(
            f"--tz {name!r} is not a time zone: use JST, UTC, an offset such as +09:00 or a "
            "name such as Asia/Tokyo"
        ) from e


def period(start: str, end: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """The export's [start, end) as UTC-aware instants; ExportRefused for a value that is not
    a date or an instant with its offset, or a period that ends before it starts."""
    first = _instant(start, zone, "--from", day_end=False)
    last = _instant(end, zone, "--to", day_end=True)
    if last <= first:
        raise ExportRefused(f"--to ({end}) must come after --from ({start})")
    return first, last


def _instant(text: str, zone: tzinfo, option: str, *, day_end: bool) -> datetime:
    """A bare date as its day's start in `zone` (the next day's start for `--to`, so that
    its day is included); an instant as given, which must carry its offset."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if day_end:
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ExportRefused(
            f"{option} {text!r} is neither a date (YYYY-MM-DD) nor an instant with its offset "
            "(YYYY-MM-DDTHH:MM+09:00)"
        ) from None
    if moment.tzinfo is None:
        raise ExportRefused(
            f"{option} {text!r} has no offset: write it as e.g. {text}+09:00 (or give a date)"
        )
    return moment.astimezone(UTC)


def write_events(events: Iterable[AuditEvent], out: TextIO, fmt: str, zone: tzinfo) -> int:
    """Write each event as a JSON line or a CSV row (after the header); how many."""
    rows = _rows(events, zone)
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            count += 1
        return count
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def _rows(events: Iterable[AuditEvent], zone: tzinfo) -> Iterator[dict[str, Any]]:
    """Each event as the export's columns: times with their offset in `zone`, the serial in
    hex, and where it came from (the audit log, or the verifications table's verdicts)."""
    for e in events:
        yield {
            "at": e.at.astimezone(zone).isoformat(),
            "source": "audit" if e.event_id is not None else "verdict",
            "event_id": e.event_id,
            "provider_id": e.provider_id,
            "terminal_id": e.terminal_id,
            "action": e.action,
            "ok": e.ok,
            "reason": e.reason,
            "issuer_key_id": e.issuer_key_id,
            "serial": None if e.serial is None else f"{e.serial:x}",
            "actor": e.actor,
            "affected_rows": e.affected_rows,
            "cutoff_at": None if e.cutoff_at is None else e.cutoff_at.astimezone(zone).isoformat(),
        }

"""`kiosk payment settle|void|reconcile|list`: the operator's side of the counter payments.

`settle --date YYYY-MM-DD` writes a shop's day (in Japan) as CSV, one line per card company
and terminal, from the ledger's totals; then it matches them: the totals against the day's
own rows added up again, every settled, voided and declined row against what the configured
card company says of its key, and the rows still pending or unknown. Each disagreement is a
line on stderr naming the row, and the exit status 1: a settlement is reported, never
repaired (a mismatch is for a person to look into; `reconcile` resolves open rows).

`void --receipt NO --staff STAFF_NUMBER` voids a settled payment at the card company and in
the ledger after the member of staff's PIN (read at a prompt that does not echo it) matched
their `[[staff]]` credential; the staff desk audits the sign-in, the payment desk the void.

`reconcile` asks the card company about every row still pending or unknown that was begun
more than `SETTLE_MARGIN` ago (what the kiosk does at start and then every minute); `list
--date` shows a day's rows with the account masked.

The TEST card company keeps its books in the kiosk's own process, so a command cannot ask
it anything: `settle` says so and leaves the card company out, `void` and `reconcile` refuse.

Exit status: 0 all well; 1 a mismatch, an open row, a wrong PIN or a refused void; 2 a
request the command cannot carry out (a bad date, no staff, the TEST card company).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from kiosk.errors import KioskError

if TYPE_CHECKING:
    from kiosk.config import Config
    from kiosk.services.card_gateway import CardGateway, StatusOutcome
    from kiosk.services.gateway_http import HttpCardGateway
    from kiosk.services.payment import PaymentNotices
    from kiosk.store.engine import Database
    from kiosk.store.ledger import DayTotal, LedgerEntry, PaymentLedger

#: The settlement CSV's columns, in order.
CSV_HEADER = (
    "date", "provider", "card_company", "terminal", "settled_count", "settled_yen",
    "voided_count", "voided_yen", "net_yen",
)  # fmt: skip
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TEST_COMPANY = (
    "the TEST card company keeps its books inside the kiosk's own process, so this command "
    "cannot ask it anything"
)


class PaymentCommandError(KioskError):
    """`kiosk payment` was asked for something it cannot do (a bad date, no staff, ...)."""

    code = "payment_command"


def register(subparsers: Any) -> None:
    """Add the `payment` command and its actions."""
    parser = subparsers.add_parser(
        "payment", help="counter payments: daily settlement, staff void, reconcile, list"
    )
    sub = parser.add_subparsers(dest="payment_command", required=True, metavar="ACTION")
    settle = sub.add_parser(
        "settle",
        help="a day's totals per card company and terminal as CSV, matched against the "
        "ledger's rows and the card company (mismatches on stderr, exit 1)",
    )
    settle.add_argument("--date", required=True, help="the day in Japan, YYYY-MM-DD")
    settle.add_argument("--out", metavar="FILE", help="write the CSV here (default: stdout)")
    settle.set_defaults(func=settle_command)
    void = sub.add_parser("void", help="void a settled payment (asks the staff PIN)")
    void.add_argument("--receipt", required=True, metavar="NO", help="the receipt number")
    void.add_argument("--staff", required=True, metavar="STAFF_NUMBER", dest="staff_id")
    void.set_defaults(func=void_command)
    reconcile = sub.add_parser(
        "reconcile",
        help="ask the card company about every pending or unknown payment begun over "
        "10 minutes ago",
    )
    reconcile.set_defaults(func=reconcile_command)
    listing = sub.add_parser("list", help="a day's ledger rows (the account masked)")
    listing.add_argument("--date", help="the day in Japan, YYYY-MM-DD (default: today)")
    listing.set_defaults(func=list_command)
    for action in (settle, void, reconcile, listing):
        action.add_argument("--config", help="configuration file (TOML)")
    for action in (settle, void, listing):
        action.add_argument("--provider", help="the shop (default: provider_id)")


# --- the configured store and card company -----------------------------------------------------


def _load(config_path: str | None) -> Config:
    from kiosk import config

    return config.load(config_path)


def _database(cfg: Config) -> Database:
    from kiosk.store.engine import Database

    if not cfg.database_url:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(cfg.effective_database_url)
    db.upgrade()  # the ledger comes with the schema
    return db


def _ledger(cfg: Config, db: Database) -> PaymentLedger:
    from kiosk.store.ledger import LedgerLimits, PaymentLedger

    p = cfg.payment
    return PaymentLedger(
        db, LedgerLimits(p.per_payment_yen, p.daily_account_yen, p.daily_terminal_yen)
    )


def card_company(cfg: Config) -> HttpCardGateway | None:
    """The configured card company's gateway (`[payment] gateway = "http"`), built as the
    kiosk builds it; None for the TEST card company, which no other process can ask."""
    p = cfg.payment
    if p.gateway != "http":
        return None
    from kiosk.services.gateway_http import HttpCardGateway

    return HttpCardGateway(p.url, p.token, code=p.company_code, timeout_s=float(p.timeout_s))


def parse_day(text: str) -> date:
    """A day given as YYYY-MM-DD; PaymentCommandError for anything else."""
    if _DATE.fullmatch(text) is not None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise PaymentCommandError(f"the date must be a day in Japan as YYYY-MM-DD, not {text!r}")


def _yen(amount: int) -> str:
    return f"¥{amount:,}"


def _jst(at: datetime, pattern: str = "%Y-%m-%d %H:%M:%S JST") -> str:
    from kiosk.clock import JST

    return at.astimezone(JST).strftime(pattern)


def _row(entry: LedgerEntry) -> str:
    """How a finding names a ledger row: its id first (what an operator looks up)."""
    receipt = entry.receipt_no or "-"
    return (
        f"row {entry.entry_id} ({entry.terminal_id}, {entry.gateway}, receipt {receipt}, "
        f"{_yen(entry.amount_yen)})"
    )


# --- settle: the totals ----------------------------------------------------------------------


def settlement_rows(day: date, provider_id: str, totals: Iterable[DayTotal]) -> list[list[str]]:
    """The CSV's lines under the header. `net_yen` is what the card company pays the shop for
    the line: the settled amount (a voided charge is counted apart and is not in it)."""
    return [
        [
            day.isoformat(),
            provider_id,
            t.gateway,
            t.terminal_id,
            str(t.settled_count),
            str(t.settled_yen),
            str(t.voided_count),
            str(t.voided_yen),
            str(t.settled_yen),
        ]  # fmt: skip
        for t in totals
    ]


def recount(entries: Iterable[LedgerEntry]) -> tuple[DayTotal, ...]:
    """The day's totals added up again from its rows, in Python rather than SQL, so the
    settlement's figures are checked by a second, independent count."""
    from kiosk.store.ledger import DayTotal, LedgerState

    counts: dict[tuple[str, str], list[int]] = {}
    for e in entries:
        if e.state not in (LedgerState.SETTLED, LedgerState.VOIDED):
            continue
        figures = counts.setdefault((e.terminal_id, e.gateway), [0, 0, 0, 0])
        at = 0 if e.state is LedgerState.SETTLED else 2
        figures[at] += 1
        figures[at + 1] += e.amount_yen
    return tuple(DayTotal(t, g, *counts[(t, g)]) for t, g in sorted(counts))


def _figures(total: DayTotal | None) -> str:
    if total is None:
        return "nothing"
    return (
        f"settled {total.settled_count} {_yen(total.settled_yen)}, "
        f"voided {total.voided_count} {_yen(total.voided_yen)}"
    )


def totals_mismatches(totals: Sequence[DayTotal], entries: Sequence[LedgerEntry]) -> list[str]:
    """One line for each card company and terminal whose totals are not what its rows add
    up to (a line missing on either side included); empty when all agree."""
    counted = {(t.terminal_id, t.gateway): t for t in recount(entries)}
    reported = {(t.terminal_id, t.gateway): t for t in totals}
    found = []
    for terminal, company in sorted(counted.keys() | reported.keys()):
        says, adds_up = reported.get((terminal, company)), counted.get((terminal, company))
        if says != adds_up:
            found.append(
                f"totals of {terminal} at {company}: the settlement says {_figures(says)}, "
                f"the rows add up to {_figures(adds_up)}"
            )
    return found


def open_rows(entries: Iterable[LedgerEntry]) -> list[str]:
    """One line for each row still pending or unknown: charged or not is not known yet."""
    from kiosk.store.ledger import LedgerState

    return [
        f"{_row(e)}: still {e.state.value} (begun {_jst(e.created_at)}); "
        "run `kiosk payment reconcile`"
        for e in entries
        if e.state in (LedgerState.PENDING, LedgerState.UNKNOWN)
    ]


# --- settle: the card company ------------------------------------------------------------------


def _said(outcome: StatusOutcome) -> str:
    from kiosk.services.card_gateway import Approved, Declined, Voided

    if isinstance(outcome, Approved):
        return f"approved {_yen(outcome.amount_yen)} as {outcome.transaction_id}"
    if isinstance(outcome, Voided):
        return f"voided {_yen(outcome.amount_yen)} as {outcome.transaction_id}"
    if isinstance(outcome, Declined):
        return f"declined ({outcome.reason.value})"
    return "not found"


def disagreement(entry: LedgerEntry, outcome: StatusOutcome) -> str | None:
    """What the card company's answer about a settled, voided or declined row says against
    the ledger; None when the two agree (same state, amount and transaction id)."""
    from kiosk.services.card_gateway import Approved, Declined, NotFound, Unknown, Voided
    from kiosk.store.ledger import LedgerState

    if isinstance(outcome, Unknown):
        return f"the card company did not answer ({outcome.why}): not confirmed, ask again"
    agreeing: tuple[type, ...] = {
        LedgerState.SETTLED: (Approved,),
        LedgerState.VOIDED: (Voided,),
        LedgerState.DECLINED: (Declined, NotFound),
    }[entry.state]
    ledger_says = entry.state.value
    if entry.state is LedgerState.DECLINED:
        ledger_says += f" ({entry.reason})"
    if not isinstance(outcome, agreeing):
        return f"{ledger_says} in the ledger, {_said(outcome)} at the card company"
    if isinstance(outcome, Approved | Voided) and (
        outcome.amount_yen != entry.amount_yen or outcome.transaction_id != entry.receipt_no
    ):
        return (
            f"{ledger_says} for {_yen(entry.amount_yen)} as {entry.receipt_no} in the ledger, "
            f"{_said(outcome)} at the card company"
        )
    return None


@dataclass(frozen=True, slots=True)
class CardCompanyCheck:
    """What asking the card company about a day's rows found."""

    problems: tuple[str, ...]  # one line per row it disagrees on (or did not answer for)
    confirmed: int  # rows it agreed with
    not_asked: Mapping[str, int]  # another card company's rows, counted by its code


def check_with_card_company(
    entries: Iterable[LedgerEntry], gateway: CardGateway
) -> CardCompanyCheck:
    """Ask `gateway` about each of its settled, voided and declined rows."""
    from kiosk.store.ledger import LedgerState

    asked = (LedgerState.SETTLED, LedgerState.VOIDED, LedgerState.DECLINED)
    problems: list[str] = []
    confirmed = 0
    not_asked: Counter[str] = Counter()
    for entry in entries:
        if entry.state not in asked:
            continue  # open rows are listed apart
        if entry.gateway != gateway.code:
            not_asked[entry.gateway] += 1
            continue
        found = disagreement(entry, gateway.status(entry.idempotency_key))
        if found is None:
            confirmed += 1
        else:
            problems.append(f"{_row(entry)}: {found}")
    return CardCompanyCheck(tuple(problems), confirmed, dict(not_asked))


def _write_csv(out: TextIO, lines: list[list[str]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(lines)


def settle_command(args: argparse.Namespace) -> int:
    """Write the day's settlement CSV, then report every mismatch (exit 1) or none (exit 0)."""
    day = parse_day(args.date)
    cfg = _load(args.config)
    provider = args.provider or cfg.provider_id
    db = _database(cfg)
    try:
        ledger = _ledger(cfg, db)
        totals = ledger.day_totals(day, provider)
        entries = ledger.entries_of_day(day, provider)
    finally:
        db.dispose()
    lines = settlement_rows(day, provider, totals)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8", newline="") as f:
                _write_csv(f, lines)
        except OSError as e:
            raise PaymentCommandError(f"cannot write {args.out}: {e.strerror}") from e
    else:
        _write_csv(sys.stdout, lines)
    problems = totals_mismatches(totals, entries)
    gateway = card_company(cfg)
    if gateway is None:
        print(f"card company not asked: {_TEST_COMPANY}", file=sys.stderr)
    else:
        with gateway:
            check = check_with_card_company(entries, gateway)
        problems += check.problems
        for company, count in sorted(check.not_asked.items()):
            print(
                f"not asked: {count} row(s) of card company {company} "
                f"(the configured one is {gateway.code})",
                file=sys.stderr,
            )
        print(f"{check.confirmed} rows confirmed by the card company", file=sys.stderr)
    problems += open_rows(entries)
    for line in problems:
        print(line, file=sys.stderr)
    verdict = f"{len(problems)} to look into (reported, nothing changed)" if problems else "match"
    print(f"settlement of {provider} on {day}: {verdict}", file=sys.stderr)
    return 1 if problems else 0


# --- void --------------------------------------------------------------------------------------


def _signed_in(cfg: Config, db: Database, staff_id: str) -> bool:
    """Whether the PIN typed now is `staff_id`'s (the staff desk checks and audits it)."""
    from kiosk.clock import utc_now
    from kiosk.flow.ports import FlowProblem
    from kiosk.flow.staff import StaffDesk
    from kiosk.store.audit import AuditLog

    desk = StaffDesk(cfg.staff, AuditLog(db, terminal_id=cfg.terminal_id), cfg.provider_id, utc_now)
    try:
        desk.sign_in(staff_id, getpass.getpass("staff PIN: "))
    except FlowProblem:
        print("kiosk: wrong staff number or PIN; nothing was voided", file=sys.stderr)
        return False
    return True


def void_command(args: argparse.Namespace) -> int:
    """Void the settled payment with this receipt number, once the staff PIN matched."""
    from kiosk.clock import utc_now
    from kiosk.services import payment_desk
    from kiosk.store.audit import AuditLog

    cfg = _load(args.config)
    if not cfg.staff:
        raise PaymentCommandError("no staff are configured ([[staff]] tables): nobody may void")
    gateway = card_company(cfg)
    if gateway is None:
        raise PaymentCommandError(f"{_TEST_COMPANY}; void TEST payments at the kiosk")
    provider = args.provider or cfg.provider_id
    db = _database(cfg)
    try:
        with gateway:
            if not _signed_in(cfg, db, args.staff_id):
                return 1
            done = payment_desk.void(
                _ledger(cfg, db),
                gateway,
                AuditLog(db, terminal_id=cfg.terminal_id),
                provider_id=provider,
                receipt_no=args.receipt,
                staff_id=args.staff_id,
                clock=utc_now,
            )
    except payment_desk.VoidRefused as e:
        print(f"kiosk: void refused ({e.code}): {e}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    what = f"receipt {done.receipt_no}: {_yen(done.amount_yen)}"
    when = f"by staff {done.voided_by} at {_jst(done.voided_at)}"
    print(f"{what} was voided already, {when}" if done.again else f"voided {what}, {when}")
    return 0


# --- reconcile and list ------------------------------------------------------------------------


def _pos_notices(cfg: Config, db: Database) -> PaymentNotices | None:
    """With a POS callback configured, a request found paid is queued in the store's outbox,
    which the running kiosk's sender pushes to the POS; without one, the POS polls."""
    if not cfg.pos.callback_url:
        return None
    from kiosk.services.pos_notices import OutboxNotices
    from kiosk.store.outbox import Outbox

    return OutboxNotices(Outbox(db))


def reconcile_command(args: argparse.Namespace) -> int:
    """Resolve every pending or unknown row begun before the settle margin (10 minutes ago)
    with the card company; exit 1 if any stays open. A younger row may be a charge a running
    kiosk has in flight, which the card company has not seen *yet*: asked now, it would be
    declined as not sent; the kiosk resolves it itself."""
    from kiosk.clock import utc_now
    from kiosk.services.payment_desk import SETTLE_MARGIN, reconcile
    from kiosk.store.payment_requests import PaymentRequests

    cfg = _load(args.config)
    gateway = card_company(cfg)
    if gateway is None:
        raise PaymentCommandError(f"{_TEST_COMPANY}; the kiosk reconciles its rows at start")
    db = _database(cfg)
    try:
        with gateway:
            done = reconcile(
                _ledger(cfg, db),
                gateway,
                PaymentRequests(db),
                older_than=utc_now() - SETTLE_MARGIN,
                clock=utc_now,
                notices=_pos_notices(cfg, db),
            )
    finally:
        db.dispose()
    print(
        f"settled {done.settled}, declined {done.declined}, not sent {done.not_sent}, "
        f"voided {done.voided}, still unknown {done.still_unknown}"
    )
    return 1 if done.still_unknown else 0


def list_command(args: argparse.Namespace) -> int:
    """Print a day's ledger rows, oldest first, the account masked."""
    from kiosk.clock import japan_today
    from kiosk.services.receipt import mask_account

    day = parse_day(args.date) if args.date is not None else japan_today()
    cfg = _load(args.config)
    db = _database(cfg)
    try:
        entries = _ledger(cfg, db).entries_of_day(day, args.provider or cfg.provider_id)
    finally:
        db.dispose()
    print(
        f"{'ROW':>6}  {'JST':8}  {'TERMINAL':12}  {'CARD CO.':10}  {'AMOUNT':>9}  "
        f"{'STATE':8}  {'REASON':16}  {'RECEIPT':20}  ACCOUNT"
    )
    for e in entries:
        print(
            f"{e.entry_id:>6}  {_jst(e.created_at, '%H:%M:%S'):8}  {e.terminal_id:12}  "
            f"{e.gateway:10}  {_yen(e.amount_yen):>9}  {e.state.value:8}  "
            f"{e.reason or '-':16}  {e.receipt_no or '-':20}  {mask_account(e.account_ref)}"
        )
    return 0

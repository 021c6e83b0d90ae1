"""`kiosk payment settle|void|reconcile|list` in-process over a temporary configuration and
store (SQLite and PostgreSQL); where the card company is asked, over the TEST card company's
gateway on 127.0.0.1 (tests/gateway_support.py), configured as `[payment] gateway = "http"`."""

from __future__ import annotations

import csv
import getpass
import io
import logging
import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.commands.payment import recount, totals_mismatches
from kiosk.flow.staff import Credential
from kiosk.services.gateway_http import Approved, HttpCardGateway
from kiosk.store.audit import AuditLog
from kiosk.store.ledger import (
    Begun,
    ChargeAttempt,
    DayTotal,
    LedgerEntry,
    LedgerLimits,
    LedgerState,
    PaymentLedger,
)
from kiosk.store.outbox import Outbox
from kiosk.store.payment_requests import PaymentRequests
from tests.gateway_support import TOKEN

SHOP = "shop-1"
#: 10:30 in Japan on 3 December 2026 (the settlement's day), in the past when the tests run.
AT = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
DAY = "2026-12-03"
ACCOUNT = "ACC-0000-1234-5678"
STAFF_ID, STAFF_PIN = "1234", "86420975"
HEADER = [
    "date", "provider", "card_company", "terminal", "settled_count", "settled_yen",
    "voided_count", "voided_yen", "net_yen",
]  # fmt: skip


# --- the set-up ------------------------------------------------------------------------------


@pytest.fixture
def card_a(gateway_server, books):
    """The TEST card company, as the tests charge it (what a kiosk would have done)."""
    with HttpCardGateway(gateway_server.url, TOKEN, code="card-a") as gateway:
        yield gateway


@pytest.fixture
def ledger(db) -> PaymentLedger:
    return PaymentLedger(db, LedgerLimits(100_000, 1_000_000, 1_000_000))


def configuration(tmp_path: Path, store_url: str, payment: str, staff: str = "") -> str:
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "kiosk"}"\n'
        f'database_url = "{store_url}"\n'
        f'provider_id = "{SHOP}"\n'
        'terminal_id = "term-1"\n'
        f"{staff}\n"
        f"[payment]\n{payment}\n"
    )
    return str(path)


@pytest.fixture
def test_conf(tmp_path, store_url) -> str:
    """The TEST card company (no memory across processes: nothing to ask)."""
    return configuration(tmp_path, store_url, 'gateway = "test"\ncard_company = "card-a"')


def http_configuration(tmp_path: Path, store_url: str, url: str) -> str:
    """The card company's gateway at `url` over HTTP, and one member of staff (a quick
    scrypt)."""
    credential = Credential.make(STAFF_PIN, n=2**14, r=8, p=5).encode()
    staff = f'[[staff]]\nid = "{STAFF_ID}"\ncredential = "{credential}"\n'
    payment = (
        f'gateway = "http"\ncard_company = "card-a"\nurl = "{url}"\n'
        f'token = "{TOKEN}"\ntimeout_s = 5'
    )
    return configuration(tmp_path, store_url, payment, staff)


@pytest.fixture
def http_conf(tmp_path, store_url, gateway_server) -> str:
    """The TEST card company's gateway over HTTP."""
    return http_configuration(tmp_path, store_url, gateway_server.url)


@pytest.fixture
def unreachable_conf(tmp_path, store_url) -> str:
    """A card company's gateway that does not answer: nothing listens on its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return http_configuration(tmp_path, store_url, f"http://127.0.0.1:{port}")


def begin(
    ledger: PaymentLedger,
    n: int,
    amount: int = 1_000,
    *,
    terminal: str = "term-1",
    company: str = "card-a",
    at: datetime = AT,
    shop: str = SHOP,
    key: str | None = None,
) -> LedgerEntry:
    attempt = ChargeAttempt(
        shop, terminal, f"{ACCOUNT}-{n}", f"REQ-{n}", amount, key or f"key-{n}", company
    )
    begun = ledger.begin(attempt, at)
    assert isinstance(begun, Begun)
    return begun.entry


def row(ledger: PaymentLedger, n: int, state: LedgerState, amount: int = 1_000, **kw):
    """A ledger row of `amount` moved to `state` (as the payment service and staff would)."""
    entry = begin(ledger, n, amount, **kw)
    at = kw.get("at", AT)
    if state in (LedgerState.SETTLED, LedgerState.VOIDED):
        ledger.settle(entry.entry_id, f"TX-{n}", at)
    if state is LedgerState.VOIDED:
        ledger.void(entry.entry_id, STAFF_ID, at)
    if state is LedgerState.DECLINED:
        ledger.decline(entry.entry_id, "insufficient", at)
    if state is LedgerState.UNKNOWN:
        ledger.mark_unknown(entry.entry_id, at)
    return entry


def charged(gateway: HttpCardGateway, ledger: PaymentLedger, n: int, amount: int = 1_000):
    """A payment as the kiosk makes it: the ledger row, the card company's charge, settled."""
    entry = begin(ledger, n, amount)
    outcome = gateway.authorise_and_capture(
        entry.idempotency_key, SHOP, entry.terminal_id, entry.account_ref, amount, f"REQ-{n}"
    )
    assert isinstance(outcome, Approved)
    return ledger.settle(entry.entry_id, outcome.transaction_id, AT)


def settle_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- settle: the CSV -------------------------------------------------------------------------


def test_the_settlement_csv_totals_equal_the_ledger_per_card_company_and_terminal(
    ledger, test_conf, capsys
):
    settled, voided, declined = LedgerState.SETTLED, LedgerState.VOIDED, LedgerState.DECLINED
    row(ledger, 1, settled, 1_000)
    row(ledger, 2, settled, 2_500)
    row(ledger, 3, voided, 700)
    row(ledger, 4, declined, 9_000)
    pending = row(ledger, 5, LedgerState.PENDING, 300)
    row(ledger, 6, settled, 1_200, company="card-b")
    row(ledger, 7, voided, 4_000, terminal="term-2")
    row(ledger, 8, declined, 50, terminal="term-2")
    row(ledger, 9, settled, 800, terminal="term-2", company="card-b")
    row(ledger, 10, settled, 800, terminal="term-2", company="card-b")
    unknown = row(ledger, 11, LedgerState.UNKNOWN, 600, terminal="term-2", company="card-b")
    # 00:10 in Japan on the 3rd counts; 00:30 on the 4th and another shop's day do not
    row(ledger, 12, settled, 100, terminal="term-2", at=datetime(2026, 12, 2, 15, 10, tzinfo=UTC))
    row(ledger, 13, settled, 5_000, at=datetime(2026, 12, 3, 15, 30, tzinfo=UTC))
    row(ledger, 14, settled, 5_000, shop="shop-2")

    assert main(["payment", "settle", "--date", DAY, "--config", test_conf]) == 1
    out, err = capsys.readouterr()
    assert settle_csv(out) == [
        HEADER,
        [DAY, SHOP, "card-a", "term-1", "2", "3500", "1", "700", "3500"],
        [DAY, SHOP, "card-b", "term-1", "1", "1200", "0", "0", "1200"],
        [DAY, SHOP, "card-a", "term-2", "1", "100", "1", "4000", "100"],
        [DAY, SHOP, "card-b", "term-2", "2", "1600", "0", "0", "1600"],
    ]
    day = ledger.entries_of_day(date(2026, 12, 3), SHOP)
    assert sum(int(r[-1]) for r in settle_csv(out)[1:]) == sum(
        e.amount_yen for e in day if e.state is settled
    )
    # the still-open rows are the mismatch, one line each, naming the row
    problems = [line for line in err.splitlines() if line.startswith("row ")]
    assert len(problems) == 2
    assert f"row {pending.entry_id} " in problems[0] and "pending" in problems[0]
    assert f"row {unknown.entry_id} " in problems[1] and "unknown" in problems[1]
    assert "TEST" in err and "not asked" in err


def test_a_matching_day_exits_0_and_writes_the_csv_to_the_file(ledger, test_conf, tmp_path, capsys):
    row(ledger, 1, LedgerState.SETTLED, 1_280)
    row(ledger, 2, LedgerState.DECLINED, 500)
    out_file = tmp_path / "settle.csv"
    argv = ["payment", "settle", "--date", DAY, "--out", str(out_file), "--config", test_conf]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert settle_csv(out_file.read_text()) == [
        HEADER, [DAY, SHOP, "card-a", "term-1", "1", "1280", "0", "0", "1280"]
    ]  # fmt: skip
    assert "row " not in err


def test_an_empty_day_is_the_header_alone(test_conf, db, capsys):
    assert main(["payment", "settle", "--date", "2026-12-01", "--config", test_conf]) == 0
    assert settle_csv(capsys.readouterr().out) == [HEADER]


def test_another_shop_is_settled_with_provider(ledger, test_conf, capsys):
    row(ledger, 1, LedgerState.SETTLED, 700, shop="shop-2")
    argv = ["payment", "settle", "--date", DAY, "--provider", "shop-2", "--config", test_conf]
    assert main(argv) == 0
    assert settle_csv(capsys.readouterr().out)[1] == [
        DAY, "shop-2", "card-a", "term-1", "1", "700", "0", "0", "700"
    ]  # fmt: skip


@pytest.mark.parametrize("bad", ["2026-13-01", "20261203", "yesterday", "2026-2-3", ""])
def test_a_bad_date_exits_2_and_says_what_a_date_is(test_conf, db, capsys, bad):
    assert main(["payment", "settle", "--date", bad, "--config", test_conf]) == 2
    err = capsys.readouterr().err
    assert "YYYY-MM-DD" in err and err.startswith("kiosk: ")


def entry_of(ledger_row: LedgerEntry, **changes) -> LedgerEntry:
    from dataclasses import replace

    return replace(ledger_row, **changes)


def test_totals_that_differ_from_the_rows_are_each_named(ledger):
    row(ledger, 1, LedgerState.SETTLED, 1_000)
    row(ledger, 2, LedgerState.VOIDED, 700, terminal="term-2")
    entries = ledger.entries_of_day(date(2026, 12, 3), SHOP)
    totals = ledger.day_totals(date(2026, 12, 3), SHOP)
    assert recount(entries) == totals
    assert totals_mismatches(totals, entries) == []
    wrong = (
        DayTotal("term-1", "card-a", 1, 1_001, 0, 0),  # a yen too many
        # term-2 missing; a total with no rows behind it
        DayTotal("term-3", "card-a", 1, 500, 0, 0),
    )
    found = totals_mismatches(wrong, entries)
    assert len(found) == 3
    assert any("term-1" in f and "1001" in f.replace(",", "") for f in found)
    assert any("term-2" in f for f in found) and any("term-3" in f for f in found)


# --- settle: asking the card company ----------------------------------------------------------


def test_rows_the_card_company_confirms_exit_0(ledger, card_a, http_conf, books, capsys):
    charged(card_a, ledger, 1, 1_280)
    voided = charged(card_a, ledger, 2, 700)
    card_a.void(voided.receipt_no, "void-key-2")
    ledger.void(voided.entry_id, STAFF_ID, AT)
    books.balances[f"{ACCOUNT}-3"] = 10  # declined at the card company and in the ledger
    declined = begin(ledger, 3, 500)
    card_a.authorise_and_capture(declined.idempotency_key, SHOP, "term-1",
                                 declined.account_ref, 500, "REQ-3")  # fmt: skip
    ledger.decline(declined.entry_id, "insufficient", AT)

    assert main(["payment", "settle", "--date", DAY, "--config", http_conf]) == 0
    out, err = capsys.readouterr()
    assert settle_csv(out)[1] == [DAY, SHOP, "card-a", "term-1", "1", "1280", "1", "700", "1280"]
    assert "row " not in err and "3 rows confirmed" in err


def test_a_mismatch_with_the_card_company_exits_1_and_names_each_row(
    ledger, card_a, http_conf, books, capsys
):
    good = charged(card_a, ledger, 1, 1_280)
    # settled in the ledger; the card company never saw the key
    unseen = row(ledger, 2, LedgerState.SETTLED, 900)
    # the card company charged 1,000 under the key the ledger settled for 1,500
    card_a.authorise_and_capture("key-3", SHOP, "term-1", f"{ACCOUNT}-3", 1_000, "REQ-3")
    other_amount = begin(ledger, 3, 1_500)
    ledger.settle(other_amount.entry_id, books.charges[-1].transaction_id, AT)
    # voided in the ledger, still approved at the card company
    not_voided = charged(card_a, ledger, 4, 300)
    ledger.void(not_voided.entry_id, STAFF_ID, AT)
    # declined in the ledger, charged at the card company
    card_a.authorise_and_capture("key-5", SHOP, "term-1", f"{ACCOUNT}-5", 200, "REQ-5")
    lost = begin(ledger, 5, 200)
    ledger.decline(lost.entry_id, "not_sent", AT)

    assert main(["payment", "settle", "--date", DAY, "--config", http_conf]) == 1
    out, err = capsys.readouterr()
    problems = {int(line.split()[1]): line for line in err.splitlines() if line.startswith("row ")}
    assert set(problems) == {unseen.entry_id, other_amount.entry_id, not_voided.entry_id,
                             lost.entry_id}  # fmt: skip
    assert good.entry_id not in problems
    assert "not found" in problems[unseen.entry_id]
    assert "¥1,000" in problems[other_amount.entry_id]
    assert "¥1,500" in problems[other_amount.entry_id]
    assert "approved" in problems[not_voided.entry_id]
    assert "approved" in problems[lost.entry_id]
    # reported, never fixed: the ledger is as it was
    assert ledger.get(unseen.entry_id).state is LedgerState.SETTLED
    assert ledger.get(lost.entry_id).state is LedgerState.DECLINED
    assert not books.charges[-2].voided
    assert ACCOUNT not in err  # the account is never printed whole


def test_a_card_company_that_does_not_answer_is_not_a_match(
    ledger, card_a, unreachable_conf, capsys
):
    entry = charged(card_a, ledger, 1, 1_280)
    assert main(["payment", "settle", "--date", DAY, "--config", unreachable_conf]) == 1
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("row ")]
    assert line.startswith(f"row {entry.entry_id} ") and "did not answer" in line


# --- void -------------------------------------------------------------------------------------


@pytest.fixture
def typed_pin(monkeypatch):
    """What the operator types at the PIN prompt; the prompts are kept."""
    prompts: list[str] = []

    def answer(pin: str) -> None:
        def prompt(text: str = "") -> str:
            prompts.append(text)
            return pin

        monkeypatch.setattr(getpass, "getpass", prompt)

    answer.prompts = prompts  # type: ignore[attr-defined]
    return answer


def void_argv(conf: str, receipt: str) -> list[str]:
    return ["payment", "void", "--receipt", receipt, "--staff", STAFF_ID, "--config", conf]


def test_void_with_the_right_pin_voids_at_the_card_company_and_in_the_ledger(
    ledger, card_a, http_conf, books, db, typed_pin, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    entry = charged(card_a, ledger, 1, 1_280)
    typed_pin(STAFF_PIN)
    assert main(void_argv(http_conf, entry.receipt_no)) == 0
    out, err = capsys.readouterr()
    assert entry.receipt_no in out and "¥1,280" in out and STAFF_ID in out
    voided = ledger.get(entry.entry_id)
    assert (voided.state, voided.voided_by) == (LedgerState.VOIDED, STAFF_ID)
    assert books.charges[0].voided
    events = [(e.action, e.ok, e.actor) for e in AuditLog(db).recent()]
    assert events[:2] == [("payment.void", True, STAFF_ID), ("staff.login", True, STAFF_ID)]
    assert typed_pin.prompts and all(STAFF_PIN not in p for p in typed_pin.prompts)
    assert STAFF_PIN not in out + err + caplog.text


def test_void_with_a_wrong_pin_voids_nothing_and_is_audited(
    ledger, card_a, http_conf, books, db, typed_pin, capsys
):
    entry = charged(card_a, ledger, 1, 1_280)
    typed_pin("11112222")
    assert main(void_argv(http_conf, entry.receipt_no)) == 1
    assert "PIN" in capsys.readouterr().err
    assert ledger.get(entry.entry_id).state is LedgerState.SETTLED
    assert not books.charges[0].voided and books.void_keys == {}
    (login,) = AuditLog(db).recent()
    assert (login.action, login.ok, login.reason, login.actor) == (
        "staff.login", False, "wrong_pin", STAFF_ID
    )  # fmt: skip


def test_void_of_a_receipt_the_ledger_does_not_know_exits_1(http_conf, db, typed_pin, capsys):
    typed_pin(STAFF_PIN)
    assert main(void_argv(http_conf, "TX-NONE")) == 1
    assert "no payment with this receipt number" in capsys.readouterr().err


def test_void_of_a_voided_payment_says_so_and_changes_nothing(
    ledger, card_a, http_conf, books, typed_pin, capsys
):
    entry = charged(card_a, ledger, 1, 1_280)
    typed_pin(STAFF_PIN)
    assert main(void_argv(http_conf, entry.receipt_no)) == 0
    first = ledger.get(entry.entry_id)
    assert main(void_argv(http_conf, entry.receipt_no)) == 0
    assert "already" in capsys.readouterr().out
    assert ledger.get(entry.entry_id) == first


def test_void_over_the_test_card_company_is_refused_before_the_pin_is_asked(
    tmp_path, store_url, db, typed_pin, capsys
):
    credential = Credential.make(STAFF_PIN, n=2**14, r=8, p=5).encode()
    staff = f'[[staff]]\nid = "{STAFF_ID}"\ncredential = "{credential}"\n'
    conf = configuration(tmp_path, store_url, 'gateway = "test"', staff)
    typed_pin(STAFF_PIN)
    assert main(void_argv(conf, "TX-1")) == 2
    assert "TEST" in capsys.readouterr().err
    assert typed_pin.prompts == []


def test_void_without_staff_configured_is_refused_before_the_pin_is_asked(
    tmp_path, store_url, gateway_server, db, typed_pin, capsys
):
    payment = f'gateway = "http"\nurl = "{gateway_server.url}"\ntoken = "{TOKEN}"'
    conf = configuration(tmp_path, store_url, payment)
    typed_pin(STAFF_PIN)
    assert main(void_argv(conf, "TX-1")) == 2
    assert "[[staff]]" in capsys.readouterr().err
    assert typed_pin.prompts == []


# --- reconcile --------------------------------------------------------------------------------


def test_reconcile_settles_a_pending_row_the_card_company_approved(
    ledger, card_a, http_conf, books, capsys
):
    approved = begin(ledger, 1, 1_280)
    card_a.authorise_and_capture("key-1", SHOP, "term-1", f"{ACCOUNT}-1", 1_280, "REQ-1")
    never_sent = begin(ledger, 2, 500)
    # begun a moment ago: a running kiosk may have its charge in flight, so it is not asked
    in_flight = begin(ledger, 3, 700, at=datetime.now(UTC))
    assert main(["payment", "reconcile", "--config", http_conf]) == 0
    out = capsys.readouterr().out
    assert "settled 1" in out and "not sent 1" in out and "still unknown 0" in out
    settled = ledger.get(approved.entry_id)
    assert (settled.state, settled.receipt_no) == (LedgerState.SETTLED, "TX-TEST-000001")
    declined = ledger.get(never_sent.entry_id)
    assert (declined.state, declined.reason) == (LedgerState.DECLINED, "not_sent")
    assert ledger.get(in_flight.entry_id).state is LedgerState.PENDING
    assert len(books.charges) == 1  # asked, never charged again


def test_reconcile_queues_the_paid_request_for_the_pos_s_push(
    ledger, card_a, gateway_server, books, db, tmp_path, store_url, capsys
):
    conf = http_configuration(tmp_path, store_url, gateway_server.url)
    with open(conf, "a") as f:
        f.write('[pos]\ncallback_url = "https://pos.example/kiosk-results"\ncallback_token = "t"\n')
    request = PaymentRequests(db).create(SHOP, "term-1", 1_280, "ORDER-1", SHOP, 180, AT)
    attempt = ChargeAttempt(SHOP, "term-1", ACCOUNT, request.request_id, 1_280, "key-1", "card-a")
    assert isinstance(ledger.begin(attempt, AT), Begun)
    card_a.authorise_and_capture("key-1", SHOP, "term-1", ACCOUNT, 1_280, request.request_id)
    assert main(["payment", "reconcile", "--config", conf]) == 0
    paid = PaymentRequests(db).get(SHOP, request.request_id, AT)
    assert (paid.state, paid.receipt_no) == ("paid", "TX-TEST-000001")
    # queued in the store's outbox: the running kiosk's sender pushes it to the POS
    (notice,) = Outbox(db).list()
    assert (notice.destination, notice.delivered) == ("pos", False)


def test_reconcile_exits_1_while_the_card_company_cannot_answer(ledger, unreachable_conf, capsys):
    entry = begin(ledger, 1, 1_280)
    assert main(["payment", "reconcile", "--config", unreachable_conf]) == 1
    assert "still unknown 1" in capsys.readouterr().out
    assert ledger.get(entry.entry_id).state is LedgerState.UNKNOWN


def test_reconcile_over_the_test_card_company_is_refused(ledger, test_conf, capsys):
    entry = begin(ledger, 1, 1_280)
    assert main(["payment", "reconcile", "--config", test_conf]) == 2
    assert "TEST" in capsys.readouterr().err
    assert ledger.get(entry.entry_id).state is LedgerState.PENDING  # not declined as unseen


# --- list -------------------------------------------------------------------------------------


def test_list_shows_the_day_s_rows_in_japan_time_with_the_account_masked(ledger, test_conf, capsys):
    settled = row(ledger, 1, LedgerState.SETTLED, 1_280)
    declined = row(ledger, 2, LedgerState.DECLINED, 500, terminal="term-2")
    row(ledger, 3, LedgerState.SETTLED, 900, at=AT + timedelta(days=1))
    assert main(["payment", "list", "--date", DAY, "--config", test_conf]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(lines) == {str(settled.entry_id), str(declined.entry_id)}
    first = lines[str(settled.entry_id)]
    assert first[1:4] == ["10:30:00", "term-1", "card-a"]
    assert "¥1,280" in first and "settled" in first and "TX-1" in first
    assert "****78-1" in first
    assert "insufficient" in lines[str(declined.entry_id)]
    assert ACCOUNT not in out

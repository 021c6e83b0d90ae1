"""The staff desk: scrypt credentials, lockout with back-off, and the audit of every sign-in,
wrong PIN, lockout, assisted check and exit — with the staff number, never the PIN."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from kiosk import cli
from kiosk.app import DeferredAudit, staff_desk
from kiosk.commands.staff import read_pin
from kiosk.config import Config, ConfigError
from kiosk.demo.audit import MemoryAudit
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.ports import CallOutcome, FlowProblem
from kiosk.flow.staff import (
    Credential,
    CredentialError,
    LockoutPolicy,
    NoStaff,
    StaffDesk,
    StaffGate,
    StaffMember,
)
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from tests.counter_support import serve_counter

PIN, OTHER_PIN = "24681357", "13572468"
WRONG = "99999999"
CHEAP = {"n": 2**14, "r": 8, "p": 5}  # the cheapest accepted: fast tests, not refused
AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def staff() -> tuple[StaffMember, ...]:
    return (
        StaffMember("1021", Credential.make(PIN, **CHEAP)),
        StaffMember("7", Credential.make(OTHER_PIN, **CHEAP)),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class Channel:
    def __init__(self, outcome: CallOutcome) -> None:
        self.outcome = outcome
        self.reasons: list[str] = []

    def call(self, reason: str) -> CallOutcome:
        self.reasons.append(reason)
        return self.outcome


def desk(staff, audit=None, clock=None, channel=None, policy=None) -> StaffDesk:
    return StaffDesk(
        staff,
        audit if audit is not None else MemoryAudit(),
        "clinic",
        lambda: AT,
        channel,
        clock=clock or Clock(),
        policy=policy,
    )


def refused(d: StaffDesk, staff_id: str, pin: str) -> Problem:
    with pytest.raises(FlowProblem) as e:
        d.sign_in(staff_id, pin)
    return e.value.problem


# --- credentials ---------------------------------------------------------------------------


def test_a_credential_is_salted_scrypt_with_its_parameters_and_never_the_pin():
    first, second = Credential.make(PIN, **CHEAP), Credential.make(PIN, **CHEAP)
    text = first.encode()
    assert text.startswith("scrypt$n=16384,r=8,p=5$")
    assert first.salt != second.salt and first.key != second.key  # a random salt each time
    assert PIN not in text and PIN not in repr(first)
    again = Credential.parse(text)
    assert again == first and again.matches(PIN) and not again.matches(WRONG)


def test_new_credentials_use_the_strong_default_parameters():
    made = Credential.parse(Credential.make(PIN).encode())
    assert (made.n, made.r, made.p) == (2**17, 8, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "scrypt$n=16384,r=8,p=5$c2FsdA",
        "bcrypt$n=16384,r=8,p=5$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "scrypt$n=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # too weak
        "scrypt$n=16384;r=8;p=5$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,
        "scrypt$n=16384,r=8,p=5$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 20,  # key too short
    ],
)
def test_malformed_or_weak_credentials_are_refused(text):
    with pytest.raises(CredentialError):
        Credential.parse(text)


# --- signing in ----------------------------------------------------------------------------


def test_a_right_pin_signs_in_and_is_audited_with_the_staff_number(staff):
    audit = MemoryAudit()
    assert desk(staff, audit).sign_in("1021", PIN) == "1021"
    (record,) = audit.records
    assert (record.action, record.ok, record.actor, record.provider_id, record.at) == (
        "staff.login",
        True,
        "1021",
        "clinic",
        AT,
    )


def test_another_members_pin_does_not_sign_in(staff):
    audit = MemoryAudit()
    assert refused(desk(staff, audit), "1021", OTHER_PIN).code is ProblemCode.STAFF_PIN_WRONG
    assert [(r.action, r.ok, r.reason, r.actor) for r in audit.records] == [
        ("staff.login", False, "wrong_pin", "1021")
    ]


def test_an_unknown_staff_number_is_checked_as_slowly_and_never_recorded(staff):
    audit = MemoryAudit()
    assert refused(desk(staff, audit), PIN, PIN).code is ProblemCode.STAFF_PIN_WRONG
    assert [(r.action, r.ok, r.reason, r.actor) for r in audit.records] == [
        ("staff.login", False, "unknown_staff", None)  # it may be a PIN typed in the wrong field
    ]


def test_the_lockout_doubles_and_is_capped():
    clock = Clock()
    gate = StaffGate(LockoutPolicy(tries=3, first_s=30, cap_s=100), clock)
    waits = []
    for _ in range(4):
        assert (gate.wrong(), gate.wrong()) == (0, 0)
        waits.append(gate.wrong())
        assert gate.wait_s() == waits[-1]
        clock.now += waits[-1]
        assert gate.wait_s() == 0
    assert waits == [30, 60, 100, 100]
    assert LockoutPolicy().wait_s(0) == 30 and LockoutPolicy().wait_s(99) == 900


def test_the_third_wrong_pin_locks_whatever_numbers_were_tried(staff):
    audit = MemoryAudit()
    d = desk(staff, audit)
    assert refused(d, "1021", WRONG).code is ProblemCode.STAFF_PIN_WRONG
    assert refused(d, "9", WRONG).code is ProblemCode.STAFF_PIN_WRONG  # any number counts
    assert refused(d, "7", WRONG) == Problem(ProblemCode.STAFF_LOCKED, wait_s=30)
    assert [(r.action, r.reason, r.actor) for r in audit.records] == [
        ("staff.login", "wrong_pin", "1021"),
        ("staff.login", "unknown_staff", None),
        ("staff.login", "wrong_pin", "7"),
        ("staff.lockout", "locked_30s", None),
    ]


def test_while_locked_even_the_right_pin_is_not_checked(staff):
    clock, audit = Clock(), MemoryAudit()
    d = desk(staff, audit, clock)
    for _ in range(3):
        refused(d, "1021", WRONG)
    clock.now += 10
    problem = refused(d, "1021", PIN)
    assert problem == Problem(ProblemCode.STAFF_LOCKED, wait_s=20)
    assert (audit.records[-1].action, audit.records[-1].reason) == ("staff.login", "locked")
    clock.now += 20
    assert d.sign_in("1021", PIN) == "1021"


def test_a_right_pin_resets_the_count_and_the_back_off(staff):
    clock = Clock()
    d = desk(staff, clock=clock)
    for _ in range(3):
        refused(d, "1021", WRONG)
    clock.now += 30
    assert d.sign_in("1021", PIN) == "1021"
    refused(d, "1021", WRONG)
    refused(d, "1021", WRONG)
    assert refused(d, "1021", WRONG).wait_s == 30  # back to the first wait


def test_no_pin_reaches_the_audit(staff):
    audit = MemoryAudit()
    d = desk(staff, audit)
    for pin in (WRONG, PIN):
        try:
            d.sign_in("1021", pin)
        except FlowProblem:
            pass
    d.record_exit("1021")
    dumped = repr(audit.records)
    assert PIN not in dumped and WRONG not in dumped
    assert [(r.action, r.actor) for r in audit.records][-1] == ("staff.exit", "1021")


def test_a_sign_in_that_cannot_be_audited_fails(staff):
    class Broken:
        def record(self, *args, **kwargs) -> None:
            raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        desk(staff, Broken()).sign_in("1021", PIN)


def test_calls_go_to_the_channel_or_nowhere(staff):
    channel = Channel(CallOutcome.DELIVERED)
    assert desk(staff, channel=channel).call("pin_blocked") is CallOutcome.DELIVERED
    assert channel.reasons == ["pin_blocked"]
    assert desk(staff).call("pin") is CallOutcome.NO_CHANNEL


def test_without_staff_nobody_signs_in():
    assert refused(NoStaff(), "1", PIN).code is ProblemCode.STAFF_PIN_WRONG  # type: ignore[arg-type]
    assert NoStaff().call("pin") is CallOutcome.NO_CHANNEL
    assert refused(desk(()), "1", PIN).code is ProblemCode.STAFF_PIN_WRONG


# --- the store's audit ---------------------------------------------------------------------


def test_staff_events_reach_the_store_with_the_staff_number(tmp_path, staff):
    db = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    db.upgrade()
    try:
        log = AuditLog(db, terminal_id="kiosk-1")
        d = desk(staff, log)
        d.sign_in("1021", PIN)
        refused(d, "7", WRONG)
        d.record_exit("1021")
        rows = [(e.action, e.ok, e.reason, e.actor) for e in reversed(log.recent())]
    finally:
        db.dispose()
    assert rows == [
        ("staff.login", True, None, "1021"),
        ("staff.login", False, "wrong_pin", "7"),
        ("staff.exit", True, None, "1021"),
    ]


# --- the command ---------------------------------------------------------------------------


def test_the_command_prints_a_staff_table_that_loads(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("sys.stdin", io.StringIO(PIN + "\n"))
    assert cli.main(["staff", "credential", "1021"]) == 0
    printed = capsys.readouterr().out
    assert PIN not in printed
    path = tmp_path / "kiosk.toml"
    path.write_text(printed, encoding="utf-8")
    from kiosk import config

    (member,) = config.load(path, env={}).staff
    assert member.staff_id == "1021" and member.credential.matches(PIN)


@pytest.mark.parametrize(("staff_id", "pin"), [("10a", PIN), ("1021", "1234"), ("1021", "")])
def test_the_command_refuses_a_bad_number_or_a_short_pin(monkeypatch, capsys, staff_id, pin):
    monkeypatch.setattr("sys.stdin", io.StringIO(pin + "\n"))
    assert cli.main(["staff", "credential", staff_id]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "kiosk:" in captured.err


def test_at_a_terminal_the_pin_is_asked_twice():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PIN, PIN])
    assert read_pin(Tty(), lambda prompt: next(answers)) == PIN
    answers = iter([PIN, OTHER_PIN])
    with pytest.raises(ConfigError, match="differ"):
        read_pin(Tty(), lambda prompt: next(answers))


# --- wiring (kiosk.app) --------------------------------------------------------------------


def test_the_kiosk_calls_staff_at_the_configured_url(staff):
    with serve_counter() as counter:
        cfg = Config(staff=staff, staff_call_url=counter.url, terminal_id="kiosk-9")
        closers: list = []
        assert staff_desk(cfg, MemoryAudit(), closers).call("pin") is CallOutcome.DELIVERED
        for close in closers:
            close()
    assert counter.bodies[0]["kiosk"] == "kiosk-9" and counter.bodies[0]["reason"] == "pin"


def test_without_a_url_nobody_is_called(staff):
    assert staff_desk(Config(staff=staff), MemoryAudit(), []).call("pin") is (
        CallOutcome.NO_CHANNEL
    )


def test_the_staff_audit_opens_the_store_on_first_use_and_fails_without_it():
    audits: list = []
    opened: list[int] = []

    def prepare() -> None:
        if not audits:
            opened.append(1)
            audits.append(MemoryAudit())

    deferred = DeferredAudit(prepare, audits)
    deferred.record("staff.exit", True, None, "clinic", AT, actor="7")
    deferred.record("staff.exit", True, None, "clinic", AT, actor="8")
    assert opened == [1]
    assert [r.actor for r in audits[0].records] == ["7", "8"]

    def broken() -> None:
        raise RuntimeError("the store cannot be opened")

    with pytest.raises(RuntimeError):
        DeferredAudit(broken, []).record("staff.exit", True, None, "clinic", AT)

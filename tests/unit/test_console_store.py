"""The operator console's store (kiosk/store/operators.py, kiosk/store/reports.py) on SQLite
and PostgreSQL: operators and the wrong-password count, sessions with idle and absolute
expiry (only the id's SHA-256 kept), verdict counts by hour and reason, and the audit search's
filters, paging and bounds; migration 0012 down and up."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, text

from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database, alembic_config
from kiosk.store.errors import StoreError
from kiosk.store.operators import (
    BadOperatorName,
    OperatorExists,
    Operators,
    OperatorSessions,
)
from kiosk.store.reports import PAGE_SIZE, AuditQuery, BadQuery, HourlyCount, Reports
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.ports import ChallengeClaim, LedgerEntry

AT = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
KEY = "scrypt$n=16384,r=8,p=5$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"


def wait(lockouts: int) -> int:
    return 60 << lockouts


# --- operators --------------------------------------------------------------------------


def test_an_operator_is_added_listed_and_removed(db):
    operators = Operators(db)

    added = operators.add("ops.alice", KEY, AT)

    assert operators.get("ops.alice") == added
    assert [o.name for o in operators.all()] == ["ops.alice"]
    assert "scrypt" not in repr(added)
    assert operators.remove("ops.alice") is True
    assert operators.get("ops.alice") is None
    assert operators.remove("ops.alice") is False


def test_a_taken_or_malformed_name_is_refused(db):
    operators = Operators(db)
    operators.add("alice", KEY, AT)

    with pytest.raises(OperatorExists):
        operators.add("alice", KEY, AT)
    for bad in ("", "Alice Smith", "x" * 65, "-lead", "名前"):
        with pytest.raises(BadOperatorName):
            operators.add(bad, KEY, AT)
    assert operators.get("Alice Smith") is None


def test_wrong_passwords_lock_the_login_on_every_nth_try_longer_each_time(db):
    operators = Operators(db)
    operators.add("alice", KEY, AT)

    locks = [operators.failed("alice", AT, tries=3, wait_s=wait) for _ in range(6)]

    assert locks[:2] == [None, None] and locks[3:5] == [None, None]
    assert locks[2] == AT + timedelta(seconds=60)
    assert locks[5] == AT + timedelta(seconds=120)
    found = operators.get("alice")
    assert found is not None and found.failed_logins == 6
    assert found.locked_until == AT + timedelta(seconds=120)


def test_a_good_login_starts_the_count_over(db):
    operators = Operators(db)
    operators.add("alice", KEY, AT)
    for _ in range(3):
        operators.failed("alice", AT, tries=3, wait_s=wait)

    operators.succeeded("alice", AT + timedelta(minutes=5))

    found = operators.get("alice")
    assert found is not None
    assert (found.failed_logins, found.locked_until) == (0, None)
    assert found.last_login_at == AT + timedelta(minutes=5)
    assert operators.failed("nobody", AT, tries=3, wait_s=wait) is None


# --- sessions ---------------------------------------------------------------------------


@pytest.fixture
def sessions(db):
    Operators(db).add("alice", KEY, AT)
    return OperatorSessions(db, idle=timedelta(minutes=30), lifetime=timedelta(hours=8))


def test_a_session_is_found_by_its_id_and_only_its_digest_is_stored(db, sessions):
    session_id, opened = sessions.open("alice", AT)

    found = sessions.find(session_id, AT + timedelta(minutes=1))

    assert found is not None and found.operator == "alice"
    assert found.csrf_token == opened.csrf_token and len(opened.csrf_token) >= 43
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT session_digest FROM operator_sessions")).scalar_one()
    assert bytes(stored) == hashlib.sha256(session_id.encode()).digest()
    assert sessions.find(session_id[:-1] + ("A" if session_id[-1] != "A" else "B"), AT) is None
    assert sessions.find("not a session id", AT) is None


def test_a_session_used_within_its_idle_time_lives_on_until_its_lifetime(sessions):
    session_id, _ = sessions.open("alice", AT)

    for minutes in range(20, 8 * 60, 20):  # used every 20 minutes
        assert sessions.find(session_id, AT + timedelta(minutes=minutes)) is not None

    assert sessions.find(session_id, AT + timedelta(hours=8)) is None  # the absolute expiry
    assert sessions.find(session_id, AT + timedelta(hours=7)) is None  # and gone


def test_a_session_left_idle_expires(sessions):
    session_id, _ = sessions.open("alice", AT)

    assert sessions.find(session_id, AT + timedelta(minutes=30)) is None


def test_logout_closes_the_session_and_removing_the_operator_closes_all(db, sessions):
    first, _ = sessions.open("alice", AT)
    second, _ = sessions.open("alice", AT)

    assert sessions.close(first) is True
    assert sessions.find(first, AT) is None
    assert sessions.close(first) is False
    Operators(db).remove("alice")
    assert sessions.find(second, AT) is None


def test_opening_a_session_removes_the_expired_ones(db, sessions):
    sessions.open("alice", AT)
    sessions.open("alice", AT + timedelta(hours=1))

    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM operator_sessions")).scalar_one() == 1
    assert sessions.purge(AT + timedelta(hours=2)) == 1


# --- reports ----------------------------------------------------------------------------


def verdict(store, at, n, *, provider="clinic-a", terminal="kiosk-1", reason="ok"):
    """Record a verdict that used a challenge (the verifications table)."""
    claim = ChallengeClaim(
        bytes([n % 256, n // 256]) + bytes(30), int((at + timedelta(minutes=2)).timestamp() * 1e6)
    )
    entry = LedgerEntry(
        at=at,
        provider_id=provider,
        terminal_id=terminal,
        action="user_proof",
        ok=reason == "ok",
        reason=reason,
        issuer_key_id="ab" * 20,
        serial=1000 + n,
        challenge=claim,
    )
    assert store.record(entry)


def test_verdicts_are_counted_by_hour_and_reason_from_both_tables(db):
    store = SqlVerificationStore(db)
    verdict(store, AT, 1)
    verdict(store, AT + timedelta(minutes=10), 2)
    verdict(store, AT + timedelta(minutes=20), 3, reason="crl_stale")
    verdict(store, AT + timedelta(hours=1), 4)
    verdict(store, AT - timedelta(days=2), 5)  # before the range
    AuditLog(db).append(
        at=AT + timedelta(minutes=5),
        provider_id="clinic-a",
        terminal_id="kiosk-1",
        action="user_proof",
        ok=False,
        reason="challenge_unknown",
    )
    AuditLog(db).append(  # not a verdict
        at=AT, provider_id="clinic-a", terminal_id="kiosk-1", action="staff.login", ok=True
    )

    counts = Reports(db).verdicts_by_hour(AT - timedelta(hours=10), AT + timedelta(hours=2))

    ten, eleven = AT.replace(minute=0), AT.replace(hour=11, minute=0)
    assert counts == [
        HourlyCount(ten, "challenge_unknown", 1),
        HourlyCount(ten, "crl_stale", 1),
        HourlyCount(ten, "ok", 2),
        HourlyCount(eleven, "ok", 1),
    ]


def test_the_audit_search_filters_by_provider_terminal_and_time(db):
    store = SqlVerificationStore(db)
    verdict(store, AT, 1, provider="clinic-a", terminal="kiosk-1")
    verdict(store, AT + timedelta(minutes=1), 2, provider="clinic-a", terminal="kiosk-2")
    verdict(store, AT + timedelta(minutes=2), 3, provider="shop-b", terminal="kiosk-1")
    verdict(store, AT - timedelta(hours=3), 4, provider="clinic-a", terminal="kiosk-1")
    AuditLog(db).append(
        at=AT + timedelta(minutes=3),
        provider_id="clinic-a",
        terminal_id="kiosk-1",
        action="console.credential_issue",
        ok=True,
        actor="alice",
    )
    reports = Reports(db)
    since, until = AT - timedelta(hours=1), AT + timedelta(hours=1)

    everything = reports.search(AuditQuery(since, until))
    clinic = reports.search(AuditQuery(since, until, provider_id="clinic-a"))
    kiosk_1 = reports.search(AuditQuery(since, until, "clinic-a", "kiosk-1"))
    earlier = reports.search(AuditQuery(AT - timedelta(hours=4), AT - timedelta(hours=2)))

    assert [(e.provider_id, e.terminal_id) for e in everything.entries] == [
        ("clinic-a", "kiosk-1"),
        ("shop-b", "kiosk-1"),
        ("clinic-a", "kiosk-2"),
        ("clinic-a", "kiosk-1"),
    ]
    assert everything.entries[0].source == "audit" and everything.entries[0].actor == "alice"
    assert {e.provider_id for e in clinic.entries} == {"clinic-a"} and len(clinic.entries) == 3
    assert [(e.source, e.at) for e in kiosk_1.entries] == [
        ("audit", AT + timedelta(minutes=3)),
        ("verification", AT),
    ]
    assert [e.at for e in earlier.entries] == [AT - timedelta(hours=3)]
    assert not everything.has_more


def test_the_audit_search_is_paged(db):
    store = SqlVerificationStore(db)
    for n in range(PAGE_SIZE + 5):
        verdict(store, AT + timedelta(seconds=n), n)
    reports = Reports(db)

    first = reports.search(AuditQuery(AT, AT + timedelta(hours=1)))
    second = reports.search(AuditQuery(AT, AT + timedelta(hours=1), page=1))

    assert len(first.entries) == PAGE_SIZE and first.has_more
    assert len(second.entries) == 5 and not second.has_more
    assert first.entries[0].at == AT + timedelta(seconds=PAGE_SIZE + 4)
    assert second.entries[-1].at == AT


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(AT, AT),  # empty range
        AuditQuery(AT, AT - timedelta(hours=1)),  # backwards
        AuditQuery(AT, AT + timedelta(days=32)),  # too long
        AuditQuery(AT, AT + timedelta(hours=1), provider_id="clinic a"),
        AuditQuery(AT, AT + timedelta(hours=1), terminal_id="' OR 1=1 --"),
        AuditQuery(AT, AT + timedelta(hours=1), page=100),
        AuditQuery(AT, AT + timedelta(hours=1), page=-1),
    ],
)
def test_an_unbounded_or_malformed_search_is_refused(db, query):
    with pytest.raises(BadQuery):
        Reports(db).search(query)


# --- the migration ----------------------------------------------------------------------


def test_migration_0012_goes_down_and_up(db):
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0011")
    with db.engine.connect() as conn:
        assert "operators" not in inspect(conn).get_table_names()
    db.upgrade()
    with db.engine.connect() as conn:
        assert {"operators", "operator_sessions"} <= set(inspect(conn).get_table_names())


def test_a_store_that_is_down_is_a_store_error(tmp_path):
    missing = Database(f"sqlite:///{tmp_path / 'gone' / 'x.sqlite3'}")
    (tmp_path / "gone").rmdir()
    with pytest.raises(StoreError):
        Operators(missing).get("alice")

"""The verification ledger: a verdict and its challenge's use are one append-only row, written
once (a replay writes nothing, even between concurrent callers); the proof's context is one read.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kiosk.pki.authority import Revocation, make_crl
from kiosk.store.audit import AuditLog
from kiosk.store.engine import Database
from kiosk.store.errors import AuditFieldRefused, StoreError
from kiosk.store.links import LinkRepository
from kiosk.store.records import LinkStatus, serial_from_bytes
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.challenge import ChallengeService, expiry_of
from kiosk.verify.crl import check_crl
from kiosk.verify.ports import ChallengeClaim, CrlState, LedgerEntry, LinkState, ProofContext
from kiosk.verify.trust import TrustStore

AT = datetime(2026, 4, 1, 10, 0, 0, 123456, tzinfo=UTC)
EXPIRES_US = 1_775_037_720_000_000  # 2026-04-01 10:02 UTC
PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
AUTH_KID = "a1" * 20  # an issuer key id (hex), where no CRL is needed
BIG = (1 << 159) - 12345  # a 20-octet serial
KEY = bytes(range(32))


@pytest.fixture
def store(db):
    return SqlVerificationStore(db)


@pytest.fixture(scope="module")
def trust(test_pki):
    return TrustStore.from_dir(test_pki.trust_dir)


def claim(n: int) -> ChallengeClaim:
    """Distinct n (< 256): distinct challenges with distinct keys."""
    return ChallengeClaim(bytes([n]) * 32, EXPIRES_US)


def entry(c: ChallengeClaim | None, reason: str = "ok", **kw) -> LedgerEntry:
    fields = {
        "at": AT,
        "provider_id": PROVIDER,
        "terminal_id": TERMINAL,
        "action": "user_proof",
        "ok": reason == "ok",
        "reason": reason,
        "issuer_key_id": AUTH_KID,
        "serial": BIG,
        "challenge": c,
    }
    fields.update(kw)
    return LedgerEntry(**fields)


def verifications(db: Database) -> list[tuple]:
    """Every verifications row (challenge_id, at, provider, terminal, action, ok, reason,
    issuer key id, serial, link id), in key order."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT challenge_id, at, provider_id, terminal_id, action, ok, reason, "
                "issuer_key_id, serial, link_id FROM verifications ORDER BY verification_key"
            )
        ).all()
    return [
        (
            bytes(r[0]),
            r[1],
            r[2],
            r[3],
            r[4],
            bool(r[5]),
            r[6],
            r[7],
            None if r[8] is None else serial_from_bytes(bytes(r[8])),
            r[9],
        )
        for r in rows
    ]


def audit_entries(db: Database) -> list:
    """The audit log's own entries (not the verdicts kept in verifications)."""
    return [e for e in AuditLog(db).recent() if e.event_id is not None]


def micros(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# --- record: one row per challenge ------------------------------------------------------------


def test_a_challenge_is_recorded_once_and_a_replay_writes_nothing(db, store):
    first, other = claim(1), claim(2)
    assert store.record(entry(first)) is True
    later = AT + timedelta(seconds=3)
    assert store.record(entry(first, "bad_signature", at=later, serial=7)) is False
    assert verifications(db) == [
        (first.challenge_id, micros(AT), PROVIDER, TERMINAL, "user_proof", True, "ok",
         AUTH_KID, BIG, None),
    ]  # fmt: skip
    assert store.record(entry(other, at=later, serial=None, issuer_key_id=None)) is True
    assert store.record(entry(other)) is False
    assert [r[0] for r in verifications(db)] == [first.challenge_id, other.challenge_id]
    assert verifications(db)[1][1:] == (
        micros(later),
        PROVIDER,
        TERMINAL,
        "user_proof",
        True,
        "ok",
        None,
        None,
        None,
    )
    assert audit_entries(db) == []  # a replay is the caller's to record (without a claim)


def test_claims_from_the_challenge_service_are_single_use(db, store):
    service = ChallengeService(keys=[KEY])
    issued = [service.issue(PROVIDER, TERMINAL, AT + timedelta(microseconds=n)) for n in range(3)]
    claims = [service.check(c.nonce, PROVIDER, TERMINAL, AT) for c in issued]
    assert [store.record(entry(c)) for c in claims] == [True] * 3
    again = service.check(issued[1].nonce, PROVIDER, TERMINAL, AT + timedelta(seconds=1))
    assert again == claims[1] and expiry_of(again) == issued[1].expires_at
    assert store.record(entry(again)) is False
    assert sorted(r[0] for r in verifications(db)) == sorted(c.challenge_id for c in claims)


def test_a_refused_verdict_uses_its_challenge_up(db, store):
    c = claim(3)
    assert store.record(entry(c, "auth_cert_revoked")) is True
    assert store.record(entry(c)) is False  # the same challenge cannot now be accepted
    assert [(r[5], r[6]) for r in verifications(db)] == [(False, "auth_cert_revoked")]


def test_a_verdict_without_a_challenge_goes_to_the_audit_log(db, store):
    no_claim = entry(None, "challenge_unknown", serial=None, issuer_key_id=None)
    assert store.record(no_claim) is True
    assert store.record(no_claim) is True  # nothing to use up: each one is recorded
    replay = entry(None, "challenge_replayed", at=AT + timedelta(seconds=1), serial=5)
    assert store.record(replay) is True
    assert verifications(db) == []
    logged = audit_entries(db)
    assert [(e.at, e.provider_id, e.terminal_id, e.action, e.ok, e.reason) for e in logged] == [
        (AT + timedelta(seconds=1), PROVIDER, TERMINAL, "user_proof", False, "challenge_replayed"),
        (AT, PROVIDER, TERMINAL, "user_proof", False, "challenge_unknown"),
        (AT, PROVIDER, TERMINAL, "user_proof", False, "challenge_unknown"),
    ]
    assert (logged[0].issuer_key_id, logged[0].serial) == (AUTH_KID, 5)
    assert (logged[1].issuer_key_id, logged[1].serial) == (None, None)


def test_recent_shows_the_recorded_verdicts_with_the_audit_log(db, store):
    assert store.record(entry(claim(4), serial=BIG))
    assert store.record(entry(None, "challenge_replayed", at=AT + timedelta(seconds=1)))
    recent = AuditLog(db).recent()
    assert [(e.event_id is None, e.at, e.reason, e.serial) for e in recent] == [
        (False, AT + timedelta(seconds=1), "challenge_replayed", BIG),
        (True, AT, "ok", BIG),  # µs kept
    ]


def test_a_record_in_a_failed_unit_is_not_kept(db, store):
    c = claim(5)
    with pytest.raises(RuntimeError), db.unit():
        assert store.record(entry(c)) is True
        raise RuntimeError("verification crashed")
    assert verifications(db) == []
    assert store.record(entry(c)) is True


def test_records_after_reads_on_a_pooled_connection_are_committed(store_url):
    db = Database(store_url)
    store = SqlVerificationStore(db)
    for n in range(3):  # reads through Core, writes through the driver, same pool
        SqlRevocationIndex(db).crl_info("00")
        LinkRepository(db).provider("nobody")
        assert store.proof_context(PROVIDER, AUTH_KID, n) == ProofContext(None, None)
        assert store.record(entry(claim(n)))
    db.dispose()
    other = Database(store_url)
    try:
        assert [SqlVerificationStore(other).record(entry(claim(n))) for n in range(3)] == [
            False
        ] * 3
        assert len(verifications(other)) == 3
    finally:
        other.dispose()


# --- concurrency --------------------------------------------------------------------------------


def record_concurrently(store_url: str, db: Database, entries: list[LedgerEntry], shared: bool):
    """Each entry recorded by its own thread, all released at once; their results in order.

    shared: the threads share `db` (each gets its own connection); else each opens its own."""
    barrier = threading.Barrier(len(entries))
    results: list[bool | None] = [None] * len(entries)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        mine = db if shared else Database(store_url)
        try:
            store = SqlVerificationStore(mine)
            barrier.wait(30)
            results[i] = store.record(entries[i])
        except BaseException as e:  # reported below
            errors.append(e)
            barrier.abort()
        finally:
            if not shared:
                mine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(entries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return results


@pytest.mark.parametrize("shared", [True, False], ids=["one-database", "own-databases"])
def test_of_concurrent_records_of_one_challenge_exactly_one_wins(store_url, db, shared):
    service = ChallengeService(keys=[KEY])
    winners = []
    for n in range(5):
        issued = service.issue(PROVIDER, TERMINAL, AT + timedelta(microseconds=n))
        c = service.check(issued.nonce, PROVIDER, TERMINAL, AT)
        entries = [entry(c, "ok" if i == 0 else "bad_signature", serial=i) for i in range(6)]
        results = record_concurrently(store_url, db, entries, shared)
        assert results.count(True) == 1 and results.count(False) == 5
        winners.append((c.challenge_id, results.index(True)))
    rows = verifications(db)
    assert sorted((r[0], r[8]) for r in rows) == sorted(winners)  # the winner's verdict is kept


@pytest.mark.parametrize("shared", [True, False], ids=["one-database", "own-databases"])
def test_concurrent_challenges_that_share_a_key_are_each_recorded_once(store_url, db, shared):
    sharing = [ChallengeClaim(b"\x12\x34" + bytes([n]) * 30, EXPIRES_US) for n in range(4)]
    entries = [entry(c, serial=i) for i, c in enumerate(sharing * 2)]  # each by two threads
    results = record_concurrently(store_url, db, entries, shared)
    assert [results[i] != results[i + 4] for i in range(4)] == [True] * 4
    rows = verifications(db)
    assert sorted(r[0] for r in rows) == sorted(c.challenge_id for c in sharing)
    assert sorted(r[8] for r in rows) == sorted(i for i, ok in enumerate(results) if ok)


# --- append-only ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE verifications SET ok = NOT ok",
        "UPDATE verifications SET reason = 'ok'",
        "DELETE FROM verifications",
        "DELETE FROM verifications WHERE reason = 'bad_signature'",
    ],
)
def test_verifications_are_append_only(db, store, statement):
    assert store.record(entry(claim(1), "bad_signature"))
    assert store.record(entry(claim(2)))
    before = verifications(db)
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert verifications(db) == before


@pytest.mark.postgres
def test_postgres_refuses_truncating_the_verifications(postgres_db_url):
    db = Database(postgres_db_url)
    try:
        assert SqlVerificationStore(db).record(entry(claim(1)))
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE verifications")
        assert len(verifications(db)) == 1
    finally:
        db.dispose()


# --- proof_context ----------------------------------------------------------------------------


def key_id(pki, which: str) -> str:
    return x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()


CRL_AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)  # CRL times are whole seconds


def import_crl(store, trust, pki, which, serials, *, number, this_update=CRL_AT):
    der = make_crl(
        pki.ca_certificate(which),
        pki.ca_key(which),
        [Revocation(s, this_update - timedelta(days=1), None) for s in serials],
        this_update=this_update,
        next_update=this_update + timedelta(days=1),
        number=number,
    ).public_bytes(serialization.Encoding.DER)
    store.replace(check_crl(der, trust, this_update), this_update)


@pytest.fixture
def links(db):
    repo = LinkRepository(db)
    repo.add_provider(PROVIDER, "Demo Clinic", AT)
    repo.add_provider("other-clinic", "Other Clinic", AT)
    return repo


def link(links, pki, *, auth=5, sign=9, account="acct-1", provider=PROVIDER):
    return links.create(
        provider_id=provider,
        account_ref=account,
        auth_issuer_key_id=key_id(pki, "auth"),
        auth_serial=auth,
        sign_issuer_key_id=key_id(pki, "sign"),
        sign_serial=sign,
        at=AT,
    )


def test_context_without_crls_or_links_is_empty(store, test_pki):
    assert store.proof_context(PROVIDER, key_id(test_pki, "auth"), 5) == ProofContext(None, None)


def test_context_carries_the_auth_crl_state_of_the_serial(store, trust, test_pki):
    auth, sign = key_id(test_pki, "auth"), key_id(test_pki, "sign")
    import_crl(store, trust, test_pki, "auth", [5, BIG], number=1)
    next_update = CRL_AT + timedelta(days=1)
    assert store.proof_context(PROVIDER, auth, 5) == ProofContext(CrlState(next_update, True), None)
    assert store.proof_context(PROVIDER, auth, BIG).auth_crl == CrlState(next_update, True)
    assert store.proof_context(PROVIDER, auth, 6).auth_crl == CrlState(next_update, False)
    assert store.proof_context(PROVIDER, auth, BIG - 1).auth_crl == CrlState(next_update, False)
    assert store.proof_context(PROVIDER, sign, 5).auth_crl is None  # no CRL for that issuer
    # a newer CRL replaces the state: 5 is no longer listed, 6 is; nextUpdate moves on
    later = CRL_AT + timedelta(hours=6)
    import_crl(store, trust, test_pki, "auth", [6], number=2, this_update=later)
    assert store.proof_context(PROVIDER, auth, 5).auth_crl == CrlState(
        later + timedelta(days=1), False
    )
    assert store.proof_context(PROVIDER, auth, 6).auth_crl == CrlState(
        later + timedelta(days=1), True
    )


def test_context_carries_the_providers_link_of_the_auth_certificate(store, links, test_pki):
    auth, sign = key_id(test_pki, "auth"), key_id(test_pki, "sign")
    mine = link(links, test_pki, auth=BIG, sign=BIG - 1)
    theirs = link(links, test_pki, auth=6, sign=10, provider="other-clinic", account="x-9")
    assert store.proof_context(PROVIDER, auth, BIG) == ProofContext(
        None, LinkState(mine.link_id, "acct-1", "active", sign, BIG - 1, None, mine.created_at)
    )
    assert store.proof_context(PROVIDER, auth, 6).link is None  # the other provider's link
    assert store.proof_context("other-clinic", auth, 6).link.link_id == theirs.link_id
    assert store.proof_context("other-clinic", auth, BIG).link is None
    assert store.proof_context(PROVIDER, sign, BIG).link is None  # the serial, another issuer
    assert store.proof_context(PROVIDER, auth, BIG - 1).link is None


def test_context_shows_a_flagged_link_and_hides_a_revoked_one(store, links, test_pki):
    auth = key_id(test_pki, "auth")
    made = link(links, test_pki)
    links.set_status(made.link_id, LinkStatus.NEEDS_REENROLMENT, AT)
    found = store.proof_context(PROVIDER, auth, 5).link
    assert (found.link_id, found.status) == (made.link_id, "needs_reenrolment")
    links.set_status(made.link_id, LinkStatus.REVOKED, AT)
    assert store.proof_context(PROVIDER, auth, 5) == ProofContext(None, None)


def test_context_carries_the_sign_crl_state_of_the_links_sign_serial(store, links, trust, test_pki):
    auth = key_id(test_pki, "auth")
    link(links, test_pki, auth=5, sign=9)
    link(links, test_pki, auth=6, sign=BIG, account="acct-2")
    link(links, test_pki, auth=7, sign=11, account="acct-3")
    import_crl(store, trust, test_pki, "sign", [9, BIG, 5], number=1)
    sign_next = CRL_AT + timedelta(days=1)
    assert store.proof_context(PROVIDER, auth, 5).link.sign_crl == CrlState(sign_next, True)
    assert store.proof_context(PROVIDER, auth, 6).link.sign_crl == CrlState(sign_next, True)
    assert store.proof_context(PROVIDER, auth, 7).link.sign_crl == CrlState(sign_next, False)
    # the auth CRL is the auth CA's: serial 5 on the sign CRL does not revoke the auth cert
    assert store.proof_context(PROVIDER, auth, 5).auth_crl is None
    later = CRL_AT + timedelta(hours=1)
    import_crl(store, trust, test_pki, "auth", [7], number=1, this_update=later)
    context = store.proof_context(PROVIDER, auth, 7)
    assert context.auth_crl == CrlState(later + timedelta(days=1), True)
    assert context.link.sign_crl == CrlState(sign_next, False)
    assert store.proof_context(PROVIDER, auth, 5).auth_crl == CrlState(
        later + timedelta(days=1), False
    )


# --- flag_link --------------------------------------------------------------------------------


def test_flag_link_marks_the_link_with_the_verdict(db, store, links, test_pki):
    made, other = link(links, test_pki), link(links, test_pki, auth=6, sign=10, account="acct-2")
    flagged_at = AT + timedelta(seconds=2)
    c = claim(1)
    assert store.record(entry(c, at=flagged_at, link_id=made.link_id, flag_link=True)) is True
    after = links.get(made.link_id)
    assert (after.status, after.updated_at) == (LinkStatus.NEEDS_REENROLMENT, flagged_at)
    assert links.get(other.link_id) == other  # only that link
    assert [(r[0], r[9]) for r in verifications(db)] == [(c.challenge_id, made.link_id)]


def test_a_replay_with_flag_link_changes_nothing(db, store, links, test_pki):
    made = link(links, test_pki)
    c = claim(1)
    assert store.record(entry(c, link_id=made.link_id)) is True  # not flagged
    replay = entry(c, at=AT + timedelta(seconds=1), link_id=made.link_id, flag_link=True)
    assert store.record(replay) is False
    assert links.get(made.link_id) == made
    assert len(verifications(db)) == 1


def test_flag_link_leaves_a_link_that_is_not_active(store, links, test_pki):
    flagged = link(links, test_pki)
    flagged = links.set_status(flagged.link_id, LinkStatus.NEEDS_REENROLMENT, AT)
    revoked = link(links, test_pki, auth=6, sign=10, account="acct-2")
    revoked = links.set_status(revoked.link_id, LinkStatus.REVOKED, AT)
    later = AT + timedelta(seconds=5)
    for n, made in enumerate((flagged, revoked)):
        assert store.record(entry(claim(n), at=later, link_id=made.link_id, flag_link=True))
        assert links.get(made.link_id) == made  # status and updated_at unchanged


def test_the_row_and_the_flag_are_written_together(db, store, links, test_pki):
    made = link(links, test_pki)
    c = claim(1)
    working = store._flag
    # a flag the database refuses (CHECK constraint), after the row was inserted
    store._flag = db.sql("UPDATE links SET status = 'unknown', updated_at = ? WHERE link_id = ?")
    with pytest.raises(StoreError):
        store.record(entry(c, link_id=made.link_id, flag_link=True))
    assert verifications(db) == []  # so the row is gone with it
    assert links.get(made.link_id) == made
    store._flag = working
    assert store.record(entry(c, link_id=made.link_id, flag_link=True)) is True
    assert links.get(made.link_id).status is LinkStatus.NEEDS_REENROLMENT


@pytest.mark.parametrize("shared", [True, False], ids=["one-database", "own-databases"])
def test_concurrent_flagging_records_of_one_challenge(store_url, db, links, test_pki, shared):
    made = link(links, test_pki)
    entries = [
        entry(claim(1), at=AT + timedelta(seconds=i), link_id=made.link_id, flag_link=i % 2 == 0)
        for i in range(6)
    ]
    results = record_concurrently(store_url, db, entries, shared)
    assert results.count(True) == 1
    winner = results.index(True)
    after = links.get(made.link_id)
    if winner % 2 == 0:  # a flagging entry won: the link is flagged at its time
        assert (after.status, after.updated_at) == (
            LinkStatus.NEEDS_REENROLMENT,
            AT + timedelta(seconds=winner),
        )
    else:  # a plain one won: no loser's flag got through
        assert after == made
    assert [r[1] for r in verifications(db)] == [micros(AT + timedelta(seconds=winner))]


# --- field checks -------------------------------------------------------------------------------

BAD_FIELDS = [
    {"provider_id": "demo clinic"},
    {"provider_id": ""},
    {"terminal_id": "kiosk 1"},
    {"terminal_id": "k" * 65},
    {"terminal_id": "-kiosk"},
    {"action": "User_Proof"},
    {"action": "user proof"},
    {"reason": "PIN 1234 was wrong"},
    {"reason": "ok\n"},
    {"reason": ""},
]


@pytest.mark.parametrize("with_claim", [True, False], ids=["claim", "no-claim"])
@pytest.mark.parametrize("bad", BAD_FIELDS, ids=lambda bad: next(iter(bad)))
def test_ids_and_codes_that_are_not_short_codes_are_refused(db, store, bad, with_claim):
    c = claim(1) if with_claim else None
    assert store.record(entry(claim(2)))  # a well-formed entry first (the checks are cached)
    with pytest.raises(AuditFieldRefused):
        store.record(entry(c, **bad))
    assert [r[0] for r in verifications(db)] == [claim(2).challenge_id]
    assert audit_entries(db) == []
    if with_claim:  # the refused entry did not use its challenge
        assert store.record(entry(c)) is True


@pytest.mark.parametrize("with_claim", [True, False], ids=["claim", "no-claim"])
def test_an_issuer_key_id_that_is_not_hex_is_refused(db, store, with_claim):
    c = claim(1) if with_claim else None
    with pytest.raises(AuditFieldRefused):
        store.record(entry(c, issuer_key_id="Yamada Taro, 1-2-3 Chiyoda"))
    assert verifications(db) == [] and audit_entries(db) == []

"""Links that survive a card's renewal (issue 16, part 2), on SQLite and PostgreSQL.

A link whose authentication certificate the CRL in force lists as `superseded`, and whose
successor the authority's link data names, moves to the new certificates in one transaction,
with its history row and its audit row; anything else leaves it where it was and says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from kiosk.demo.renewal import MemorySuccessions
from kiosk.pki.authority import Revocation, make_crl
from kiosk.store.audit import AuditLog
from kiosk.store.links import LinkRepository
from kiosk.store.records import LinkStatus
from kiosk.store.renewal import (
    RENEWED_ACTION,
    LinkRenewals,
    Outcome,
    SqlSuccessionSource,
    Succession,
    SuccessionConflict,
)
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.crl import check_crl
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
CRL_AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
PROVIDER = "demo-clinic"
S = x509.ReasonFlags.superseded
AFFILIATION = x509.ReasonFlags.affiliation_changed


def key_id(pki, which: str) -> str:
    return x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()


@pytest.fixture
def ca(test_pki):
    """The auth and sign CAs' key ids, and a function putting a CRL in force for one."""
    trust = TrustStore.from_dir(test_pki.trust_dir)

    def publish(db, which: str, revoked: dict[int, x509.ReasonFlags | None], number: int = 1):
        der = make_crl(
            test_pki.ca_certificate(which),
            test_pki.ca_key(which),
            [Revocation(s, CRL_AT - timedelta(days=1), r) for s, r in revoked.items()],
            this_update=CRL_AT,
            next_update=CRL_AT + timedelta(days=1),
            number=number,
        ).public_bytes(serialization.Encoding.DER)
        SqlRevocationIndex(db).replace(check_crl(der, trust, CRL_AT), CRL_AT)

    publish.auth, publish.sign = key_id(test_pki, "auth"), key_id(test_pki, "sign")
    return publish


@pytest.fixture
def links(db):
    repo = LinkRepository(db)
    repo.add_provider(PROVIDER, "Demo Clinic", AT)
    repo.add_provider("other-clinic", "Other Clinic", AT)
    return repo


def linked(links, ca, *, auth=100, sign=200, account="acct-1", provider=PROVIDER):
    return links.create(
        provider_id=provider,
        account_ref=account,
        auth_issuer_key_id=ca.auth,
        auth_serial=auth,
        sign_issuer_key_id=ca.sign,
        sign_serial=sign,
        at=AT,
    )


def renewal_rows(db) -> list[tuple]:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT link_id, reason FROM link_renewals")).all()


def renewal_audit(db) -> list[tuple]:
    return [
        (e.provider_id, e.ok, e.reason, e.serial)
        for e in AuditLog(db).recent()
        if e.action == RENEWED_ACTION
    ]


def test_superseded_with_both_successors_known_moves_the_link_and_audits_it(db, links, ca):
    link = linked(links, ca)
    ca(db, "auth", {100: S})
    ca(db, "sign", {200: S})
    source = MemorySuccessions()
    source.add(CertRef(100, ca.auth), CertRef(101, ca.auth))
    source.add(CertRef(200, ca.sign), CertRef(201, ca.sign))
    later = AT + timedelta(days=3)

    [renewal] = LinkRenewals(db, source).renew(CertRef(100, ca.auth), later)

    assert renewal.outcome is Outcome.MOVED
    moved = links.get(link.link_id)
    assert (moved.auth_serial, moved.sign_serial, moved.status) == (101, 201, LinkStatus.ACTIVE)
    assert (moved.account_ref, moved.created_at, moved.updated_at) == ("acct-1", AT, later)
    assert renewal_rows(db) == [(link.link_id, "superseded")]
    assert renewal_audit(db) == [(PROVIDER, True, "superseded", 101)]
    history = LinkRenewals(db, source).history(link.link_id)
    assert history == [Succession(CertRef(100, ca.auth), CertRef(101, ca.auth))]


def test_every_providers_link_of_the_certificate_moves_in_the_one_transaction(db, links, ca):
    first = linked(links, ca)
    second = linked(links, ca, provider="other-clinic", account="patient-7")
    ca(db, "auth", {100: S})
    source = MemorySuccessions([Succession(CertRef(100, ca.auth), CertRef(101, ca.auth))])

    renewals = LinkRenewals(db, source).renew(CertRef(100, ca.auth), AT)

    assert [r.outcome for r in renewals] == [Outcome.MOVED, Outcome.MOVED]
    for link in (first, second):  # the sign certificate was not revoked: it stays
        moved = links.get(link.link_id)
        assert (moved.auth_serial, moved.sign_serial, moved.status.value) == (101, 200, "active")
    assert len(renewal_audit(db)) == 2


def test_an_affiliation_changed_sign_certificate_still_asks_for_re_enrolment(db, links, ca):
    link = linked(links, ca)
    ca(db, "auth", {100: S})
    ca(db, "sign", {200: AFFILIATION})  # a move or a new name: the 4 info changed
    source = MemorySuccessions()
    source.add(CertRef(100, ca.auth), CertRef(101, ca.auth))
    source.add(CertRef(200, ca.sign), CertRef(201, ca.sign))  # not used: the 4 info changed

    [renewal] = LinkRenewals(db, source).renew(CertRef(100, ca.auth), AT)

    assert renewal.outcome is Outcome.MOVED_REENROL
    moved = links.get(link.link_id)
    assert (moved.auth_serial, moved.sign_serial) == (101, 200)
    assert moved.status is LinkStatus.NEEDS_REENROLMENT
    assert renewal_audit(db) == [(PROVIDER, True, "superseded.sign_affiliation_changed", 101)]


def test_a_superseded_sign_certificate_without_a_known_successor_asks_for_re_enrolment(
    db, links, ca
):
    link = linked(links, ca)
    ca(db, "auth", {100: S})
    ca(db, "sign", {200: S})
    source = MemorySuccessions([Succession(CertRef(100, ca.auth), CertRef(101, ca.auth))])

    [renewal] = LinkRenewals(db, source).renew(CertRef(100, ca.auth), AT)

    assert renewal.outcome is Outcome.MOVED_REENROL
    assert links.get(link.link_id).status is LinkStatus.NEEDS_REENROLMENT


@pytest.mark.parametrize(
    ("revoked", "successor", "outcome"),
    [
        ({}, True, Outcome.NOT_REVOKED),
        ({100: x509.ReasonFlags.key_compromise}, True, Outcome.NOT_SUPERSEDED),
        ({100: None}, True, Outcome.NOT_SUPERSEDED),  # no reason: unspecified
        ({100: S}, False, Outcome.AWAITING_SUCCESSOR),
    ],
)
def test_otherwise_the_link_stays_and_the_outcome_says_why(
    db, links, ca, revoked, successor, outcome
):
    link = linked(links, ca)
    ca(db, "auth", revoked)
    source = MemorySuccessions()
    if successor:
        source.add(CertRef(100, ca.auth), CertRef(101, ca.auth))

    [renewal] = LinkRenewals(db, source).renew(CertRef(100, ca.auth), AT)

    assert (renewal.outcome, renewal.link_id) == (outcome, link.link_id)
    assert links.get(link.link_id) == link
    assert renewal_rows(db) == [] and renewal_audit(db) == []


def test_unavailable_link_data_moves_nothing(db, links, ca):
    link = linked(links, ca)
    ca(db, "auth", {100: S})
    source = MemorySuccessions([Succession(CertRef(100, ca.auth), CertRef(101, ca.auth))])
    source.unavailable = True

    [renewal] = LinkRenewals(db, source).renew(CertRef(100, ca.auth), AT)

    assert renewal.outcome is Outcome.SOURCE_UNAVAILABLE
    assert links.get(link.link_id) == link


def test_a_successor_linked_to_another_account_is_refused_and_audited(db, links, ca):
    link = linked(links, ca)
    linked(links, ca, auth=101, sign=201, account="acct-2")  # enrolled the new card elsewhere
    ca(db, "auth", {100: S})
    source = MemorySuccessions([Succession(CertRef(100, ca.auth), CertRef(101, ca.auth))])

    [renewal] = LinkRenewals(db, source).renew(CertRef(100, ca.auth), AT)

    assert renewal.outcome is Outcome.TAKEN
    assert links.get(link.link_id) == link
    assert renewal_audit(db) == [(PROVIDER, False, "taken", 101)]


def test_a_second_renewal_of_a_moved_certificate_finds_no_link(db, links, ca):
    linked(links, ca)
    ca(db, "auth", {100: S})
    source = MemorySuccessions([Succession(CertRef(100, ca.auth), CertRef(101, ca.auth))])
    renewals = LinkRenewals(db, source)
    assert renewals.renew(CertRef(100, ca.auth), AT)[0].outcome is Outcome.MOVED

    assert renewals.renew(CertRef(100, ca.auth), AT)[0].outcome is Outcome.NOT_LINKED
    assert len(renewal_rows(db)) == 1


def test_revoked_links_lists_each_linked_certificate_the_crls_list_once(db, links, ca):
    linked(links, ca, auth=100, account="a")
    linked(links, ca, auth=100, account="b", provider="other-clinic")
    linked(links, ca, auth=102, account="c", sign=202)
    linked(links, ca, auth=103, account="d", sign=203)
    ca(db, "auth", {100: S, 103: x509.ReasonFlags.key_compromise, 999: S})

    renewals = LinkRenewals(db, MemorySuccessions())

    assert renewals.revoked_links() == [CertRef(100, ca.auth), CertRef(103, ca.auth)]


def test_imported_link_data_answers_both_ways_and_refuses_a_second_successor(db, ca):
    source = SqlSuccessionSource(db)
    old, new = CertRef(100, ca.auth), CertRef((1 << 159) - 7, ca.auth)  # a 20-octet serial
    assert source.put([Succession(old, new)], AT) == 1
    assert source.put([Succession(old, new)], AT) == 0  # imported again: nothing new

    assert (source.successor(old), source.predecessor(new)) == (new, old)
    assert source.successor(new) is None and source.predecessor(old) is None
    with pytest.raises(SuccessionConflict):
        source.put([Succession(CertRef(5, ca.auth), new), Succession(old, CertRef(7, ca.auth))], AT)
    assert source.successor(CertRef(5, ca.auth)) is None  # the whole import was refused


def test_migration_0013_goes_down_to_0012_and_up_again(db, ca):
    from alembic import command
    from sqlalchemy import inspect

    from kiosk.store.engine import alembic_config

    SqlSuccessionSource(db).put([Succession(CertRef(1, ca.auth), CertRef(2, ca.auth))], AT)
    db.dispose()
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0012")
    with db.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    assert not names & {"certificate_successions", "link_renewals"} and "links" in names
    db.upgrade()
    assert SqlSuccessionSource(db).successor(CertRef(1, ca.auth)) is None  # gone with the table

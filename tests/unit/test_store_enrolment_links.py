"""An accepted enrolment's link is written in the transaction that records its verdict: both,
or neither (a card linked to another account at the provider writes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from kiosk.store.engine import Database
from kiosk.store.links import LinkRepository
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.ports import ChallengeClaim, LedgerEntry, LinkTaken, NewLink
from kiosk.verify.verdict import CertRef

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
EXPIRES_US = 1_775_037_720_000_000
AUTH, SIGN = CertRef(1001, "a1" * 20), CertRef(2001, "b2" * 20)


def enrolment(n: int, account: str, auth: CertRef = AUTH, at: datetime = AT) -> LedgerEntry:
    claim = ChallengeClaim(bytes([n]) * 32, EXPIRES_US + n)
    return LedgerEntry(at, "demo-clinic", "kiosk-1", "enrol", True, "ok", auth.issuer_key_id,
                       auth.serial, claim, link_to=NewLink(account, auth, SIGN))  # fmt: skip


def verifications(db: Database) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM verifications")).scalar_one()


def test_the_link_is_made_with_the_verdict_and_the_provider_too(db):
    assert SqlVerificationStore(db).record(enrolment(1, "patient-42"))
    link = LinkRepository(db).find_by_account("demo-clinic", "patient-42")
    assert (link.auth_serial, link.sign_serial, link.status.value) == (1001, 2001, "active")
    assert link.created_at == AT
    assert LinkRepository(db).provider("demo-clinic") is not None
    assert verifications(db) == 1


def test_a_card_linked_to_another_account_writes_nothing(db):
    store = SqlVerificationStore(db)
    assert store.record(enrolment(1, "patient-42"))
    with pytest.raises(LinkTaken):
        store.record(enrolment(2, "patient-43"))
    assert verifications(db) == 1  # the verdict was rolled back with the link
    assert LinkRepository(db).find_by_account("demo-clinic", "patient-43") is None
    # its challenge is still unused: a refusal can be recorded with it
    refused = enrolment(2, "patient-43")._replace(ok=False, reason="link_exists", link_to=None)
    assert store.record(refused)


def test_re_enrolment_moves_the_accounts_link_to_the_new_card(db):
    store = SqlVerificationStore(db)
    assert store.record(enrolment(1, "patient-42"))
    new_card = CertRef(1002, AUTH.issuer_key_id)
    later = AT + timedelta(days=30)
    assert store.record(enrolment(2, "patient-42", auth=new_card, at=later))
    link = LinkRepository(db).find_by_account("demo-clinic", "patient-42")
    assert (link.auth_serial, link.created_at, link.updated_at) == (1002, AT, later)


def test_a_replayed_enrolment_links_nothing_more(db):
    store = SqlVerificationStore(db)
    assert store.record(enrolment(1, "patient-42"))
    assert not store.record(enrolment(1, "patient-99"))
    assert LinkRepository(db).find_by_account("demo-clinic", "patient-99") is None

"""Providers and links: create, find, status changes, re-enrolment, uniqueness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store.engine import Database
from kiosk.store.errors import LinkExists, StoreError, UnknownLink
from kiosk.store.links import LinkRepository
from kiosk.store.records import LinkStatus

AT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
AUTH, SIGN = "a1" * 20, "b2" * 20


@pytest.fixture
def links(store_url):
    db = Database(store_url)
    repo = LinkRepository(db)
    repo.add_provider("demo-clinic", "Demo Clinic", AT)
    yield repo
    db.dispose()


def make(links, account="acct-1", auth=0x1001, sign=0x2001, provider="demo-clinic"):
    return links.create(
        provider_id=provider,
        account_ref=account,
        auth_issuer_key_id=AUTH,
        auth_serial=auth,
        sign_issuer_key_id=SIGN,
        sign_serial=sign,
        at=AT,
    )


def test_providers_are_registered_once(links):
    again = links.add_provider("demo-clinic", "Another Name", AT + timedelta(days=1))
    assert (again.name, again.created_at) == ("Demo Clinic", AT)
    assert links.provider("demo-clinic") == again
    assert links.provider("nobody") is None


def test_create_and_find_a_link(links):
    big = (1 << 159) - 1
    link = make(links, auth=big)
    assert link.status is LinkStatus.ACTIVE and link.auth_serial == big
    assert links.get(link.link_id) == link
    assert links.find_by_account("demo-clinic", "acct-1") == link
    assert links.find_by_auth("demo-clinic", AUTH, big) == link
    assert links.find_by_auth("demo-clinic", AUTH, big - 1) is None
    assert links.find_by_auth("demo-clinic", SIGN, big) is None
    assert links.find_by_sign(SIGN, 0x2001) == [link]
    with pytest.raises(UnknownLink):
        links.get(link.link_id + 100)


def test_an_account_or_a_card_links_once_per_provider(links):
    make(links)
    with pytest.raises(LinkExists):
        make(links, auth=0x1002)  # same account
    with pytest.raises(LinkExists):
        make(links, account="acct-2")  # same auth certificate
    links.add_provider("shop", "Shop", AT)
    assert make(links, provider="shop").provider_id == "shop"  # another provider may
    with pytest.raises(StoreError, match="unknown provider"):
        make(links, provider="nobody", account="x")


def test_status_changes(links):
    link = make(links)
    later = AT + timedelta(hours=1)
    revoked = links.set_status(link.link_id, LinkStatus.REVOKED, later)
    assert (revoked.status, revoked.updated_at, revoked.created_at) == (
        LinkStatus.REVOKED,
        later,
        AT,
    )
    with pytest.raises(UnknownLink):
        links.set_status(9999, LinkStatus.ACTIVE, later)


def test_a_revoked_signature_certificate_flags_its_active_links(links):
    links.add_provider("shop", "Shop", AT)
    first = make(links)
    second = make(links, provider="shop")
    links.set_status(second.link_id, LinkStatus.REVOKED, AT)
    other = make(links, account="acct-9", auth=0x1009, sign=0x2009)
    flagged = links.flag_sign_revoked(SIGN, 0x2001, AT + timedelta(days=2))
    assert [link.link_id for link in flagged] == [first.link_id]
    assert links.get(first.link_id).status is LinkStatus.NEEDS_REENROLMENT
    assert links.get(second.link_id).status is LinkStatus.REVOKED  # not revived
    assert links.get(other.link_id).status is LinkStatus.ACTIVE


def test_reenrolment_binds_the_new_card(links):
    link = make(links)
    links.flag_sign_revoked(SIGN, 0x2001, AT)
    renewed = links.reenrol(
        link.link_id,
        auth_issuer_key_id=AUTH,
        auth_serial=0x1005,
        sign_issuer_key_id=SIGN,
        sign_serial=0x2005,
        at=AT + timedelta(1),
    )
    assert (renewed.status, renewed.auth_serial, renewed.sign_serial) == (
        LinkStatus.ACTIVE,
        0x1005,
        0x2005,
    )
    assert links.find_by_auth("demo-clinic", AUTH, 0x1001) is None
    taken = make(links, account="acct-2", auth=0x1006, sign=0x2006)
    with pytest.raises(LinkExists):
        links.reenrol(
            taken.link_id,
            auth_issuer_key_id=AUTH,
            auth_serial=0x1005,
            sign_issuer_key_id=SIGN,
            sign_serial=0x2007,
            at=AT,
        )

"""The kiosk's visit after a renewal (issue 16, parts 2 and 4), over the in-process virtual
card, the local verifier and the store (SQLite and PostgreSQL): the renewed card's first visit
finds the account without asking the signature password, and an expired card is refused with
the renewal guidance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk.card.reader import InProcessReader
from kiosk.demo.audit import MemoryAudit
from kiosk.demo.renewal import MemorySuccessions
from kiosk.flow.errors_catalogue import ProblemCode, entry
from kiosk.pki.authority import Revocation, make_crl
from kiosk.services.identity import IdentityService
from kiosk.services.visit import Visit
from kiosk.simcard.applet import VirtualCard
from kiosk.store.links import LinkRepository
from kiosk.store.renewal import LinkRenewals, RenewingVerificationStore
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.ui.problems import problem_for
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import check_crl
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef, Refused
from kiosk.verify.verifier import Verifier

ISSUED = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)


class FixedAccount:
    """The provider's records: every enrolment links this account."""

    def account_for(self, provider_id, person) -> str:
        return "K-TEST"


def ref(der: bytes, pki, which: str) -> CertRef:
    key = x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()
    return CertRef(x509.load_der_x509_certificate(der).serial_number, key)


@pytest.fixture
def kiosk(db, test_pki):
    """A kiosk over the store; `publish(which, {serial: reason})` puts a CRL in force."""
    trust = TrustStore.from_dir(test_pki.trust_dir)
    numbers = {"auth": 0, "sign": 0}

    def publish(which: str, revoked: dict[int, x509.ReasonFlags]) -> None:
        numbers[which] += 1
        at = NOW - timedelta(hours=numbers[which])
        der = make_crl(
            test_pki.ca_certificate(which),
            test_pki.ca_key(which),
            [Revocation(s, ISSUED, r) for s, r in revoked.items()],
            this_update=NOW - timedelta(minutes=10 - numbers[which]),
            next_update=NOW + timedelta(days=1),
            number=numbers[which],
        ).public_bytes(serialization.Encoding.DER)
        SqlRevocationIndex(db).replace(check_crl(der, trust, NOW), at)

    publish("auth", {})
    publish("sign", {})
    source = MemorySuccessions()
    challenges = ChallengeService()
    store = RenewingVerificationStore(db, LinkRenewals(db, source), lambda: NOW)
    reader = InProcessReader()
    visit = Visit(
        reader.connect,
        Verifier(trust, store, challenges),
        challenges,
        MemoryAudit(),
        {"identity": IdentityService()},
        "kiosk-1",
        lambda: NOW,
        records=FixedAccount(),
    )
    return visit, reader, source, publish


def test_a_renewed_cards_first_visit_finds_the_account_without_the_password(kiosk, test_pki):
    visit, reader, source, publish = kiosk
    old_card = test_pki.issue_card(now=ISSUED)
    reader.insert(VirtualCard(old_card))
    visit.read_card()
    first = visit.authenticate("1234", "identity", "clinic")
    link = visit.enrol(visit.read_signer("ABC123", first), "clinic")
    visit.close_card()
    reader.pull()

    # renewed at the municipal office: new keys and serials; the old ones revoked superseded
    new_card = test_pki.issue_card(now=ISSUED + timedelta(days=20))
    for which in ("auth", "sign"):
        old = ref(getattr(old_card, which).certificate, test_pki, which)
        source.add(old, ref(getattr(new_card, which).certificate, test_pki, which))
        publish(which, {old.serial: x509.ReasonFlags.superseded})
    reader.insert(VirtualCard(new_card))
    visit.read_card()
    renewed = visit.authenticate("1234", "identity", "clinic")

    assert renewed.link == link  # the same account, linked since the first enrolment
    assert not renewed.needs_reenrolment  # no password asked


def test_an_affiliation_changed_renewal_asks_the_password_for_the_same_account(kiosk, test_pki):
    visit, reader, source, publish = kiosk
    old_card = test_pki.issue_card(now=ISSUED)
    reader.insert(VirtualCard(old_card))
    visit.read_card()
    visit.enrol(visit.read_signer("ABC123", visit.authenticate("1234", "x", "clinic")), "clinic")
    visit.close_card()
    reader.pull()

    new_card = test_pki.issue_card(now=ISSUED + timedelta(days=20))
    old_auth = ref(old_card.auth.certificate, test_pki, "auth")
    old_sign = ref(old_card.sign.certificate, test_pki, "sign")
    source.add(old_auth, ref(new_card.auth.certificate, test_pki, "auth"))
    publish("auth", {old_auth.serial: x509.ReasonFlags.superseded})
    publish("sign", {old_sign.serial: x509.ReasonFlags.affiliation_changed})  # moved house
    reader.insert(VirtualCard(new_card))
    visit.read_card()
    renewed = visit.authenticate("1234", "identity", "clinic")

    assert renewed.link is None and renewed.needs_reenrolment
    assert visit.enrol(visit.read_signer("ABC123", renewed), "clinic").account_ref == "K-TEST"


def test_an_expired_card_is_refused_with_the_renewal_guidance(kiosk, test_pki):
    visit, reader, _, _ = kiosk
    expired = test_pki.issue_card(
        now=ISSUED, validity=(NOW - timedelta(days=5 * 365), NOW - timedelta(seconds=1))
    )
    reader.insert(VirtualCard(expired))
    visit.read_card()

    with pytest.raises(Refused) as refused:
        visit.authenticate("1234", "identity", "clinic")

    problem = problem_for(refused.value)
    assert problem.code is ProblemCode.CERT_EXPIRED
    guidance = entry(problem.code).text
    assert "暗証番号を持って、お住まいの市区町村の窓口で電子証明書を更新" in guidance.ja
    assert "card and its PINs to your municipal office to renew" in guidance.en
    assert "まどぐちで あたらしく" in guidance.easy


def test_with_the_successor_unknown_the_password_enrols_the_same_account_once(kiosk, test_pki, db):
    visit, reader, _, publish = kiosk
    old_card = test_pki.issue_card(now=ISSUED)
    reader.insert(VirtualCard(old_card))
    visit.read_card()
    link = visit.enrol(visit.read_signer("ABC123", visit.authenticate("1234", "x", "c")), "c")
    visit.close_card()
    reader.pull()

    new_card = test_pki.issue_card(now=ISSUED + timedelta(days=20))  # no link data for it
    for which in ("auth", "sign"):
        old = ref(getattr(old_card, which).certificate, test_pki, which)
        publish(which, {old.serial: x509.ReasonFlags.superseded})
    reader.insert(VirtualCard(new_card))
    visit.read_card()
    renewed = visit.authenticate("1234", "identity", "c")
    assert renewed.link is None and not renewed.needs_reenrolment  # a first visit, as it looks

    again = visit.enrol(visit.read_signer("ABC123", renewed), "c")

    assert again.account_ref == link.account_ref == "K-TEST"
    held = LinkRepository(db).find_by_account("c", "K-TEST")
    assert held.auth_serial == ref(new_card.auth.certificate, test_pki, "auth").serial
    assert held.created_at == link.linked_at  # the same link, moved: the old one is gone

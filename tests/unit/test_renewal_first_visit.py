"""A renewed card is recognised at its first proof (issue 16, part 2): the verifier over
`RenewingVerificationStore` moves the predecessor's link to the new certificate and names the
account in the very verdict, without a new enrolment; without the authority's link data the
proof is unlinked and a new enrolment moves the account's link (the clear path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk import config
from kiosk.cli import main
from kiosk.demo.renewal import MemorySuccessions
from kiosk.local import LocalContext
from kiosk.pki.authority import Revocation, make_crl
from kiosk.services.renewal import HEADER
from kiosk.store.links import LinkRepository
from kiosk.store.renewal import LinkRenewals, RenewingVerificationStore
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import check_crl
from kiosk.verify.proof import UserProof
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import CertRef, LinkStatus
from kiosk.verify.verifier import Verifier
from tests.enrolment_support import CardKeys, signer

ISSUED = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
CRL_AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"


def ref(der: bytes, key_id: str) -> CertRef:
    return CertRef(x509.load_der_x509_certificate(der).serial_number, key_id)


def key_id(pki, which: str) -> str:
    return x509.SubjectKeyIdentifier.from_public_key(pki.ca_key(which).public_key()).digest.hex()


@pytest.fixture(scope="module")
def cards(test_pki):
    """The card before renewal and after (new keys, new serials), and their references."""
    old = CardKeys.of(test_pki.issue_card(now=ISSUED))
    new = CardKeys.of(test_pki.issue_card(now=ISSUED + timedelta(days=20)))
    auth, sign = key_id(test_pki, "auth"), key_id(test_pki, "sign")
    refs = {
        "old_auth": ref(old.auth_cert, auth),
        "old_sign": ref(old.sign_cert, sign),
        "new_auth": ref(new.auth_cert, auth),
        "new_sign": ref(new.sign_cert, sign),
    }
    return old, new, refs


@pytest.fixture
def world(db, test_pki, cards):
    """The old card linked at the provider; the CRLs in force list its certificates as
    superseded (the renewal revoked them)."""
    return renewed_world(db, test_pki, cards)


def renewed_world(db, test_pki, cards):
    """`world`, in any store."""
    _, _, refs = cards
    trust = TrustStore.from_dir(test_pki.trust_dir)
    links = LinkRepository(db)
    links.add_provider(PROVIDER, "Demo Clinic", ISSUED)
    links.create(
        provider_id=PROVIDER,
        account_ref="acct-1",
        auth_issuer_key_id=refs["old_auth"].issuer_key_id,
        auth_serial=refs["old_auth"].serial,
        sign_issuer_key_id=refs["old_sign"].issuer_key_id,
        sign_serial=refs["old_sign"].serial,
        at=ISSUED,
    )
    for which in ("auth", "sign"):
        der = make_crl(
            test_pki.ca_certificate(which),
            test_pki.ca_key(which),
            [Revocation(refs[f"old_{which}"].serial, CRL_AT, x509.ReasonFlags.superseded)],
            this_update=CRL_AT,
            next_update=CRL_AT + timedelta(days=1),
            number=1,
        ).public_bytes(serialization.Encoding.DER)
        SqlRevocationIndex(db).replace(check_crl(der, trust, CRL_AT), CRL_AT)
    return trust, links


def prove(verifier: Verifier, challenges: ChallengeService, card: CardKeys):
    nonce = challenges.issue(PROVIDER, TERMINAL, NOW).nonce
    proof = UserProof(PROVIDER, TERMINAL, nonce, card.auth_cert, b"")
    signature = signer(card.auth_key)(proof.message())
    return verifier.verify_user_proof(
        UserProof(PROVIDER, TERMINAL, nonce, card.auth_cert, signature), NOW
    )


def verifier_over(db, trust, source) -> tuple[Verifier, ChallengeService]:
    challenges = ChallengeService()
    store = RenewingVerificationStore(db, LinkRenewals(db, source), lambda: NOW)
    return Verifier(trust, store, challenges), challenges


def test_the_first_proof_of_a_renewed_card_finds_the_account_without_enrolment(db, cards, world):
    _, new, refs = cards
    trust, links = world
    source = MemorySuccessions()
    source.add(refs["old_auth"], refs["new_auth"])
    source.add(refs["old_sign"], refs["new_sign"])
    verifier, challenges = verifier_over(db, trust, source)

    verdict = prove(verifier, challenges, new)

    assert verdict.ok, verdict.message
    assert (verdict.account_ref, verdict.link_status) == ("acct-1", LinkStatus.ACTIVE)
    assert verdict.linked_at == ISSUED  # the same link, moved: not a new one
    link = links.find_by_account(PROVIDER, "acct-1")
    assert (link.auth_serial, link.sign_serial) == (
        refs["new_auth"].serial,
        refs["new_sign"].serial,
    )


def test_the_old_card_is_refused_after_the_move(db, cards, world):
    old, new, refs = cards
    trust, _ = world
    source = MemorySuccessions()
    source.add(refs["old_auth"], refs["new_auth"])
    verifier, challenges = verifier_over(db, trust, source)
    assert prove(verifier, challenges, new).account_ref == "acct-1"

    verdict = prove(verifier, challenges, old)

    assert (verdict.ok, verdict.reason.value, verdict.account_ref) == (False, "revoked", None)


def test_a_new_sign_certificate_not_linked_by_the_authority_asks_for_re_enrolment(db, cards, world):
    _, new, refs = cards
    trust, _ = world
    source = MemorySuccessions()
    source.add(refs["old_auth"], refs["new_auth"])  # the sign certificate's link unknown
    verifier, challenges = verifier_over(db, trust, source)

    verdict = prove(verifier, challenges, new)

    assert (verdict.account_ref, verdict.link_status) == ("acct-1", LinkStatus.NEEDS_REENROLMENT)


def test_without_the_link_data_the_proof_is_unlinked_and_nothing_moves(db, cards, world):
    _, new, refs = cards
    trust, links = world
    source = MemorySuccessions()
    source.unavailable = True  # the authority's link service is down
    verifier, challenges = verifier_over(db, trust, source)

    verdict = prove(verifier, challenges, new)

    assert verdict.ok and verdict.account_ref is None
    link = links.find_by_account(PROVIDER, "acct-1")
    assert link.auth_serial == refs["old_auth"].serial


def test_a_linked_card_asks_the_link_data_nothing(db, cards, world):
    old, _, refs = cards
    trust, links = world
    source = MemorySuccessions()
    links.reenrol(
        links.find_by_account(PROVIDER, "acct-1").link_id,
        auth_issuer_key_id=refs["new_auth"].issuer_key_id,
        auth_serial=refs["new_auth"].serial,
        sign_issuer_key_id=refs["new_sign"].issuer_key_id,
        sign_serial=refs["new_sign"].serial,
        at=NOW,
    )
    verifier, challenges = verifier_over(db, trust, source)

    assert prove(verifier, challenges, cards[1]).account_ref == "acct-1"
    assert source.asked == 0  # the hot path of a linked card is unchanged


def test_local_verification_moves_the_link_on_the_link_data_the_operator_imported(
    store_url, tmp_path, test_pki, cards, capsys
):
    """The composition (kiosk.local, shared by the kiosk and the platform) over the store:
    `kiosk renewal import` loads the file, and the renewed card's first proof finds its
    account."""
    old, new, refs = cards
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "kiosk"}"\ndatabase_url = "{store_url}"\n'
        f'trust_dir = "{test_pki.trust_dir}"\n'
    )
    local = LocalContext.from_config(config.load(str(path)))
    try:
        renewed_world(local.db, test_pki, cards)  # the old card linked, its certificates superseded
        lines = [f"{r.issuer_key_id},{r.serial:x}" for r in refs.values()]
        data = tmp_path / "successions.csv"
        data.write_text(f"{HEADER}\n{lines[0]},{lines[2]}\n{lines[1]},{lines[3]}\n")
        assert main(["renewal", "import", str(data), "--config", str(path)]) == 0
        capsys.readouterr()

        verdict = prove(local.verifier, local.challenges, new)

        assert (verdict.account_ref, verdict.link_status) == ("acct-1", LinkStatus.ACTIVE)
    finally:
        local.db.dispose()


class OvertakenSuccessions(MemorySuccessions):
    """Link data whose predecessor answer comes just after another process (another worker
    of the platform, proving the same card) moved the link."""

    def __init__(self, db) -> None:
        super().__init__()
        self.db = db

    def predecessor(self, new):
        old = super().predecessor(new)
        LinkRenewals(self.db, self).renew(old, NOW)  # the other worker, first
        return old


def test_a_link_another_worker_moved_first_is_found_all_the_same(db, cards, world):
    _, new, refs = cards
    trust, _ = world
    source = OvertakenSuccessions(db)
    source.add(refs["old_auth"], refs["new_auth"])
    source.add(refs["old_sign"], refs["new_sign"])
    verifier, challenges = verifier_over(db, trust, source)

    verdict = prove(verifier, challenges, new)

    assert (verdict.account_ref, verdict.link_status) == ("acct-1", LinkStatus.ACTIVE)


@pytest.mark.postgres
def test_a_successor_enrolled_while_the_link_moves_leaves_the_link_and_says_taken(
    postgres_db_url, test_pki
):
    """PostgreSQL, where another session can enrol the new certificate between the move's
    check and its update: the unique link of the new certificate refuses the move, whose
    transaction is rolled back whole."""
    from sqlalchemy import event

    from kiosk.store.engine import Database
    from kiosk.store.renewal import Outcome, Succession

    db = Database(postgres_db_url)
    try:
        auth = key_id(test_pki, "auth")
        links = LinkRepository(db)
        links.add_provider(PROVIDER, "Demo Clinic", ISSUED)
        old = links.create(provider_id=PROVIDER, account_ref="acct-1", auth_issuer_key_id=auth,
                           auth_serial=100, sign_issuer_key_id=auth, sign_serial=200,
                           at=ISSUED)  # fmt: skip
        der = make_crl(
            test_pki.ca_certificate("auth"),
            test_pki.ca_key("auth"),
            [Revocation(100, CRL_AT, x509.ReasonFlags.superseded)],
            this_update=CRL_AT,
            next_update=CRL_AT + timedelta(days=1),
            number=1,
        ).public_bytes(serialization.Encoding.DER)
        trust = TrustStore.from_dir(test_pki.trust_dir)
        SqlRevocationIndex(db).replace(check_crl(der, trust, CRL_AT), CRL_AT)
        source = MemorySuccessions([Succession(CertRef(100, auth), CertRef(101, auth))])

        done = []

        def enrol_meanwhile(_conn, _cursor, statement, *_):
            if statement.lstrip().upper().startswith("UPDATE LINKS") and not done:
                done.append(True)
                links.create(provider_id=PROVIDER, account_ref="acct-2",
                             auth_issuer_key_id=auth, auth_serial=101,
                             sign_issuer_key_id=auth, sign_serial=201, at=NOW)  # fmt: skip

        event.listen(db.engine, "before_cursor_execute", enrol_meanwhile)
        [renewal] = LinkRenewals(db, source).renew(CertRef(100, auth), NOW)

        assert renewal.outcome is Outcome.TAKEN
        assert links.get(old.link_id) == old
    finally:
        db.dispose()

"""A next-generation (ECDSA P-384) card through the store, on SQLite and PostgreSQL: its CRLs
imported against its own roots, its enrolment linked, its proofs recorded, its revocation
enforced — the same tables and queries as today's card, keyed by the P-384 roots' key ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.pki.authority import DEFAULT_PERSON, Generation, TestPki, init_pki
from kiosk.pki.cardfile import CardFile
from kiosk.store.links import LinkRepository
from kiosk.store.verification import SqlVerificationStore
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import check_crl
from kiosk.verify.enrolment import make_application
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.scheme import ecdsa_der_to_raw
from kiosk.verify.trust import NEXT_CARD, TrustStore
from kiosk.verify.verdict import LinkStatus, Reason
from kiosk.verify.verifier import Verifier

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
NEXT = Generation.NEXT


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("next-store") / "pki")


@pytest.fixture
def card(pki: TestPki) -> CardFile:
    return pki.issue_card(generation=NEXT)


def card_signer(pem: bytes):  # type: ignore[no-untyped-def]
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return lambda m: ecdsa_der_to_raw(key.sign(m, ec.ECDSA(hashes.SHA384())))


def test_next_card_enrols_proves_and_is_revoked_in_the_store(db, pki: TestPki, card: CardFile):  # type: ignore[no-untyped-def]
    trust = TrustStore.from_dir(pki.trust_dir)
    store = SqlVerificationStore(db)
    now = datetime.now(UTC)
    for which in ("auth", "sign"):
        store.replace(check_crl(pki.crl_der(which, NEXT), trust, now), now)
    LinkRepository(db).add_provider(PROVIDER, "Demo Clinic", now)
    challenges = ChallengeService()
    verifier = Verifier(trust, store, challenges)
    sign, authenticate = (
        card_signer(card.sign.private_key_pem),
        card_signer(card.auth.private_key_pem),
    )

    nonce = challenges.issue(PROVIDER, TERMINAL, now).nonce
    application = make_application(
        PROVIDER,
        TERMINAL,
        "patient-7",
        DEFAULT_PERSON,
        nonce,
        card.sign.certificate,
        card.auth.certificate,
        sign=sign,
        authenticate=authenticate,
    )
    enrolled = verifier.verify_enrolment(application, now)
    assert enrolled.ok, enrolled.message
    assert trust.by_key_id(enrolled.auth_issuer_key_id or "").group is NEXT_CARD  # type: ignore[union-attr]

    def prove() -> object:
        nonce = challenges.issue(PROVIDER, TERMINAL, now).nonce
        signature = authenticate(signed_message(PROVIDER, TERMINAL, nonce))
        proof = UserProof(PROVIDER, TERMINAL, nonce, card.auth.certificate, signature)
        return verifier.verify_user_proof(proof, now)

    verdict = prove()
    assert verdict.ok and verdict.link_status is LinkStatus.ACTIVE  # type: ignore[attr-defined]
    assert verdict.account_ref == "patient-7"  # type: ignore[attr-defined]

    serial = x509.load_der_x509_certificate(card.auth.certificate).serial_number
    crl = pki.revoke(serial, "auth", x509.ReasonFlags.key_compromise, generation=NEXT, now=now)
    store.replace(check_crl(crl, trust, now), now)
    assert prove().reason is Reason.REVOKED  # type: ignore[attr-defined]

"""A next-generation card (ECDSA P-384) over the real stack: pcscd + vpcd + `kiosk sim insert`
(a subprocess) serving a card the test PKI issued as next-generation, proved to an accepted
verdict by the local verifier and by the platform over HTTP."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk import config
from kiosk.card.pcsc import connect
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.jpki.constants import NEXT_AUTH_AID
from kiosk.jpki.session import JpkiSession
from kiosk.local import LocalContext, import_crls
from kiosk.pki.authority import Generation, TestPki, init_pki
from kiosk.pki.cardfile import CardFile, save_card
from kiosk.services.visit import authenticate, open_applet
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.trust import NEXT_CARD, TrustStore
from kiosk.verify.verdict import Reason
from kiosk.verify.verifier import Verifier

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"
TOKEN = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def next_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("next-pki") / "pki")


@pytest.fixture(scope="module")
def next_card(next_pki: TestPki) -> CardFile:
    return next_pki.issue_card(generation=Generation.NEXT)


@pytest.fixture
def card_path(next_card: CardFile, tmp_path: Path) -> Path:
    """The card `inserted_card` (tests/e2e/conftest.py) serves: the next-generation one."""
    path = tmp_path / "next-card.json"
    save_card(path, next_card)
    return path


def prove(reader: str, pin: str, nonce: bytes) -> tuple[bytes, bytes, bytes | None]:
    """Open the card as the kiosk does and answer the challenge: (certificate, signature, the
    AID of the application that answered)."""
    with connect(reader) as conn, conn.transaction():
        session = JpkiSession(conn)
        status = open_applet(session)
        assert (status.auth_retries, status.sign_retries) == (3, 5)
        proof = authenticate(session, pin, signed_message(PROVIDER, TERMINAL, nonce), selected=True)
        return proof.certificate_der, proof.signature, session.application


def test_next_card_reaches_an_accepted_verdict_locally(
    inserted_card: object, reader_name: str, next_pki: TestPki, next_card: CardFile
) -> None:
    trust = TrustStore.from_dir(next_pki.trust_dir)
    store = MemoryVerificationStore()
    now = datetime.now(UTC)
    for which in ("auth", "sign"):
        store.import_crl(verify_crl_in(next_pki.crl_der(which, Generation.NEXT), trust, now))
    challenges = ChallengeService()
    nonce = challenges.issue(PROVIDER, TERMINAL, now).nonce

    certificate, signature, application = prove(reader_name, next_card.auth.pin, nonce)

    assert application == NEXT_AUTH_AID
    assert certificate == next_card.auth.certificate
    assert isinstance(
        x509.load_der_x509_certificate(certificate).public_key(), ec.EllipticCurvePublicKey
    )
    assert len(signature) == 96  # r ‖ s, raw, as the card answers
    verdict = Verifier(trust, store, challenges).verify_user_proof(
        UserProof(PROVIDER, TERMINAL, nonce, certificate, signature), datetime.now(UTC)
    )
    assert (verdict.ok, verdict.reason) == (True, Reason.OK), verdict.message
    anchor = trust.by_key_id(verdict.issuer_key_id or "")
    assert anchor is not None and anchor.group is NEXT_CARD


class Running:
    """The platform app on uvicorn, on a free port of 127.0.0.1, in a thread."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def platform(next_pki: TestPki, next_card: CardFile, tmp_path: Path) -> Iterator[Running]:
    """The platform over the PKI's trust dir (both generations' roots) and all four CRLs."""
    from kiosk.platform.service import app_from_config

    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    for generation in Generation:
        for which in ("auth", "sign"):
            name = f"{which}-{generation.value}.crl"
            (crl_dir / name).write_bytes(next_pki.crl_der(which, generation))
    cfg = config.from_mapping(
        {
            "data_dir": str(tmp_path / "data"),
            "trust_dir": str(next_pki.trust_dir),
            "crl_dir": str(crl_dir),
            "platform_tokens": {PROVIDER: hashlib.sha256(TOKEN.encode()).hexdigest()},
        }
    )
    local = LocalContext.from_config(cfg)
    try:
        import_crls(cfg, local)
    finally:
        local.db.dispose()
    running = Running(app_from_config(cfg))
    try:
        yield running
    finally:
        running.stop()


def test_next_card_reaches_an_accepted_verdict_through_the_platform(
    inserted_card: object, reader_name: str, next_card: CardFile, platform: Running
) -> None:
    from kiosk.platform.client import PlatformClient

    with PlatformClient(platform.url, TOKEN, timeout_s=10) as client:
        challenge = client.issue(PROVIDER, TERMINAL, datetime.now(UTC))
        certificate, signature, _ = prove(reader_name, next_card.auth.pin, challenge.nonce)
        proof = UserProof(PROVIDER, TERMINAL, challenge.nonce, certificate, signature)
        verdict = client.verify_user_proof(proof, datetime.now(UTC))
        assert (verdict.ok, verdict.reason) == (True, Reason.OK), verdict.message
        serial = x509.load_der_x509_certificate(certificate).serial_number
        assert verdict.auth_serial == serial

        other = client.issue(PROVIDER, TERMINAL, datetime.now(UTC))  # signed for no other one
        forged = UserProof(PROVIDER, TERMINAL, other.nonce, certificate, signature)
        refused = client.verify_user_proof(forged, datetime.now(UTC))
        assert (refused.ok, refused.reason) == (False, Reason.BAD_SIGNATURE)

"""The next-generation card (ECDSA P-384) in process: the virtual card's answers, the session
finding its application and signing in its key's scheme, and the visit's proof verifying."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.card.inprocess import InProcessConnection
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.jpki.constants import AID, NEXT_AUTH_AID
from kiosk.jpki.session import JpkiSession
from kiosk.jpki.token import TokenKind, discover
from kiosk.pki.authority import Generation, TestPki, init_pki
from kiosk.pki.cardfile import CardFile, CardFileError, load_card, save_card
from kiosk.services.visit import authenticate, open_applet
from kiosk.simcard.applet import PinRef, VirtualCard
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.proof import UserProof, signed_message
from kiosk.verify.scheme import ecdsa_raw_to_der
from kiosk.verify.trust import TrustStore
from kiosk.verify.verdict import Reason
from kiosk.verify.verifier import Verifier

PROVIDER, TERMINAL = "demo-clinic", "kiosk-1"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return init_pki(tmp_path_factory.mktemp("next") / "pki")


@pytest.fixture(scope="module")
def next_card(pki: TestPki) -> CardFile:
    return pki.issue_card(generation=Generation.NEXT)


def apdu(card: VirtualCard, hex_apdu: str, data: bytes = b"") -> tuple[bytes, int]:
    head = bytes.fromhex(hex_apdu)
    answer = card.transmit(head + (bytes([len(data)]) + data if data else b""))
    return answer[:-2], int.from_bytes(answer[-2:], "big")


def auth_key(card: CardFile) -> ec.EllipticCurvePublicKey:
    key = x509.load_der_x509_certificate(card.auth.certificate).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


# --- the virtual card -------------------------------------------------------------------------


def test_next_card_answers_under_its_own_application_only(next_card: CardFile) -> None:
    card = VirtualCard(next_card)
    assert apdu(card, "00a4040c", AID)[1] == 0x6A82
    assert apdu(card, "00a4040c", NEXT_AUTH_AID)[1] == 0x9000
    assert apdu(card, "00a4020c", bytes.fromhex("000a"))[1] == 0x9000
    data, sw = apdu(card, "00b0000004")
    assert sw == 0x9000 and data[:1] == b"\x30"


def test_next_card_signs_a_sha384_hash_as_raw_r_and_s(next_card: CardFile) -> None:
    card = VirtualCard(next_card)
    apdu(card, "00a4040c", NEXT_AUTH_AID)
    assert apdu(card, "00200098", b"1234")[1] == 0x9000
    message = b"challenge"
    digest = hashlib.sha384(message).digest()
    signature, sw = apdu(card, "802a0097", digest)
    assert sw == 0x9000 and len(signature) == 96
    auth_key(next_card).verify(ecdsa_raw_to_der(signature), message, ec.ECDSA(hashes.SHA384()))


@pytest.mark.parametrize("length", [32, 47, 49, 51, 64])
def test_next_card_refuses_anything_but_a_sha384_hash(next_card: CardFile, length: int) -> None:
    card = VirtualCard(next_card)
    apdu(card, "00a4040c", NEXT_AUTH_AID)
    apdu(card, "00200098", b"1234")
    assert apdu(card, "802a0097", bytes(length))[1] == 0x6700


def test_card_file_keeps_its_generation(next_card: CardFile, tmp_path: Path) -> None:
    save_card(tmp_path / "card.json", next_card)
    assert load_card(tmp_path / "card.json").generation == "next"
    obj = next_card.to_json() | {"generation": "2035"}
    with pytest.raises(CardFileError, match="generation"):
        CardFile.from_json(obj)


def test_todays_card_files_do_not_name_a_generation(pki: TestPki) -> None:
    assert "generation" not in pki.issue_card().to_json()


# --- the session and the visit ----------------------------------------------------------------


def test_discovery_finds_the_next_cards_application_and_calls_it_a_card(
    next_card: CardFile,
) -> None:
    session = JpkiSession(InProcessConnection(VirtualCard(next_card)))
    token = discover(session)
    assert token.kind is TokenKind.CARD and token.has_sign_cert
    assert (token.auth_retries, token.sign_retries) == (3, 5)
    assert session.application == NEXT_AUTH_AID


def test_the_visit_proof_of_a_next_card_verifies_sending_the_pin_once(
    pki: TestPki, next_card: CardFile
) -> None:
    card = VirtualCard(next_card)
    session = JpkiSession(InProcessConnection(card))
    open_applet(session)
    now = datetime.now(UTC)  # after the CRLs' thisUpdate
    challenges = ChallengeService()
    nonce = challenges.issue(PROVIDER, TERMINAL, now).nonce
    proof = authenticate(session, "1234", signed_message(PROVIDER, TERMINAL, nonce), selected=True)
    assert card.pins_received == {PinRef.AUTH: 1, PinRef.SIGN: 0}
    assert len(proof.signature) == 96
    trust = TrustStore.from_dir(pki.trust_dir)
    store = MemoryVerificationStore()
    for which in ("auth", "sign"):
        store.import_crl(verify_crl_in(pki.crl_der(which, Generation.NEXT), trust, now))
    verdict = Verifier(trust, store, challenges).verify_user_proof(
        UserProof(PROVIDER, TERMINAL, nonce, proof.certificate_der, proof.signature), now
    )
    assert verdict.ok and verdict.reason is Reason.OK, verdict.message


def test_signing_before_the_certificate_was_read_reads_it_for_the_scheme(
    next_card: CardFile,
) -> None:
    card = VirtualCard(next_card)
    session = JpkiSession(InProcessConnection(card))
    session.select_ap()
    session.verify_pin("auth", "1234")
    signature = session.sign_message("auth", b"M")
    auth_key(next_card).verify(ecdsa_raw_to_der(signature), b"M", ec.ECDSA(hashes.SHA384()))


def test_todays_card_still_signs_a_digest_info(pki: TestPki) -> None:
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

    today = pki.issue_card()
    session = JpkiSession(InProcessConnection(VirtualCard(today)))
    assert session.select_ap() == AID
    session.verify_pin("auth", "1234")
    signature = session.sign_message("auth", b"M")
    key = x509.load_der_x509_certificate(today.auth.certificate).public_key()
    key.verify(signature, b"M", PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]


# --- the commands -----------------------------------------------------------------------------


def test_pki_commands_issue_and_revoke_a_next_generation_card(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from kiosk.cli import main
    from kiosk.pki.authority import load_pki

    directory, card_path = tmp_path / "pki", tmp_path / "next.json"
    assert main(["pki", "init", str(directory)]) == 0
    argv = ["pki", "issue", str(directory), "--out", str(card_path), "--generation", "next"]
    assert main(argv) == 0
    card = load_card(card_path)
    assert card.generation == "next"
    assert isinstance(auth_key(card), ec.EllipticCurvePublicKey)
    pki = load_pki(directory)
    assert (pki.trust_dir / "auth-next-ca.pem").is_file()
    revoke = ["pki", "revoke", str(directory), str(card_path), "--which", "auth"]
    assert main([*revoke, "--reason", "superseded"]) == 0
    assert "auth-next.crl" in capsys.readouterr().out
    serial = x509.load_der_x509_certificate(card.auth.certificate).serial_number
    crl = pki.crl("auth", Generation.NEXT)
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert len(pki.crl("auth")) == 0  # today's CA revoked nothing


def test_the_demo_next_card_is_accepted_by_the_demo_configuration(tmp_path: Path) -> None:
    """`kiosk demo --generation next`: the card from the demo PKI's next roots proves through
    the demo's own local verification (its trust_dir and crl_dir, as `kiosk run` loads them)."""
    from kiosk import config
    from kiosk.commands.demo import DEMO_PIN, prepare, prepare_next_card
    from kiosk.local import LocalContext, import_crls

    _, config_path = prepare(tmp_path, "Virtual PCD 00 00")
    card = load_card(prepare_next_card(tmp_path))
    assert card.generation == "next" and prepare_next_card(tmp_path) == tmp_path / "next-card.json"
    cfg = config.load(config_path, env={})
    local = LocalContext.from_config(cfg)
    try:
        import_crls(cfg, local)
        session = JpkiSession(InProcessConnection(VirtualCard(card)))
        open_applet(session)
        now = datetime.now(UTC)
        nonce = local.challenges.issue(cfg.provider_id, cfg.terminal_id, now).nonce
        message = signed_message(cfg.provider_id, cfg.terminal_id, nonce)
        proof = authenticate(session, DEMO_PIN, message, selected=True)
        verdict = local.verifier.verify_user_proof(
            UserProof(
                cfg.provider_id, cfg.terminal_id, nonce, proof.certificate_der, proof.signature
            ),
            now,
        )
        assert verdict.ok, verdict.message
    finally:
        local.db.dispose()


def test_a_certificate_naming_no_usable_key_stops_before_anything_is_signed(
    next_card: CardFile,
) -> None:
    from dataclasses import replace

    from kiosk.jpki.errors import MalformedResponse

    garbled = replace(
        next_card, auth=replace(next_card.auth, certificate=bytes.fromhex("3003020101"))
    )
    sent: list[bytes] = []
    connection = InProcessConnection(VirtualCard(garbled))
    transmit = connection.transmit

    def recording(apdu: bytes) -> tuple[bytes, int]:
        sent.append(apdu)
        return transmit(apdu)

    connection.transmit = recording  # type: ignore[method-assign]
    session = JpkiSession(connection)
    session.select_ap()
    session.verify_pin("auth", "1234")
    with pytest.raises(MalformedResponse):
        session.sign_message("auth", b"M")
    assert not any(apdu[:2] == b"\x80\x2a" for apdu in sent)  # no COMPUTE DIGITAL SIGNATURE

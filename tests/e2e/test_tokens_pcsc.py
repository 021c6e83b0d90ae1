"""The token personalities over the real stack: pcscd + vpcd + `kiosk sim insert --as …` (a
subprocess), read by the kiosk's own discovery and visit operations through PC/SC."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kiosk.card.pcsc import connect
from kiosk.jpki.errors import PinBlocked
from kiosk.jpki.session import JpkiSession
from kiosk.jpki.token import Token, TokenKind, discover
from kiosk.pki.cardfile import CardFile, load_card
from kiosk.services.visit import authenticate, authenticate_on_phone
from tests.e2e.conftest import INSERT_TIMEOUT, PULL_TIMEOUT, card_present, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

Insert = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def insert_as(
    pcsc_context: int, reader_name: str, vpcd_port: int, card_path: Path, tmp_path: Path
) -> Iterator[Insert]:
    """Start `kiosk sim insert CARD --as <token> [flags]` and wait until pcscd sees it; the
    token is pulled (SIGTERM) at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "sim.log"

    def insert(token: str, *flags: str) -> subprocess.Popen[bytes]:
        if card_present(pcsc_context, reader_name):
            pytest.skip(f"{reader_name} already holds a card (another test is using it)")
        argv = [sys.executable, "-m", "kiosk.cli", "sim", "insert", str(card_path)]
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*argv, "--port", str(vpcd_port), "--as", token, *flags],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(process)

        def arrived() -> bool:
            if process.poll() is not None:
                pytest.fail(f"kiosk sim insert exited ({process.returncode}):\n{log.read_text()}")
            return card_present(pcsc_context, reader_name)

        wait_until(arrived, INSERT_TIMEOUT, f"the {token} in {reader_name}")
        return process

    yield insert
    for process in started:
        process.terminate()
        process.wait(timeout=PULL_TIMEOUT)
    wait_until(
        lambda: not card_present(pcsc_context, reader_name), PULL_TIMEOUT, "the token pulled"
    )


def _discover(reader_name: str) -> Token:
    with connect(reader_name) as conn, conn.transaction():
        return discover(JpkiSession(conn))


def test_android_over_pcsc(insert_as: Insert, reader_name: str, card_file: CardFile) -> None:
    insert_as("android")
    assert _discover(reader_name) == Token(TokenKind.ANDROID, "JPKIAPGPSETOKEN", 3, 5, True)
    with connect(reader_name) as conn, conn.transaction():
        session = JpkiSession(conn)
        session.select_ap()
        proof = authenticate(session, card_file.auth.pin, b"e2e", selected=True)
    assert proof.certificate_der == card_file.auth.certificate


def test_face_auth_card_over_pcsc(
    insert_as: Insert, reader_name: str, card_file: CardFile, card_path: Path
) -> None:
    insert_as("face_auth")
    assert _discover(reader_name) == Token(TokenKind.FACE_AUTH, "JPKIAPICCTOKEN2", 0, 0, False)
    with connect(reader_name) as conn, conn.transaction():
        session = JpkiSession(conn)
        session.select_ap()
        with pytest.raises(PinBlocked):
            authenticate(session, card_file.auth.pin, b"e2e", selected=True)
    assert load_card(card_path).auth.retries_left == card_file.auth.retries_left


def _phone_proof(reader_name: str) -> bytes | None:
    with connect(reader_name) as conn, conn.transaction():
        session = JpkiSession(conn)
        session.select_ap()
        proof = authenticate_on_phone(session, b"e2e")
    return None if proof is None else proof.signature


def test_iphone_over_pcsc_signs_after_the_confirmation(
    insert_as: Insert, reader_name: str, card_file: CardFile
) -> None:
    process = insert_as("iphone")
    assert _discover(reader_name) == Token(TokenKind.IPHONE, "JPKIAPIOSTOKEN", 0, 0, True)
    assert _phone_proof(reader_name) is None  # not confirmed: nothing signed
    process.send_signal(signal.SIGUSR1)  # the person's Face ID
    deadline = time.monotonic() + 10
    signature = _phone_proof(reader_name)
    while signature is None and time.monotonic() < deadline:  # the signal is asynchronous
        time.sleep(0.05)
        signature = _phone_proof(reader_name)
    assert signature is not None
    key = x509.load_der_x509_certificate(card_file.auth.certificate).public_key()
    key.verify(signature, b"e2e", PKCS1v15(), SHA256())  # type: ignore[union-attr]
    assert _phone_proof(reader_name) is None  # one confirmation, one signature


def test_iphone_confirmed_before_the_tap(insert_as: Insert, reader_name: str) -> None:
    insert_as("iphone", "--confirmed")
    assert _phone_proof(reader_name) is not None


@pytest.mark.parametrize(
    ("token", "lines"),
    [
        ("android", ["JPKIAPGPSETOKEN (Android phone", "Authentication PIN: 3 tries left"]),
        ("iphone", ["JPKIAPIOSTOKEN (iPhone", "PINs: none over NFC"]),
        ("face_auth", ["face-authentication My Number Card", "No signature certificate"]),
    ],
)
def test_card_status_names_the_token(
    insert_as: Insert, reader_name: str, capsys, token: str, lines: list[str]
) -> None:
    from kiosk.cli import main

    insert_as(token)
    assert main(["card", "status", "--reader", reader_name]) == 0
    out = capsys.readouterr().out
    assert all(line in out for line in lines), out

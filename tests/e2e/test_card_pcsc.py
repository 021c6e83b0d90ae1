"""The card client over the real stack: pcscd + vpcd + `kiosk sim insert` (a subprocess)."""

from __future__ import annotations

import queue
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kiosk.card.connection import MeteredConnection
from kiosk.card.errors import CardRemoved, NoCard
from kiosk.card.monitor import CardInserted, CardMonitor, CardWithdrawn
from kiosk.card.pcsc import PcscConnection, PcscWatcher, connect, reader_states
from kiosk.cli import main
from kiosk.jpki.errors import PinBlocked, PinIncorrect
from kiosk.jpki.session import JpkiSession
from kiosk.pki.cardfile import CardFile, load_card
from kiosk.services.visit import authenticate, read_sign_certificate, sign_with_sign_key

pytestmark = [pytest.mark.e2e, pytest.mark.reader]

ATR = bytes.fromhex("3BE000FF8131FE4514")


def test_no_card_is_reported_as_such(reader_name: str, capsys) -> None:
    assert reader_states()[reader_name] is None
    with pytest.raises(NoCard):
        connect(reader_name)
    assert main(["card", "status", "--reader", reader_name]) == 1
    assert f"No card in {reader_name}." in capsys.readouterr().out


def test_session_reads_certs_retries_and_signs(inserted_card, reader_name, card_file) -> None:
    with connect(reader_name) as conn, conn.transaction():
        assert conn.atr == ATR
        metered = MeteredConnection(conn)
        session = JpkiSession(metered)
        proof = authenticate(session, card_file.auth.pin, b"e2e challenge")
        assert metered.apdus <= 12
        assert proof.certificate_der == card_file.auth.certificate
        key = x509.load_der_x509_certificate(proof.certificate_der).public_key()
        key.verify(proof.signature, b"e2e challenge", PKCS1v15(), SHA256())
        assert session.read_certificate("auth_ca") == card_file.auth.ca_certificate
        assert session.read_certificate("sign_ca") == card_file.sign.ca_certificate
        assert session.pin_retries("auth") == 3
        assert session.pin_retries("sign") == 5
        signed = sign_with_sign_key(session, card_file.sign.pin, b"enrol")
        assert signed.certificate_der == card_file.sign.certificate
        key = x509.load_der_x509_certificate(signed.certificate_der).public_key()
        key.verify(signed.signature, b"enrol", PKCS1v15(), SHA256())


def test_status_command(inserted_card, reader_name, capsys) -> None:
    assert main(["card", "status", "--reader", reader_name]) == 0
    out = capsys.readouterr().out
    assert "JPKI application: present" in out
    assert "JPKIAPICCTOKEN2 (My Number Card)" in out
    assert "Authentication PIN: 3 tries left" in out
    assert "Signature password: 5 tries left" in out


def test_read_cert_command(inserted_card, reader_name, card_file, tmp_path, monkeypatch) -> None:
    auth, sign = tmp_path / "auth.pem", tmp_path / "sign.der"
    assert main(["card", "read-cert", "--reader", reader_name, "--pem", "--out", str(auth)]) == 0
    pem = x509.load_pem_x509_certificate(auth.read_bytes())
    assert pem == x509.load_der_x509_certificate(card_file.auth.certificate)
    monkeypatch.setattr("getpass.getpass", lambda prompt: card_file.sign.pin.lower())
    argv = ["card", "read-cert", "--reader", reader_name, "--which", "sign", "--out", str(sign)]
    assert main(argv) == 0
    assert sign.read_bytes() == card_file.sign.certificate


def test_wrong_pin_then_block_persists_after_reinsertion(
    inserted_card, reader_name, card_path
) -> None:
    card = load_card(card_path)
    wrong = "0000" if card.auth.pin != "0000" else "1111"
    with connect(reader_name) as conn, conn.transaction():
        session = JpkiSession(conn)
        session.select_ap()
        with pytest.raises(PinIncorrect) as info:
            session.verify_pin("auth", wrong)
        assert info.value.retries_left == 2
        session.verify_pin("auth", card.auth.pin)  # a correct PIN resets the counter
        assert session.pin_retries("auth") == 3
        for left in (2, 1):
            with pytest.raises(PinIncorrect) as info:
                session.verify_pin("auth", wrong)
            assert info.value.retries_left == left
        with pytest.raises(PinBlocked):
            session.verify_pin("auth", wrong)
    inserted_card.pull()
    assert load_card(card_path).auth.retries_left == 0
    inserted_card.insert()
    with connect(reader_name) as conn, conn.transaction():
        session = JpkiSession(conn)
        session.select_ap()
        assert session.pin_retries("auth") == 0
        with pytest.raises(PinBlocked):
            authenticate(session, card.auth.pin, b"x")


def test_monitor_sees_the_card_come_and_go(inserted_card, reader_name) -> None:
    events: queue.Queue = queue.Queue()
    monitor = CardMonitor(PcscWatcher())
    monitor.subscribe(events.put)
    monitor.start()
    try:

        def next_for_reader():
            while True:
                event = events.get(timeout=10)
                if isinstance(event, CardInserted | CardWithdrawn) and event.reader == reader_name:
                    return event

        assert next_for_reader() == CardInserted(reader_name, ATR)
        inserted_card.pull()
        assert next_for_reader() == CardWithdrawn(reader_name)
        inserted_card.insert()
        assert next_for_reader() == CardInserted(reader_name, ATR)
    finally:
        monitor.stop()


Command = Callable[[JpkiSession, CardFile], object]


def _verified(which: str) -> Command:
    def setup(s: JpkiSession, c: CardFile) -> None:
        s.select_ap()
        s.verify_pin(which, getattr(c, which).pin)

    return setup


def _select(s: JpkiSession, c: CardFile) -> None:
    s.select_ap()


def _nothing(s: JpkiSession, c: CardFile) -> None:
    pass


#: (name, setup, command): the card is pulled between two APDUs of the command, or between
#: the setup's last APDU and the command's only one.
COMMANDS: list[tuple[str, Command, Command]] = [
    ("select_ap", _nothing, _select),
    ("token_label", _select, lambda s, c: s.token_label()),
    ("read_certificate", _select, lambda s, c: s.read_certificate("auth")),
    (
        "read_sign_cert",
        _verified("sign"),
        lambda s, c: s.read_certificate("sign"),
    ),
    ("pin_retries", _select, lambda s, c: s.pin_retries("auth")),
    ("verify_pin", _select, lambda s, c: s.verify_pin("auth", c.auth.pin)),
    ("sign", _verified("auth"), lambda s, c: s.sign_sha256("auth", b"m")),
    ("authenticate", _nothing, lambda s, c: authenticate(s, c.auth.pin, b"m")),
    ("read_sign_certificate", _nothing, lambda s, c: read_sign_certificate(s, c.sign.pin)),
    ("sign_with_sign_key", _nothing, lambda s, c: sign_with_sign_key(s, c.sign.pin, b"m")),
]


class PullBefore:
    """Forwards commands; before command number `at` it stops the simulator (pulls the card)."""

    def __init__(self, inner: PcscConnection, pull: Callable[[], None], at: int | None):
        self.inner, self.pull, self.at, self.sent = inner, pull, at, 0

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self.sent == self.at:
            self.pull()
        self.sent += 1
        return self.inner.transmit(apdu)

    def close(self) -> None:
        self.inner.close()


def _run(reader: str, card: CardFile, setup: Command, command: Command, pull, at) -> int:
    with connect(reader) as conn, conn.transaction():
        wrapped = PullBefore(conn, pull, None)
        session = JpkiSession(wrapped)
        setup(session, card)
        wrapped.sent, wrapped.at = 0, at
        command(session, card)
        return wrapped.sent


@pytest.mark.parametrize(("name", "setup", "command"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_pulling_the_card_mid_command(inserted_card, reader_name, card_file, name, setup, command):
    total = _run(reader_name, card_file, setup, command, inserted_card.pull, None)
    at = total // 2  # strictly between two of its APDUs when it sends more than one
    with pytest.raises(CardRemoved):
        _run(reader_name, card_file, setup, command, inserted_card.pull, at)

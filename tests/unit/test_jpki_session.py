"""The JPKI session over an in-process virtual card: certificates, PINs, signatures, errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kiosk.card.connection import MeteredConnection
from kiosk.card.errors import ApduError
from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.errors import (
    MalformedResponse,
    NotAJpkiCard,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    SecurityStatusNotSatisfied,
    UnsupportedToken,
)
from kiosk.jpki.session import JpkiSession, der_length
from kiosk.pki.cardfile import CardFile, load_card, save_card
from kiosk.services.visit import authenticate, read_sign_certificate, sign_with_sign_key
from kiosk.simcard.applet import VirtualCard

VERIFY = 0x20


class Spy:
    """Keeps every command sent (test only: the PINs here are test PINs)."""

    def __init__(self, inner: InProcessConnection):
        self.inner = inner
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        return self.inner.transmit(apdu)

    def close(self) -> None:
        self.inner.close()

    def pins_sent(self) -> int:
        return sum(1 for apdu in self.sent if apdu[1] == VERIFY and len(apdu) > 4)


class Reader:
    """One virtual card in an in-process reader, its card file kept up to date."""

    def __init__(self, card_file: CardFile):
        self.card_file = card_file
        self.card = VirtualCard(card_file, on_change=self._changed)
        self.spy = Spy(InProcessConnection(self.card))
        self.conn = MeteredConnection(self.spy)
        self.session = JpkiSession(self.conn)

    def _changed(self, card_file: CardFile) -> None:
        self.card_file = card_file


@pytest.fixture
def reader(card_file: CardFile) -> Reader:
    return Reader(card_file)


def _verifies(cert_der: bytes, signature: bytes, message: bytes) -> None:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    key.verify(signature, message, PKCS1v15(), SHA256())  # raises InvalidSignature


def test_reads_the_certificates_readable_without_a_pin(reader: Reader, card_file: CardFile) -> None:
    reader.session.select_ap()
    assert reader.session.read_certificate("auth") == card_file.auth.certificate
    assert reader.session.read_certificate("auth_ca") == card_file.auth.ca_certificate
    assert reader.session.read_certificate("sign_ca") == card_file.sign.ca_certificate


def test_certificate_is_read_in_the_fewest_chunks(reader: Reader, card_file: CardFile) -> None:
    reader.session.select_ap()
    before = reader.conn.apdus
    reader.session.read_certificate("auth")
    reads = math.ceil(len(card_file.auth.certificate) / 256)
    assert reader.conn.apdus - before == 1 + reads  # SELECT EF + READ BINARYs


def test_sign_certificate_needs_the_password(reader: Reader, card_file: CardFile) -> None:
    reader.session.select_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        reader.session.read_certificate("sign")
    assert read_sign_certificate(reader.session, card_file.sign.pin) == card_file.sign.certificate


def test_token_label(reader: Reader, card_file: CardFile) -> None:
    reader.session.select_ap()
    assert reader.session.token_label() == "JPKIAPICCTOKEN2"
    other = Reader(dataclasses.replace(card_file, token_label="JPKIAPICCTOKEN"))
    other.session.select_ap()
    with pytest.raises(UnsupportedToken) as info:
        other.session.token_label()
    assert info.value.label == "JPKIAPICCTOKEN"
    assert other.session.token_label(allowed=None) == "JPKIAPICCTOKEN"
    assert other.session.token_label(allowed=frozenset({"JPKIAPICCTOKEN"})) == "JPKIAPICCTOKEN"


def test_retries_are_read_without_spending_a_try(reader: Reader) -> None:
    reader.session.select_ap()
    for _ in range(2):
        assert reader.session.pin_retries("auth") == 3
        assert reader.session.pin_retries("sign") == 5
    assert reader.card_file.auth.retries_left == 3


@pytest.mark.parametrize("which", ["auth", "sign"])
def test_wrong_pin_drops_the_count_by_one(reader: Reader, which: str) -> None:
    good = getattr(reader.card_file, which).pin
    wrong = "9999" if which == "auth" else "WRONG999"
    assert wrong != good
    full = getattr(reader.card_file, which).max_retries
    reader.session.select_ap()
    with pytest.raises(PinIncorrect) as info:
        reader.session.verify_pin(which, wrong)
    assert info.value.retries_left == full - 1
    assert f"{full - 1} tries left" in str(info.value)
    assert reader.session.pin_retries(which) == full - 1
    assert getattr(reader.card_file, which).retries_left == full - 1


def test_correct_pin_resets_the_counter(reader: Reader) -> None:
    reader.session.select_ap()
    with pytest.raises(PinIncorrect):
        reader.session.verify_pin("auth", "0000" if reader.card_file.auth.pin != "0000" else "1111")
    assert reader.session.pin_retries("auth") == 2
    reader.session.verify_pin("auth", reader.card_file.auth.pin)
    assert reader.session.pin_retries("auth") == 3


def test_block_after_the_limit_persists_after_reinsertion(reader: Reader, tmp_path) -> None:
    wrong = "0000" if reader.card_file.auth.pin != "0000" else "1111"
    reader.session.select_ap()
    for left in (2, 1):
        with pytest.raises(PinIncorrect) as info:
            reader.session.verify_pin("auth", wrong)
        assert info.value.retries_left == left
    with pytest.raises(PinBlocked):
        reader.session.verify_pin("auth", wrong)
    assert reader.session.pin_retries("auth") == 0
    with pytest.raises(PinBlocked):
        reader.session.verify_pin("auth", reader.card_file.auth.pin)

    path = tmp_path / "CARD.json"
    save_card(path, reader.card_file)
    reader.conn.close()
    again = Reader(load_card(path))
    again.session.select_ap()
    assert again.session.pin_retries("auth") == 0
    assert again.session.pin_retries("sign") == 5
    with pytest.raises(PinBlocked):
        authenticate(again.session, again.card_file.auth.pin, b"challenge")
    assert again.spy.pins_sent() == 0


def test_authenticate_refuses_to_send_a_pin_to_a_blocked_counter(card_file: CardFile) -> None:
    blocked = Reader(card_file.with_retries(auth=0))
    with pytest.raises(PinBlocked):
        authenticate(blocked.session, card_file.auth.pin, b"challenge")
    assert [a[:4] for a in blocked.spy.sent if a[1] == VERIFY] == [bytes.fromhex("00200098")]
    assert blocked.spy.pins_sent() == 0
    assert blocked.card_file.auth.retries_left == 0


def test_authenticate_signs_with_the_auth_key_in_twelve_apdus(reader: Reader) -> None:
    proof = authenticate(reader.session, reader.card_file.auth.pin, b"challenge-123")
    assert proof.certificate_der == reader.card_file.auth.certificate
    _verifies(proof.certificate_der, proof.signature, b"challenge-123")
    reads = math.ceil(len(proof.certificate_der) / 256)
    # SELECT AP, label, retries, VERIFY, SELECT EF, READs, COMPUTE SIGNATURE
    assert reader.conn.apdus == 6 + reads <= 12


def test_sign_key_signature_and_lowercase_password(reader: Reader) -> None:
    password = reader.card_file.sign.pin.lower()
    proof = sign_with_sign_key(reader.session, password, b"enrol")
    assert proof.certificate_der == reader.card_file.sign.certificate
    _verifies(proof.certificate_der, proof.signature, b"enrol")
    with pytest.raises(InvalidSignature):  # the two keys differ
        _verifies(reader.card_file.auth.certificate, proof.signature, b"enrol")


def test_signing_without_the_pin_is_refused(reader: Reader) -> None:
    reader.session.select_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        reader.session.sign_sha256("auth", b"x")


def test_closing_the_connection_forgets_the_verified_pin(reader: Reader) -> None:
    reader.session.select_ap()
    reader.session.verify_pin("auth", reader.card_file.auth.pin)
    reader.conn.close()
    # same card object, new connection: reset by close()
    session = JpkiSession(InProcessConnection(reader.card))
    session.select_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        session.sign_sha256("auth", b"x")


@pytest.mark.parametrize(
    ("which", "pin"),
    [
        ("auth", "123"),
        ("auth", "12345"),
        ("auth", "12a4"),
        ("auth", "１２３４"),  # full-width digits
        ("auth", ""),
        ("sign", "AB12"),
        ("sign", "ABC12"),
        ("sign", "A" * 17),
        ("sign", "ABC-123"),
        ("sign", "ﬀ1234"),  # upper-cases to "FF1234": non-ASCII is refused first
    ],
)
def test_malformed_pin_sends_nothing(reader: Reader, which: str, pin: str) -> None:
    with pytest.raises(PinFormatError):
        if which == "auth":
            authenticate(reader.session, pin, b"x")
        else:
            sign_with_sign_key(reader.session, pin, b"x")
    assert reader.conn.apdus == 0
    reader.session.select_ap()
    assert reader.spy.pins_sent() == 0
    with pytest.raises(PinFormatError):
        reader.session.verify_pin(which, pin)
    assert reader.conn.apdus == 1
    assert reader.spy.pins_sent() == 0
    assert (
        getattr(reader.card_file, which).retries_left
        == getattr(reader.card_file, which).max_retries
    )


def test_sign_refuses_oversized_input(reader: Reader) -> None:
    with pytest.raises(ValueError):
        reader.session.sign("auth", bytes(246))
    assert reader.conn.apdus == 0


class ScriptedConnection:
    """Answers commands in order from a script of (command hex, response hex)."""

    def __init__(self, script: list[tuple[str, str]]):
        self.script = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in script]

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        expected, response = self.script.pop(0)
        assert apdu == expected, f"sent {apdu.hex()} expected {expected.hex()}"
        return response[:-2], int.from_bytes(response[-2:], "big")

    def close(self) -> None:
        pass


SELECT_AP = "00a4040c0ad392f000260100000001"
SELECT_NEXT_AP = "00a4040c0ad392f000260200000001"  # the next card's 認証AP (provisional AID)
SELECT_AUTH_CERT = "00a4020c02000a"


@pytest.mark.parametrize("sw", ["6a82", "6d00", "6e00"])
def test_a_card_without_jpki_is_named_so(sw: str) -> None:
    """Neither today's JPKI AP nor the next card's 認証AP answers."""
    with pytest.raises(NotAJpkiCard):
        JpkiSession(ScriptedConnection([(SELECT_AP, sw), (SELECT_NEXT_AP, sw)])).select_ap()


def test_the_next_cards_application_is_found_after_todays() -> None:
    session = JpkiSession(ScriptedConnection([(SELECT_AP, "6a82"), (SELECT_NEXT_AP, "9000")]))
    assert session.select_ap() == bytes.fromhex("d392f000260200000001")
    assert session.application == bytes.fromhex("d392f000260200000001")


def test_other_select_failures_stay_card_errors() -> None:
    with pytest.raises(ApduError) as info:
        JpkiSession(ScriptedConnection([(SELECT_AP, "6f00")])).select_ap()
    assert info.value.sw == 0x6F00


@pytest.mark.parametrize(
    ("first_read", "message"),
    [
        ("9000", "empty or truncated"),
        ("30", "empty or truncated"),
        ("3082", "damaged header"),
        ("ffffffff" * 64 + "9000", "no certificate"),
        ("3084000000009000", "damaged header"),
        ("6b00", "truncated"),
    ],
)
def test_malformed_certificate_headers(first_read: str, message: str) -> None:
    if not first_read.endswith(("9000", "6b00")):
        first_read += "9000"
    conn = ScriptedConnection([(SELECT_AUTH_CERT, "9000"), ("00b0000000", first_read)])
    with pytest.raises(MalformedResponse, match=message):
        JpkiSession(conn).read_certificate("auth")


def test_certificate_longer_than_its_file() -> None:
    body = "308201f4" + "aa" * 252  # declares 500 bytes, the EF ends after 256
    conn = ScriptedConnection(
        [(SELECT_AUTH_CERT, "9000"), ("00b0000000", body + "9000"), ("00b00100f8", "6b00")]
    )
    with pytest.raises(MalformedResponse, match="truncated"):
        JpkiSession(conn).read_certificate("auth")


def test_certificate_read_stops_when_the_card_returns_nothing() -> None:
    body = "308201f4" + "aa" * 252
    conn = ScriptedConnection(
        [(SELECT_AUTH_CERT, "9000"), ("00b0000000", body + "9000"), ("00b00100f8", "9000")]
    )
    with pytest.raises(MalformedResponse, match="truncated"):
        JpkiSession(conn).read_certificate("auth")


def test_short_reads_are_continued_from_where_they_stopped() -> None:
    cert = bytes.fromhex("3082012c") + bytes(range(256)) + bytes(44)  # 304 bytes
    conn = ScriptedConnection(
        [
            (SELECT_AUTH_CERT, "9000"),
            ("00b0000000", cert[:100].hex() + "9000"),  # card returns less than asked
            ("00b00064cc", cert[100:].hex() + "ffff" + "9000"),  # filler after the object
        ]
    )
    assert JpkiSession(conn).read_certificate("auth") == cert


def test_label_that_is_not_ascii() -> None:
    conn = ScriptedConnection([("00b0860020", "ff" * 32 + "9000")])
    with pytest.raises(MalformedResponse):
        JpkiSession(conn).token_label()


@pytest.mark.parametrize(
    ("response", "retries"), [("63c3", 3), ("63c0", 0), ("6984", 0), ("9000", 5)]
)
def test_retry_query_answers(response: str, retries: int) -> None:
    conn = ScriptedConnection([("0020009b", response)])
    assert JpkiSession(conn).pin_retries("sign") == retries


def test_der_length_forms() -> None:
    assert der_length(bytes.fromhex("3005")) == 7
    assert der_length(bytes.fromhex("308181")) == 132
    assert der_length(bytes.fromhex("308203e8")) == 1004


@pytest.mark.parametrize("length", [0, 1, 255, 257, 512])
def test_a_signature_of_the_wrong_length_is_malformed(length: int) -> None:
    digest_info = "3031300d060960864801650304020105000420" + "00" * 32
    conn = ScriptedConnection([("802a0097" + "33" + digest_info + "00", "ab" * length + "9000")])
    with pytest.raises(MalformedResponse, match="length"):
        JpkiSession(conn).sign("auth", bytes.fromhex(digest_info))

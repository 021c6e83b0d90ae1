"""Tokens, not cards: discovery, the virtual token personalities, and the visit on an iPhone.

Everything runs over an in-process virtual card; no reader, no Qt.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kiosk.card.errors import ApduError
from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.errors import MalformedResponse, PinBlocked, SecurityStatusNotSatisfied
from kiosk.jpki.session import JpkiSession
from kiosk.jpki.token import Token, TokenKind, discover, kind_of_label
from kiosk.pki.cardfile import CardFile
from kiosk.services.visit import authenticate, authenticate_on_phone, open_applet
from kiosk.simcard.applet import PinRef, VirtualCard
from kiosk.simcard.personality import Personality

SELECT_AP = bytes.fromhex("00A4040C0AD392F000260100000001")


def select_ef(fid: int) -> bytes:
    return bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big")


def verify(pin: str, sfi: int) -> bytes:
    data = pin.encode()
    return bytes([0x00, 0x20, 0x00, 0x80 | sfi, len(data)]) + data


def sw(response: bytes) -> str:
    return response[-2:].hex().upper()


def session_on(card: VirtualCard) -> JpkiSession:
    return JpkiSession(InProcessConnection(card))


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("JPKIAPICCTOKEN2", TokenKind.CARD),
        ("JPKIAPGPSETOKEN", TokenKind.ANDROID),
        ("JPKIAPIOSTOKEN", TokenKind.IPHONE),
        ("JPKIAPICCTOKEN", TokenKind.UNKNOWN),  # the old 住基カード's label
        ("", TokenKind.UNKNOWN),
        ("jpkiapgpsetoken", TokenKind.UNKNOWN),  # labels are exact
    ],
)
def test_kind_of_label(label: str, kind: TokenKind) -> None:
    assert kind_of_label(label) is kind


@pytest.mark.parametrize(
    ("personality", "expected"),
    [
        (Personality.CARD, Token(TokenKind.CARD, "JPKIAPICCTOKEN2", 3, 5, True)),
        (Personality.ANDROID, Token(TokenKind.ANDROID, "JPKIAPGPSETOKEN", 3, 5, True)),
        (Personality.IPHONE, Token(TokenKind.IPHONE, "JPKIAPIOSTOKEN", 0, 0, True)),
        (Personality.FACE_AUTH, Token(TokenKind.FACE_AUTH, "JPKIAPICCTOKEN2", 0, 0, False)),
    ],
)
def test_discovery_tells_each_token_apart_without_a_pin(
    card_file: CardFile, personality: Personality, expected: Token
) -> None:
    card = VirtualCard(card_file, personality=personality)
    assert discover(session_on(card)) == expected
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}


def test_an_unknown_label_is_an_unknown_token(card_file: CardFile) -> None:
    card = VirtualCard(replace(card_file, token_label="JPKIAPXXTOKEN"))
    assert discover(session_on(card)) == Token(TokenKind.UNKNOWN, "JPKIAPXXTOKEN", 0, 0, False)


def test_a_card_whose_pin_is_blocked_is_not_a_face_auth_card(card_file: CardFile) -> None:
    """It still has its signature certificate: the flow shows the blocked PIN, not face-auth."""
    card = VirtualCard(card_file.with_retries(auth=0))
    assert discover(session_on(card)) == Token(TokenKind.CARD, "JPKIAPICCTOKEN2", 0, 5, True)


def test_the_visit_reads_the_token_kind(card_file: CardFile) -> None:
    card = VirtualCard(card_file, personality=Personality.ANDROID)
    status = open_applet(session_on(card))
    assert (status.token, status.auth_retries, status.sign_retries) == (TokenKind.ANDROID, 3, 5)


class Answers:
    """A connection that answers from a table by command prefix (anything else: 6A82)."""

    def __init__(self, table: dict[bytes, tuple[bytes, int]]) -> None:
        self.table = table

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        for prefix, answer in self.table.items():
            if apdu.startswith(prefix):
                return answer
        return b"", 0x6A82

    def close(self) -> None:
        pass


LABEL = (b"JPKIAPICCTOKEN2".ljust(32, b" "), 0x9000)


@pytest.mark.parametrize("pin_answer", [0x6984, 0x6983, 0x63C0, 0x6A88, 0x6A82])
def test_a_card_without_sign_cert_whose_pin_refuses_is_face_auth(pin_answer: int) -> None:
    """How a face-auth card makes its PIN unusable is not public: any refusal counts."""
    conn = Answers(
        {
            SELECT_AP[:4]: (b"", 0x9000),
            bytes.fromhex("00B08600"): LABEL,
            bytes.fromhex("00B08800"): (bytes.fromhex("008F00"), 0x9000),
            bytes.fromhex("00200098"): (b"", pin_answer),
        }
    )
    assert discover(JpkiSession(conn)).kind is TokenKind.FACE_AUTH


def test_a_card_without_sign_cert_but_a_pin_is_a_card() -> None:
    """A holder under 15: no signature certificate, an ordinary PIN."""
    conn = Answers(
        {
            SELECT_AP[:4]: (b"", 0x9000),
            bytes.fromhex("00B08600"): LABEL,
            bytes.fromhex("00B08800"): (bytes.fromhex("008F00"), 0x9000),
            bytes.fromhex("00200098"): (b"", 0x63C3),
        }
    )
    assert discover(JpkiSession(conn)) == Token(TokenKind.CARD, "JPKIAPICCTOKEN2", 3, 0, False)


def test_a_token_without_ef_0008_is_taken_to_hold_both_certificates() -> None:
    conn = Answers(
        {
            SELECT_AP[:4]: (b"", 0x9000),
            bytes.fromhex("00B08600"): (b"JPKIAPGPSETOKEN".ljust(32, b" "), 0x9000),
            bytes.fromhex("00B00000"): (b"JPKIAPGPSETOKEN".ljust(32, b" "), 0x9000),
            bytes.fromhex("00A4020C020018"): (b"", 0x9000),  # EF 0008 is missing: the session
            bytes.fromhex("00A4020C02001B"): (b"", 0x9000),  # goes on in SELECT forms
            bytes.fromhex("00200080"): (b"", 0x63C3),
        }
    )
    token = discover(JpkiSession(conn))
    assert (token.kind, token.has_sign_cert, token.auth_retries) == (TokenKind.ANDROID, True, 3)


def test_a_malformed_label_is_refused_typed(card_file: CardFile) -> None:
    garbled = (b"\xff" * 32, 0x9000)
    conn = Answers({SELECT_AP[:4]: (b"", 0x9000), bytes.fromhex("00B08600"): garbled})
    with pytest.raises(MalformedResponse):
        discover(JpkiSession(conn))


# --- the personalities ---------------------------------------------------------------------


def in_ap(card_file: CardFile, personality: Personality) -> VirtualCard:
    card = VirtualCard(card_file, personality=personality)
    card.power_on()
    assert sw(card.transmit(SELECT_AP)) == "9000"
    return card


def test_android_gives_its_auth_certificate_only_after_the_pin(card_file: CardFile) -> None:
    card = in_ap(card_file, Personality.ANDROID)
    assert sw(card.transmit(select_ef(0x000A))) == "9000"
    assert sw(card.transmit(bytes.fromhex("00B0000004"))) == "6982"
    assert sw(card.transmit(verify(card_file.auth.pin, 0x18))) == "9000"
    assert card.transmit(bytes.fromhex("00B0000004"))[:4] == card_file.auth.certificate[:4]
    assert card.pins_received[PinRef.AUTH] == 1


def test_the_card_gives_its_auth_certificate_without_a_pin(card_file: CardFile) -> None:
    card = in_ap(card_file, Personality.CARD)
    assert sw(card.transmit(select_ef(0x000A))) == "9000"
    assert sw(card.transmit(bytes.fromhex("00B0000004"))) == "9000"


def test_android_authentication_sends_the_pin_once_before_reading(card_file: CardFile) -> None:
    card = VirtualCard(card_file, personality=Personality.ANDROID)
    session = session_on(card)
    open_applet(session)
    proof = authenticate(session, card_file.auth.pin, b"challenge", selected=True)
    assert proof.certificate_der == card_file.auth.certificate
    assert card.pins_received == {PinRef.AUTH: 1, PinRef.SIGN: 0}


def test_iphone_has_no_pin_to_verify(card_file: CardFile) -> None:
    card = in_ap(card_file, Personality.IPHONE)
    assert sw(card.transmit(verify(card_file.auth.pin, 0x18))) == "6A82"
    assert sw(card.transmit(verify("", 0x18)[:4])) == "6A82"


def test_iphone_signs_once_per_confirmation(card_file: CardFile) -> None:
    card = VirtualCard(card_file, personality=Personality.IPHONE)
    session = session_on(card)
    open_applet(session)
    assert authenticate_on_phone(session, b"challenge") is None  # not confirmed: nothing signed
    card.confirm()
    proof = authenticate_on_phone(session, b"challenge")
    assert proof is not None and proof.certificate_der == card_file.auth.certificate
    key = x509.load_der_x509_certificate(proof.certificate_der).public_key()
    key.verify(proof.signature, b"challenge", PKCS1v15(), SHA256())  # type: ignore[union-attr]
    assert not card.confirmed
    assert authenticate_on_phone(session, b"again") is None  # used up: the person again
    assert card.pins_received == {PinRef.AUTH: 0, PinRef.SIGN: 0}


def test_an_iphone_confirmation_survives_the_phone_leaving_the_field(card_file: CardFile) -> None:
    card = VirtualCard(card_file, personality=Personality.IPHONE)
    card.confirm()
    card.power_off()
    card.power_on()
    session = session_on(card)
    open_applet(session)
    assert authenticate_on_phone(session, b"challenge") is not None


def test_only_an_iphone_is_confirmed_on_the_phone(card_file: CardFile) -> None:
    with pytest.raises(ValueError, match="iPhone"):
        VirtualCard(card_file).confirm()


def test_face_auth_card_pin_is_unusable_and_spends_nothing(card_file: CardFile) -> None:
    card = in_ap(card_file, Personality.FACE_AUTH)
    assert sw(card.transmit(bytes.fromhex("00200098"))) == "6984"
    assert sw(card.transmit(verify(card_file.auth.pin, 0x18))) == "6984"
    assert card.card.auth.retries_left == card_file.auth.retries_left
    assert card.pins_received[PinRef.AUTH] == 1


def test_face_auth_card_has_no_signature_files(card_file: CardFile) -> None:
    card = in_ap(card_file, Personality.FACE_AUTH)
    for fid in (0x0001, 0x001A, 0x001B):
        assert sw(card.transmit(select_ef(fid))) == "6A82"
    assert sw(card.transmit(select_ef(0x0008))) == "9000"
    assert card.transmit(bytes.fromhex("00B0000003"))[:-2] == bytes.fromhex("008F00")
    session = session_on(card)
    session.select_ap()
    assert session.read_certificate("auth") == card_file.auth.certificate  # no PIN, as a card


def test_face_auth_card_cannot_authenticate(card_file: CardFile) -> None:
    card = VirtualCard(card_file, personality=Personality.FACE_AUTH)
    session = session_on(card)
    open_applet(session)
    with pytest.raises(PinBlocked):
        authenticate(session, card_file.auth.pin, b"challenge", selected=True)
    assert card.pins_received[PinRef.AUTH] == 0  # the blocked counter is read first


def test_android_refuses_the_certificate_read_before_the_pin(card_file: CardFile) -> None:
    session = session_on(VirtualCard(card_file, personality=Personality.ANDROID))
    session.select_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        session.read_certificate("auth")


def test_phones_keep_their_label_whatever_the_card_file_says(card_file: CardFile) -> None:
    card = VirtualCard(replace(card_file, token_label="ANYTHING"), personality=Personality.IPHONE)
    assert discover(session_on(card)).label == "JPKIAPIOSTOKEN"


def test_apdu_error_passes_through_discovery(card_file: CardFile) -> None:
    """A status word with no JPKI meaning on a token with a sign cert is not swallowed."""
    conn = Answers(
        {
            SELECT_AP[:4]: (b"", 0x9000),
            bytes.fromhex("00B08600"): LABEL,
            bytes.fromhex("00B08800"): (bytes.fromhex("8F8F00"), 0x9000),
            bytes.fromhex("00200098"): (b"", 0x6F00),
        }
    )
    with pytest.raises(ApduError):
        discover(JpkiSession(conn))


def test_sim_refuses_a_confirmation_for_anything_but_an_iphone(card_path, capsys) -> None:
    from kiosk.cli import main

    assert main(["sim", "insert", str(card_path), "--as", "android", "--confirmed"]) == 2
    assert "--confirmed is for --as iphone only" in capsys.readouterr().err

"""A card that refuses the short-EF-identifier forms is served SELECT + command instead."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from kiosk.card.connection import MeteredConnection
from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.errors import PinIncorrect, PinUnconfirmed
from kiosk.jpki.session import JpkiSession
from kiosk.pki.cardfile import CardFile
from kiosk.services.visit import authenticate
from kiosk.simcard.applet import VirtualCard


class SelectOnlyCard(VirtualCard):
    """A card that knows no short EF identifiers: P1=80|sfi READ, P2=80|sfi otherwise → 6A86."""

    def __init__(self, card: CardFile) -> None:
        super().__init__(card, on_change=self._changed)
        self.card_file = card
        self.refused = 0

    def _changed(self, card: CardFile) -> None:
        self.card_file = card

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) >= 4:
            ins, p1, p2 = apdu[1], apdu[2], apdu[3]
            if (ins == 0xB0 and p1 & 0x80) or (ins in (0x20, 0x2A) and p2 not in (0x00, 0x80)):
                self.refused += 1
                return bytes.fromhex("6A86")
        return super().transmit(apdu)


def test_authenticate_falls_back_to_select_and_still_signs(card_file: CardFile):
    card = SelectOnlyCard(card_file)
    conn = MeteredConnection(InProcessConnection(card))
    proof = authenticate(JpkiSession(conn), card_file.auth.pin, b"challenge")
    public_key = x509.load_der_x509_certificate(proof.certificate_der).public_key()
    public_key.verify(proof.signature, b"challenge", PKCS1v15(), SHA256())
    assert card.refused == 1  # found out once, on the label read, before any PIN was sent
    assert card.card_file.auth.retries_left == 3


def test_fallback_keeps_wrong_pin_counting_exact(card_file: CardFile):
    card = SelectOnlyCard(card_file)
    session = JpkiSession(InProcessConnection(card))
    session.select_ap()
    assert session.pin_retries("auth") == 3
    try:
        session.verify_pin("auth", "0000" if card_file.auth.pin != "0000" else "1111")
    except PinIncorrect as e:
        assert e.retries_left == 2
    else:
        raise AssertionError("a wrong PIN was accepted")
    assert card.card_file.auth.retries_left == 2


class NoShortPinCard(VirtualCard):
    """Takes every short form except a VERIFY that carries a PIN (→ 6A86, no try spent)."""

    def __init__(self, card: CardFile) -> None:
        super().__init__(card)
        self.pins: list[int] = []  # P2 of each VERIFY that carried a PIN

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) > 5 and apdu[1] == 0x20:
            self.pins.append(apdu[3])
            if apdu[3] != 0x80:
                return bytes.fromhex("6A86")
        return super().transmit(apdu)


def test_a_short_form_refused_only_for_the_pin_is_not_repeated(card_file: CardFile):
    card = NoShortPinCard(card_file)
    session = JpkiSession(InProcessConnection(card))
    with pytest.raises(PinUnconfirmed) as info:
        authenticate(session, card_file.auth.pin, b"challenge")
    assert info.value.sw == 0x6A86
    assert card.pins == [0x98]  # sent once, in the short form; not again after SELECT
    # the next entry (the person types the PIN again) goes through SELECT + VERIFY
    proof = authenticate(session, card_file.auth.pin, b"challenge")
    assert card.pins == [0x98, 0x80]
    public_key = x509.load_der_x509_certificate(proof.certificate_der).public_key()
    public_key.verify(proof.signature, b"challenge", PKCS1v15(), SHA256())

"""Behaviour of the virtual JPKI applet, checked row by row against the emulator checklist."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from kiosk.pki.cardfile import CardFile, load_card, save_card
from kiosk.simcard.applet import Ef, EfKind, VirtualCard, parse_command, token_info

SELECT_AP = bytes.fromhex("00A4040C0AD392F000260100000001")
SHA256_PREFIX = bytes.fromhex("3031300D060960864801650304020105000420")


def select_ef(fid: int) -> bytes:
    return bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big")


def verify(pin: str | bytes = b"", p2: int = 0x80) -> bytes:
    data = pin.encode() if isinstance(pin, str) else pin
    return bytes([0x00, 0x20, 0x00, p2]) + (bytes([len(data)]) + data if data else b"")


def sign(data: bytes, p2: int = 0x80) -> bytes:
    return bytes([0x80, 0x2A, 0x00, p2, len(data)]) + data + b"\x00"


def ok(response: bytes) -> bytes:
    assert response[-2:] == b"\x90\x00", response[-2:].hex()
    return response[:-2]


def sw(response: bytes) -> str:
    return response[-2:].hex().upper()


class Recorder:
    """Collects what the card asks its owner to persist."""

    def __init__(self) -> None:
        self.saved: list[CardFile] = []

    def __call__(self, card: CardFile) -> None:
        self.saved.append(card)


@pytest.fixture
def saved() -> Recorder:
    return Recorder()


@pytest.fixture
def vcard(card_file: CardFile, saved: Recorder) -> VirtualCard:
    card = VirtualCard(card_file, on_change=saved)
    card.power_on()
    return card


@pytest.fixture
def in_ap(vcard: VirtualCard) -> VirtualCard:
    ok(vcard.transmit(SELECT_AP))
    return vcard


def read_ef(card: VirtualCard, fid: int) -> bytes:
    """Read a certificate EF the way OpenSC/myna do: header first, then ≤256-byte chunks."""
    ok(card.transmit(select_ef(fid)))
    head = ok(card.transmit(bytes.fromhex("00B0000004")))
    assert head[:2] == b"\x30\x82"
    size = int.from_bytes(head[2:4], "big") + 4
    data = bytearray(head)
    while len(data) < size:
        left = size - len(data)
        le = 0 if left > 255 else left
        chunk = ok(card.transmit(bytes([0x00, 0xB0, len(data) >> 8, len(data) & 0xFF, le])))
        assert chunk
        data += chunk
    return bytes(data)


# -- ATR and SELECT ---------------------------------------------------------------------


def test_atr_is_the_contact_card_atr(vcard: VirtualCard) -> None:
    assert vcard.atr == bytes.fromhex("3BE000FF8131FE4514")


def test_select_jpki_ap_answers_9000_without_fci(vcard: VirtualCard) -> None:
    assert vcard.transmit(SELECT_AP) == b"\x90\x00"


def test_select_unknown_aid_is_file_not_found(vcard: VirtualCard) -> None:
    assert sw(vcard.transmit(bytes.fromhex("00A4040C07A0000000030000"))) == "6A82"


@pytest.mark.parametrize("aid", ["D3921000310001010408", "D3921000310001010402"])
def test_other_my_number_aps_select_but_hold_no_jpki_files(vcard: VirtualCard, aid: str) -> None:
    assert sw(vcard.transmit(bytes.fromhex("00A4040C0A" + aid))) == "9000"
    assert sw(vcard.transmit(select_ef(0x000A))) == "6A82"
    assert sw(vcard.transmit(bytes.fromhex("00B08A0004"))) == "6A82"


def test_select_ef_without_a_df_is_refused(vcard: VirtualCard) -> None:
    assert sw(vcard.transmit(select_ef(0x000A))) == "6986"


def test_select_mf_quirks(vcard: VirtualCard) -> None:
    assert sw(vcard.transmit(bytes.fromhex("00A40000"))) == "6A86"
    ok(vcard.transmit(SELECT_AP))
    ok(vcard.transmit(select_ef(0x0008)))
    assert sw(vcard.transmit(bytes.fromhex("00A40000"))) == "9000"
    # nothing changed: the EF is still current
    assert ok(vcard.transmit(bytes.fromhex("00B0000003"))) == bytes.fromhex("8F8F00")
    assert sw(vcard.transmit(select_ef(0x3F00))) == "6A82"


@pytest.mark.parametrize("fid", [0x0003, 0x0005, 0x0011, 0x3F00, 0xFFFF])
def test_select_unknown_fid_is_file_not_found(in_ap: VirtualCard, fid: int) -> None:
    assert sw(in_ap.transmit(select_ef(fid))) == "6A82"


@pytest.mark.parametrize("p1", [0x01, 0x03, 0x08, 0x09, 0xFF])
def test_select_other_p1_is_wrong_parameters(in_ap: VirtualCard, p1: int) -> None:
    assert sw(in_ap.transmit(bytes([0x00, 0xA4, p1, 0x0C, 0x02, 0x00, 0x0A]))) == "6A86"


def test_select_wrong_data_length(in_ap: VirtualCard) -> None:
    assert sw(in_ap.transmit(bytes.fromhex("00A4020C03000A00"))) == "6700"
    assert sw(in_ap.transmit(bytes.fromhex("00A4040C"))) == "6700"


# -- READ BINARY ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fid", "which"), [(0x000A, "auth"), (0x000B, "auth_ca"), (0x0002, "sign_ca")]
)
def test_public_certificates_read_by_der_length(
    in_ap: VirtualCard, card_file: CardFile, fid: int, which: str
) -> None:
    expected = {
        "auth": card_file.auth.certificate,
        "auth_ca": card_file.auth.ca_certificate,
        "sign_ca": card_file.sign.ca_certificate,
    }[which]
    assert read_ef(in_ap, fid) == expected


def test_certificate_ef_carries_ff_filler_to_a_larger_fixed_size(
    in_ap: VirtualCard, card_file: CardFile
) -> None:
    der = card_file.auth.certificate
    ok(in_ap.transmit(select_ef(0x000A)))
    offset = len(der)
    tail = bytearray()
    while True:
        r = in_ap.transmit(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, 0x00]))
        if sw(r) == "6B00":
            break
        tail += ok(r)
        offset += len(r) - 2
    assert tail and set(tail) == {0xFF}
    assert offset % 256 == 0 and offset >= len(der) + 256


def test_read_returns_only_what_remains_then_offset_error(in_ap: VirtualCard) -> None:
    ok(in_ap.transmit(select_ef(0x0008)))
    assert ok(in_ap.transmit(bytes.fromhex("00B0000100"))) == bytes.fromhex("8F00")
    assert sw(in_ap.transmit(bytes.fromhex("00B0000300"))) == "6B00"
    assert sw(in_ap.transmit(bytes.fromhex("00B07FFF01"))) == "6B00"


def test_read_without_current_ef(vcard: VirtualCard) -> None:
    assert sw(vcard.transmit(bytes.fromhex("00B0000004"))) == "6986"
    ok(vcard.transmit(SELECT_AP))
    assert sw(vcard.transmit(bytes.fromhex("00B0000004"))) == "6986"


def test_read_with_short_efid_selects_and_reads(in_ap: VirtualCard, card_file: CardFile) -> None:
    assert ok(in_ap.transmit(bytes.fromhex("00B08A0004"))) == card_file.auth.certificate[:4]
    assert ok(in_ap.transmit(bytes.fromhex("00B08A0402"))) == card_file.auth.certificate[4:6]
    # the EF became current
    assert ok(in_ap.transmit(bytes.fromhex("00B0000002"))) == card_file.auth.certificate[:2]
    assert sw(in_ap.transmit(bytes.fromhex("00B09F0001"))) == "6A82"


def test_read_with_extended_le(in_ap: VirtualCard, card_file: CardFile) -> None:
    der = card_file.auth.certificate
    ok(in_ap.transmit(select_ef(0x000A)))
    assert ok(in_ap.transmit(bytes.fromhex("00B0000000") + len(der).to_bytes(2, "big"))) == der


def test_token_info_layout(in_ap: VirtualCard) -> None:
    ok(in_ap.transmit(select_ef(0x0006)))
    info = ok(in_ap.transmit(bytes.fromhex("00B0000000")))
    assert len(info) == 160
    assert info[:32] == b"JPKIAPICCTOKEN2".ljust(32, b" ")
    assert info[64:80] == b"E16R01NJ".ljust(16, b" ")
    assert info[80:96].isdigit()
    assert int.from_bytes(info[96:100], "big") == 0x0000040D
    assert int.from_bytes(info[116:120], "big") == 16
    assert int.from_bytes(info[120:124], "big") == 6
    assert info[140:144] == b"0301"


@pytest.mark.parametrize(
    ("label", "serial"),
    [("J" * 33, b"0" * 16), ("JPKIAPICCTOKEN2", b"0" * 15), ("JPKIAPICCTOKEN2", b"0" * 17)],
)
def test_token_info_refuses_fields_that_would_not_fit(label: str, serial: bytes) -> None:
    """CK_TOKEN_INFO is 160 bytes: a label over 32 bytes or a serial other than 16 is refused
    (ljust pads but never cuts, so the layout would shift silently)."""
    with pytest.raises(ValueError, match="token"):
        token_info(label, serial)


@pytest.mark.parametrize("kind", [EfKind.PIN, EfKind.KEY])
def test_pin_and_key_files_name_their_pin(kind: EfKind) -> None:
    """VERIFY, CHANGE REFERENCE DATA and COMPUTE SIGNATURE rely on the PIN of the file."""
    with pytest.raises(ValueError, match="PIN"):
        Ef(0x0017, kind)


def test_token_label_comes_from_the_card_file(card_file: CardFile) -> None:
    card = VirtualCard(replace(card_file, token_label="JPKIAPGPSETOKEN"))
    ok(card.transmit(SELECT_AP))
    ok(card.transmit(select_ef(0x0006)))
    assert ok(card.transmit(bytes.fromhex("00B0000020"))) == b"JPKIAPGPSETOKEN".ljust(32, b" ")


def test_certificate_availability_ef(in_ap: VirtualCard) -> None:
    ok(in_ap.transmit(select_ef(0x0008)))
    assert ok(in_ap.transmit(bytes.fromhex("00B0000000"))) == bytes.fromhex("8F8F00")


@pytest.mark.parametrize("fid", [0x0017, 0x001A, 0x0018, 0x001B])
def test_key_and_pin_files_are_not_readable(in_ap: VirtualCard, fid: int) -> None:
    ok(in_ap.transmit(select_ef(fid)))
    assert sw(in_ap.transmit(bytes.fromhex("00B0000000"))) == "6982"


def test_sign_certificate_needs_the_sign_password(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(select_ef(0x0001)))
    assert sw(in_ap.transmit(bytes.fromhex("00B0000004"))) == "6982"
    assert sw(in_ap.transmit(bytes.fromhex("00B0810004"))) == "6982"
    ok(in_ap.transmit(select_ef(0x001B)))
    ok(in_ap.transmit(verify(card_file.sign.pin)))
    assert read_ef(in_ap, 0x0001) == card_file.sign.certificate


def test_read_binary_needs_le(in_ap: VirtualCard) -> None:
    ok(in_ap.transmit(select_ef(0x0008)))
    assert sw(in_ap.transmit(bytes.fromhex("00B00000"))) == "6700"
    assert sw(in_ap.transmit(bytes.fromhex("00B000000100"))) == "6700"


# -- VERIFY -----------------------------------------------------------------------------


def test_empty_verify_reports_retries_without_spending_one(
    in_ap: VirtualCard, saved: Recorder
) -> None:
    ok(in_ap.transmit(select_ef(0x0018)))
    assert sw(in_ap.transmit(verify())) == "63C3"
    assert sw(in_ap.transmit(verify())) == "63C3"
    assert sw(in_ap.transmit(verify(p2=0x9B))) == "63C5"
    assert saved.saved == []


def test_correct_pin_verifies_and_resets_the_counter(
    in_ap: VirtualCard, card_file: CardFile, saved: Recorder
) -> None:
    ok(in_ap.transmit(select_ef(0x0018)))
    wrong = "0000" if card_file.auth.pin != "0000" else "1111"
    assert sw(in_ap.transmit(verify(wrong))) == "63C2"
    assert sw(in_ap.transmit(verify(card_file.auth.pin))) == "9000"
    assert sw(in_ap.transmit(verify())) == "63C3"
    assert [c.auth.retries_left for c in saved.saved] == [2, 3]
    assert in_ap.card.auth.retries_left == 3


def test_wrong_pins_block_and_block_persists(
    card_file: CardFile, saved: Recorder, tmp_path
) -> None:
    path = tmp_path / "card.json"
    save_card(path, card_file)
    card = VirtualCard(load_card(path), on_change=lambda c: save_card(path, c))
    ok(card.transmit(SELECT_AP))
    ok(card.transmit(select_ef(0x0018)))
    wrong = "0000" if card_file.auth.pin != "0000" else "1111"
    assert [sw(card.transmit(verify(wrong))) for _ in range(3)] == ["63C2", "63C1", "63C0"]
    assert sw(card.transmit(verify(card_file.auth.pin))) == "6984"
    assert sw(card.transmit(verify(wrong))) == "6984"
    assert sw(card.transmit(verify())) == "63C0"
    assert load_card(path).auth.retries_left == 0
    # power cycle and "restart" from the file: still blocked, the key unusable
    reloaded = VirtualCard(load_card(path))
    ok(reloaded.transmit(SELECT_AP))
    ok(reloaded.transmit(select_ef(0x0018)))
    assert sw(reloaded.transmit(verify())) == "63C0"
    assert sw(reloaded.transmit(verify(card_file.auth.pin))) == "6984"
    assert sw(reloaded.transmit(sign(b"x", p2=0x97))) == "6982"
    # the sign password is a separate counter
    assert sw(reloaded.transmit(verify(p2=0x9B))) == "63C5"


def test_sign_password_has_five_tries(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(select_ef(0x001B)))
    answers = [sw(in_ap.transmit(verify("WRONG0"))) for _ in range(6)]
    assert answers == ["63C4", "63C3", "63C2", "63C1", "63C0", "6984"]
    assert sw(in_ap.transmit(verify(card_file.sign.pin))) == "6984"


def test_sign_password_is_case_sensitive(in_ap: VirtualCard, card_file: CardFile) -> None:
    lowered = card_file.sign.pin.lower()
    if lowered == card_file.sign.pin:
        pytest.skip("the test card's sign password has no letters")
    ok(in_ap.transmit(select_ef(0x001B)))
    assert sw(in_ap.transmit(verify(lowered))) == "63C4"


def test_verify_by_short_efid(in_ap: VirtualCard, card_file: CardFile) -> None:
    assert sw(in_ap.transmit(verify(card_file.auth.pin, p2=0x98))) == "9000"
    assert sw(in_ap.transmit(verify(card_file.sign.pin, p2=0x9B))) == "9000"
    assert sw(in_ap.transmit(verify(card_file.auth.pin, p2=0x97))) == "6A82"  # a key, not a PIN


def test_verify_needs_a_pin_ief(vcard: VirtualCard, card_file: CardFile) -> None:
    assert sw(vcard.transmit(verify(card_file.auth.pin, p2=0x98))) == "6986"
    ok(vcard.transmit(SELECT_AP))
    assert sw(vcard.transmit(verify(card_file.auth.pin))) == "6986"
    ok(vcard.transmit(select_ef(0x000A)))
    assert sw(vcard.transmit(verify(card_file.auth.pin))) == "6986"
    assert sw(vcard.transmit(verify(card_file.auth.pin, p2=0x00))) == "6A86"
    assert sw(vcard.transmit(bytes.fromhex("00200180"))) == "6A86"


def test_overlong_verify_data_spends_no_try(in_ap: VirtualCard, saved: Recorder) -> None:
    assert sw(in_ap.transmit(verify(b"1" * 17, p2=0x98))) == "6700"
    assert sw(in_ap.transmit(verify(p2=0x98))) == "63C3"
    assert saved.saved == []


# -- security state ---------------------------------------------------------------------

DIGEST_INFO = SHA256_PREFIX + bytes(range(32))


@pytest.mark.parametrize("clear", ["reset", "power_off", "power_on", "reselect", "other_ap"])
def test_verified_state_is_volatile(in_ap: VirtualCard, card_file: CardFile, clear: str) -> None:
    ok(in_ap.transmit(verify(card_file.auth.pin, p2=0x98)))
    ok(in_ap.transmit(sign(DIGEST_INFO, p2=0x97)))
    if clear == "reselect":
        ok(in_ap.transmit(SELECT_AP))
    elif clear == "other_ap":
        ok(in_ap.transmit(bytes.fromhex("00A4040C0AD3921000310001010408")))
        ok(in_ap.transmit(SELECT_AP))
    else:
        getattr(in_ap, clear)()
        ok(in_ap.transmit(SELECT_AP))
    assert sw(in_ap.transmit(sign(DIGEST_INFO, p2=0x97))) == "6982"


def test_failed_verify_drops_the_verified_state(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(verify(card_file.auth.pin, p2=0x98)))
    in_ap.transmit(verify("9999" if card_file.auth.pin != "9999" else "8888", p2=0x98))
    assert sw(in_ap.transmit(sign(DIGEST_INFO, p2=0x97))) == "6982"


# -- CHANGE REFERENCE DATA --------------------------------------------------------------


def change(new: str, p2: int = 0x80) -> bytes:
    return bytes([0x00, 0x24, 0x01, p2, len(new)]) + new.encode()


def test_change_pin_requires_verified(
    in_ap: VirtualCard, card_file: CardFile, saved: Recorder
) -> None:
    new = "4321" if card_file.auth.pin != "4321" else "5678"
    ok(in_ap.transmit(select_ef(0x0018)))
    assert sw(in_ap.transmit(change(new))) == "6982"
    ok(in_ap.transmit(verify(card_file.auth.pin)))
    assert sw(in_ap.transmit(change("12a4"))) == "6A80"
    assert sw(in_ap.transmit(change(new))) == "9000"
    assert saved.saved[-1].auth.pin == new
    in_ap.reset()
    ok(in_ap.transmit(SELECT_AP))
    assert sw(in_ap.transmit(verify(card_file.auth.pin, p2=0x98))) == "63C2"
    assert sw(in_ap.transmit(verify(new, p2=0x98))) == "9000"


def test_change_sign_password_format(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(verify(card_file.sign.pin, p2=0x9B)))
    assert sw(in_ap.transmit(change("abc123", p2=0x9B))) == "6A80"
    assert sw(in_ap.transmit(change("AB12", p2=0x9B))) == "6A80"
    assert sw(in_ap.transmit(change("NEWPASS1", p2=0x9B))) == "9000"
    assert in_ap.card.sign.pin == "NEWPASS1"
    assert sw(in_ap.transmit(bytes.fromhex("0024009B024142"))) == "6A86"


# -- COMPUTE DIGITAL SIGNATURE ----------------------------------------------------------


def test_signature_needs_the_matching_pin(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(select_ef(0x0017)))
    assert sw(in_ap.transmit(sign(DIGEST_INFO))) == "6982"
    ok(in_ap.transmit(verify(card_file.sign.pin, p2=0x9B)))
    ok(in_ap.transmit(select_ef(0x0017)))
    assert sw(in_ap.transmit(sign(DIGEST_INFO))) == "6982"  # sign password ≠ auth PIN
    assert sw(in_ap.transmit(sign(DIGEST_INFO, p2=0x9A))) == "9000"


@pytest.mark.parametrize(
    ("which", "key_fid", "pin_fid"), [("auth", 0x17, 0x18), ("sign", 0x1A, 0x1B)]
)
def test_signature_verifies_with_the_certificate_key(
    in_ap: VirtualCard, card_file: CardFile, which: str, key_fid: int, pin_fid: int
) -> None:
    slot = getattr(card_file, which)
    message = b"challenge from the platform"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    ok(in_ap.transmit(select_ef(pin_fid)))
    ok(in_ap.transmit(verify(slot.pin)))
    ok(in_ap.transmit(select_ef(key_fid)))
    signature = ok(in_ap.transmit(sign(SHA256_PREFIX + digest.finalize())))
    assert len(signature) == 256
    public_key = x509.load_der_x509_certificate(slot.certificate).public_key()
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    # a verified PIN stays verified across several signatures
    again = ok(in_ap.transmit(sign(SHA256_PREFIX + bytes(32))))
    public_key.verify(again, bytes(32), padding.PKCS1v15(), Prehashed(hashes.SHA256()))


def test_signature_input_lengths(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(verify(card_file.auth.pin, p2=0x98)))
    assert sw(in_ap.transmit(sign(bytes(245), p2=0x97))) == "9000"
    assert sw(in_ap.transmit(sign(bytes(246), p2=0x97))) == "6700"
    assert sw(in_ap.transmit(bytes.fromhex("802A009700"))) == "6700"
    assert sw(in_ap.transmit(bytes.fromhex("802A0097") + b"\x33" + DIGEST_INFO + b"\x80")) == "6700"


def test_signature_parameters(in_ap: VirtualCard, card_file: CardFile) -> None:
    ok(in_ap.transmit(verify(card_file.auth.pin, p2=0x98)))
    for p1 in (0x01, 0x02, 0x05, 0x80):
        assert (
            sw(in_ap.transmit(bytes([0x80, 0x2A, p1, 0x97, 0x33]) + DIGEST_INFO + b"\x00"))
            == "6A86"
        )
    assert sw(in_ap.transmit(sign(DIGEST_INFO, p2=0x00))) == "6A86"
    assert sw(in_ap.transmit(sign(DIGEST_INFO, p2=0x98))) == "6A82"  # a PIN, not a key
    ok(in_ap.transmit(select_ef(0x000A)))
    assert sw(in_ap.transmit(sign(DIGEST_INFO))) == "6986"
    assert (
        sw(in_ap.transmit(bytes([0x00, 0x2A, 0x00, 0x97, 0x33]) + DIGEST_INFO + b"\x00")) == "6D00"
    )


# -- GET CHALLENGE ----------------------------------------------------------------------


def test_get_challenge_uses_the_injected_randomness(card_file: CardFile) -> None:
    card = VirtualCard(card_file, random_bytes=lambda n: bytes([7]) * n)
    assert card.transmit(bytes.fromhex("0084000008")) == bytes([7]) * 8 + b"\x90\x00"
    assert sw(card.transmit(bytes.fromhex("0084000100"))) == "6A86"
    assert sw(card.transmit(bytes.fromhex("00840000"))) == "6700"


# -- malformed commands -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("", "6700"),
        ("00", "6700"),
        ("00A404", "6700"),
        ("00A4040C0AD392F0002601000000", "6700"),  # Lc says 10, 8 bytes follow
        ("00A4040C0AD392F000260100000001AABB", "6700"),  # two bytes too many
        ("00A4040C00", "6700"),  # Lc 0 is Le 256, no AID
        ("00B000000000", "6700"),  # extended header without Le bytes
        ("0000000000", "6D00"),
        ("00CA5F5100", "6D00"),
        ("00C0000000", "6D00"),
        ("80B0000004", "6D00"),
        ("A0A4040C0AD392F000260100000001", "6E00"),
        ("FFA4040C0AD392F000260100000001", "6E00"),
        ("20A4040C0AD392F000260100000001", "6E00"),
        ("01A4040C0AD392F000260100000001", "6881"),
        ("03B0000004", "6881"),
        ("40A4040C0AD392F000260100000001", "6881"),
        ("08A4040C0AD392F000260100000001", "6882"),
        ("0CA4040C0AD392F000260100000001", "6882"),
        ("10A4040C0AD392F000260100000001", "6884"),
    ],
)
def test_malformed_commands_get_real_status_words_and_the_card_keeps_working(
    in_ap: VirtualCard, card_file: CardFile, apdu: str, expected: str
) -> None:
    assert sw(in_ap.transmit(bytes.fromhex(apdu))) == expected
    assert read_ef(in_ap, 0x000A) == card_file.auth.certificate


def test_too_long_apdu(in_ap: VirtualCard) -> None:
    assert sw(in_ap.transmit(bytes(70000))) == "6700"
    assert sw(in_ap.transmit(b"\x00\xa4\x04\x0c\xff" + bytes(300))) == "6700"
    ok(in_ap.transmit(SELECT_AP))


def test_parse_command_cases() -> None:
    assert parse_command(bytes.fromhex("00B0000000")).le == 256
    assert parse_command(bytes.fromhex("00B00000000000")).le == 65536
    ext = parse_command(bytes.fromhex("802A0097000002AABB0000"))
    assert (ext.data, ext.le) == (b"\xaa\xbb", 65536)
    assert parse_command(bytes.fromhex("0020008000000101")).data == b"\x01"
    assert parse_command(bytes.fromhex("00200080000000")) is not None  # extended Le 65536
    assert parse_command(bytes.fromhex("0020008000000000")) is None


def test_random_apdus_never_raise(card_file: CardFile) -> None:
    rng = random.Random(20260527)
    card = VirtualCard(card_file, on_change=lambda c: None)
    headers = [
        b"\x00\xa4\x04\x0c",
        b"\x00\xa4\x02\x0c",
        b"\x00\xb0",
        b"\x00\x20\x00",
        b"\x80\x2a\x00",
        b"",
    ]
    statuses = set()
    for i in range(4000):
        body = rng.randbytes(rng.choice([0, 1, 2, 3, 5, 8, 12, 40, 300]))
        apdu = rng.choice(headers) + body
        if i % 7 == 0:
            card.transmit(SELECT_AP)
        if i % 500 == 0:
            card.reset()
        response = card.transmit(apdu)
        assert len(response) >= 2
        statuses.add(response[-2])
    assert {0x67, 0x6A, 0x6D, 0x6E} <= statuses
    card.reset()
    ok(card.transmit(SELECT_AP))
    assert read_ef(card, 0x000A) == card_file.auth.certificate

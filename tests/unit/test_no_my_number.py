"""The law's data rule: the kiosk never reads the card's My Number (個人番号).

The My Number lives in the 券面事項入力補助AP (and, with the face data, in the 券面AP); the
JPKI AP holds none. So the rule holds when the kiosk never selects those applications: every
SELECT it sends by AID names the JPKI AP, every SELECT by file id names a JPKI EF, and no
command carries another application's AID. This is checked on the APDUs the kiosk sends (the
virtual card's stubs of those applications hold no number, so what it sends is what counts)
while it does everything it does with a card, and on the kiosk's source, which must not name
those AIDs at all (the emulator in kiosk/simcard is the card, not the kiosk).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.constants import AID, Ef
from kiosk.jpki.errors import JpkiError, PinBlocked, PinIncorrect
from kiosk.jpki.session import JpkiSession
from kiosk.pki.cardfile import CardFile
from kiosk.services.visit import authenticate, read_sign_certificate, sign_with_sign_key
from kiosk.simcard.applet import VirtualCard

#: The card's other applications (../shared/jpki-card.md §4), spelled here from the notes
#: rather than imported, so the check does not lean on the emulator's constants.
TEXT_AID = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP: 個人番号, 基本4情報
VISUAL_AID = bytes.fromhex("D3921000310001010402")  # 券面事項確認AP: face data, 個人番号
FORBIDDEN = {"券面事項入力補助AP": TEXT_AID, "券面事項確認AP": VISUAL_AID}
SELECT = 0xA4
KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


class Recorder:
    """A CardConnection that keeps every command the kiosk sends (test PINs only)."""

    def __init__(self, inner: InProcessConnection) -> None:
        self.inner = inner
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(apdu)
        return self.inner.transmit(apdu)

    def close(self) -> None:
        self.inner.close()


class SelectOnlyCard(VirtualCard):
    """A card without short EF identifiers, so the SELECT forms are exercised too."""

    def transmit(self, apdu: bytes) -> bytes:
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        if (ins == 0xB0 and p1 & 0x80) or (ins in (0x20, 0x2A) and p2 not in (0x00, 0x80)):
            return bytes.fromhex("6A86")
        return super().transmit(apdu)


def _wrong(pin: str) -> str:
    return "0000" if pin == "1234" else ("9999" if len(pin) == 4 else "WRONG999")


def _visit(s: JpkiSession, c: CardFile) -> None:
    """What kiosk.services.visit.Visit does in a visit that enrols (the card's side)."""
    s.select_ap()
    s.token_label()
    s.pin_retries("auth")
    s.pin_retries("sign")
    s.verify_pin("auth", c.auth.pin)
    s.read_certificate("auth")
    s.sign_sha256("auth", b"challenge")
    s.verify_pin("sign", c.sign.pin)
    s.read_certificate("sign")
    s.sign_sha256("sign", b"application")
    s.read_certificate("auth")
    s.sign_sha256("auth", b"application challenge")


def _card_status(s: JpkiSession, c: CardFile) -> None:
    """`kiosk card status`: the label of any token, both counters."""
    s.select_ap()
    s.token_label(allowed=None)
    s.pin_retries("auth")
    s.pin_retries("sign")


def _read_every_certificate(s: JpkiSession, c: CardFile) -> None:
    """`kiosk card read-cert` for each certificate."""
    s.select_ap()
    for name in ("auth", "auth_ca", "sign_ca"):
        s.read_certificate(name)  # type: ignore[arg-type]
    read_sign_certificate(s, c.sign.pin)


def _wrong_entries(s: JpkiSession, c: CardFile) -> None:
    """Wrong PINs and passwords until blocked: the refusal paths select nothing else."""
    for which in ("auth", "sign"):
        slot = getattr(c, which)
        s.select_ap()
        s.pin_retries(which)  # as the kiosk does before every entry
        for _ in range(slot.max_retries):
            with pytest.raises((PinIncorrect, PinBlocked)):
                s.verify_pin(which, _wrong(slot.pin))  # type: ignore[arg-type]
    with pytest.raises(PinBlocked):
        authenticate(s, c.auth.pin, b"m")
    with pytest.raises(PinBlocked):
        sign_with_sign_key(s, c.sign.pin, b"m")


Operation = Callable[[JpkiSession, CardFile], object]
OPERATIONS: dict[str, Operation] = {
    "visit_with_enrolment": _visit,
    "card_status": _card_status,
    "read_every_certificate": _read_every_certificate,
    "authenticate": lambda s, c: authenticate(s, c.auth.pin, b"challenge"),
    "read_sign_certificate": lambda s, c: read_sign_certificate(s, c.sign.pin),
    "sign_with_sign_key": lambda s, c: sign_with_sign_key(s, c.sign.pin, b"document"),
    "wrong_entries_until_blocked": _wrong_entries,
}
CARDS: dict[str, Callable[[CardFile], VirtualCard]] = {
    "short_forms": VirtualCard,
    "select_forms": SelectOnlyCard,
}


def _run(card_file: CardFile, card: str, operation: str) -> list[bytes]:
    recorder = Recorder(InProcessConnection(CARDS[card](card_file)))
    try:
        OPERATIONS[operation](JpkiSession(recorder), card_file)
    finally:
        recorder.close()
    return recorder.sent


def _violations(sent: list[bytes]) -> list[str]:
    """What in a trace breaks the rule: a SELECT of anything but the JPKI AP and its EFs."""
    found = []
    for apdu in sent:
        for name, aid in FORBIDDEN.items():
            if aid in apdu:
                found.append(f"{apdu[:4].hex()} names the {name}")
        if apdu[1] != SELECT:
            continue
        target = apdu[5:]
        if apdu[2] == 0x04 and target != AID:
            found.append(f"SELECT of application {target.hex().upper()}")
        elif apdu[2] == 0x02 and int.from_bytes(target, "big") not in set(Ef):
            found.append(f"SELECT of file {target.hex().upper()}")
        elif apdu[2] not in (0x02, 0x04):  # no SELECT MF, by path or of the parent
            found.append(f"SELECT with P1={apdu[2]:02X}")
    return found


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_only_the_jpki_application_is_ever_selected(card_file, card, operation) -> None:
    sent = _run(card_file, card, operation)
    assert [a for a in sent if a[1] == SELECT and a[2] == 0x04], "the JPKI AP is selected"
    assert _violations(sent) == []


def test_the_trace_check_catches_a_kiosk_that_selects_the_my_number() -> None:
    select_text = bytes.fromhex("00A4040C0A") + TEXT_AID
    read_my_number = [bytes.fromhex("00A4020C020001"), bytes.fromhex("00B0000000")]
    assert _violations([select_text, *read_my_number]) == [
        "00a4040c names the 券面事項入力補助AP",
        "SELECT of application D3921000310001010408",
    ]
    assert _violations([bytes.fromhex("00A4000C023F00")]) == ["SELECT with P1=00"]
    assert _violations([bytes.fromhex("00A4020C020011")]) == ["SELECT of file 0011"]


def test_the_kiosk_reaches_the_card_only_through_the_jpki_application(card_file) -> None:
    """Sanity of the check above: the trace holds the whole session, first command first."""
    sent = _run(card_file, "short_forms", "visit_with_enrolment")
    assert sent[0] == bytes.fromhex("00A4040C0A") + AID
    with pytest.raises(JpkiError):  # and a card without JPKI is refused, not explored
        JpkiSession(Recorder(InProcessConnection(NoJpkiCard(card_file)))).select_ap()


class NoJpkiCard(VirtualCard):
    """A card whose only applications are the others: SELECT of the JPKI AID → 6A82."""

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == SELECT and apdu[5:] == AID:
            return bytes.fromhex("6A82")
        return super().transmit(apdu)


def _spellings(aid: bytes) -> list[re.Pattern[str]]:
    """The AID as source code could write it: hex with or without separators, byte escapes."""
    pairs = [f"{b:02x}" for b in aid]
    return [
        re.compile(r"[\s:_,]*".join(pairs), re.IGNORECASE),
        re.compile(re.escape("".join(f"\\x{p}" for p in pairs)), re.IGNORECASE),
        re.compile(r",\s*".join(f"0x{p}" for p in pairs), re.IGNORECASE),
    ]


def test_no_kiosk_module_names_another_application() -> None:
    sources = [p for p in KIOSK.rglob("*.py") if "simcard" not in p.relative_to(KIOSK).parts]
    assert len(sources) > 20
    naming = [
        f"{path.relative_to(KIOSK)} names the {name}"
        for path in sources
        for name, aid in FORBIDDEN.items()
        for pattern in _spellings(aid)
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not naming


def test_the_source_scan_finds_an_aid_where_one_is_written() -> None:
    written = [
        'bytes.fromhex("D3921000310001010408")',
        'b"\\xd3\\x92\\x10\\x00\\x31\\x00\\x01\\x01\\x04\\x08"',
        "D3 92 10 00 31 00 01 01 04 08",
        "0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08",
    ]
    for text in written:
        assert any(p.search(text) for p in _spellings(TEXT_AID)), text

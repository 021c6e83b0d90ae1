"""A PIN or password reaches the card at most once per entry, whatever the card answers.

A scripted card answers the VERIFY that carries the secret with every status word 0000..FFFF
(and with a dead transport, and with garbage); the test counts the VERIFY commands with data
that reach it. Exactly one per entry, for the authentication PIN and the signature password,
whether the session is still on the short-EF-identifier forms or has fallen back to SELECT +
command, and through the whole-operation functions the kiosk calls. After the secret, nothing
of that entry reaches the card (no GET RESPONSE, no re-issue with another Le, no SELECT +
VERIFY again); the entry ends with a typed error unless the card said 9000.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.card.errors import CardError, CardRemoved
from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.errors import (
    JpkiError,
    MalformedResponse,
    PinBlocked,
    PinIncorrect,
    PinUnconfirmed,
)
from kiosk.jpki.session import JpkiSession
from kiosk.jpki_facts import Which
from kiosk.services.visit import authenticate, read_sign_certificate

pytestmark = pytest.mark.slow  # started first when the suite is shared out

VERIFY, SELECT, READ_BINARY = 0x20, 0xA4, 0xB0
SECRETS: dict[Which, str] = {"auth": "1234", "sign": "ABC123"}
LABEL = b"JPKIAPICCTOKEN2".ljust(32, b" ")
EVERY_SW = range(0x10000)


class TransportFailure(Exception):
    """Marker: the scripted card answers the secret VERIFY with a dead transport."""


class ScriptedCard:
    """A JPKI-looking card whose answer to a VERIFY carrying data is scripted.

    Everything else is answered like a card that works: SELECT 9000, the token label, the
    retry counter (63C3) for an empty VERIFY. With `short_forms=False` it refuses every
    short-EF-identifier form with 6A86, as some cards do, so the session falls back to SELECT.
    """

    atr = bytes.fromhex("3be000ff8131fe4514")

    def __init__(self, answer: bytes | type[Exception], *, short_forms: bool = True) -> None:
        self.answer = answer
        self.short_forms = short_forms
        self.sent: list[bytes] = []
        self.selected = b""

    def power_on(self) -> None: ...

    def reset(self) -> None: ...

    def power_off(self) -> None: ...

    @property
    def secrets_received(self) -> int:
        """VERIFY commands that carried data (a PIN or password)."""
        return sum(1 for apdu in self.sent if apdu[1] == VERIFY and len(apdu) > 5)

    def after_secret(self) -> list[bytes]:
        """Every command sent after the first one that carried a secret."""
        for i, apdu in enumerate(self.sent):
            if apdu[1] == VERIFY and len(apdu) > 5:
                return self.sent[i + 1 :]
        return []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        ins, p1, p2 = apdu[1], apdu[2], apdu[3]
        short = (ins == READ_BINARY and p1 & 0x80) or (ins == VERIFY and p2 not in (0x00, 0x80))
        if short and not self.short_forms:
            return bytes.fromhex("6a86")
        if ins == VERIFY and len(apdu) > 5:
            if isinstance(self.answer, bytes):
                return self.answer
            raise self.answer()
        if ins == VERIFY:
            return bytes.fromhex("63c3")
        if ins == SELECT:
            self.selected = apdu[5:]
        if ins == READ_BINARY and (p1 == 0x86 or (p1 == 0 and self.selected == b"\x00\x06")):
            return LABEL + b"\x90\x00"
        return b"\x90\x00"


def _answer(sw: int) -> bytes:
    """The card's reply: some status words come with data, as a misbehaving card may send."""
    return (b"\xaa" * (sw & 3)) + sw.to_bytes(2, "big")


def _entry(card: ScriptedCard, which: Which, *, fell_back: bool) -> BaseException | None:
    """One PIN entry through JpkiSession: select, (the retry counter), VERIFY; its error."""
    session = JpkiSession(InProcessConnection(card))
    session.select_ap()
    if fell_back:
        session.pin_retries(which)  # 6A86 to the short form: SELECT + VERIFY from now on
    try:
        session.verify_pin(which, SECRETS[which])
    except Exception as e:
        return e
    return None


def _expected(sw: int) -> type[BaseException] | None:
    """What the entry ends with when the card answers the secret with `sw`."""
    if sw == 0x9000:
        return None
    if sw in (0x63C0, 0x6983, 0x6984):
        return PinBlocked
    if sw >> 4 == 0x63C:
        return PinIncorrect
    return PinUnconfirmed


@pytest.mark.parametrize("fell_back", [False, True], ids=["short_forms", "select_forms"])
@pytest.mark.parametrize("which", ["auth", "sign"])
def test_every_status_word_to_the_verify_gets_the_secret_once(which: Which, fell_back: bool):
    resent: list[str] = []
    mistyped: list[str] = []
    for sw in EVERY_SW:
        card = ScriptedCard(_answer(sw), short_forms=not fell_back)
        error = _entry(card, which, fell_back=fell_back)
        if card.secrets_received != 1 or card.after_secret():
            resent.append(f"{sw:04X}: {card.secrets_received} secrets, then {card.after_secret()}")
        expected = _expected(sw)
        if type(error) is not expected and not (error is None and expected is None):
            mistyped.append(f"{sw:04X}: {error!r}")
    assert not resent, f"{len(resent)} status words got more than the secret, e.g. {resent[:6]}"
    assert not mistyped, f"{len(mistyped)} status words end untyped, e.g. {mistyped[:6]}"


@pytest.mark.parametrize("which", ["auth", "sign"])
def test_an_unclear_answer_names_the_credential_and_the_status(which: Which):
    card = ScriptedCard(bytes.fromhex("6c04"))
    error = _entry(card, which, fell_back=False)
    assert isinstance(error, PinUnconfirmed) and isinstance(error, JpkiError)
    assert (error.which, error.sw) == (which, 0x6C04)
    assert "6C04" in str(error) and "not sent again" in str(error)
    assert SECRETS[which] not in str(error) and SECRETS[which] not in repr(error)


@pytest.mark.parametrize("which", ["auth", "sign"])
@pytest.mark.parametrize(
    ("answer", "error"),
    [(b"", CardError), (b"\x90", CardError), (CardRemoved, CardRemoved), (CardError, CardError)],
    ids=["nothing", "one_byte", "card_pulled", "transport_error"],
)
def test_a_dead_transport_or_garbage_gets_the_secret_once(
    which: Which, answer: bytes | type[Exception], error: type[Exception]
):
    for fell_back in (False, True):
        card = ScriptedCard(answer, short_forms=not fell_back)
        assert isinstance(_entry(card, which, fell_back=fell_back), error)
        assert card.secrets_received == 1
        assert card.after_secret() == []


Operation = Callable[[JpkiSession], object]
OPERATIONS: dict[Which, Operation] = {
    "auth": lambda session: authenticate(session, SECRETS["auth"], b"challenge"),
    "sign": lambda session: read_sign_certificate(session, SECRETS["sign"]),
}


#: One status word of every SW1, with SW2s at the edges and the counters' values.
SW_CLASSES = [sw1 << 8 | sw2 for sw1 in range(0x100) for sw2 in (0x00, 0x01, 0x82, 0xC2, 0xFF)]


@pytest.mark.parametrize("short_forms", [True, False], ids=["short_forms", "select_forms"])
@pytest.mark.parametrize("which", ["auth", "sign"])
def test_the_kiosk_operations_send_the_secret_once(which: Which, short_forms: bool):
    wrong: list[str] = []
    for sw in SW_CLASSES:
        card = ScriptedCard(_answer(sw), short_forms=short_forms)
        try:
            OPERATIONS[which](JpkiSession(InProcessConnection(card)))
        except (CardError, JpkiError) as e:
            # after a 9000 the scripted card has no certificate to give: that is malformed
            if sw == 0x9000 and not isinstance(e, MalformedResponse):
                wrong.append(f"{sw:04X}: {e!r}")
        if card.secrets_received != 1:
            wrong.append(f"{sw:04X}: {card.secrets_received} secrets")
    assert not wrong, f"{len(wrong)} status words mishandled, e.g. {wrong[:8]}"

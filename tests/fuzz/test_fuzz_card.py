"""Fuzz the JPKI session with a card that lies: only typed errors, one VERIFY, no hang.

Each case runs one of the kiosk's card operations through the public API of kiosk.jpki —
read the card status, verify a PIN (with or without reading the counter first), authenticate,
sign with the signature key, read every certificate — over the virtual card, and replaces up
to four of the card's answers, chosen by their position in the session: another status word
(61xx, 6Cxx, 63Cx, every refusal, or any of the 65,536), other or no data, data cut short,
a flipped byte (a certificate's DER header or body, the label, the signature), bytes added,
a raw answer too short to hold a status word, a pulled card or a dead reader.

What each case asserts:
- the operation returns, or raises an error of kiosk.card.errors or kiosk.jpki.errors —
  never another exception;
- no more than one VERIFY carries a PIN or password (each operation is one entry);
- the session stops: a card that keeps asking for more (61xx, 6Cxx) cannot hold it;
- a certificate the session returns is exactly as long as its DER header says;
- a case in which no answer was changed returns what the honest card gives.

The card's RSA signature is the only costly step (a few ms in Python); the virtual card is
deterministic, so a signature is taken from a cache keyed by every command the card has seen
since power-on (signing changes no card state), which keeps 10,000 cases to seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.budget import FUZZ
from kiosk.card.errors import CardError, CardRemoved
from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.constants import SIGNATURE_LENGTH
from kiosk.jpki.errors import JpkiError
from kiosk.jpki.session import JpkiSession, der_length
from kiosk.pki.cardfile import CardFile
from kiosk.services.visit import (
    AuthProof,
    authenticate,
    read_sign_certificate,
    sign_with_sign_key,
)
from kiosk.simcard.applet import VirtualCard

pytestmark = pytest.mark.fuzz

VERIFY, COMPUTE_SIGNATURE = 0x20, 0x2A
#: More commands than any operation sends, even through every GET RESPONSE it may be led into.
MAX_APDUS = 400


class Runaway(AssertionError):
    """The session kept sending commands: it would hang on a real reader."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One answer of the card, changed: `kind` says how, the other fields by how much."""

    kind: str
    sw: int = 0
    data: bytes = b""
    at: int = 0

    def apply(self, response: bytes) -> bytes:
        """The changed answer (data ‖ SW1 SW2, or garbage); raises for a dead transport."""
        data, sw = response[:-2], response[-2:]
        match self.kind:
            case "sw":
                return data + self.sw.to_bytes(2, "big")
            case "data":
                return self.data + sw
            case "truncate":
                return data[: self.at] + sw
            case "flip":
                if not data:
                    return response
                at = self.at % len(data)
                return data[:at] + bytes((data[at] ^ self.sw,)) + data[at + 1 :] + sw
            case "append":
                return data + self.data + sw
            case "raw":
                return self.data
            case "removed":
                raise CardRemoved()
            case "transport":
                raise CardError("The card reader reported an error.")
        raise AssertionError(self.kind)


class SignatureCache:
    """Signatures the virtual card made, by everything it was sent since power-on."""

    def __init__(self) -> None:
        self.known: dict[tuple[bytes, ...], bytes] = {}


class LyingCard:
    """The virtual card, with the answers at some positions replaced by a Fault."""

    atr = VirtualCard.atr

    def __init__(self, card_file: CardFile, faults: dict[int, Fault], cache: SignatureCache):
        self.card = VirtualCard(card_file)
        self.faults = faults
        self.cache = cache
        self.seen: list[bytes] = []  # since power-on: the key of the signature cache
        self.sent = 0
        self.secrets = 0
        self.faulted = False

    def power_on(self) -> None:
        self.card.power_on()
        self.seen.clear()

    def reset(self) -> None:
        self.card.reset()
        self.seen.clear()

    def power_off(self) -> None:
        self.card.power_off()
        self.seen.clear()

    def transmit(self, apdu: bytes) -> bytes:
        if self.sent >= MAX_APDUS:
            raise Runaway(f"{self.sent} commands in one operation")
        position, self.sent = self.sent, self.sent + 1
        if len(apdu) > 5 and apdu[1] == VERIFY:
            self.secrets += 1
        response = self._honest(apdu)
        fault = self.faults.get(position)
        if fault is None:
            return response
        self.faulted = True
        return fault.apply(response)

    def _honest(self, apdu: bytes) -> bytes:
        self.seen.append(apdu)
        if apdu[:2] != bytes((0x80, COMPUTE_SIGNATURE)):
            return self.card.transmit(apdu)
        key = tuple(self.seen)
        if key not in self.cache.known:
            self.cache.known[key] = self.card.transmit(apdu)
        return self.cache.known[key]


Operation = Callable[[JpkiSession, CardFile], object]


def _card_status(s: JpkiSession, c: CardFile) -> object:
    s.select_ap()
    return s.token_label(), s.pin_retries("auth"), s.pin_retries("sign")


def _verify(which: str, *, counter_first: bool) -> Operation:
    def operation(s: JpkiSession, c: CardFile) -> object:
        s.select_ap()
        if counter_first:
            s.pin_retries(which)  # type: ignore[arg-type]
        s.verify_pin(which, getattr(c, which).pin)  # type: ignore[arg-type]
        return None

    return operation


def _read_certificates(s: JpkiSession, c: CardFile) -> object:
    s.select_ap()
    names = ("auth", "auth_ca", "sign_ca")
    public = tuple(s.read_certificate(name) for name in names)  # type: ignore[arg-type]
    return (*public, read_sign_certificate(s, c.sign.pin))


OPERATIONS: dict[str, Operation] = {
    "card_status": _card_status,
    "verify_auth": _verify("auth", counter_first=True),
    "verify_sign": _verify("sign", counter_first=True),
    "verify_auth_at_once": _verify("auth", counter_first=False),
    "verify_sign_at_once": _verify("sign", counter_first=False),
    "authenticate": lambda s, c: authenticate(s, c.auth.pin, b"challenge"),
    "sign_with_sign_key": lambda s, c: sign_with_sign_key(s, c.sign.pin, b"application"),
    "read_certificates": _read_certificates,
}

INTERESTING_SW = [
    0x9000, 0x6100, 0x6101, 0x61FF, 0x6C00, 0x6C01, 0x6C20, 0x63C0, 0x63C1, 0x63C3, 0x63CF,
    0x6983, 0x6984, 0x6982, 0x6A81, 0x6A82, 0x6A86, 0x6B00, 0x6D00, 0x6E00, 0x6700, 0x6F00,
    0x6281, 0x6282, 0x9001, 0x0000, 0xFFFF,
]  # fmt: skip
STATUS = st.one_of(st.sampled_from(INTERESTING_SW), st.integers(0, 0xFFFF))
FAULT = st.one_of(
    st.builds(Fault, kind=st.just("sw"), sw=STATUS),
    st.builds(Fault, kind=st.just("data"), data=st.binary(max_size=40)),
    st.builds(Fault, kind=st.just("truncate"), at=st.integers(0, 300)),
    st.builds(Fault, kind=st.just("flip"), at=st.integers(0, 300), sw=st.integers(1, 255)),
    st.builds(Fault, kind=st.just("append"), data=st.binary(min_size=1, max_size=8)),
    st.builds(Fault, kind=st.just("raw"), data=st.binary(max_size=4)),
    st.builds(Fault, kind=st.sampled_from(["removed", "transport"])),
)
#: Positions are taken modulo the operation's length (plus two), so most faults land.
FAULTS = st.dictionaries(st.integers(0, 63), FAULT, max_size=4)


@dataclass(frozen=True, slots=True)
class Honest:
    """What the honest card gives for each operation, and the shared signature cache."""

    card_file: CardFile
    cache: SignatureCache
    results: dict[str, object]
    lengths: dict[str, int]  # commands the honest session sends

    def __repr__(self) -> str:
        return "Honest()"  # not the card's keys and certificates in a failure report


@pytest.fixture(scope="module")
def honest(card_file: CardFile) -> Honest:
    cache = SignatureCache()
    results, lengths = {}, {}
    for name, operation in OPERATIONS.items():
        card = LyingCard(card_file, {}, cache)
        results[name] = operation(JpkiSession(InProcessConnection(card)), card_file)
        lengths[name] = card.sent
    return Honest(card_file, cache, results, lengths)


def _certificates(result: object) -> list[bytes]:
    if isinstance(result, AuthProof):
        return [result.certificate_der]
    if isinstance(result, tuple):
        return [r for r in result if isinstance(r, bytes) and r[:1] == b"\x30"]
    return []


# a PIN VERIFY in the short form answered 6Cxx, 61xx, or refused as a form (once resent)
@example(operation="authenticate", faults={3: Fault("sw", sw=0x6C04)})
@example(operation="authenticate", faults={3: Fault("sw", sw=0x6104)})
@example(operation="authenticate", faults={3: Fault("sw", sw=0x6A86)})
@example(operation="verify_sign_at_once", faults={1: Fault("sw", sw=0x6D00)})
# a signature cut short or grown (found by this harness)
@example(operation="authenticate", faults={9: Fault("truncate", at=0)})
@example(operation="sign_with_sign_key", faults={10: Fault("append", data=b"\x00")})
# endless GET RESPONSE chains and a certificate header that lies about its length
@example(operation="card_status", faults={i: Fault("sw", sw=0x6101) for i in range(1, 5)})
@example(operation="read_certificates", faults={2: Fault("data", data=b"\x30\x82\x7f\xff")})
@given(operation=st.sampled_from(sorted(OPERATIONS)), faults=FAULTS)
@FUZZ
def test_a_lying_card_gets_only_typed_errors_and_one_verify(
    honest: Honest, operation: str, faults: dict[int, Fault]
) -> None:
    span = honest.lengths[operation] + 2  # the honest session's commands, and a few more
    card = LyingCard(honest.card_file, {p % span: f for p, f in faults.items()}, honest.cache)
    session = JpkiSession(InProcessConnection(card))
    error: CardError | JpkiError | None = None
    result: object = None
    try:
        result = OPERATIONS[operation](session, honest.card_file)
    except (CardError, JpkiError) as e:
        error = e
    assert card.secrets <= 1, f"{card.secrets} VERIFYs carried the secret"
    event(f"{operation}: {type(error).__name__ if error else 'returned'}")
    for der in _certificates(result):
        assert der_length(der[:4]) == len(der)
    if isinstance(result, AuthProof):
        assert len(result.signature) == SIGNATURE_LENGTH
    if not card.faulted:
        assert error is None and result == honest.results[operation]


def test_the_honest_card_answers_every_operation(honest: Honest) -> None:
    """Sanity of the harness: with no fault every operation succeeds, signatures included."""
    assert honest.results["card_status"] == ("JPKIAPICCTOKEN2", 3, 5)
    proof = honest.results["authenticate"]
    assert isinstance(proof, AuthProof)
    assert proof.certificate_der == honest.card_file.auth.certificate
    assert len(proof.signature) == SIGNATURE_LENGTH
    assert honest.results["read_certificates"] == (
        honest.card_file.auth.certificate,
        honest.card_file.auth.ca_certificate,
        honest.card_file.sign.ca_certificate,
        honest.card_file.sign.certificate,
    )

"""The JPKI applet of a virtual My Number Card: a pure APDU state machine, no IO.

Built from ../shared/jpki-card.md §1, §2, §5 and the emulator checklist (§6). `transmit`
never raises: every input gets a status word and the card keeps working. Where the real
card's behaviour is unknown ([L] in the notes) this module decides as follows.

Command parsing (in this order):
- Fewer than 4 bytes, or a body that is no ISO 7816-3 case (short or extended) → 67 00.
  Extended Lc/Le are accepted (the contact card takes an extended Le on READ BINARY).
- CLA: 0x00-0x0F and 0x80-0x8F are first-interindustry / proprietary. A logical channel
  ≠ 0 (including every further-interindustry CLA 0x40-0x7F) → 68 81; secure messaging bits
  (0x04/0x08) → 68 82; command chaining (0x10/0x90) → 68 84; any other CLA (0x20-0x3F,
  0xA0-0xFF) → 6E 00.
- INS: CLA 00 knows SELECT, READ BINARY, VERIFY, CHANGE REFERENCE DATA, GET CHALLENGE;
  CLA 80 knows only COMPUTE DIGITAL SIGNATURE. Anything else → 6D 00.
- Then P1/P2 (6A 86), then the length of data/Le (67 00), then state (69 xx).

Files and selection:
- After power on/reset no DF is current. SELECT by AID (P1=04, P2=00 or 0C; no FCI is ever
  returned): the JPKI AP, or one of the card's two other APs (券面事項入力補助AP,
  券面事項確認AP), which select like on the real card (90 00) but are empty on this test card
  (no My Number, no face data): every EF select under them → 6A 82. Other AIDs → 6A 82.
  Every successful SELECT by AID (even of the current AP) clears the verified state.
- SELECT MF (P1=00): 6A 86 with no DF current, else 90 00 and nothing changes.
- SELECT by FID (P1=02, P2=00/0C, 2 data bytes): under the current DF; 69 86 without one.
- Certificate EFs hold DER followed by 0xFF filler up to the next multiple of 256 plus 256.
- READ BINARY of a key or PIN IEF → 69 82; a read needs Le (case 2) else 67 00.
- VERIFY/COMPUTE with P2=80 on a current EF of the wrong kind → 69 86; an SFI that names no
  such file in the JPKI AP → 6A 82. The SFI forms of VERIFY and COMPUTE leave the current
  EF as it is; the SFI form of READ BINARY makes the EF current (ISO 7816-4).
- VERIFY data longer than 16 bytes → 67 00 without spending a try; any other wrong value
  spends one (the card compares raw bytes). A failed VERIFY also clears that PIN's verified
  flag. Empty VERIFY always answers 63 Cx, even when verified (OpenSC relies on it).
- CHANGE REFERENCE DATA (P1=01): new value must fit the PIN's format (auth: 4 digits; sign:
  6-16 of A-Z0-9) else 6A 80; requires the PIN verified else 69 82; blocked → 69 84.
- COMPUTE DIGITAL SIGNATURE: only P1=00 (01-05 → 6A 86); order of checks: key, security
  status (69 82), data length 1..k-11 (67 00), Le absent or ≥ 256 else 67 00.
- A next-generation card (`CardFile.generation == "next"`; docs/next-card.md, every point an
  assumption [L]): P-384 keys; COMPUTE DIGITAL SIGNATURE takes the 48-byte SHA-384 hash
  itself (other lengths → 67 00) and answers r ‖ s raw (96 bytes; Le absent or ≥ 96). Its two
  applications answer under provisional AIDs (NEXT_AUTH_AID, the 認証AP with the same EF ids
  as today's JPKI AP; NEXT_FACE_AID, the 券面等AP, empty here); today's three AIDs → 6A 82.
- Retry counters are non-volatile: each change reaches `on_change` before the answer is
  returned; an exception from `on_change` propagates (the card's memory failed).
- GET CHALLENGE (P1P2=0000, Le 1..256) answers Le random bytes from the injected source.
- The card answers whether or not it was powered on: vpcd powers it before any APDU.
- A personality (kiosk.simcard.personality) makes it an Android phone, an iPhone or a
  face-authentication card instead; what each changes, and how sure that is, is written there.
- `pins_received` counts the VERIFY commands that carried a PIN, per PIN: tests assert with it
  that a PIN reached the card at most once per entry.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum, auto

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA384
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kiosk.pki.cardfile import CardFile
from kiosk.simcard.personality import AUTH_CERTIFICATE_ONLY, BOTH_CERTIFICATES, Personality

ATR = bytes.fromhex("3BE000FF8131FE4514")
#: The emulator writes its card facts (this AID, the PIN formats below, the label in
#: kiosk.pki.cardfile) from the card notes, not from kiosk.jpki or kiosk.jpki_facts, on
#: purpose: a virtual card built from the client's constants would share its mistakes.
JPKI_AID = bytes.fromhex("D392F000260100000001")
#: The card's other applets, present on the real card; empty stubs here (module docstring).
TEXT_AID = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP
VISUAL_AID = bytes.fromhex("D3921000310001010402")  # 券面事項確認AP
#: The next-generation card's two applications. PROVISIONAL: no AID is public (the task force
#: names them 「(仮称)認証AP」 and 「(仮称)券面等AP」); these are placeholders of this project.
NEXT_AUTH_AID = bytes.fromhex("D392F000260200000001")
NEXT_FACE_AID = bytes.fromhex("D392F000260200000002")

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_CHANNEL_NOT_SUPPORTED = 0x6881
SW_SM_NOT_SUPPORTED = 0x6882
SW_CHAINING_NOT_SUPPORTED = 0x6884
SW_SECURITY = 0x6982
SW_BLOCKED = 0x6984
SW_NO_CURRENT_EF = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_OFFSET = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00

MAX_PIN_BYTES = 16
TOKEN_MODEL = b"E16R01NJ"
TOKEN_FLAGS = 0x0000040D


class PinRef(Enum):
    """The two JPKI PINs."""

    AUTH = auto()
    SIGN = auto()


class EfKind(Enum):
    """What an elementary file is for."""

    BINARY = auto()
    KEY = auto()
    PIN = auto()


@dataclass(frozen=True, slots=True)
class Ef:
    """One file of the JPKI AP."""

    fid: int
    kind: EfKind
    content: bytes = b""
    pin: PinRef | None = None  # KEY: the PIN that unlocks it; PIN: which PIN; BINARY: read guard

    def __post_init__(self) -> None:
        if self.kind is not EfKind.BINARY and self.pin is None:
            raise ValueError(f"EF {self.fid:04X} is a {self.kind.name} file without its PIN.")


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command APDU (ISO 7816-3/4)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None = absent; 0 is never stored (short 00 → 256, extended 0000 → 65536)


@dataclass(frozen=True, slots=True)
class _RsaKey:
    """The raw RSA private operation of one card key (CRT precomputed)."""

    n: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int
    size: int  # modulus length in bytes

    @classmethod
    def from_pem(cls, pem: bytes) -> _RsaKey:
        # The card file is the card's own memory; its key needs no costly validation.
        key = load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, RSAPrivateKey):
            raise TypeError("the card holds RSA keys only")
        nums = key.private_numbers()
        n = nums.public_numbers.n
        return cls(n, nums.p, nums.q, nums.dmp1, nums.dmq1, nums.iqmp, (n.bit_length() + 7) // 8)

    def accepts(self, length: int) -> bool:
        """Whether COMPUTE DIGITAL SIGNATURE data of that length can be padded (1..k-11)."""
        return 1 <= length <= self.size - 11

    def sign(self, data: bytes) -> bytes:
        """The card's answer to COMPUTE DIGITAL SIGNATURE P1=00."""
        return self.sign_pkcs1(data)

    def sign_pkcs1(self, data: bytes) -> bytes:
        """EMSA-PKCS1-v1_5 type-1 padding of `data`, then m^d mod n."""
        em = b"\x00\x01" + b"\xff" * (self.size - 3 - len(data)) + b"\x00" + data
        m = int.from_bytes(em, "big")
        m1 = pow(m, self.dp, self.p)
        m2 = pow(m, self.dq, self.q)
        h = (self.qinv * (m1 - m2)) % self.p
        return (m2 + h * self.q).to_bytes(self.size, "big")


@dataclass(frozen=True, slots=True)
class _EcKey:
    """A next-generation card key: ECDSA on P-384 over a hash the terminal computed."""

    key: ec.EllipticCurvePrivateKey
    size: int = 96  # r ‖ s, 48 bytes each
    HASH_LENGTH = 48  # SHA-384

    def accepts(self, length: int) -> bool:
        """The card signs a SHA-384 hash, nothing else (assumption, docs/next-card.md)."""
        return length == self.HASH_LENGTH

    def sign(self, data: bytes) -> bytes:
        """ECDSA over the given SHA-384 hash, answered as r ‖ s (raw, 96 bytes)."""
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(Prehashed(SHA384()))))
        return r.to_bytes(48, "big") + s.to_bytes(48, "big")


def _card_key(pem: bytes) -> _RsaKey | _EcKey:
    """The card's private operation for a key of its file: RSA today, P-384 next."""
    key = load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return _EcKey(key)
    return _RsaKey.from_pem(pem)


def parse_command(apdu: bytes) -> Command | None:
    """Split a C-APDU into its fields; None when it is no valid ISO 7816-3 case."""
    if len(apdu) < 4:
        return None
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2, b"", None)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, b"", body[0] or 256)
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return Command(cla, ins, p1, p2, body[1:], None)
        if len(body) == 2 + lc:
            return Command(cla, ins, p1, p2, body[1:-1], body[-1] or 256)
        return None
    if len(body) == 3:
        return Command(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536)
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        return None
    if len(body) == 3 + lc:
        return Command(cla, ins, p1, p2, body[3:], None)
    if len(body) == 5 + lc:
        return Command(cla, ins, p1, p2, body[3:-2], int.from_bytes(body[-2:], "big") or 65536)
    return None


def _cert_ef(fid: int, der: bytes, guard: PinRef | None = None) -> Ef:
    size = -(-len(der) // 256) * 256 + 256
    return Ef(fid, EfKind.BINARY, der + b"\xff" * (size - len(der)), guard)


def token_info(label: str, serial: bytes) -> bytes:
    """The 160-byte CK_TOKEN_INFO of EF 0006 (32-bit big-endian CK_ULONGs).

    ValueError when the label is over 32 bytes or the serial is not 16: padding never cuts, so
    the fields after them would shift and a middleware would read nonsense."""
    if len(label.encode("ascii")) > 32 or len(serial) != 16:
        raise ValueError("The token label must fit 32 bytes and the serial be 16 bytes.")
    ulongs = (
        TOKEN_FLAGS,
        0,  # ulMaxSessionCount
        0,  # ulSessionCount
        0,  # ulMaxRwSessionCount
        0,  # ulRwSessionCount
        16,  # ulMaxPinLen
        6,  # ulMinPinLen
        0,  # ulTotalPublicMemory
        0,  # ulFreePublicMemory
        0,  # ulTotalPrivateMemory
        0,  # ulFreePrivateMemory
    )
    info = (
        label.encode("ascii").ljust(32, b" ")
        + (b"0" * 31 + b"1")  # manufacturerID, as on the sample physical card
        + TOKEN_MODEL.ljust(16, b" ")
        + serial
        + b"".join(v.to_bytes(4, "big") for v in ulongs)
        + b"03"  # hardwareVersion
        + b"01"  # firmwareVersion
        + b" " * 16  # utcTime: the card has no clock
    )
    return info


def _build_files(card: CardFile, personality: Personality = Personality.CARD) -> dict[int, Ef]:
    digest = hashlib.sha256(card.auth.certificate).digest()
    serial = str(int.from_bytes(digest[:8], "big") % 10**16).zfill(16).encode()
    phone = personality in (Personality.ANDROID, Personality.IPHONE)
    label = personality.label(card.token_label)
    files = [
        _cert_ef(0x0002, card.sign.ca_certificate),
        Ef(0x0006, EfKind.BINARY, token_info(label, serial)),
        Ef(
            0x0008,
            EfKind.BINARY,
            BOTH_CERTIFICATES if personality.has_sign else AUTH_CERTIFICATE_ONLY,
        ),
        _cert_ef(0x000A, card.auth.certificate, PinRef.AUTH if phone else None),
        _cert_ef(0x000B, card.auth.ca_certificate),
        Ef(0x0017, EfKind.KEY, pin=PinRef.AUTH),
    ]
    if personality.has_pins:
        files.append(Ef(0x0018, EfKind.PIN, pin=PinRef.AUTH))
    if personality.has_sign:
        files += [
            _cert_ef(0x0001, card.sign.certificate, PinRef.SIGN),
            Ef(0x001A, EfKind.KEY, pin=PinRef.SIGN),
        ]
        if personality.has_pins:
            files.append(Ef(0x001B, EfKind.PIN, pin=PinRef.SIGN))
    return {ef.fid: ef for ef in sorted(files, key=lambda ef: ef.fid)}


_PIN_FORMAT = {
    PinRef.AUTH: re.compile(rb"[0-9]{4}"),
    PinRef.SIGN: re.compile(rb"[A-Z0-9]{6,16}"),
}


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class VirtualCard:
    """A My Number Card's JPKI applet answering APDUs like the real card."""

    atr: bytes = ATR

    def __init__(
        self,
        card: CardFile,
        on_change: Callable[[CardFile], None] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        personality: Personality = Personality.CARD,
    ) -> None:
        self._card = card
        self._on_change = on_change
        self._random_bytes = random_bytes
        self.personality = personality
        self._files = _build_files(card, personality)
        self._keys = {
            PinRef.AUTH: _card_key(card.auth.private_key_pem),
            PinRef.SIGN: _card_key(card.sign.private_key_pem),
        }
        next_generation = card.generation == "next"
        #: the JPKI application's AID, and every AID the card answers to
        self._aid = NEXT_AUTH_AID if next_generation else JPKI_AID
        self._aids = (
            (NEXT_AUTH_AID, NEXT_FACE_AID) if next_generation else (JPKI_AID, TEXT_AID, VISUAL_AID)
        )
        self._df: bytes | None = None
        self._ef: Ef | None = None
        self._verified: set[PinRef] = set()
        self._confirmed = False  # an iPhone's Face ID, armed for one signature
        #: VERIFY commands that carried a PIN, per PIN (whatever the card answered)
        self.pins_received: dict[PinRef, int] = {PinRef.AUTH: 0, PinRef.SIGN: 0}

    def confirm(self) -> None:
        """The person confirms on the iPhone (side button, Face ID): the next signature, and
        the certificate reads before it, are allowed. ValueError on any other token."""
        if self.personality is not Personality.IPHONE:
            raise ValueError("only an iPhone is confirmed on the phone")
        self._confirmed = True

    @property
    def confirmed(self) -> bool:
        """An iPhone confirmation is armed and not used up yet."""
        return self._confirmed

    def _unlocked(self, pin: PinRef) -> bool:
        """The PIN was verified this session (an iPhone: a confirmation is armed)."""
        if self.personality is Personality.IPHONE:
            return self._confirmed
        return pin in self._verified

    @property
    def card(self) -> CardFile:
        """The card's personalisation as it stands now (retry counters included)."""
        return self._card

    def power_on(self) -> None:
        """Power the card up: nothing selected, no PIN verified."""
        self._clear()

    def power_off(self) -> None:
        """Cut the power: volatile state is lost, retry counters stay."""
        self._clear()

    def reset(self) -> None:
        """Warm reset: same effect as a power cycle."""
        self._clear()

    def _clear(self) -> None:
        self._df = None
        self._ef = None
        self._verified.clear()

    def transmit(self, apdu: bytes) -> bytes:
        """Process one C-APDU; return response data ‖ SW1 SW2. Never raises."""
        cmd = parse_command(bytes(apdu))
        if cmd is None:
            return _sw(SW_WRONG_LENGTH)
        sw = self._check_class(cmd.cla)
        if sw is not None:
            return _sw(sw)
        handler = (_PROPRIETARY if cmd.cla & 0x80 else _INTERINDUSTRY).get(cmd.ins)
        if handler is None:
            return _sw(SW_INS)
        return handler(self, cmd)

    @staticmethod
    def _check_class(cla: int) -> int | None:
        if 0x40 <= cla <= 0x7F:  # further interindustry: channels 4-19
            return SW_CHANNEL_NOT_SUPPORTED
        if cla & 0x70 == 0x10:
            return SW_CHAINING_NOT_SUPPORTED
        if cla & 0x70:
            return SW_CLA
        if cla & 0x03:
            return SW_CHANNEL_NOT_SUPPORTED
        if cla & 0x0C:
            return SW_SM_NOT_SUPPORTED
        return None

    # -- commands ----------------------------------------------------------------------

    def _select(self, cmd: Command) -> bytes:
        if cmd.p1 == 0x00:
            return _sw(SW_OK if self._df is not None else SW_WRONG_P1P2)
        if cmd.p1 not in (0x02, 0x04) or cmd.p2 not in (0x00, 0x0C):
            return _sw(SW_WRONG_P1P2)
        if cmd.p1 == 0x04:
            if not 1 <= len(cmd.data) <= 16:
                return _sw(SW_WRONG_LENGTH)
            if cmd.data not in self._aids:
                return _sw(SW_FILE_NOT_FOUND)
            self._df, self._ef = cmd.data, None
            self._verified.clear()
            return _sw(SW_OK)
        if len(cmd.data) != 2:
            return _sw(SW_WRONG_LENGTH)
        if self._df is None:
            return _sw(SW_NO_CURRENT_EF)
        ef = self._files.get(int.from_bytes(cmd.data, "big")) if self._df == self._aid else None
        if ef is None:
            return _sw(SW_FILE_NOT_FOUND)
        self._ef = ef
        return _sw(SW_OK)

    def _by_sfi(self, sfi: int) -> Ef | int:
        """The EF with this short identifier in the current DF, or the SW to answer."""
        if self._df is None:
            return SW_NO_CURRENT_EF
        ef = self._files.get(sfi) if self._df == self._aid and sfi else None
        return SW_FILE_NOT_FOUND if ef is None else ef

    def _read_binary(self, cmd: Command) -> bytes:
        if cmd.le is None or cmd.data:
            return _sw(SW_WRONG_LENGTH)
        if cmd.p1 & 0x80:
            if cmd.p1 & 0x60:
                return _sw(SW_WRONG_P1P2)
            found = self._by_sfi(cmd.p1 & 0x1F)
            if isinstance(found, int):
                return _sw(found)
            self._ef, offset = found, cmd.p2
        else:
            offset = cmd.p1 << 8 | cmd.p2
        ef = self._ef
        if ef is None:
            return _sw(SW_NO_CURRENT_EF)
        if ef.kind is not EfKind.BINARY or (ef.pin is not None and not self._unlocked(ef.pin)):
            return _sw(SW_SECURITY)
        if offset >= len(ef.content):
            return _sw(SW_OFFSET)
        return _sw(SW_OK, ef.content[offset : offset + cmd.le])

    def _referenced(self, p2: int, kind: EfKind) -> PinRef | int:
        """The PIN of the PIN or key EF named by P2 (80 = current EF, 80|sfi), or the SW to
        answer."""
        if p2 == 0x80:
            ef = self._ef
            if ef is None or ef.kind is not kind or ef.pin is None:
                return SW_NO_CURRENT_EF
            return ef.pin
        if p2 & 0xE0 != 0x80:
            return SW_WRONG_P1P2
        found = self._by_sfi(p2 & 0x1F)
        if isinstance(found, int):
            return found
        if found.kind is not kind or found.pin is None:
            return SW_FILE_NOT_FOUND
        return found.pin

    def _retries(self, pin: PinRef) -> int:
        return (self._card.auth if pin is PinRef.AUTH else self._card.sign).retries_left

    def _update(self, card: CardFile) -> None:
        if card == self._card:
            return
        self._card = card
        if self._on_change is not None:
            self._on_change(card)

    def _set_retries(self, pin: PinRef, left: int) -> None:
        if pin is PinRef.AUTH:
            self._update(self._card.with_retries(auth=left))
        else:
            self._update(self._card.with_retries(sign=left))

    def _verify(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x00:
            return _sw(SW_WRONG_P1P2)
        pin = self._referenced(cmd.p2, EfKind.PIN)
        if isinstance(pin, int):
            return _sw(pin)
        if cmd.le is not None or len(cmd.data) > MAX_PIN_BYTES:
            return _sw(SW_WRONG_LENGTH)
        if cmd.data:
            self.pins_received[pin] += 1
        if self.personality is Personality.FACE_AUTH:
            return _sw(SW_BLOCKED)  # PIN use made impossible: nothing is compared or spent
        slot = self._card.auth if pin is PinRef.AUTH else self._card.sign
        if not cmd.data:
            return _sw(0x63C0 | slot.retries_left)
        if slot.retries_left == 0:
            return _sw(SW_BLOCKED)
        if cmd.data == slot.pin.encode():
            self._set_retries(pin, slot.max_retries)
            self._verified.add(pin)
            return _sw(SW_OK)
        self._verified.discard(pin)
        self._set_retries(pin, slot.retries_left - 1)
        return _sw(0x63C0 | (slot.retries_left - 1))

    def _change_reference_data(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x01:
            return _sw(SW_WRONG_P1P2)
        pin = self._referenced(cmd.p2, EfKind.PIN)
        if isinstance(pin, int):
            return _sw(pin)
        if cmd.le is not None or not 1 <= len(cmd.data) <= MAX_PIN_BYTES:
            return _sw(SW_WRONG_LENGTH)
        if self._retries(pin) == 0 or self.personality is Personality.FACE_AUTH:
            return _sw(SW_BLOCKED)
        if pin not in self._verified:
            return _sw(SW_SECURITY)
        if not _PIN_FORMAT[pin].fullmatch(cmd.data):
            return _sw(SW_WRONG_DATA)
        new = cmd.data.decode("ascii")
        if pin is PinRef.AUTH:
            self._update(replace(self._card, auth=replace(self._card.auth, pin=new)))
        else:
            self._update(replace(self._card, sign=replace(self._card.sign, pin=new)))
        return _sw(SW_OK)

    def _compute_signature(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x00:
            return _sw(SW_WRONG_P1P2)
        pin = self._referenced(cmd.p2, EfKind.KEY)
        if isinstance(pin, int):
            return _sw(pin)
        if not self._unlocked(pin):
            return _sw(SW_SECURITY)
        key = self._keys[pin]
        if not key.accepts(len(cmd.data)):
            return _sw(SW_WRONG_LENGTH)
        if cmd.le is not None and cmd.le < key.size:
            return _sw(SW_WRONG_LENGTH)
        self._confirmed = False  # an iPhone's confirmation serves one signature
        return _sw(SW_OK, key.sign(cmd.data))

    def _get_challenge(self, cmd: Command) -> bytes:
        if cmd.p1 or cmd.p2:
            return _sw(SW_WRONG_P1P2)
        if cmd.data or cmd.le is None or cmd.le > 256:
            return _sw(SW_WRONG_LENGTH)
        return _sw(SW_OK, self._random_bytes(cmd.le))


_Handler = Callable[[VirtualCard, Command], bytes]

_INTERINDUSTRY: dict[int, _Handler] = {
    0xA4: VirtualCard._select,
    0xB0: VirtualCard._read_binary,
    0x20: VirtualCard._verify,
    0x24: VirtualCard._change_reference_data,
    0x84: VirtualCard._get_challenge,
}
_PROPRIETARY: dict[int, _Handler] = {0x2A: VirtualCard._compute_signature}

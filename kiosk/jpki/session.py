"""The JPKI application over a card connection: one method per card operation.

APDU forms (see ../shared/jpki-card.md §1.2): SELECT by AID and by FID, READ BINARY with a
15-bit offset, and the short-EF-identifier forms SOL and MBE use on real cards — READ BINARY
P1=80|SFI for the token label, VERIFY P2=80|SFI for the PIN IEFs, COMPUTE DIGITAL SIGNATURE
P2=80|SFI for the key EFs — which spare a SELECT each and keep an authentication session
within 12 APDUs. Those forms rest on fewer sources than SELECT + command, so a card that
refuses one (6A86, 6A82, 6D00, …) is served the SELECT form from then on, in the same
session; the first short-form command of a session (the label read) carries no PIN, so no
try is spent finding out.

A PIN or password reaches the card at most once per `verify_pin`: its VERIFY is a secret APDU
(sent once, no GET RESPONSE, no re-issue) and is never repeated in the SELECT form. A card
that refuses the short form only there leaves the session on SELECT forms for the next entry,
and this one ends with PinUnconfirmed, as does any answer that is neither 9000, 63Cx nor
blocked: the card may have counted a try, so the kiosk must not guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.card.connection import CardConnection, send_apdu
from kiosk.card.errors import ApduError
from kiosk.jpki.constants import (
    CERT_EF,
    JPKI_APPLICATIONS,
    KEY_EF,
    MAX_SIGN_INPUT,
    PHYSICAL_CARD_LABEL,
    PIN_EF,
    SIGNATURE_LENGTH,
    TOKEN_LABEL_LENGTH,
    CertName,
    Ef,
)
from kiosk.jpki.errors import (
    MalformedResponse,
    NotAJpkiCard,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    PinUnconfirmed,
    SecurityStatusNotSatisfied,
    UnsupportedToken,
)
from kiosk.jpki_facts import MAX_TRIES, SECRET_FORMAT, Which, sha256_digest_info
from kiosk.verify.scheme import card_scheme
from kiosk.verify.verdict import Refused

#: Status words to a SELECT of the JPKI AID that mean "no such application here".
_NO_APPLICATION = frozenset({0x6A82, 0x6D00, 0x6E00})
_BLOCKED = frozenset({0x6983, 0x6984})
#: Status words from a card that does not take a short-EF-identifier form.
_NO_SHORT_FORM = frozenset({0x6A81, 0x6A82, 0x6A86, 0x6B00, 0x6D00, 0x6E00})
#: Largest certificate READ BINARY reaches with a 15-bit offset.
_MAX_EF_SIZE = 0x7FFF


def encode_pin(which: Which, pin: str) -> bytes:
    """The PIN as the card expects it (sign password upper-cased); PinFormatError if malformed."""
    if which == "sign" and pin.isascii():
        pin = pin.upper()
    if not (pin.isascii() and SECRET_FORMAT[which].fullmatch(pin)):
        raise PinFormatError(which)
    return pin.encode("ascii")


def der_length(header: bytes) -> int:
    """Total length (header included) of the DER SEQUENCE starting `header`."""
    if len(header) < 2:
        raise MalformedResponse("The certificate on the card is empty or truncated.")
    if header[0] != 0x30:
        raise MalformedResponse("The card holds no certificate where one was expected.")
    first = header[1]
    if first < 0x80:
        return 2 + first
    size = first & 0x7F
    if not 1 <= size <= 2 or len(header) < 2 + size:
        raise MalformedResponse("The certificate on the card has a damaged header.")
    return 2 + size + int.from_bytes(header[2 : 2 + size], "big")


def _sfi(ef: Ef) -> int:
    return 0x80 | ef


@dataclass(frozen=True, slots=True)
class CertificateAvailability:
    """Which certificates EF 0008 says the token holds (byte 0: sign, byte 1: auth; 00 =
    none, e.g. `00 8F 00` for a holder under 15 or a face-authentication card) [M: SOL]."""

    sign: bool
    auth: bool


class JpkiSession:
    """The JPKI AP on one card; the caller owns the connection (and its transaction)."""

    def __init__(self, connection: CardConnection):
        self._conn = connection
        self._short_forms = True
        #: the AID of the application that answered `select_ap` (None: not selected yet)
        self.application: bytes | None = None
        self._certificates: dict[str, bytes] = {}  # read this session, by name

    def select_ap(self) -> bytes:
        """Select the application that holds the JPKI keys and return its AID: today's JPKI
        AP, else the next card's 認証AP (JPKI_APPLICATIONS in order; the one found first in
        this session first). NotAJpkiCard when the card has none."""
        found = self.application
        order = JPKI_APPLICATIONS if found is None else (found,) + JPKI_APPLICATIONS
        for aid in dict.fromkeys(order):
            try:
                send_apdu(self._conn, 0x00, 0xA4, 0x04, 0x0C, aid)
            except ApduError as e:
                if e.sw in _NO_APPLICATION:
                    continue
                raise
            self.application = aid
            return aid
        raise NotAJpkiCard()

    def token_label(self, allowed: frozenset[str] | None = frozenset({PHYSICAL_CARD_LABEL})) -> str:
        """The token label; UnsupportedToken unless it is in `allowed` (None accepts any)."""
        raw = self._to_ef(Ef.TOKEN_INFO, 0x00, 0xB0, p1p2=(0x00, 0x00), le=TOKEN_LABEL_LENGTH)
        try:
            label = raw[:TOKEN_LABEL_LENGTH].decode("ascii").rstrip(" \x00")
        except UnicodeDecodeError as e:
            raise MalformedResponse("The card's token label is not readable.") from e
        if allowed is not None and label not in allowed:
            raise UnsupportedToken(label)
        return label

    def certificate_availability(self) -> CertificateAvailability:
        """EF 0008: which certificates the token holds; MalformedResponse if it is short."""
        raw = self._to_ef(Ef.CERT_AVAILABILITY, 0x00, 0xB0, p1p2=(0x00, 0x00), le=3)
        if len(raw) < 2:
            raise MalformedResponse("The card's certificate list is truncated.")
        return CertificateAvailability(sign=raw[0] != 0x00, auth=raw[1] != 0x00)

    def read_certificate(self, which: CertName) -> bytes:
        """The DER certificate `which`, read in as few 256-byte chunks as its header allows."""
        self._select_ef(CERT_EF[which])
        first = self._read(0, 256)
        total = der_length(first[:4])
        if total > _MAX_EF_SIZE:
            raise MalformedResponse("The certificate on the card is impossibly large.")
        cert = bytearray(first[:total])
        while len(cert) < total:
            chunk = self._read(len(cert), min(256, total - len(cert)))
            if not chunk:
                raise MalformedResponse("The certificate on the card is truncated.")
            cert += chunk[: total - len(cert)]
        self._certificates[which] = bytes(cert)
        return bytes(cert)

    def pin_retries(self, which: Which) -> int:
        """Tries left for the PIN, without spending one (0 = blocked).

        A card may answer 9000 to the empty VERIFY when the PIN is already verified in this
        session; the counter is then at its maximum, since a correct entry resets it.
        """
        try:
            self._to_ef(PIN_EF[which], 0x00, 0x20, p1p2=(0x00, 0x80))
        except ApduError as e:
            if e.sw >> 4 == 0x63C:
                return e.sw & 0x0F
            if e.sw in _BLOCKED:
                return 0
            raise
        return MAX_TRIES[which]

    def verify_pin(self, which: Which, pin: str) -> None:
        """VERIFY the PIN, sent to the card at most once (format checked first).

        PinIncorrect / PinBlocked on a refusal; PinUnconfirmed on any other status word;
        a transport error passes through. In every case the PIN was not sent again.
        """
        data = encode_pin(which, pin)
        try:
            self._to_ef(PIN_EF[which], 0x00, 0x20, p1p2=(0x00, 0x80), data=data, secret=True)
        except ApduError as e:
            if e.sw == 0x63C0 or e.sw in _BLOCKED:
                raise PinBlocked(which) from e
            if e.sw >> 4 == 0x63C:
                raise PinIncorrect(which, e.sw & 0x0F) from e
            raise PinUnconfirmed(which, e.sw) from e

    def sign(
        self, which: Which, digest_info: bytes, signature_length: int = SIGNATURE_LENGTH
    ) -> bytes:
        """COMPUTE DIGITAL SIGNATURE of `digest_info` (a DER DigestInfo for an RSA key, the
        bare hash for an EC key) with the key `which`.

        MalformedResponse unless the card returns exactly `signature_length` bytes (one
        RSA-2048 block by default).
        """
        if not 1 <= len(digest_info) <= MAX_SIGN_INPUT:
            raise ValueError(f"the data to sign must be 1..{MAX_SIGN_INPUT} bytes")
        try:
            signature = self._to_ef(
                KEY_EF[which], 0x80, 0x2A, p1p2=(0x00, 0x80), data=digest_info, le=256
            )
        except ApduError as e:
            if e.sw == 0x6982:
                raise SecurityStatusNotSatisfied() from e
            raise
        if len(signature) != signature_length:
            raise MalformedResponse("The card's signature does not have the key's length.")
        return signature

    def sign_sha256(self, which: Which, message: bytes) -> bytes:
        """Sign `message` with SHA-256 (RSASSA-PKCS1-v1_5) using the key `which` (an RSA key:
        `sign_message` asks any card in its key's scheme)."""
        return self.sign(which, sha256_digest_info(message))

    def sign_message(self, which: Which, message: bytes) -> bytes:
        """Sign `message` with the key `which` in the scheme its certificate names (RSA
        PKCS#1 v1.5/SHA-256 today, ECDSA P-384/SHA-384 on the next card: the card then
        answers r ‖ s raw, which the verifier parses). The certificate is the one read this
        session, else it is read now; MalformedResponse when it does not decode or its key
        fits no scheme (nothing is signed then)."""
        certificate = self._certificates.get(which) or self.read_certificate(which)
        try:
            scheme = card_scheme(certificate)
        except Refused as e:  # the verify layer's refusal, in the card layer's family
            raise MalformedResponse("The card's certificate names no usable key.") from e
        return self.sign(which, scheme.card_input(message), scheme.signature_length)

    def _to_ef(
        self,
        ef: Ef,
        cla: int,
        ins: int,
        *,
        p1p2: tuple[int, int],
        data: bytes = b"",
        le: int | None = None,
        secret: bool = False,
    ) -> bytes:
        """Send a command to `ef`: short-EF-identifier form if the card takes it, else
        SELECT + the command with `p1p2` (READ BINARY names the EF in P1, others in P2).

        A secret command refused in the short form is not repeated: the refusal is raised and
        only later commands use the SELECT form.
        """
        if self._short_forms:
            p1, p2 = (_sfi(ef), 0x00) if ins == 0xB0 else (p1p2[0], _sfi(ef))
            try:
                return send_apdu(self._conn, cla, ins, p1, p2, data, le, secret=secret)
            except ApduError as e:
                if e.sw not in _NO_SHORT_FORM:
                    raise
                self._short_forms = False
                if secret:
                    raise
        self._select_ef(ef)
        return send_apdu(self._conn, cla, ins, *p1p2, data, le, secret=secret)

    def _select_ef(self, ef: Ef) -> None:
        send_apdu(self._conn, 0x00, 0xA4, 0x02, 0x0C, ef.to_bytes(2, "big"))

    def _read(self, offset: int, length: int) -> bytes:
        try:
            return send_apdu(self._conn, 0x00, 0xB0, offset >> 8, offset & 0xFF, le=length)
        except ApduError as e:
            if e.sw == 0x6982:
                raise SecurityStatusNotSatisfied() from e
            if e.sw == 0x6B00:
                raise MalformedResponse("The certificate on the card is truncated.") from e
            raise

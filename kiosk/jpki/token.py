"""What is in the reader: a My Number Card, an Android phone, an iPhone, a face-authentication
card, or a JPKI token the kiosk does not know — told apart before anything is asked.

A phone's スマホ用電子証明書 answers over NFC like the card: the same JPKI AP, EF ids and
APDUs (../shared/jpki-lifecycle.md §2a [H: myna]). The token label in EF 0006 names it:
`JPKIAPICCTOKEN2` a card, `JPKIAPGPSETOKEN` an Android phone [H], `JPKIAPIOSTOKEN` an iPhone
[M: SOL]; any other label is an unknown token, never a guess.

A face-authentication card (顔認証マイナンバーカード) carries the card's label. What it answers at
chip level is not public (§4c); this module models, with LOW confidence:
- EF 0008 lists no signature certificate (`00 8F 00`) [M: the municipal tables say the sign
  certificate is never issued on one; EF 0008's layout from SOL];
- the auth PIN is unusable: the retry query answers "blocked" (63C0, 6983 or 6984) or any
  refusal at all — the law asks that "PIN use be made impossible", and how is unknown [L].
A card with no signature certificate whose auth PIN was blocked by wrong tries (an under-15
holder) answers the same, so the face-auth screen also says what to do about a blocked PIN.

Discovery sends no PIN: it reads the label, EF 0008 and the retry counters (empty VERIFY).
An iPhone's counters are not read: it is used with Face ID on the phone, not a PIN [M], and
the virtual iPhone has no PIN files to query (docs/tokens.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.card.errors import ApduError
from kiosk.jpki.constants import ANDROID_LABEL, IPHONE_LABEL, PHYSICAL_CARD_LABEL
from kiosk.jpki.session import CertificateAvailability, JpkiSession

#: EF 0008 absent: the token does not say, so both certificates are assumed (the read finds out).
_NOT_STATED = CertificateAvailability(sign=True, auth=True)
_FILE_NOT_FOUND = 0x6A82


class TokenKind(StrEnum):
    """The kinds of JPKI token that come to the counter."""

    CARD = "card"  # a My Number Card with a PIN
    ANDROID = "android"  # スマホ用電子証明書 on an Android phone: its own 4-digit PIN
    IPHONE = "iphone"  # スマホ用電子証明書 on an iPhone: Face ID / Touch ID on the phone
    FACE_AUTH = "face_auth"  # 顔認証マイナンバーカード: no usable PIN, no signature certificate
    UNKNOWN = "unknown"  # a JPKI AP with a label the kiosk does not know

    @property
    def is_phone(self) -> bool:
        """A smartphone certificate (its own CA and revocation data, accepted only when the
        operator enables phones)."""
        return self in (TokenKind.ANDROID, TokenKind.IPHONE)


_BY_LABEL: dict[str, TokenKind] = {
    PHYSICAL_CARD_LABEL: TokenKind.CARD,
    ANDROID_LABEL: TokenKind.ANDROID,
    IPHONE_LABEL: TokenKind.IPHONE,
}


def kind_of_label(label: str) -> TokenKind:
    """The token kind a label names (UNKNOWN for any other label, including an empty one)."""
    return _BY_LABEL.get(label, TokenKind.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Token:
    """What discovery found. A counter that was not read (no PIN on the token, or no
    signature certificate) is 0: the flow decides by `kind` before it looks at counters."""

    kind: TokenKind
    label: str
    auth_retries: int
    sign_retries: int
    has_sign_cert: bool


def discover(session: JpkiSession) -> Token:
    """Select the JPKI AP and tell what token it is, without sending a PIN.

    NotAJpkiCard when there is no JPKI AP; transport errors pass through."""
    session.select_ap()
    label = session.token_label(allowed=None)
    kind = kind_of_label(label)
    if kind is TokenKind.UNKNOWN:
        return Token(kind, label, 0, 0, has_sign_cert=False)
    if kind is TokenKind.IPHONE:
        return Token(kind, label, 0, 0, has_sign_cert=True)
    listed = _availability(session)
    if not listed.sign:
        auth = _usable_retries(session)
        if kind is TokenKind.CARD and auth == 0:
            return Token(TokenKind.FACE_AUTH, label, 0, 0, has_sign_cert=False)
        return Token(kind, label, auth, 0, has_sign_cert=False)
    return Token(
        kind, label, session.pin_retries("auth"), session.pin_retries("sign"), has_sign_cert=True
    )


def _availability(session: JpkiSession) -> CertificateAvailability:
    try:
        return session.certificate_availability()
    except ApduError as e:
        if e.sw == _FILE_NOT_FOUND:
            return _NOT_STATED
        raise


def _usable_retries(session: JpkiSession) -> int:
    """The auth PIN's tries left on a token without a signature certificate; 0 when the
    PIN refuses the query in any way (a face-authentication card's PIN is made unusable,
    by a means not public: any refusal counts as unusable)."""
    try:
        return session.pin_retries("auth")
    except ApduError:
        return 0

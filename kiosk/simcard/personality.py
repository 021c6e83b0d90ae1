"""The kinds of JPKI token the virtual card can play, and what each one changes.

What a real phone or face-authentication card answers is partly unknown
(../shared/jpki-lifecycle.md §2c, §4c); each personality writes down what it models and how
sure that is ([H] read in code that runs against the real token, [M] secondary, [L] inferred).
The facts are written here from the notes, not imported from kiosk.jpki, on purpose: a virtual
token built from the client's constants would share its mistakes.

- CARD: today's My Number Card; the label comes from the card file (so a test can give an
  unknown one).
- ANDROID (`JPKIAPGPSETOKEN`) [H: myna]: the auth certificate EF 000A is readable only after
  the auth PIN was verified in this session (6982 before); everything else as on the card.
- IPHONE (`JPKIAPIOSTOKEN`) [L]: the person confirms on the phone (side button, Face ID)
  [M: the press]; over NFC the virtual iPhone has no PIN files (a VERIFY answers 6A82), and
  the auth and sign certificates and keys answer 6982 until a confirmation is armed
  (`VirtualCard.confirm()`, which stands for Face ID). One confirmation serves one signature:
  the signature uses it up, so the next one needs the person again. A confirmation is the
  phone's, not the NFC session's: it survives the phone leaving and re-entering the field.
- FACE_AUTH (the card's label) [L]: EF 0008 is `00 8F 00` (no signature certificate) [M];
  the sign certificate, key and password files are absent (6A82); the auth PIN is unusable:
  every VERIFY, empty or not, answers 6984 and spends nothing. The auth certificate stays
  readable without a PIN, as on every card.
"""

from __future__ import annotations

from enum import StrEnum


class Personality(StrEnum):
    """The token the virtual card plays."""

    CARD = "card"
    ANDROID = "android"
    IPHONE = "iphone"
    FACE_AUTH = "face_auth"

    def label(self, card_label: str) -> str:
        """The token label EF 0006 carries (the card file's own for CARD and FACE_AUTH)."""
        return _LABELS.get(self, card_label)

    @property
    def has_sign(self) -> bool:
        """Whether the token holds a signature certificate, key and password."""
        return self is not Personality.FACE_AUTH

    @property
    def has_pins(self) -> bool:
        """Whether the token takes a PIN over the contactless interface."""
        return self is not Personality.IPHONE


_LABELS = {Personality.ANDROID: "JPKIAPGPSETOKEN", Personality.IPHONE: "JPKIAPIOSTOKEN"}
#: EF 0008 of a token with both certificates, and of one with the auth certificate only.
BOTH_CERTIFICATES = b"\x8f\x8f\x00"
AUTH_CERTIFICATE_ONLY = b"\x00\x8f\x00"

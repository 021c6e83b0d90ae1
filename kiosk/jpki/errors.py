"""Errors of the JPKI layer, each with what the kiosk needs to tell the person at the screen.

Transport errors (`kiosk.card.errors`: CardRemoved, ReaderUnavailable, NoCard, ApduError for
a status word with no JPKI meaning) pass through this layer unchanged.
"""

from __future__ import annotations

from kiosk.errors import KioskError


def _credential(which: str) -> str:
    return "signature password" if which == "sign" else "PIN"


class JpkiError(KioskError):
    """Root of the JPKI errors."""

    code = "jpki"


class NotAJpkiCard(JpkiError):
    """The card has no JPKI application: it is not a My Number Card."""

    code = "not_jpki"

    def __init__(self) -> None:
        super().__init__("This card is not a My Number Card (no JPKI application).")


class UnsupportedToken(JpkiError):
    """The JPKI token is not a physical My Number Card (e.g. an old 住基カード or a phone)."""

    code = "unsupported_token"

    def __init__(self, label: str):
        super().__init__(f"This card type is not supported here ({label or 'no label'}).")
        self.label = label


class PinFormatError(JpkiError, ValueError):
    """The PIN or password does not have the card's format; nothing was sent to the card."""

    code = "pin_format"

    def __init__(self, which: str):
        rule = "6 to 16 letters and digits" if which == "sign" else "exactly 4 digits"
        super().__init__(f"The {_credential(which)} must be {rule}.")
        self.which = which


class PinIncorrect(JpkiError):
    """The card rejected the PIN; `retries_left` more wrong tries block it."""

    code = "pin_incorrect"

    def __init__(self, which: str, retries_left: int):
        plural = "try" if retries_left == 1 else "tries"
        super().__init__(f"The {_credential(which)} is wrong: {retries_left} {plural} left.")
        self.which = which
        self.retries_left = retries_left


class PinBlocked(JpkiError):
    """The PIN is blocked; only the municipal office can reset it."""

    code = "pin_blocked"

    def __init__(self, which: str):
        super().__init__(
            f"The {_credential(which)} is blocked. It can be reset at your municipal office."
        )
        self.which = which


class SecurityStatusNotSatisfied(JpkiError):
    """The command needs a PIN that was not verified in this card session."""

    code = "security_status"

    def __init__(self) -> None:
        super().__init__("The card needs the PIN first.")


class MalformedResponse(JpkiError):
    """The card's answer does not have the expected form."""

    code = "malformed_response"


class PinUnconfirmed(JpkiError):
    """The card answered the PIN with neither success nor a refusal the kiosk knows.

    The PIN reached the card once and is never sent again for the same entry: the card may
    have counted a try, so the person is asked to start over rather than have the kiosk guess.
    """

    code = "pin_unconfirmed"

    def __init__(self, which: str, sw: int):
        super().__init__(
            f"The card gave no clear answer to the {_credential(which)} (status {sw:04X}); "
            "it was not sent again."
        )
        self.which = which
        self.sw = sw

"""Errors of the card transport layer: the reader, the card and the status words it returns."""

from __future__ import annotations

from kiosk.errors import KioskError


class CardError(KioskError):
    """Something went wrong talking to the card; `sw` is the status word when there is one."""

    code = "card"

    def __init__(self, message: str = "The card could not be read.", sw: int | None = None):
        super().__init__(message)
        self.sw = sw


class ApduError(CardError):
    """The card answered a command with a status word other than 9000."""

    code = "card_status"

    def __init__(self, sw: int, data: bytes = b""):
        super().__init__(f"The card refused the command (status {sw:04X}).", sw)
        self.sw: int = sw  # always present here, unlike CardError's
        self.data = data


class CardRemoved(CardError):
    """The card was taken out (or reset by someone else) while it was in use."""

    code = "card_removed"

    def __init__(self, message: str = "The card was removed."):
        super().__init__(message)


class NoCard(CardError):
    """There is no card in the reader."""

    code = "no_card"

    def __init__(self, message: str = "There is no card in the reader."):
        super().__init__(message)


class ReaderUnavailable(CardError):
    """The reader cannot be used (unplugged, unknown or busy)."""

    code = "reader_unavailable"

    def __init__(self, message: str = "The card reader is not available."):
        super().__init__(message)


class NoReader(ReaderUnavailable):
    """No card reader is connected."""

    code = "no_reader"

    def __init__(self, message: str = "No card reader is connected."):
        super().__init__(message)


class PcscUnavailable(ReaderUnavailable):
    """The smart-card service (pcscd) is not running or not reachable."""

    code = "pcsc_unavailable"

    def __init__(self, message: str = "The smart-card service (pcscd) is not running."):
        super().__init__(message)

"""What the reader last said, as one word every layer shares.

It lives on the ground floor because two layers need it and neither may import the other:
the card layer (kiosk.card.reader) reduces the PC/SC monitor's snapshots to it, and the pure
flow (kiosk.flow.machine) decides from it whether a card went in or came out and shows it on
the insert-card screen. `NOT_MY_NUMBER` is the flow's own finding (the card answered, but not
as a My Number Card); a reader never reports it.
"""

from __future__ import annotations

from enum import StrEnum


class ReaderStatus(StrEnum):
    """The reader and its card, as last seen."""

    NO_SERVICE = "no_service"  # pcscd not running
    NO_READER = "no_reader"
    READY = "ready"  # reader present, no card
    CARD = "card"  # a card is in the reader
    NOT_MY_NUMBER = "not_my_number"  # a card is in, but not a My Number Card (the flow's finding)

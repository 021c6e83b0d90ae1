"""A card connection to an in-process simulated card (the virtual card object), for tests."""

from __future__ import annotations

from typing import Protocol

from kiosk.card.connection import trace_exchange
from kiosk.card.errors import CardError, CardRemoved


class SimulatedCard(Protocol):
    """What InProcessConnection needs of a card: `kiosk.simcard.applet.VirtualCard` has it."""

    atr: bytes

    def power_on(self) -> None: ...

    def reset(self) -> None: ...

    def power_off(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes: ...


class InProcessConnection:
    """A CardConnection straight to a simulated card; `pull()` takes the card out."""

    def __init__(self, card: SimulatedCard):
        self._card = card
        self._present = True
        self._closed = False
        card.power_on()

    @property
    def atr(self) -> bytes:
        """The card's answer to reset."""
        return self._card.atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; CardRemoved once the card has been pulled."""
        if self._closed:
            raise CardError("The card connection is closed.")
        if not self._present:
            raise CardRemoved()
        response = self._card.transmit(apdu)
        if len(response) < 2:
            raise CardError("The card gave no status word.")
        data, sw = response[:-2], int.from_bytes(response[-2:], "big")
        trace_exchange(apdu, data, sw)
        return data, sw

    def pull(self) -> None:
        """Take the card out: power is lost and the next transmit raises CardRemoved."""
        if self._present:
            self._present = False
            self._card.power_off()

    def close(self) -> None:
        """Release the card, resetting it so no verified PIN outlives the session."""
        if self._present and not self._closed:
            self._card.reset()
        self._closed = True

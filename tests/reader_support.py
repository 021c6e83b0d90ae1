"""The UI tests that drive the virtual reader through pcscd: the reader, empty, before a test.

pcscd learns that vpcd's card is gone only at its next look at the reader, so just after a
test pulls its card (its vpcd client closed) pcscd may still list a card for a while. Waiting
here, bounded, for the reader to be empty tells that lag from a card somebody left in: that one
is still there after `WAIT_S`, and the test is skipped saying so (which fails a CI run)."""

from __future__ import annotations

import time

import pytest

#: The longest wait for pcscd to see the reader empty (seconds).
WAIT_S = 20.0


def empty_reader(reader: str, wait_s: float = WAIT_S) -> None:
    """Return once pcscd lists `reader` without a card; skip the test when pcscd cannot be
    reached, does not list the reader, or still sees a card there after `wait_s`."""
    from kiosk.card import pcsc
    from kiosk.card.errors import CardError

    deadline = time.monotonic() + wait_s
    while True:
        try:
            readers = pcsc.reader_states()
        except CardError as e:
            pytest.skip(f"pcscd is not reachable: {e}")
        if reader not in readers:
            pytest.skip(f"pcscd does not list {reader!r} (readers: {sorted(readers)})")
        if readers[reader] is None:
            return
        if time.monotonic() >= deadline:
            pytest.skip(f"{reader!r} still has a card after {wait_s:.0f} s (another test's?)")
        time.sleep(0.2)

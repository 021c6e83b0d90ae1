"""The root of the project's error families.

Each layer has its own family (card, jpki, verify, store, platform...) deriving from
`KioskError`; every one carries a message fit to show a person, never a secret.
"""

from __future__ import annotations


class KioskError(Exception):
    """Base of every error the kiosk raises on purpose; `str(e)` is safe to show and log."""

    #: A short stable machine code (used by the API and the UI error catalogue).
    code: str = "error"

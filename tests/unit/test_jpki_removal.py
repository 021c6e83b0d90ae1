"""A card pulled between any two APDUs of any command surfaces as CardRemoved."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.card.errors import CardRemoved
from kiosk.card.inprocess import InProcessConnection
from kiosk.jpki.session import JpkiSession
from kiosk.pki.cardfile import CardFile
from kiosk.services.visit import authenticate, read_sign_certificate, sign_with_sign_key
from kiosk.simcard.applet import VirtualCard


class PullAt:
    """Forwards commands and pulls the card just before command number `at` (0-based)."""

    def __init__(self, inner: InProcessConnection, at: int | None):
        self.inner = inner
        self.at = at
        self.sent = 0

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self.sent == self.at:
            self.inner.pull()
        self.sent += 1
        return self.inner.transmit(apdu)

    def close(self) -> None:
        self.inner.close()


Setup = Callable[[JpkiSession, CardFile], object]
_select: Setup = lambda s, c: s.select_ap()  # noqa: E731


def _verified(which: str) -> Setup:
    def setup(s: JpkiSession, c: CardFile) -> None:
        s.select_ap()
        s.verify_pin(which, getattr(c, which).pin)

    return setup


#: (name, setup run before the card may be pulled, the command under test)
COMMANDS: list[tuple[str, Setup | None, Setup]] = [
    ("select_ap", None, _select),
    ("token_label", _select, lambda s, c: s.token_label()),
    ("read_auth_cert", _select, lambda s, c: s.read_certificate("auth")),
    ("read_auth_ca_cert", _select, lambda s, c: s.read_certificate("auth_ca")),
    ("read_sign_ca_cert", _select, lambda s, c: s.read_certificate("sign_ca")),
    ("read_sign_cert", _verified("sign"), lambda s, c: s.read_certificate("sign")),
    ("auth_retries", _select, lambda s, c: s.pin_retries("auth")),
    ("sign_retries", _select, lambda s, c: s.pin_retries("sign")),
    ("verify_auth", _select, lambda s, c: s.verify_pin("auth", c.auth.pin)),
    ("verify_sign", _select, lambda s, c: s.verify_pin("sign", c.sign.pin)),
    ("sign_auth", _verified("auth"), lambda s, c: s.sign_sha256("auth", b"m")),
    ("sign_sign", _verified("sign"), lambda s, c: s.sign_sha256("sign", b"m")),
    ("authenticate", None, lambda s, c: authenticate(s, c.auth.pin, b"m")),
    ("read_sign_certificate", None, lambda s, c: read_sign_certificate(s, c.sign.pin)),
    ("sign_with_sign_key", None, lambda s, c: sign_with_sign_key(s, c.sign.pin, b"m")),
]


def _run(card_file: CardFile, setup: Setup | None, command: Setup, pull_at: int | None) -> int:
    """Run setup then the command, pulling before its command number `pull_at`; APDUs sent."""
    conn = PullAt(InProcessConnection(VirtualCard(card_file)), None)
    session = JpkiSession(conn)
    if setup is not None:
        setup(session, card_file)
    conn.sent, conn.at = 0, pull_at
    command(session, card_file)
    return conn.sent


@pytest.mark.parametrize(("name", "setup", "command"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_pulling_the_card_at_every_apdu(card_file: CardFile, name, setup, command) -> None:
    total = _run(card_file, setup, command, None)
    assert total >= 1
    for at in range(total):
        with pytest.raises(CardRemoved):
            _run(card_file, setup, command, at)

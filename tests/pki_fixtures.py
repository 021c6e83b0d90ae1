"""Shared pytest fixtures: one test PKI and one test card per session.

Load as a plugin (`pytest_plugins = ["pki_fixtures"]` with tests/ on the path) or import the
fixtures into a conftest. `card_path` gives every test its own copy of the card file, so a
test that blocks a PIN does not affect the next one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.pki.authority import TestPki, init_pki
from kiosk.pki.cardfile import CardFile, save_card


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A test PKI (both CAs, empty CRLs) in a temporary directory, made once per session.

    Shared by the whole session: tests that revoke or issue should use their own
    `init_pki(tmp_path)` unless they only add to it."""
    return init_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture(scope="session")
def card_file(test_pki: TestPki) -> CardFile:
    """A card issued by `test_pki` for the default test person (PIN 1234, password ABC123)."""
    return test_pki.issue_card()


@pytest.fixture
def card_path(card_file: CardFile, tmp_path: Path) -> Path:
    """A fresh copy of `card_file` on disk, private to the test."""
    path = tmp_path / "card.json"
    save_card(path, card_file)
    return path

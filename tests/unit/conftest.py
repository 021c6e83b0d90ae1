"""Fixtures for the unit tests.

The shared PKI/card fixtures live in tests/pki_fixtures.py. Until the top-level
tests/conftest.py loads that module as a plugin, they are imported here.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from pki_fixtures import card_file, card_path, test_pki  # noqa: E402, F401

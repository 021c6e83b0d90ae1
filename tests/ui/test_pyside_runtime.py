"""The PySide6 build the kiosk runs on must keep Python's reference counts right.

PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to None on many calls (it relies
on None being immortal, which only Python 3.12 made true): None's count falls with every
label update until CPython aborts with "none_dealloc". Measured here: a kiosk in use dies
within hours. 6.11.3 is correct. This test keeps a broken build from shipping.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QLabel


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_qt_calls_keep_none_alive(qapp):
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(500):
        label.setText("x")
        qapp.processEvents()
    assert before - sys.getrefcount(None) < 50, "this PySide6 build drops references to None"

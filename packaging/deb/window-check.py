"""Run by install-test-inside.sh with the installed venv's python, as user kiosk inside cage:
the kiosk window as `kiosk run` makes it (the installed configuration, the PC/SC reader), up on
Wayland. Prints one JSON line: the Qt platform, whether the window came to cover the screen
(within a bounded wait), Qt's full-screen state and the sizes; then stops the kiosk as staff exit
does."""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtWidgets import QApplication

from kiosk import app as kiosk_app
from kiosk import config
from kiosk.card.reader import PcscReader

DEADLINE_S = 60.0  # a bound on the wait, not a measurement

qt = QApplication([])
settings = config.load(sys.argv[1])
running = kiosk_app.start(settings, windowed=False, reader=PcscReader(settings.reader))
window = running.window
deadline = time.monotonic() + DEADLINE_S


def covers_screen() -> bool:
    """The window fills its screen: on Wayland once the compositor has answered (a configure
    event). cage 0.1.4 gives its one window the whole output as maximised, so Qt's own
    full-screen state is reported, not required."""
    return window.isVisible() and window.geometry() == window.screen().geometry()


while not covers_screen() and time.monotonic() < deadline:
    qt.processEvents()
    time.sleep(0.05)
screen = window.screen().geometry()
report = {
    "platform": qt.platformName(),
    "visible": window.isVisible(),
    "full_screen": window.isFullScreen(),
    "covers_screen": covers_screen(),
    "geometry": [window.width(), window.height(), screen.width(), screen.height()],
}
running.stop()
window.staff_exit()
print(json.dumps(report), flush=True)

"""The kiosk window on a real X display with Qt's AT-SPI bridge on, stopped at the PIN pad.

Run by tests/ui/test_atspi.py in its own X server and session bus: the screenshot tour's window
(packaging/screenshots.py) in English, through the service picker to the PIN pad, three digits
typed. It prints READY once there and runs until the test terminates it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "packaging"))
sys.path.insert(0, str(ROOT))

TYPED = "567"  # three digits: none of them may reach the accessibility bus


def main() -> int:
    import screenshots
    from PySide6.QtWidgets import QApplication

    from kiosk.flow.machine import ChooseProvider, Start

    app = QApplication([sys.argv[0]])
    app.setApplicationName("jpki-kiosk")
    with tempfile.TemporaryDirectory() as tmp:
        cfg, card = screenshots.prepare(None, Path(tmp))
        tour = screenshots.Tour(app, cfg, card, "en", Path(tmp))
        tour.send(Start())
        tour.send(ChooseProvider(tour.controller.flow.config.providers[0].id))
        tour.at("insert_card")
        tour.insert()
        tour.at("pin")
        pad = tour.window.current_page().pad
        for key in TYPED:
            pad.press(key)
        print("READY", flush=True)
        return app.exec()  # until the test ends it


if __name__ == "__main__":
    sys.exit(main())

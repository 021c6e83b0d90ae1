"""The font families Qt would draw Japanese with: `kiosk doctor`'s fonts check when
fontconfig's `fc-list` is not installed (Qt reads the same fonts through libfontconfig, so
this is what the kiosk's screens will find)."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication


def japanese_families() -> list[str]:
    """The families with Japanese glyphs in Qt's font database. Starts an offscreen
    QGuiApplication when none is running: the check needs no display."""
    if QGuiApplication.instance() is None:
        QGuiApplication(["kiosk-doctor", "-platform", "offscreen"])
    return list(QFontDatabase.families(QFontDatabase.WritingSystem.Japanese))

"""Resources (themes, icons, sounds) and the touch-size rule, for the widgets.

The resources are package data of `kiosk.resources`, found through `importlib.resources`, so a
wheel or a Debian package carries them and no path depends on where a checkout sits.
"""

from __future__ import annotations

import math
from importlib.resources import files
from importlib.resources.abc import Traversable

from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QAbstractButton, QWidget

#: The smallest touch target, in millimetres.
TOUCH_MM = 15.0
FONT_FAMILY = "Noto Sans CJK JP"


def resources() -> Traversable:
    """The root of the kiosk's resources: themes/, icons/, sounds/ (kiosk/resources)."""
    return files("kiosk.resources")


def theme(name: str) -> str:
    """The stylesheet of theme `name` ("default" or "high-contrast")."""
    return (resources() / "themes" / f"{name}.qss").read_text(encoding="utf-8")


def icon_svg(name: str) -> bytes:
    """The SVG document of icon `name` (read as bytes, so no file path is needed)."""
    return (resources() / "icons" / f"{name}.svg").read_bytes()


def sound(name: str) -> Traversable:
    """The WAV resource of sound cue `name`; `importlib.resources.as_file` gives it a path."""
    return resources() / "sounds" / f"{name}.wav"


def dots_per_mm(screen: QScreen | None) -> float:
    """The screen's density; the larger of the physical and logical DPI (never under 96)."""
    dpi = 96.0
    if screen is not None:
        dpi = max(dpi, screen.physicalDotsPerInch(), screen.logicalDotsPerInch())
    return dpi / 25.4


def touch_px(screen: QScreen | None) -> int:
    """The smallest touch target on this screen, in pixels."""
    return math.ceil(TOUCH_MM * dots_per_mm(screen))


def enforce_touch_size(root: QWidget, minimum: int) -> None:
    """Give every button under `root` at least `minimum` pixels in both directions."""
    for button in root.findChildren(QAbstractButton):
        button.setMinimumSize(
            max(minimum, button.minimumWidth()), max(minimum, button.minimumHeight())
        )

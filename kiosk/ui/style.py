"""Resources (themes, icons, sounds) and the touch-size rule, for the widgets."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QAbstractButton, QWidget

#: resources/ in a source checkout; packaging may point KIOSK_RESOURCES elsewhere.
RESOURCES = Path(__file__).resolve().parents[2] / "resources"
#: The smallest touch target, in millimetres.
TOUCH_MM = 15.0
FONT_FAMILY = "Noto Sans CJK JP"


def theme(name: str, resources: Path = RESOURCES) -> str:
    """The stylesheet of theme `name` ("default" or "high-contrast")."""
    return (resources / "themes" / f"{name}.qss").read_text(encoding="utf-8")


def icon_path(name: str, resources: Path = RESOURCES) -> str:
    """The SVG file of icon `name`."""
    return str(resources / "icons" / f"{name}.svg")


def sound_path(name: str, resources: Path = RESOURCES) -> Path:
    """The WAV file of sound cue `name`."""
    return resources / "sounds" / f"{name}.wav"


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

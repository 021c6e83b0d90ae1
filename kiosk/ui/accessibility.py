"""What a screen reader is told, and the larger text (issue 17).

Qt hands every widget to the platform's accessibility bus (AT-SPI on Linux, which Orca reads)
as an object with a role, a name and a description. The pages set their words on every state
change in the current language; `mirror_names` then makes each label's and button's accessible
name the words it shows (a multi-line button: its first line is the name, the rest the
description), so the names change language at the same moment as the screen. A widget whose
name is not its text — an icon, the progress bar, a pad's display, which must say how many
characters are typed and never which — gets its own through `set_name`, and `mirror_names`
leaves it alone.

Large text multiplies every font size of the theme's stylesheet (the stylesheet sets them all
in pixels), so one switch scales every screen the same way.
"""

from __future__ import annotations

import math
import re

from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from kiosk.flow.texts import text
from kiosk.i18n import Language
from kiosk.ui.fit import set_text

#: Widget property: the widget's accessible name is set by its page (`set_name`), not its text.
OWN_NAME = "a11yOwnName"
#: Widget property of an icon: the name of its SVG (set by kiosk.ui.base_page.icon).
ICON = "icon"
#: How much larger "large text" makes every font (checked to fit 1280×800 and 800×1280).
LARGE_TEXT_SCALE = 1.25

_FONT_SIZE = re.compile(r"font-size:\s*(\d+)px")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
#: Selectors of the rules large text leaves as they are: the top bar's, and the keys' and a
#: pad's display, which are already larger (28-44 px) than large text makes the words.
_FRAME = ('role="lang"', "#brand", "#topbar", 'role="key"', 'role="keysmall"', "#mask")
#: The brand's size (the theme's base size, which large text would otherwise scale).
_BRAND_PX = 26


def set_name(widget: QWidget, name: str, description: str = "") -> None:
    """Give `widget` its own accessible name (and description), whatever it shows.

    Qt tells the accessibility bus only of a real change, so calling this on every state
    change costs nothing when nothing changed."""
    widget.setProperty(OWN_NAME, True)
    if widget.accessibleName() != name:
        widget.setAccessibleName(name)
    if widget.accessibleDescription() != description:
        widget.setAccessibleDescription(description)


def mirror_names(root: QWidget, language: Language) -> None:
    """Name every label, button and icon under `root` (and `root` itself) for the bus."""
    widgets = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        if widget.property(OWN_NAME):
            continue
        if isinstance(widget, QSvgWidget) and widget.property(ICON):
            key = "a11y.icon." + str(widget.property(ICON)).replace("-", "_")
            _name(widget, text(key).get(language), "")
        elif isinstance(widget, QLabel | QAbstractButton):
            shown = set_text(widget) if isinstance(widget, QAbstractButton) else widget.text()
            first, _, rest = shown.strip().partition("\n")
            _name(widget, first.strip(), " ".join(rest.split()))


def _name(widget: QWidget, name: str, description: str) -> None:
    if widget.accessibleName() != name:
        widget.setAccessibleName(name)
    if widget.accessibleDescription() != description:
        widget.setAccessibleDescription(description)


def pad_display_name(
    language: Language, *, masked: bool, digits: bool, count: int, longest: int, shown: str
) -> str:
    """What a pad's display is called on the bus: for a secret, how many characters are
    typed (never which); for the binding code, which is no secret, the code as shown."""
    if masked:
        key = "a11y.pad.digits" if digits else "a11y.pad.chars"
        return text(key).format(language, count=count, max=longest)
    if not shown.strip():
        return text("a11y.pad.code_empty").get(language)
    return text("a11y.pad.code").format(language, code=shown.strip())


def scaled_fonts(stylesheet: str, scale: float) -> str:
    """`stylesheet` with every `font-size: Npx` multiplied by `scale` (rounded up), except the
    top bar's — its buttons (language, contrast, large text) and the brand keep their size and
    their place, so the person finds the switch where it was to switch back — and the keys'."""
    if scale == 1:
        return stylesheet

    def rule(match: re.Match[str]) -> str:
        selector, body = match[1], match[2]
        if any(frame in selector for frame in _FRAME):
            return match[0]
        sized = _FONT_SIZE.sub(lambda m: f"font-size: {math.ceil(int(m[1]) * scale)}px", body)
        return f"{selector}{{{sized}}}"

    brand = f"QLabel#brand {{ font-size: {_BRAND_PX}px; }}\n"
    return _RULE.sub(rule, stylesheet) + "\n" + brand

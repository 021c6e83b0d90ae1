"""Accessible names on every screen, in every language, and text that fits (issue 17).

The walk is the screenshot tour's (packaging/screenshots.py, which `make screenshots` runs):
the real window driven through every screen with the flow's own events. At each of its stops,
instead of saving a picture, the window is audited as a screen reader would find it: every
control and every piece of information it shows must have an accessible name (what Qt hands
to AT-SPI) in the screen's language, and the PIN pad's display must say how many digits are
typed, never which. In large text, landscape and portrait, every label and button must get
the room its text asks for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QAccessible
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QAbstractButton,
    QLabel,
    QLineEdit,
    QProgressBar,
    QWidget,
)

from kiosk.flow.machine import SetLanguage
from kiosk.flow.texts import text
from kiosk.i18n import LANGUAGES
from kiosk.ui.accessibility import OWN_NAME
from kiosk.ui.keypad_widget import pin_pad

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
import screenshots  # noqa: E402 - the tour `make screenshots` runs, from packaging/

#: What a screen reader must be able to name: controls, information, pictures, progress.
NAMED = (QAbstractButton, QLineEdit, QLabel, QSvgWidget, QProgressBar)
CJK = range(0x3000, 0xA000)


def shown(window: QWidget) -> list[QWidget]:
    """The widgets of `window` a person sees now (a hidden page's are not on the bus)."""
    return [w for w in window.findChildren(QWidget) if isinstance(w, NAMED) and w.isVisible()]


pytestmark = pytest.mark.slow  # started first when the suite is shared out


def accessible(widget: QWidget, role: QAccessible.Text) -> str:
    """What Qt hands the accessibility bus for `widget`."""
    interface = QAccessible.queryAccessibleInterface(widget)
    return "" if interface is None else interface.text(role)


def unnamed(window: QWidget, language: str) -> list[str]:
    """Each widget on screen without an accessible name (or with its own name in another
    language than the screen's), as "objectName: class"."""
    found = []
    for widget in shown(window):
        if (
            isinstance(widget, QLabel)
            and not widget.text().strip()
            and not widget.property(OWN_NAME)
        ):
            continue  # an empty label shows nothing (a spacer): nothing to name
        name = widget.accessibleName().strip()
        said = accessible(widget, QAccessible.Text.Name).strip()
        where = f"{widget.objectName() or '?'}: {type(widget).__name__}"
        if not name or not said:
            found.append(f"{where} has no accessible name")
        elif language == "en" and widget.property(OWN_NAME) and any(ord(c) in CJK for c in name):
            if widget.objectName().startswith("lang-"):
                continue  # a language button says its language in that language
            found.append(f"{where} is named in Japanese on the English screen: {name}")
    return found


def clipped(window: QWidget) -> list[str]:
    """Each label or button on screen whose text needs more room than it has."""
    found = []
    for widget in shown(window):
        place = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
        if not window.rect().contains(place):
            found.append(f"{widget.objectName() or type(widget).__name__} off the window: {place}")
        elif isinstance(widget, QLabel) and widget.text().strip():
            width, height = widget.contentsRect().width(), widget.contentsRect().height()
            if widget.wordWrap():
                need_w = 0  # a wrapped label takes its width and needs the height for it
                need_h = widget.heightForWidth(widget.width()) - (widget.height() - height)
            else:
                hint = widget.sizeHint()
                need_w = hint.width() - (widget.width() - width)
                need_h = hint.height() - (widget.height() - height)
            if need_w > width or need_h > height:
                found.append(f"{widget.objectName()} {width}x{height} < {need_w}x{need_h}")
        elif isinstance(widget, QAbstractButton) and widget.text().strip():
            hint = widget.sizeHint()
            if hint.width() > widget.width() or hint.height() > widget.height():
                size = f"{widget.width()}x{widget.height()}"
                need = f"{hint.width()}x{hint.height()}"
                found.append(f"{widget.objectName()} {size} < {need}: {widget.text()!r}")
    return found


class Audit:
    """A tour whose stops audit the window instead of (as well as) taking its picture."""

    check: str = "names"  # or "clipping"
    findings: list[str]
    stops: list[str]

    def shot(self, name: str) -> None:  # the tour's stop: same settling, then the audit
        super().shot(name)  # type: ignore[misc]
        self.stops.append(name)
        window = self.window  # type: ignore[attr-defined]
        language = self.language  # type: ignore[attr-defined]
        found = unnamed(window, language) if self.check == "names" else clipped(window)
        size = getattr(self, "size", None)
        if size is not None and (window.width(), window.height()) != size:
            found.append(f"the window grew to {window.width()}x{window.height()}")
        self.findings += [f"{language} {name}: {problem}" for problem in found]


class NamesTour(Audit, screenshots.Tour):
    """Every screen of an identity visit, errors, staff and contrast."""


class NamesServicesTour(Audit, screenshots.ServicesTour):
    """The picker and the other services' screens."""


def walk(qapp, tmp_path, language, check, size=None, large=False):
    """Run both tours in `language`, auditing each stop; the findings and the stops."""
    cfg, card = screenshots.prepare(None, tmp_path)
    findings: list[str] = []
    stops: list[str] = []
    for tour_class in (NamesTour, NamesServicesTour):
        tour = tour_class.__new__(tour_class)
        tour.check, tour.findings, tour.stops = check, findings, stops
        # with a size, a window, not full screen: the offscreen screen is 800×800
        tour.__init__(qapp, cfg, card, language, tmp_path, len(stops) + 1, large=large, size=size)
        tour.run()
    return findings, stops


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_names_every_control_and_label(qapp, tmp_path, language):
    findings, stops = walk(qapp, tmp_path, language, "names")
    assert len(stops) == 29  # every screen the tour reaches
    assert findings == []


def test_names_follow_a_language_switch(qapp, tmp_path):
    cfg, card = screenshots.prepare(None, tmp_path)
    tour = screenshots.Tour(qapp, cfg, card, "ja", tmp_path)
    start = tour.window.pages[tour.controller.state.screen].start
    assert start.accessibleName() == text("attract.touch").ja
    tour.controller.send(SetLanguage("en"))
    assert start.accessibleName() == text("attract.touch").en
    contrast = tour.window.contrast
    assert contrast.accessibleDescription() == text("a11y.contrast").en
    assert unnamed(tour.window, "en") == []
    tour.controller.stop()
    tour.window.staff_exit()


def test_the_pin_display_says_how_many_digits_never_which(qapp):
    pad = pin_pad(shuffle=True)
    pad.speak_in("en")
    pad.show()
    for key in "567":
        pad.press(key)
    said = [
        accessible(pad.mask, role)
        for role in (QAccessible.Text.Name, QAccessible.Text.Value, QAccessible.Text.Description)
    ]
    interface = QAccessible.queryAccessibleInterface(pad.mask)
    words = interface.textInterface()
    if words is not None:
        said.append(words.text(0, words.characterCount()))
    assert said[0] == "3 of 4 digits entered"
    assert not any(digit in s for s in said for digit in "567")
    pad.hide()


def test_a_password_mode_line_edit_exposes_no_characters_either(qapp):
    """Qt's own password field (not used for the PIN) hands the bus its bullets only."""
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setText("5678")
    field.show()
    said = accessible(field, QAccessible.Text.Value)
    assert said and not any(digit in said for digit in "5678")
    field.hide()


def test_the_shuffled_keys_are_announced_by_their_digit(qapp):
    pad = pin_pad(shuffle=True)
    pad.reset()  # dealt again
    order = pad.key_order()
    named = [accessible(pad.key_buttons[key], QAccessible.Text.Name) for key in order]
    assert named == order
    assert sorted(order) == sorted("1234567890")


@pytest.mark.parametrize(
    ("size", "large"),
    [
        ((1280, 800), True),
        ((800, 1280), True),
        ((800, 1280), False),
        ((1280, 800), False),
    ],
    ids=["landscape-large", "portrait-large", "portrait", "landscape"],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_clipped(qapp, tmp_path, language, size, large):
    findings, stops = walk(qapp, tmp_path, language, "clipping", size, large)
    assert len(stops) == 29
    assert findings == []

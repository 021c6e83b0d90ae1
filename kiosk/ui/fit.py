"""Text that fits the screen, in large text and in portrait too (issue 17).

A QPushButton does not wrap its text: a label wider than the room the page has for it is cut.
`wrap_buttons` breaks such a text into lines (at spaces; Japanese written without them,
between characters) before the layout places the button; the text as the page set it is
kept, for the accessible name and for the next wrap. The top bar's `BarLayout` puts the
brand and the buttons in as many rows as the width needs. What does not fit after that is a
page's own layout to change (`Page.arrange`); tests/ui/test_accessibility.py finds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QAbstractButton,
    QLayout,
    QLayoutItem,
    QStackedWidget,
    QWidget,
    QWidgetItem,
)

_SET_TEXT = "fitSetText"  # the text the page set, before any line breaks
_SHOWN_TEXT = "fitShownText"  # the text with the line breaks, as last shown
#: Widget property: the room across a button narrower than the page (a column of options).
ROOM = "fitRoom"
_BASE_HEIGHT = "fitBaseHeight"  # a button's minimum height as others set it (touch size)
_SET_HEIGHT = "fitSetHeight"  # the minimum height a fit gave it
_WORDS = re.compile(r"\S+\s*")


def set_text(button: QAbstractButton) -> str:
    """The text the page set on `button` (without the line breaks a fit added)."""
    shown = button.text()
    if shown and shown == button.property(_SHOWN_TEXT):
        return str(button.property(_SET_TEXT))
    return shown


def wrap_buttons(root: QWidget, width: int) -> None:
    """Break the text of every button under `root` into lines no wider than `width` pixels
    (the room across the page), or than the button's own `ROOM` where it has one; and keep
    each button at least as tall as its lines."""
    for button in root.findChildren(QAbstractButton):
        _wrap(button, int(button.property(ROOM) or width - _insets(button)))
        # never squeezed below its lines' height (the touch size alone allowed it)
        if button.minimumHeight() != button.property(_SET_HEIGHT):  # set by someone else
            button.setProperty(_BASE_HEIGHT, button.minimumHeight())  # (the touch size)
        tall = max(int(button.property(_BASE_HEIGHT)), button.sizeHint().height())
        button.setMinimumHeight(tall)
        button.setProperty(_SET_HEIGHT, tall)


def _insets(widget: QWidget) -> int:
    """The side margins of the boxes `widget` sits in inside its page (a page's own margins
    are already out of the room across it)."""
    insets = 0
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent.parentWidget(), QStackedWidget | None):
        layout = parent.layout()
        if layout is not None:
            margins = layout.contentsMargins()
            insets += margins.left() + margins.right()
        parent = parent.parentWidget()
    return insets


def _wrap(button: QAbstractButton, width: int) -> None:
    text = set_text(button)
    if not text:
        return
    button.ensurePolished()  # the stylesheet's font
    metrics = QFontMetrics(button.font())
    widest = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
    button.setText(text)
    padding = button.sizeHint().width() - widest  # what the style adds around the words
    room = width - padding
    lines = [wrapped for line in text.split("\n") for wrapped in _break(line, metrics, room)]
    shown = "\n".join(lines)
    if shown != text:
        button.setText(shown)
        button.setProperty(_SET_TEXT, text)
        button.setProperty(_SHOWN_TEXT, shown)


def _break(line: str, metrics: QFontMetrics, room: int) -> list[str]:
    """`line` in pieces no wider than `room` (a single piece wider stays whole)."""
    if room <= 0 or metrics.horizontalAdvance(line) <= room:
        return [line]
    pieces = _WORDS.findall(line) if " " in line.strip() else list(line)
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current and metrics.horizontalAdvance((current + piece).rstrip()) > room:
            lines.append(current.rstrip())
            current = piece
        else:
            current += piece
    if current.strip():
        lines.append(current.rstrip())
    return lines


class BarLayout(QLayout):
    """The top bar: its first shown widget (the brand, or the idle countdown in its place) on
    the left, the buttons after it on the right, all in one row when they fit the width; else
    the brand above and the buttons in as many right-aligned rows as they need, so a portrait
    or large-text bar never clips."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 12) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing

    def insert_widget(self, index: int, widget: QWidget) -> None:
        """Put `widget` at `index` (0: in the brand's place while the brand is hidden)."""
        self.addChildWidget(widget)
        self._items.insert(index, QWidgetItem(widget))
        self.invalidate()

    # -- QLayout's interface -------------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt override
        """Keep `item` (addWidget lands here)."""
        self._items.append(item)

    def count(self) -> int:
        """How many items."""
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        """The item at `index`, or None."""
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        """Remove and return the item at `index`."""
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt override
        """Neither: the bar is as tall as its rows."""
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        """The rows depend on the width."""
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        """The bar's height at `width`."""
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt override
        """Place the brand and the buttons in `rect`."""
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """Everything in one row."""
        items = self._shown()
        width = sum(i.sizeHint().width() for i in items) + self._spacing * max(0, len(items) - 1)
        margins = self.contentsMargins()
        width += margins.left() + margins.right()
        return QSize(width, self.heightForWidth(width))

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt override
        """As narrow as the widest button; as tall as one row (the height at a given width
        is heightForWidth's, which the window's layout asks)."""
        margins = self.contentsMargins()
        widest = max((i.sizeHint().width() for i in self._shown()[1:]), default=0)
        return QSize(widest + margins.left() + margins.right(), self.sizeHint().height())

    # -- placing ------------------------------------------------------------------------

    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if (w := i.widget()) is None or not w.isHidden()]

    def _place(self, rect: QRect, *, move: bool) -> int:
        """Lay the items out in `rect` (only measure unless `move`); the height it takes.

        Two plans, the lower one wins: the brand on a row of its own above the buttons, or
        the brand sharing the first row with the buttons that leave it a quarter of it."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        items = self._shown()
        if not items:
            return margins.top() + margins.bottom()
        brand, buttons = items[0], items[1:]
        width = area.width()
        share = min(brand.sizeHint().width(), width // 4)
        plans = [self._rows(buttons, width, width), self._rows(buttons, width, width - share)]
        heights = [
            self._lay(brand, plan, area, bool(shared), move=False)
            for shared, plan in enumerate(plans)
        ]
        shared = int(heights[1] < heights[0])
        height = self._lay(brand, plans[shared], area, bool(shared), move=move)
        return height + margins.top() + margins.bottom()

    def _lay(
        self,
        brand: QLayoutItem,
        rows: list[list[QLayoutItem]],
        area: QRect,
        shared: bool,
        *,
        move: bool,
    ) -> int:
        """Place the brand and the rows of buttons in `area`; the height they take."""
        gap = self._spacing
        y = area.top()
        if not shared:  # the brand on a row of its own
            height = _height(brand, area.width())
            if move:
                brand.setGeometry(QRect(area.left(), y, area.width(), height))
            y += height + (gap if rows else 0)
        for index, row in enumerate(rows):
            across = sum(b.sizeHint().width() for b in row) + gap * (len(row) - 1)
            height = max(b.sizeHint().height() for b in row)
            if shared and index == 0:
                room = area.width() - across - gap
                height = max(height, _height(brand, room))
                if move:
                    brand.setGeometry(QRect(area.left(), y, room, height))
            x = area.right() + 1 - across
            for button in row:
                size = button.sizeHint()
                if move:
                    top = y + (height - size.height()) // 2
                    button.setGeometry(QRect(x, top, size.width(), size.height()))
                x += size.width() + gap
            y += height + (gap if index < len(rows) - 1 else 0)
        return y - area.top()

    def _rows(self, buttons: list[QLayoutItem], width: int, first: int) -> list[list[QLayoutItem]]:
        """The buttons in rows no wider than `width` (the first no wider than `first`)."""
        rows: list[list[QLayoutItem]] = []
        used = 0
        for button in buttons:
            size = button.sizeHint().width()
            room = first if len(rows) == 1 else width
            if rows and used + self._spacing + size <= room:
                rows[-1].append(button)
                used += self._spacing + size
            else:
                rows.append([button])
                used = size
        return rows


class WindowLayout(QLayout):
    """The window: the top bar over the pages, the bar as tall as its rows need at the
    window's width and the pages in the rest.

    A box layout would make the window as tall as the bar needs at the window's *smallest*
    width (Qt's rule for a window whose layout has a height for a width) — more rows of
    buttons than the screen shows, and a window taller than the screen."""

    def __init__(self, parent: QWidget, bar: QWidget, pages: QWidget) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        for widget in (bar, pages):
            self.addChildWidget(widget)
            self._items.append(QWidgetItem(widget))

    # -- QLayout's interface -------------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt override
        """Only the bar and the pages (given when made)."""
        raise TypeError("The window's layout holds the top bar and the pages only.")

    def count(self) -> int:
        """Two: the bar and the pages."""
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        """The item at `index`, or None."""
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt override
        """Remove and return the item at `index`."""
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt override
        """Both: the window takes the screen."""
        return Qt.Orientation.Horizontal | Qt.Orientation.Vertical

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt override
        """As wide as the widest page needs; as tall as the bar at the window's width over
        the tallest page."""
        return self._size(lambda item: item.minimumSize())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """The bar at the window's width over the pages' size hint."""
        return self._size(lambda item: item.sizeHint())

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt override
        """The bar at the top, as tall as its rows at `rect`'s width; the pages below."""
        super().setGeometry(rect)
        if len(self._items) < 2:
            return
        bar, pages = self._items[:2]
        height = _height(bar, rect.width())
        bar.setGeometry(QRect(rect.left(), rect.top(), rect.width(), height))
        pages.setGeometry(
            QRect(rect.left(), rect.top() + height, rect.width(), rect.height() - height)
        )

    def bar_height(self, width: int) -> int:
        """The bar's height in a window `width` pixels wide."""
        return _height(self._items[0], width) if self._items else 0

    def _size(self, measure: Callable[[QLayoutItem], QSize]) -> QSize:
        if len(self._items) < 2:
            return QSize(0, 0)
        bar, pages = (measure(item) for item in self._items[:2])
        width = max(bar.width(), pages.width())
        window = self.parentWidget()
        across = max(width, 0 if window is None else window.width())
        return QSize(width, self.bar_height(across) + self._pages_height(across, pages))

    def _pages_height(self, width: int, measured: QSize) -> int:
        """The tallest page's height at `width`. A page's minimum size is its words' height at
        the narrowest width it allows, and its height for a width counts everything else at
        its preferred size: both are more than the page needs at `width`; the lower one."""
        pages = self._items[1].widget()
        if not isinstance(pages, QStackedWidget):
            return measured.height()
        tallest = 0
        for index in range(pages.count()):
            page = pages.widget(index)
            if page is None:
                continue
            layout = page.layout()
            height = page.minimumSizeHint().height()
            if layout is not None and layout.hasHeightForWidth():
                height = min(height, layout.heightForWidth(width))
            tallest = max(tallest, height)
        return tallest


def _height(item: QLayoutItem, width: int) -> int:
    """The height `item` takes at `width` (a wrapped label's grows as it narrows, and is one
    line where one line fits: its size hint's height is that of the narrower width Qt would
    pick for it, two lines for a long text)."""
    if item.hasHeightForWidth():
        return max(item.heightForWidth(width), item.minimumSize().height())
    return item.sizeHint().height()


#: Widget property of an icon: its size as built, before `fit_icons` made it smaller.
_ICON_SIZE = "fitIconSize"
#: Page property: its layout's spacing, top and bottom margins as built.
_SPACING = "fitSpacing"
#: The spacing and top and bottom margins of a page short of height.
_TIGHT = 8
#: An icon never shrinks below this share of its size.
_ICON_FLOOR = 0.4


def fit_page(page: QWidget, width: int, height: int) -> None:
    """Give the page's words the height they need at `width` within `height` pixels: its
    spacing and margins back to theirs and its icons to their size first; then, as long as
    it is short, tighter spacing and top and bottom margins, then smaller icons (together,
    by what is still lacking). A hidden page counts too: the window is as tall as its
    tallest page."""
    layout = page.layout()
    if layout is None:
        return
    base = page.property(_SPACING)
    if base is None:
        margins = layout.contentsMargins()
        base = (layout.spacing(), margins.top(), margins.bottom())
        page.setProperty(_SPACING, base)
    margins = layout.contentsMargins()
    layout.setSpacing(base[0])
    layout.setContentsMargins(margins.left(), base[1], margins.right(), base[2])
    icons = [w for w in page.findChildren(QSvgWidget) if w.property("icon") and w.isVisibleTo(page)]
    for icon in icons:
        size = icon.property(_ICON_SIZE)
        if size is None:
            size = icon.width()
            icon.setProperty(_ICON_SIZE, size)
        icon.setFixedSize(size, size)
    if _need(layout, width) <= height:
        return
    layout.setSpacing(min(base[0], _TIGHT))
    layout.setContentsMargins(margins.left(), _TIGHT, margins.right(), _TIGHT)
    short = _need(layout, width) - height
    if short <= 0 or not icons:
        return
    each = -(-short // len(icons))  # rounded up
    for icon in icons:
        size = int(icon.property(_ICON_SIZE))
        smaller = max(int(size * _ICON_FLOOR), size - each)
        icon.setFixedSize(smaller, smaller)


def _need(layout: QLayout, width: int) -> int:
    """The height `layout` asks for at `width`."""
    layout.invalidate()
    if layout.hasHeightForWidth():
        return layout.heightForWidth(width)
    return layout.sizeHint().height()


def share_room(buttons: list[QAbstractButton], across: int, spacing: int) -> None:
    """Buttons side by side in `across` pixels: when their words are wider than that
    together, each one's are broken to its share, in proportion to their width (a hidden
    one takes no share)."""
    for button in buttons:
        button.setProperty(ROOM, None)
    buttons = [button for button in buttons if not button.isHidden()]  # only those shown
    if not buttons:
        return
    wants = [button.sizeHint().width() for button in buttons]
    room = across - spacing * (len(buttons) - 1)
    if sum(wants) <= room:
        return
    for button, want in zip(buttons, wants, strict=True):
        button.setProperty(ROOM, room * want // sum(wants))


def across(page: QWidget, width: int) -> int:
    """The room across `page` in a window `width` pixels wide (its side margins out)."""
    layout = page.layout()
    if layout is None:
        return width
    margins = layout.contentsMargins()
    return width - margins.left() - margins.right()

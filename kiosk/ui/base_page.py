"""What every page shares: the language of the moment, the event sink and a few builders."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMargins, Qt
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from kiosk.flow.machine import Event, FlowState
from kiosk.flow.texts import text
from kiosk.i18n import Language
from kiosk.ui.style import icon_svg

Send = Callable[[Event], None]


class Page(QWidget):
    """A screen: built once, `enter` on arrival, `show_state` on every state change."""

    #: True for a page that shows a clock: it is rendered on every tick too.
    ticking = False

    def __init__(self, send: Send) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # severity colours
        self.send = send
        self.language: Language = "ja"
        self._margins: QMargins | None = None  # as built, for `arrange`

    def t(self, key: str, **fields: object) -> str:
        """The screen string `key` in the current language."""
        return text(key).format(self.language, **fields)

    def enter(self, state: FlowState) -> None:
        """The page is being shown for a new step (reset inputs here)."""

    def leave(self) -> None:
        """The page is no longer shown: drop anything personal it displays."""

    def arrange(self, width: int, height: int) -> None:
        """Lay the page out for a window of that size: in portrait, narrower side margins (a
        page may do more, such as putting its pad under its texts)."""
        layout = self.layout()
        if layout is None:
            return
        if self._margins is None:
            self._margins = layout.contentsMargins()
        side = self._margins.left() if width >= height else min(self._margins.left(), 32)
        layout.setContentsMargins(side, self._margins.top(), side, self._margins.bottom())

    def show_state(self, state: FlowState, now: float) -> None:
        """Show `state` (on each change; on each tick too when `ticking`)."""
        self.language = state.language

    def button(self, name: str, event: Event | None = None, role: str = "") -> QPushButton:
        """A touch button named `name` that sends `event` when tapped."""
        button = QPushButton()
        button.setObjectName(name)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if role:
            button.setProperty("role", role)
        if event is not None:
            button.clicked.connect(lambda _=False, e=event: self.send(e))
        return button


def label(name: str = "", wrap: bool = True, center: bool = True) -> QLabel:
    """A label styled by object name (title, subtitle, problem, notice, value...)."""
    widget = QLabel()
    if name:
        widget.setObjectName(name)
    widget.setWordWrap(wrap)
    if center:
        widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return widget


def icon(name: str, size: int) -> QSvgWidget:
    """An SVG icon from kiosk/resources/icons at `size` pixels (square)."""
    widget = QSvgWidget()
    widget.load(icon_svg(name))
    widget.setFixedSize(size, size)
    widget.setProperty("icon", name)  # its accessible name (kiosk.ui.accessibility)
    return widget


def set_icon(widget: QSvgWidget, name: str) -> None:
    """Swap the SVG shown by an icon widget."""
    widget.setProperty("icon", name)
    widget.load(icon_svg(name))

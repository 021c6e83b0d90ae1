"""Card screens: insert (with live reader status), put it back (countdown), take it."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from kiosk.flow.errors_catalogue import entry
from kiosk.flow.machine import Back, Cancel, FlowState
from kiosk.reader_status import ReaderStatus
from kiosk.ui.base_page import Page, Send, icon, label

_TONES = {
    ReaderStatus.NO_SERVICE: "bad",
    ReaderStatus.NO_READER: "bad",
    ReaderStatus.READY: "ok",
    ReaderStatus.CARD: "ok",
    ReaderStatus.NOT_MY_NUMBER: "bad",
}


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property changed."""
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


class InsertPage(Page):
    """Insert the card: illustration, what to do, and the reader's status as it changes."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("title")
        self.hint = label("subtitle")
        self.status = label("status")
        self.problem = label("problem")
        self.back = self.button("back", Back(), "secondary")
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 30, 80, 40)
        layout.addWidget(self.title)
        layout.addWidget(icon("insert-card", 300), 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.hint)
        layout.addWidget(self.status, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        row.addWidget(self.cancel)
        layout.addLayout(row)

    def show_state(self, state: FlowState, now: float) -> None:
        """Texts, and the reader status with its tone."""
        super().show_state(state, now)
        self.title.setText(self.t("insert.title"))
        self.hint.setText(self.t("insert.hint"))
        self.status.setText(self.t(f"reader.{state.reader.value}"))
        if self.status.property("tone") != _TONES[state.reader]:
            self.status.setProperty("tone", _TONES[state.reader])
            repolish(self.status)
        problem = state.problem
        self.problem.setVisible(problem is not None)
        if problem is not None:
            self.problem.setText(entry(problem.code).text.get(self.language))
        self.back.setText(self.t("button.back"))
        self.cancel.setText(self.t("button.cancel"))


class PutBackPage(Page):
    """The card was pulled while the PIN pad showed: put it back before the countdown ends."""

    ticking = True

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("title")
        self.countdown = label("notice")
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 30, 80, 40)
        layout.addWidget(self.title)
        layout.addWidget(icon("card-removed", 200), 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.countdown)
        layout.addStretch(1)
        layout.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignRight)

    def show_state(self, state: FlowState, now: float) -> None:
        """Title and the seconds left."""
        super().show_state(state, now)
        left = 0 if state.countdown_deadline is None else state.countdown_deadline - now
        self.title.setText(self.t("put_back.title"))
        self.countdown.setText(self.t("put_back.text", seconds=max(0, math.ceil(left))))
        self.cancel.setText(self.t("button.cancel"))


class TakeCardPage(Page):
    """The visit is over but the card is still in: take it (a sound repeats too)."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("title")
        self.text = label("subtitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 30, 80, 40)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(icon("take-card", 320), 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.text)
        layout.addStretch(1)

    def show_state(self, state: FlowState, now: float) -> None:
        """Title and reminder text."""
        super().show_state(state, now)
        self.title.setText(self.t("take_card.title"))
        self.text.setText(self.t("take_card.text"))

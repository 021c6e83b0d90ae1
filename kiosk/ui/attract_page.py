"""The attract screen: one big touch target that starts a visit."""

from __future__ import annotations

from PySide6.QtWidgets import QSizePolicy, QVBoxLayout

from kiosk.flow.machine import FlowState, Start
from kiosk.ui.base_page import Page, Send, icon, label


class AttractPage(Page):
    """Idle/attract: the title, the card illustration and "touch to start"."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("attract")
        self.start = self.button("start", Start())
        self.start.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(icon("insert-card", 240), 0, self.title.alignment())
        layout.addWidget(self.start, 2)
        layout.setContentsMargins(120, 40, 120, 60)

    def show_state(self, state: FlowState, now: float) -> None:
        """Show the title and the start button in the current language."""
        super().show_state(state, now)
        self.title.setText(self.t("attract.title"))
        self.start.setText(self.t("attract.touch"))

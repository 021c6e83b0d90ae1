"""Screens for tokens other than today's card: confirm on the iPhone, and the refusal that says
plainly what the person can do instead (a face-authentication card, a phone where phones are not
taken, an unknown token, an iPhone at registration)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout

from kiosk.flow.machine import (
    STAFF_CALL_TEXT,
    CallStaff,
    Cancel,
    ConfirmedOnPhone,
    Done,
    FlowState,
)
from kiosk.ui.base_page import Page, Send, icon, label


class ConfirmPhonePage(Page):
    """An iPhone that has not been confirmed yet: how to confirm, then continue."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.icon: QSvgWidget = icon("card", 140)
        self.title = label("title")
        self.text = label("subtitle")
        self.staff = label("notice")
        self.confirmed = self.button("confirmed", ConfirmedOnPhone())
        self.cancel = self.button("cancel", Cancel(), "secondary")
        self.call_staff = self.button("call-staff", CallStaff(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignCenter)
        for widget in (self.title, self.text, self.staff):
            layout.addWidget(widget)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.call_staff)
        row.addStretch(1)
        row.addWidget(self.cancel)
        row.addWidget(self.confirmed)
        layout.addLayout(row)

    def show_state(self, state: FlowState, now: float) -> None:
        """The instructions in the current language."""
        super().show_state(state, now)
        self.title.setText(self.t("phone_confirm.title"))
        self.text.setText(self.t("phone_confirm.text"))
        self.confirmed.setText(self.t("phone_confirm.done"))
        self.cancel.setText(self.t("button.cancel"))
        _staff_line(self, state)


class TokenRefusedPage(Page):
    """Why this token cannot be used here and what to do instead; no try was counted."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.icon: QSvgWidget = icon("card-wrong", 140)
        self.title = label("title")
        self.text = label("subtitle")
        self.staff = label("notice")
        self.done = self.button("done", Done(), "secondary")
        self.call_staff = self.button("call-staff", CallStaff(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignCenter)
        for widget in (self.title, self.text, self.staff):
            layout.addWidget(widget)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.call_staff)
        row.addStretch(1)
        row.addWidget(self.done)
        layout.addLayout(row)

    def show_state(self, state: FlowState, now: float) -> None:
        """The refusal's title and advice."""
        super().show_state(state, now)
        refusal = state.token_refusal
        if refusal is None:
            return
        self.title.setText(self.t(f"token.{refusal.value}.title"))
        self.text.setText(self.t(f"token.{refusal.value}.text"))
        self.done.setText(self.t("button.done"))
        _staff_line(self, state)


def _staff_line(page: ConfirmPhonePage | TokenRefusedPage, state: FlowState) -> None:
    """The call-staff button until staff were called, then what became of the call."""
    page.call_staff.setText(page.t("button.call_staff"))
    page.call_staff.setVisible(not state.staff_called)
    page.staff.setVisible(state.staff_called)
    if state.staff_called:
        page.staff.setText(page.t(STAFF_CALL_TEXT[state.staff_call]))

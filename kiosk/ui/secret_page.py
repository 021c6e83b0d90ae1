"""Screens that take a secret: the PIN and the signature password (staff: staff_page)."""

from __future__ import annotations

from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QVBoxLayout

from kiosk.flow.errors_catalogue import Problem, entry
from kiosk.flow.machine import (
    STAFF_CALL_TEXT,
    CallStaff,
    Cancel,
    FlowState,
    SubmitPassword,
    SubmitPin,
)
from kiosk.i18n import Language
from kiosk.ui.base_page import Page, Send, label
from kiosk.ui.fit import ROOM, across, share_room
from kiosk.ui.keypad_widget import SecretPad


def stack_in_portrait(page: Page, width: int, height: int) -> None:
    """A page laid out as texts beside a pad (a row): the pad under the texts in portrait."""
    layout = page.layout()
    if isinstance(layout, QBoxLayout) and layout.direction() in _ACROSS:
        portrait = height > width
        layout.setDirection(_ACROSS[1] if portrait else _ACROSS[0])
        layout.setStretch(0, 0 if portrait else 1)  # in a column the pad takes the height
        layout.setSpacing(16 if portrait else _BESIDE)


#: The room between the texts and a pad beside them.
_BESIDE = 40
#: A keyboard's columns on a landscape screen with the room, and else (three rows of keys, or
#: four).
_KEYBOARD_COLUMNS = (12, 9)
#: A row (landscape) or a column (portrait).
_ACROSS = (QBoxLayout.Direction.LeftToRight, QBoxLayout.Direction.TopToBottom)


def fit_pad_keys(page: Page, pad: SecretPad, width: int, height: int) -> int:
    """Break the clear and delete keys' words to a key's width; the pad's width (a small
    pad: half the page beside the texts, all of it under them; a keyboard: all of it)."""
    layout = page.layout()
    inside = across(page, width)
    beside = pad.columns <= 3 and width >= height and layout is not None
    room = (inside - (layout.spacing() if layout else 0)) // 2 if beside else inside
    spacing = 10  # the pad's grid
    column = (room - spacing * (pad.columns - 1)) // pad.columns
    span = 1 if pad.columns <= 3 else 2  # a keyboard's clear and delete span two columns
    for key in (pad.clear_button, pad.delete_button):
        key.setProperty(ROOM, column * span + spacing * (span - 1))
    return room


def problem_text(problem: Problem, language: Language) -> str:
    """A problem's title and advice in one line (tries left filled in)."""
    found = entry(problem.code)
    advice = found.text.format(language, retries=problem.retries_left)
    return f"{found.title.get(language)}  {advice}"


class SecretPage(Page):
    """Title, tries left, a notice, inline problems, the pad, and Cancel."""

    def __init__(self, send: Send, pad: SecretPad, title_key: str) -> None:
        super().__init__(send)
        self.pad = pad
        self.title_key = title_key
        self.title = label("title")
        self.retries = label("subtitle")
        self.notice = label("notice")
        self.problem = label("problem")
        self.call_staff = self.button("call-staff", CallStaff(), "secondary")
        self.cancel = self.button("cancel", Cancel(), "secondary")
        if pad.columns <= 3:  # a small pad sits beside the texts
            info = QVBoxLayout()
            info.setSpacing(10)
            for widget in (self.title, self.retries, self.notice, self.problem):
                info.addWidget(widget)
            info.addStretch(1)
            row = QHBoxLayout()
            row.addWidget(self.call_staff)
            row.addStretch(1)
            row.addWidget(self.cancel)
            info.addLayout(row)
            layout = QHBoxLayout(self)
            layout.setContentsMargins(60, 24, 60, 24)
            layout.setSpacing(_BESIDE)
            layout.addLayout(info, 1)
            layout.addWidget(pad, 1)
        else:  # a full keyboard goes below them, the buttons beside them
            top = QHBoxLayout()
            top.addWidget(self.title, 1)
            top.addWidget(self.cancel)
            middle = QHBoxLayout()
            middle.addWidget(self.notice, 1)
            middle.addWidget(self.retries)
            middle.addWidget(self.call_staff)
            column = QVBoxLayout(self)
            column.setContentsMargins(40, 12, 40, 12)
            column.setSpacing(8)
            column.addLayout(top)
            column.addLayout(middle)
            column.addWidget(self.problem)
            column.addWidget(pad, 1)

    def enter(self, state: FlowState) -> None:
        """A new entry: empty (and, for the PIN pad, re-shuffled) keys."""
        self.pad.reset()

    def arrange(self, width: int, height: int) -> None:
        """Portrait: a small pad goes under the texts instead of beside them."""
        super().arrange(width, height)
        if self.pad.columns <= 3:  # a keyboard is under the texts already
            stack_in_portrait(self, width, height)
            pad = fit_pad_keys(self, self.pad, width, height)
            share_room([self.call_staff, self.cancel], pad, 12)  # the texts' column: as wide
        else:
            wide, narrow = _KEYBOARD_COLUMNS
            room = width >= height and self.pad.least_width(wide) <= across(self, width)
            self.pad.set_columns(wide if room else narrow)
            fit_pad_keys(self, self.pad, width, height)

    def show_state(self, state: FlowState, now: float) -> None:
        """Texts, tries left, warnings and the last problem."""
        super().show_state(state, now)
        self.title.setText(self.t(self.title_key))
        self.pad.set_labels(self.t("button.clear"), self.t("button.delete"), self.t("button.ok"))
        self.pad.speak_in(self.language)
        self.cancel.setText(self.t("button.cancel"))
        self.call_staff.setText(self.t("button.call_staff"))
        problem = state.problem
        self.problem.setVisible(problem is not None)
        if problem is not None:
            self.problem.setText(problem_text(problem, self.language))
        self.render_notice(state)

    def render_notice(self, state: FlowState) -> None:
        """Tries left and the notice (none by default)."""
        self.retries.hide()
        self.notice.hide()
        self.call_staff.hide()


class PinPage(SecretPage):
    """The PIN pad; tries left read from the card first; a warning at the last try."""

    def __init__(self, send: Send, pad: SecretPad) -> None:
        super().__init__(send, pad, "pin.title")
        pad.submitted.connect(lambda pin: self.send(SubmitPin(pin)))

    def render_notice(self, state: FlowState) -> None:
        """Tries left; at one try left, the warning and the call-staff offer."""
        retries = None if state.card is None else state.card.auth_retries
        self.retries.setVisible(retries is not None)
        self.retries.setText(self.t("pin.retries", retries=retries))
        last = retries == 1
        lines = [self.t("pin.last_try" if last else "pin.shield")]
        if state.card is not None and state.card.token.is_phone:  # an Android phone's own PIN
            lines.insert(0, self.t("pin.phone"))
        if state.staff_called:  # staff are coming only when the call was delivered
            lines.append(self.t(STAFF_CALL_TEXT[state.staff_call]))
        self.notice.setVisible(True)
        self.notice.setText("\n".join(lines))
        self.call_staff.setVisible(last and not state.staff_called)


class PasswordPage(SecretPage):
    """The signature-password keyboard (enrolment)."""

    def __init__(self, send: Send, pad: SecretPad) -> None:
        super().__init__(send, pad, "password.title")
        pad.submitted.connect(lambda password: self.send(SubmitPassword(password)))

    def render_notice(self, state: FlowState) -> None:
        """Why a password is needed, and tries left."""
        retries = None if state.card is None else state.card.sign_retries
        self.retries.setVisible(retries is not None)
        self.retries.setText(self.t("pin.retries", retries=retries))
        lines = [self.t("password.why")]
        if state.staff_called:
            lines.append(self.t(STAFF_CALL_TEXT[state.staff_call]))
        self.notice.setVisible(True)
        self.notice.setText("\n".join(lines))
        self.call_staff.setVisible(retries == 1 and not state.staff_called)

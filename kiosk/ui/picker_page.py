"""The service picker and the provider choice: one large button per option."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout

from kiosk.flow.machine import Back, ChooseProvider, ChooseService, Event, FlowState
from kiosk.i18n import Text
from kiosk.ui.base_page import Page, Send, label
from kiosk.ui.fit import ROOM, across

#: More options than this are laid out in two columns, so that the page fits a 1280×800 screen.
ONE_COLUMN_MAX = 3


class ChoicePage(Page):
    """Options as big buttons (title and description), with Back."""

    def __init__(
        self, send: Send, title_key: str, options: Sequence[tuple[str, Text, Text | None, Event]]
    ) -> None:
        super().__init__(send)
        self.title_key = title_key
        self.title = label("title")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 30, 80, 40)
        layout.setSpacing(24)
        layout.addWidget(self.title)
        self.options: list[tuple[Text, Text | None]] = []
        self.option_buttons = []
        self.grid = grid = QGridLayout()
        grid.setSpacing(24)
        columns = 1 if len(options) <= ONE_COLUMN_MAX else 2
        #: A half-width button has no room for a description (a button does not wrap text).
        self.with_descriptions = columns == 1
        for name, title, description, event in options:
            button = self.button(name, event)
            button.setMinimumHeight(140)
            self.options.append((title, description))
            self.option_buttons.append(button)
        self.columns = 0
        self._place(columns)
        layout.addLayout(grid)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.back = self.button("back", Back(), "secondary")
        row.addWidget(self.back)
        row.addStretch(1)
        layout.addLayout(row)

    def _place(self, columns: int) -> None:
        """The option buttons in `columns` columns."""
        if columns == self.columns:
            return
        for button in self.option_buttons:
            self.grid.removeWidget(button)
        for index, button in enumerate(self.option_buttons):
            self.grid.addWidget(button, index // columns, index % columns)
        for column in range(2):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)
        self.columns = columns

    def arrange(self, width: int, height: int) -> None:
        """Portrait: one column (two would be too narrow for the words); the room across a
        column is what a button's words are broken to fit."""
        super().arrange(width, height)
        wide = 1 if len(self.option_buttons) <= ONE_COLUMN_MAX else 2
        self._place(wide if width >= height else 1)
        room = (across(self, width) - self.grid.spacing() * (self.columns - 1)) // self.columns
        for button in self.option_buttons:
            button.setProperty(ROOM, room)

    def show_state(self, state: FlowState, now: float) -> None:
        """Label the options in the current language."""
        super().show_state(state, now)
        self.title.setText(self.t(self.title_key))
        for button, (title, description) in zip(self.option_buttons, self.options, strict=True):
            lines = [title.get(self.language)]
            if (
                self.with_descriptions
                and description is not None
                and description.get(self.language)
            ):
                lines.append(description.get(self.language))
            button.setText("\n".join(lines))
        self.back.setText(self.t("button.back"))


def services_page(send: Send, services: list[tuple[str, Text, Text]]) -> ChoicePage:
    """The service picker."""
    options = [(f"service-{i}", t, d, ChooseService(i)) for i, t, d in services]
    return ChoicePage(send, "services.title", options)


def providers_page(send: Send, providers: list[tuple[str, Text]]) -> ChoicePage:
    """The provider choice (shown when the kiosk serves several)."""
    options = [(f"provider-{i}", name, None, ChooseProvider(i)) for i, name in providers]
    return ChoicePage(send, "providers.title", options)

"""Enrolment review (the 4 info read from the card) and consent (enrolment or per item)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QVBoxLayout, QWidget

from kiosk.flow.machine import Cancel, ConfirmInfo, Consent, Decline, Flow, FlowState, Screen
from kiosk.i18n import Language
from kiosk.services.base import ResultRow
from kiosk.ui.base_page import Page, Send, label

_SEX_KEYS = {"male": "sex.male", "female": "sex.female"}


class ReviewPage(Page):
    """The 4 info as the card's signature certificate states them, to confirm."""

    FIELDS = ("name", "address", "birth_date", "sex")

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("title")
        form = QFormLayout()
        form.setVerticalSpacing(18)
        self.names = {f: label("subtitle", center=False) for f in self.FIELDS}
        self.values = {f: label("value", center=False) for f in self.FIELDS}
        for field in self.FIELDS:
            form.addRow(self.names[field], self.values[field])
        self.confirm = self.button("confirm-info", ConfirmInfo())
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 30, 80, 40)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.cancel)
        row.addStretch(1)
        row.addWidget(self.confirm)
        layout.addLayout(row)

    def leave(self) -> None:
        """Wipe the 4 info from the labels."""
        for value in self.values.values():
            value.clear()

    def show_state(self, state: FlowState, now: float) -> None:
        """The 4 info (wiped from the labels when the state no longer has them)."""
        super().show_state(state, now)
        self.title.setText(self.t("review.title"))
        info = None if state.candidate is None else state.candidate.four_info
        for field in self.FIELDS:
            self.names[field].setText(self.t(f"review.{field}"))
            value = "" if info is None else getattr(info, field)
            if field == "sex" and info is not None:
                value = self.t(_SEX_KEYS.get(value, "sex.unknown"))
            self.values[field].setText(value)
        self.confirm.setText(self.t("review.ok"))
        self.cancel.setText(self.t("button.cancel"))


class ConsentPage(Page):
    """Consent: to the enrolment as a whole, or item by item for a service that shares data."""

    def __init__(self, send: Send, flow: Flow) -> None:
        super().__init__(send)
        self.flow = flow
        self.title = label("title")
        self.text = label("subtitle")
        self.items_box = QWidget()
        self.items_layout = QVBoxLayout(self.items_box)
        self.checks: dict[str, QCheckBox] = {}
        self.agree = self.button("agree")
        self.agree.clicked.connect(self._agree)
        self.decline = self.button("decline", Decline(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 30, 80, 40)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(self.items_box)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.decline)
        row.addStretch(1)
        row.addWidget(self.agree)
        layout.addLayout(row)
        self._screen = Screen.ENROL_CONSENT
        self._service = ""

    def enter(self, state: FlowState) -> None:
        """Build one unticked box per item of the service (none for enrolment)."""
        self._screen, self._service = state.screen, state.service_id
        for box in self.checks.values():
            # Out of the page now, not when the event loop next deletes it: until then a box
            # left as a child would still be found by its name (and drawn), and a tick on it
            # would be lost — the new visit's required box would read unticked.
            self.items_layout.removeWidget(box)
            box.hide()
            box.setParent(None)
            box.deleteLater()
        self.checks = {}
        if state.screen is Screen.SERVICE_CONSENT:
            for item in self.flow.service(state.service_id).consent_items:
                box = QCheckBox()
                box.setObjectName(f"consent-{item.id}")
                self.items_layout.addWidget(box)
                box.show()
                self.checks[item.id] = box

    def show_state(self, state: FlowState, now: float) -> None:
        """Texts, and each item's label in the current language."""
        super().show_state(state, now)
        if state.screen is Screen.SERVICE_CONSENT:
            preview = state.preview
            key = "service_consent.title" if preview is None else "service_consent.check_title"
            self.title.setText(self.t(key))
            if preview is None:
                self.text.hide()
            else:  # what the service will act on (e.g. the amount), before the person agrees
                lines = [preview.title.get(self.language)]
                lines += [_row_line(r, self.language) for r in preview.rows]
                self.text.setText("\n".join(lines))
                self.text.show()
            for item in self.flow.service(state.service_id).consent_items:
                suffix = self.t("service_consent.required") if item.required else ""
                self.checks[item.id].setText(item.label.get(self.language) + suffix)
        else:
            self.title.setText(self.t("enrol_consent.title"))
            self.text.setText(self.t("enrol_consent.text"))
            self.text.show()
        self.agree.setText(self.t("consent.agree"))
        self.decline.setText(self.t("consent.decline"))

    def _agree(self) -> None:
        ticked = frozenset(i for i, box in self.checks.items() if box.isChecked())
        self.send(Consent(ticked))


def _row_line(row: ResultRow, language: Language) -> str:
    """One row of a preview: "label: value", or the label alone when it says it all (the
    login's "what the service receives")."""
    name = row.label.get(language)
    return f"{name}: {row.value}" if row.value else name

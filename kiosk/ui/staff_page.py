"""Staff mode: the menu (exit, reader status, assisted check) and the assisted-check form."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLineEdit, QVBoxLayout

from kiosk.flow.machine import (
    Cancel,
    ChooseService,
    Flow,
    FlowState,
    StaffAssist,
    StaffExit,
    SubmitAssist,
)
from kiosk.ui.base_page import Page, Send, label
from kiosk.ui.secret_page import problem_text


class StaffMenuPage(Page):
    """What staff can do here."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("title")
        self.reader = label("status")
        self.assist = self.button("staff-assist", StaffAssist())
        self.exit = self.button("staff-exit", StaffExit(), "danger")
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.setSpacing(24)
        layout.addWidget(self.title)
        layout.addWidget(self.reader)
        layout.addWidget(self.assist)
        layout.addWidget(self.exit)
        layout.addStretch(1)
        layout.addWidget(self.cancel)

    def render(self, state: FlowState, now: float) -> None:
        """Menu texts and the live reader status."""
        super().render(state, now)
        self.title.setText(self.t("staff.menu"))
        status = self.t(f"reader.{state.reader.value}")
        self.reader.setText(self.t("staff.reader", status=status))
        self.assist.setText(self.t("staff.assist"))
        self.exit.setText(self.t("staff.exit"))
        self.cancel.setText(self.t("button.back"))


class StaffAssistPage(Page):
    """The clinic's visual-check fallback: staff confirm identity, enter insurer and member."""

    def __init__(self, send: Send, flow: Flow) -> None:
        super().__init__(send)
        self.flow = flow
        self.title = label("title")
        self.services = []
        services_row = QHBoxLayout()
        if len(flow.config.services) > 1:
            for info in flow.config.services:
                button = self.button(f"service-{info.id}", ChooseService(info.id), "secondary")
                button.setCheckable(True)
                services_row.addWidget(button)
                self.services.append((info, button))
        self.insurer_label = label("subtitle", center=False)
        self.member_label = label("subtitle", center=False)
        self.insurer = QLineEdit()
        self.insurer.setObjectName("insurer")
        self.member = QLineEdit()
        self.member.setObjectName("member")
        form = QFormLayout()
        form.addRow(self.insurer_label, self.insurer)
        form.addRow(self.member_label, self.member)
        self.problem = label("problem")
        self.confirm = self.button("staff-confirm")
        self.confirm.clicked.connect(self._confirm)
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.addWidget(self.title)
        layout.addLayout(services_row)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.cancel)
        row.addStretch(1)
        row.addWidget(self.confirm)
        layout.addLayout(row)

    def enter(self, state: FlowState) -> None:
        """Empty fields for each new check."""
        self.insurer.clear()
        self.member.clear()

    def render(self, state: FlowState, now: float) -> None:
        """Texts, the chosen service and any format problem."""
        super().render(state, now)
        self.title.setText(self.t("staff.assist.title"))
        for info, button in self.services:
            button.setText(info.title.get(self.language))
            button.setChecked(info.id == state.service_id)
        self.insurer_label.setText(self.t("staff.insurer"))
        self.member_label.setText(self.t("staff.member"))
        problem = state.problem
        self.problem.setVisible(problem is not None)
        if problem is not None:
            self.problem.setText(problem_text(problem, self.language))
        self.confirm.setText(self.t("staff.confirm"))
        self.cancel.setText(self.t("button.cancel"))

    def _confirm(self) -> None:
        self.send(SubmitAssist(self.insurer.text(), self.member.text()))

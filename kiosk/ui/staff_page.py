"""Staff mode: the login (staff number, then PIN), the menu (exit, reader status, assisted
check, linking a patient number, voiding a payment) and the three staff forms (assisted check,
patient number, the receipt number of a payment to void)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from kiosk.flow.machine import (
    Back,
    Cancel,
    ChooseService,
    ConfirmVoid,
    Done,
    Event,
    Flow,
    FlowState,
    ServiceInfo,
    StaffAssist,
    StaffExit,
    StaffLink,
    StaffVoid,
    SubmitAssist,
    SubmitPatientNumber,
    SubmitReceiptNumber,
    SubmitStaffId,
    SubmitStaffPin,
    Work,
    staff_wait_s,
)
from kiosk.services.money import yen
from kiosk.ui.accessibility import set_name
from kiosk.ui.base_page import Page, Send, label
from kiosk.ui.keypad_widget import SecretPad
from kiosk.ui.secret_page import fit_pad_keys, problem_text, stack_in_portrait


class StaffLoginPage(Page):
    """Two entries on one digit pad: the staff number, then the PIN (both masked).

    A clinic's staff know their staff number (職員番号); the pad takes it first, then the
    title names it and asks for the PIN. While the credential is checked the pad is off;
    after too many wrong tries it stays off and the seconds to wait count down."""

    ticking = True  # the lockout's countdown

    def __init__(self, send: Send, pad: SecretPad) -> None:
        super().__init__(send)
        self.pad = pad
        self._asking_pin = False
        self.title = label("title")
        self.notice = label("notice")
        self.problem = label("problem")
        self.back = self.button("back", Back(), "secondary")
        self.cancel = self.button("cancel", Cancel(), "secondary")
        pad.submitted.connect(self._submitted)
        info = QVBoxLayout()
        info.setSpacing(10)
        for widget in (self.title, self.notice, self.problem):
            info.addWidget(widget)
        info.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addStretch(1)
        row.addWidget(self.cancel)
        info.addLayout(row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(60, 24, 60, 24)
        layout.setSpacing(40)
        layout.addLayout(info, 1)
        layout.addWidget(pad, 1)

    def enter(self, state: FlowState) -> None:
        """A new login: nothing typed."""
        self.pad.reset()

    def arrange(self, width: int, height: int) -> None:
        """Portrait: the pad under the texts."""
        super().arrange(width, height)
        stack_in_portrait(self, width, height)
        fit_pad_keys(self, self.pad, width, height)

    def show_state(self, state: FlowState, now: float) -> None:
        """The step's title, checking / locked notice, the last problem; the pad on or off."""
        super().show_state(state, now)
        asking_pin = bool(state.staff_login_id)
        if asking_pin != self._asking_pin:  # a new entry: nothing typed carries over
            self._asking_pin = asking_pin
            self.pad.clear()
        if asking_pin:
            self.title.setText(self.t("staff.login.pin", staff_id=state.staff_login_id))
        else:
            self.title.setText(self.t("staff.login"))
        wait = staff_wait_s(state, now)
        checking = state.work is Work.STAFF_SIGN_IN
        lines = []
        if checking:
            lines.append(self.t("staff.login.checking"))
        if wait:
            lines.append(self.t("staff.locked", seconds=wait))
        self.notice.setVisible(bool(lines))
        self.notice.setText("\n".join(lines))
        problem = state.problem
        self.problem.setVisible(problem is not None)
        if problem is not None:
            self.problem.setText(problem_text(problem, self.language))
        self.pad.setEnabled(not checking and not wait)
        self.pad.set_labels(self.t("button.clear"), self.t("button.delete"), self.t("button.ok"))
        self.pad.speak_in(self.language)
        self.back.setVisible(asking_pin)
        self.back.setEnabled(not checking)
        self.back.setText(self.t("button.back"))
        self.cancel.setText(self.t("button.cancel"))

    def _submitted(self, typed: str) -> None:
        if self._asking_pin:
            self.send(SubmitStaffPin(typed))
        else:
            self.send(SubmitStaffId(typed))


class StaffMenuPage(Page):
    """What staff can do here (voiding a payment only where the flow offers it)."""

    def __init__(self, send: Send, flow: Flow) -> None:
        super().__init__(send)
        self.title = label("title")
        self.reader = label("status")
        self.assist = self.button("staff-assist", StaffAssist())
        self.link = self.button("staff-link", StaffLink())
        self.void = self.button("staff-void", StaffVoid())
        self.void.setVisible(flow.offers_void)
        self.exit = self.button("staff-exit", StaffExit(), "danger")
        self.cancel = self.button("cancel", Cancel(), "secondary")
        self.problem = label("problem")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.setSpacing(24)
        layout.addWidget(self.title)
        layout.addWidget(self.reader)
        layout.addWidget(self.assist)
        layout.addWidget(self.link)
        layout.addWidget(self.void)
        layout.addWidget(self.exit)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        layout.addWidget(self.cancel)

    def show_state(self, state: FlowState, now: float) -> None:
        """Menu texts and the live reader status."""
        super().show_state(state, now)
        self.title.setText(self.t("staff.menu"))
        status = self.t(f"reader.{state.reader.value}")
        self.reader.setText(self.t("staff.reader", status=status))
        self.assist.setText(self.t("staff.assist"))
        self.link.setText(self.t("staff.link"))
        self.void.setText(self.t("staff.void"))
        self.exit.setText(self.t("staff.exit"))
        self.cancel.setText(self.t("button.back"))
        busy = state.work is not None  # the exit is being recorded
        self.assist.setEnabled(not busy)
        self.link.setEnabled(not busy)
        self.void.setEnabled(not busy)
        self.exit.setEnabled(not busy)
        problem = state.problem
        self.problem.setVisible(problem is not None)
        if problem is not None:
            self.problem.setText(problem_text(problem, self.language))


class StaffFormPage(Page):
    """A staff form: a title, text fields each with its label, an inline problem, and
    confirm / cancel. A subclass names the texts and the fields, may put a row of its own
    above the form, and says which event the typed values make."""

    title_key: str
    confirm_key: str
    confirm_name: str
    #: (object name of the field, text key of its label), in order.
    fields: tuple[tuple[str, str], ...]

    def __init__(self, send: Send, above: QHBoxLayout | None = None) -> None:
        super().__init__(send)
        self.title = label("title")
        self.labels: list[tuple[QLabel, str]] = []
        self.inputs: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name, key in self.fields:
            caption, field = label("subtitle", center=False), QLineEdit()
            field.setObjectName(name)
            form.addRow(caption, field)
            caption.setBuddy(field)
            self.labels.append((caption, key))
            self.inputs[name] = field
        self.problem = label("problem")
        self.confirm = self.button(self.confirm_name)
        self.confirm.clicked.connect(lambda: self.send(self.submitted()))
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.addWidget(self.title)
        if above is not None:
            layout.addLayout(above)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        #: The buttons' row: cancel, then (after a stretch) confirm; a subclass may add more.
        self.action_row = QHBoxLayout()
        self.action_row.addWidget(self.cancel)
        self.action_row.addStretch(1)
        self.action_row.addWidget(self.confirm)
        layout.addLayout(self.action_row)

    def submitted(self) -> Event:
        """The event the typed values make."""
        raise NotImplementedError

    def enter(self, state: FlowState) -> None:
        """Empty fields for each new use."""
        for field in self.inputs.values():
            field.clear()

    def show_state(self, state: FlowState, now: float) -> None:
        """Texts and any format problem."""
        super().show_state(state, now)
        self.title.setText(self.t(self.title_key))
        for (caption, key), field in zip(self.labels, self.inputs.values(), strict=True):
            caption.setText(self.t(key))
            set_name(field, caption.text())  # what a screen reader calls the field
        problem = state.problem
        self.problem.setVisible(problem is not None)
        if problem is not None:
            self.problem.setText(problem_text(problem, self.language))
        self.confirm.setText(self.t(self.confirm_key))
        self.cancel.setText(self.t("button.cancel"))


class StaffAssistPage(StaffFormPage):
    """The clinic's visual-check fallback: staff confirm identity, enter insurer and member."""

    title_key, confirm_key, confirm_name = "staff.assist.title", "staff.confirm", "staff-confirm"
    fields = (("insurer", "staff.insurer"), ("member", "staff.member"))

    def __init__(self, send: Send, flow: Flow) -> None:
        self.services: list[tuple[ServiceInfo, QPushButton]] = []
        services_row = QHBoxLayout()
        super().__init__(send, services_row)
        if len(flow.config.services) > 1:
            for info in flow.config.services:
                button = self.button(f"service-{info.id}", ChooseService(info.id), "secondary")
                button.setCheckable(True)
                services_row.addWidget(button)
                self.services.append((info, button))
        self.insurer, self.member = self.inputs["insurer"], self.inputs["member"]

    def show_state(self, state: FlowState, now: float) -> None:
        """Texts, the chosen service and any format problem."""
        super().show_state(state, now)
        for info, button in self.services:
            button.setText(info.title.get(self.language))
            button.setChecked(info.id == state.service_id)

    def submitted(self) -> Event:
        """The numbers staff entered."""
        return SubmitAssist(self.insurer.text(), self.member.text())


class StaffLinkPage(StaffFormPage):
    """Staff type the patient number they confirmed with the person; the person then links
    their card to that record with their own card, PIN and password."""

    title_key, confirm_key, confirm_name = (
        "staff.link.title",
        "staff.link.confirm",
        "staff-link-confirm",
    )
    fields = (("patient-number", "staff.patient_number"),)

    def submitted(self) -> Event:
        """The patient number staff confirmed."""
        return SubmitPatientNumber(self.inputs["patient-number"].text())


class StaffVoidPage(StaffFormPage):
    """Staff void a settled payment in three steps on one page: the receipt number (its shape
    is checked by the flow), the confirm step naming it (the void runs on the staff worker
    meanwhile, every button off), and what was voided; a refusal is shown inline."""

    title_key, confirm_key, confirm_name = "staff.void.title", "staff.void.next", "staff-void-next"
    fields = (("receipt-no", "staff.receipt_no"),)

    def __init__(self, send: Send) -> None:
        notice_row = QHBoxLayout()
        super().__init__(send, notice_row)
        self.receipt = self.inputs["receipt-no"]
        self.notice = label("notice")
        notice_row.addWidget(self.notice)
        self.back = self.button("back", Back(), "secondary")
        self.void = self.button("staff-void-confirm", ConfirmVoid(), "danger")
        self.menu = self.button("staff-void-done", Done())
        self.action_row.insertWidget(1, self.back)
        self.action_row.addWidget(self.void)
        self.action_row.addWidget(self.menu)
        for later in (self.back, self.void, self.menu):  # shown at their step (show_state):
            later.hide()  # five buttons in a row would make the window wider than a screen

    def submitted(self) -> Event:
        """The receipt number staff typed."""
        return SubmitReceiptNumber(self.receipt.text())

    def show_state(self, state: FlowState, now: float) -> None:
        """The step's title and buttons; a notice while the card company is asked."""
        super().show_state(state, now)
        report, confirming = state.void_report, bool(state.void_receipt)
        busy = state.work is Work.STAFF_VOID
        if report is not None:
            key = "staff.void.again" if report.again else "staff.void.done"
            amount = yen(report.amount_yen)
            self.title.setText(self.t(key, receipt_no=report.receipt_no, amount=amount))
        elif confirming:
            self.title.setText(self.t("staff.void.confirm_title", receipt_no=state.void_receipt))
        self.notice.setVisible(busy)
        self.notice.setText(self.t("staff.void.working"))
        self.receipt.setReadOnly(confirming or report is not None)
        entering = not confirming and report is None
        self.confirm.setVisible(entering)
        self.back.setVisible(confirming and report is None)
        self.void.setVisible(confirming and report is None)
        self.cancel.setVisible(report is None)
        self.menu.setVisible(report is not None)
        for button in (self.back, self.void, self.cancel):
            button.setEnabled(not busy)
        self.back.setText(self.t("button.back"))
        self.void.setText(self.t("staff.void.confirm"))
        self.menu.setText(self.t("staff.void.menu"))

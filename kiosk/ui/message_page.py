"""Working (progress and cancel), the result of a service, and problems from the catalogue."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtSvgWidgets import QSvgWidget
from PySide6.QtWidgets import (
    QBoxLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
)

from kiosk.flow.errors_catalogue import entry
from kiosk.flow.machine import (
    STAFF_CALL_TEXT,
    CallStaff,
    Cancel,
    Done,
    FlowState,
    Retry,
    Screen,
    Work,
)
from kiosk.services.base import ServiceResult
from kiosk.services.renewal import expiry_ahead
from kiosk.ui.accessibility import set_name
from kiosk.ui.base_page import Page, Send, icon, label, set_icon
from kiosk.ui.card_page import repolish
from kiosk.ui.fit import across, share_room

#: The steps of a visit, for the progress bar.
_STEPS = {
    Work.READ_CARD: 1,
    Work.AUTHENTICATE: 2,
    Work.CONFIRM_PHONE: 2,  # an iPhone's proof, in place of the PIN's
    Work.READ_SIGNER: 3,
    Work.ENROL: 4,
    Work.PREPARE: 5,
    Work.RUN_SERVICE: 5,
    Work.ASSISTED: 5,
}


class WorkingPage(Page):
    """Card or service work in progress: what is happening, progress, keep the card in."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.title = label("title")
        self.keep = label("notice")
        self.progress = QProgressBar()
        self.progress.setRange(0, max(_STEPS.values()))
        self.progress.setTextVisible(False)
        self.cancel = self.button("cancel", Cancel(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 60, 120, 40)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.progress)
        layout.addWidget(self.keep)
        layout.addStretch(1)
        layout.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignRight)

    def show_state(self, state: FlowState, now: float) -> None:
        """The step in words and on the bar."""
        super().show_state(state, now)
        work = state.work or Work.READ_CARD
        self.title.setText(self.t(f"work.{work.value}"))
        self.progress.setValue(_STEPS[work])
        steps = max(_STEPS.values())
        set_name(self.progress, self.t("a11y.progress", step=_STEPS[work], of=steps))
        self.keep.setVisible(work is not Work.ASSISTED)
        self.keep.setText(self.t("work.keep_card"))
        self.cancel.setText(self.t("button.cancel"))


#: A result with more rows than this shows them beside its head on a landscape screen.
_ROWS_UNDER = 4
#: The side margins of a result whose rows are beside its head (a receipt: room across).
_BESIDE_SIDE = 48


class ResultPage(Page):
    """A service's result: icon, title, message and labelled rows, then Finish."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.icon: QSvgWidget = icon("ok", 140)
        self.title = label("title")
        self.message = label("subtitle")
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(40)
        self.grid.setVerticalSpacing(10)
        self.rows: list[tuple[QLabel, QLabel]] = []
        self._shown: tuple[ServiceResult | None, str] = (None, "")
        self.expiry = label("notice")  # the user certificate expires soon: renew
        self.done = self.button("done", Done())
        head = QVBoxLayout()
        head.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignCenter)
        head.addWidget(self.title)
        head.addWidget(self.message)
        head.addStretch(1)
        #: The head above the rows; beside them for a long result on a landscape screen.
        self.body = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.body.setSpacing(24)
        self.body.addLayout(head, 2)
        self.body.addLayout(self.grid, 3)
        self._landscape = True
        self._side = 120  # the side margins of the page as arranged
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.addLayout(self.body)
        layout.addWidget(self.expiry)
        layout.addStretch(1)
        layout.addWidget(self.done, 0, Qt.AlignmentFlag.AlignRight)

    def leave(self) -> None:
        """Wipe the result from the screen."""
        self._show(None)

    def arrange(self, width: int, height: int) -> None:
        """A long result's rows beside the head on a landscape screen (a receipt fits)."""
        super().arrange(width, height)
        layout = self.layout()
        if layout is not None:
            self._side = layout.contentsMargins().left()
        self._landscape = width >= height
        self._place_body()

    def _place_body(self) -> None:
        """Beside the head, the rows get three quarters of a page with narrower margins,
        and the labels' column as much as its words ask (the values the rest); under it,
        the labels two fifths of the width, room to stay on one line or two."""
        result = self._shown[0]
        beside = self._landscape and result is not None and len(result.rows) > _ROWS_UNDER
        direction = QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom
        if self.body.direction() != direction:
            self.body.setDirection(direction)
        self.body.setStretch(0, 1 if beside else 2)
        self.body.setStretch(1, 3)
        self.grid.setColumnStretch(0, 0 if beside else 2)
        self.grid.setColumnStretch(1, 1 if beside else 3)
        layout = self.layout()
        if layout is not None:
            margins = layout.contentsMargins()
            side = _BESIDE_SIDE if beside else self._side
            layout.setContentsMargins(side, margins.top(), side, margins.bottom())

    def show_state(self, state: FlowState, now: float) -> None:
        """The result in the current language (drawn again only when it or that changes)."""
        super().show_state(state, now)
        self.done.setText(self.t("button.done"))
        if (state.result, self.language) != self._shown:
            self._show(state.result)
        self._show_expiry(state)

    def _show_expiry(self, state: FlowState) -> None:
        """When the user certificate that proved the person expires within 90 days of the
        verdict (the verifier's time, from the injected clock): the day, and where to renew."""
        auth = state.authenticated
        ahead = None
        if state.result is not None and auth is not None and auth.verified_at is not None:
            ahead = expiry_ahead(auth.not_after, auth.verified_at)
        self.expiry.setVisible(ahead is not None)
        if ahead is None:
            self.expiry.clear()
            return
        day = ahead.expires_on
        shown = (
            day.isoformat() if self.language == "en" else f"{day.year}年{day.month}月{day.day}日"
        )
        self.expiry.setText(self.t("result.expiry_ahead", date=shown, days=ahead.days_left))

    def _show(self, result: ServiceResult | None) -> None:
        self._shown = (result, self.language)
        for widget in (w for row in self.rows for w in row):
            self.grid.removeWidget(widget)  # out of the page at once (see ConsentPage.enter)
            widget.hide()
            widget.setParent(None)
            widget.deleteLater()
        self.rows = []
        self.title.clear()
        self.message.clear()
        self._place_body()
        if result is None:
            return
        set_icon(self.icon, "ok" if result.ok else "error")
        self.setProperty("severity", "ok" if result.ok else "")
        repolish(self)
        self.title.setText(result.title.get(self.language))
        self.message.setText(result.message.get(self.language))
        self.message.setVisible(bool(result.message.get(self.language)))
        for index, row in enumerate(result.rows):
            name = label("subtitle", center=False)
            name.setText(row.label.get(self.language))
            value = label("value", center=False)
            value.setText(row.value)
            self.grid.addWidget(name, index, 0)
            self.grid.addWidget(value, index, 1)
            name.show()  # at once, not at the layout's next pass
            value.show()
            self.rows.append((name, value))


class ProblemPage(Page):
    """An error or the blocked screen, from the catalogue: what happened and what to do."""

    def __init__(self, send: Send) -> None:
        super().__init__(send)
        self.icon: QSvgWidget = icon("error", 140)
        self.title = label("title")
        self.text = label("subtitle")
        self.staff = label("notice")
        self.retry = self.button("retry", Retry())
        self.done = self.button("done", Done(), "secondary")
        self.call_staff = self.button("call-staff", CallStaff(), "secondary")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        layout.addWidget(self.staff)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.call_staff)
        row.addStretch(1)
        row.addWidget(self.done)
        row.addWidget(self.retry)
        layout.addLayout(row)

    def arrange(self, width: int, height: int) -> None:
        """The three buttons' words broken to a third of the row each."""
        super().arrange(width, height)
        share_room([self.call_staff, self.done, self.retry], across(self, width), 12)

    def show_state(self, state: FlowState, now: float) -> None:
        """The catalogue entry of the state's problem."""
        super().show_state(state, now)
        problem = state.problem
        if problem is None:
            return
        found = entry(problem.code)
        set_icon(self.icon, found.icon)
        severity = "blocked" if state.screen is Screen.BLOCKED else ""
        if self.property("severity") != severity:
            self.setProperty("severity", severity)
            repolish(self)
        self.title.setText(found.title.get(self.language))
        self.text.setText(found.text.format(self.language, retries=problem.retries_left))
        self.retry.setVisible(found.retry and state.screen is Screen.ERROR)
        self.retry.setText(self.t("button.retry"))
        self.done.setText(self.t("button.done"))
        self.call_staff.setText(self.t("button.call_staff"))
        self.call_staff.setVisible(not state.staff_called)
        self.staff.setVisible(state.staff_called)  # coming only when the call was delivered
        if state.staff_called:
            self.staff.setText(self.t(STAFF_CALL_TEXT[state.staff_call]))

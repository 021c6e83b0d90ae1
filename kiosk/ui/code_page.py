"""The binding code's screen: the person types the code their phone or computer shows.

A login visit comes here after the card proved the person (and enrolment, if needed). The
pad shows the digits as typed; the flow checks their shape and the provider what they stand
for, and a refusal comes back here, inline. While the provider asks the kiosk to wait (too many
wrong codes) the pad is off and the seconds count down. No card work happens on this screen.
"""

from __future__ import annotations

from kiosk.flow.machine import FlowState, SubmitBindingCode, code_wait_s
from kiosk.ui.base_page import Send
from kiosk.ui.keypad_widget import SecretPad
from kiosk.ui.secret_page import SecretPage


class BindingCodePage(SecretPage):
    """The code pad (unmasked), where the code is found, the wait, and the last refusal."""

    ticking = True  # the rate limit's countdown

    def __init__(self, send: Send, pad: SecretPad) -> None:
        super().__init__(send, pad, "code.title")
        pad.submitted.connect(lambda code: self.send(SubmitBindingCode(code)))

    def show_state(self, state: FlowState, now: float) -> None:
        """The texts and the last refusal; while the provider asks to wait, the seconds left
        and the pad off."""
        super().show_state(state, now)
        wait = code_wait_s(state, now)
        lines = [self.t("code.hint")]
        if wait:
            lines.append(self.t("code.wait", seconds=wait))
        self.notice.setText("\n".join(lines))
        self.pad.setEnabled(not wait)

    def render_notice(self, state: FlowState) -> None:
        """Where the code is shown (no tries to count, and no staff path: a login is the card
        holder's own)."""
        self.retries.hide()
        self.call_staff.hide()
        self.notice.setVisible(True)

"""The consent page across visits: the boxes a person ticks are the boxes the page reads.

Regression for the second-visit reset (issue 9): entering the consent page for a new visit
removed the previous visit's boxes only with `deleteLater`, so until the event loop came round
to delete them they were still children of the page under the same object names. Whatever found
a box by name (a test, an accessibility tool, an automation) could find the old one: the person's
tick went to a dead box, the page read the new unticked one, and the visit ended as "required
consent declined", back on the start screen with the card still in. Here nothing runs the event
loop between the visits, so the old boxes are certainly not deleted yet.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QCheckBox

from kiosk.flow.machine import Consent, Flow, FlowConfig, FlowState, Provider, Screen, ServiceInfo
from kiosk.i18n import plain
from kiosk.services.base import ConsentItem
from kiosk.ui.enrol_page import ConsentPage

ITEMS = (
    ConsentItem("sign_in", plain("Sign in"), required=True),
    ConsentItem("share", plain("Share")),
)


def consent_page(qtbot) -> tuple[ConsentPage, list]:
    service = ServiceInfo("login", plain("Login"), plain("d"), needs_link=True, consent_items=ITEMS)
    flow = Flow(FlowConfig(services=(service,), providers=(Provider("p", plain("P")),)))
    sent: list = []
    page = ConsentPage(sent.append, flow)
    qtbot.addWidget(page)
    page.show()
    return page, sent


def visit(page: ConsentPage, number: int) -> FlowState:
    state = FlowState(screen=Screen.SERVICE_CONSENT, service_id="login", work_id=number)
    page.enter(state)
    page.show_state(state, 0.0)
    return state


def test_a_second_visit_has_one_box_per_item_and_reads_the_one_ticked(qtbot):
    page, sent = consent_page(qtbot)
    visit(page, 1)
    page.findChild(QCheckBox, "consent-sign_in").setChecked(True)
    page.agree.click()
    visit(page, 2)  # no event loop in between: the first visit's boxes are not deleted yet

    boxes = [b for b in page.findChildren(QCheckBox) if b.objectName() == "consent-sign_in"]
    assert len(boxes) == 1
    assert not boxes[0].isChecked()  # a new visit starts unticked
    boxes[0].setChecked(True)
    page.agree.click()
    assert sent == [Consent(frozenset({"sign_in"})), Consent(frozenset({"sign_in"}))]


def test_the_previous_visits_boxes_are_gone_from_the_page_at_once(qtbot):
    page, _ = consent_page(qtbot)
    first = visit(page, 1)
    old = set(page.findChildren(QCheckBox))
    visit(page, 2)
    assert not old & set(page.findChildren(QCheckBox))
    # and enrolment consent (no items) shows no box at all, leftover or new
    page.enter(replace(first, screen=Screen.ENROL_CONSENT))
    assert page.findChildren(QCheckBox) == []

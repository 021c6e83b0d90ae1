"""Staff link a person's card to the patient number they confirmed with them, in the real
window: the staff screen takes the number, then the person inserts their card and enters their
own PIN and password; the link is to that record, audited with who confirmed it."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import QLabel, QLineEdit

from kiosk.flow.machine import Screen
from kiosk.services.records import PatientRecordLinker
from kiosk.store.roster import PatientRecord

STAFF_ID = "1021"  # the member of staff the ui conftest configures


class Patients:
    """The clinic's records (the store's PatientRecords answers the same)."""

    def __init__(self, *records: PatientRecord) -> None:
        self.records = records

    def born_on(self, provider_id, birth_date):
        return [r for r in self.records if r.birth_date == birth_date]

    def get(self, provider_id, patient_number):
        return next((r for r in self.records if r.patient_number == patient_number), None)


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def test_staff_confirm_a_patient_number_and_the_person_links_their_card(make_kiosk):
    # the record spells the name in kana: the card's kanji do not match it, staff's eyes do
    record = PatientRecord("P-0417", "しけん たろう", "", date(1980, 2, 17), "", "", "", "")
    kiosk = make_kiosk(records=PatientRecordLinker(Patients(record)))
    kiosk.staff_login()
    kiosk.click("staff-link")
    kiosk.wait_screen(Screen.STAFF_LINK)
    field = kiosk.page().findChild(QLineEdit, "patient-number")
    field.setText("P 0417")  # a space: refused on the staff screen
    kiosk.click("staff-link-confirm")
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.problem is not None)
    assert kiosk.screen is Screen.STAFF_LINK
    field.setText("p-0417")
    kiosk.click("staff-link-confirm")

    kiosk.wait_screen(Screen.INSERT_CARD)  # the person's turn
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    kiosk.pin_then_enrol()
    kiosk.wait_screen(Screen.RESULT)
    assert kiosk.controller.state.link.account_ref == "P-0417"
    assert "P-0417" in texts(kiosk.page())
    confirmed = [r for r in kiosk.audit.records if r.action == "enrol.staff_confirmed"]
    assert [(r.ok, r.actor, r.reason) for r in confirmed] == [(True, STAFF_ID, "accepted.name")]
    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)
    assert kiosk.controller.state.staff_record == ""  # the next visit is nobody's link

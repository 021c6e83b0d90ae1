"""The insurance check in the real kiosk window, over the virtual card and its TEST directory."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit

from kiosk.demo.insurance import SharedWith, demo_insurance_service
from kiosk.flow.machine import Screen
from kiosk.services.insurance import MEDICATION, Coverage, mask_member


def texts(page) -> str:
    return "\n".join(w.text() for w in page.findChildren(QLabel) if w.isVisible())


def test_insurance_check_enrols_asks_each_item_and_shows_the_coverage(make_kiosk):
    service = demo_insurance_service()
    kiosk = make_kiosk(extra_services={"insurance": service}, services=("identity", "insurance"))
    kiosk.click("start")
    kiosk.wait_screen(Screen.SERVICES)
    kiosk.click("service-insurance")
    kiosk.wait_screen(Screen.INSERT_CARD)
    kiosk.insert()
    kiosk.wait_screen(Screen.PIN)
    kiosk.type_secret("1234")
    kiosk.wait_screen(Screen.PASSWORD)  # first visit: the card is linked to the clinic first
    kiosk.type_secret("ABC123")
    kiosk.wait_screen(Screen.REVIEW)
    kiosk.click("confirm-info")
    kiosk.wait_screen(Screen.ENROL_CONSENT)
    kiosk.click("agree")

    kiosk.wait_screen(Screen.SERVICE_CONSENT)
    boxes = {b.objectName(): b for b in kiosk.page().findChildren(QCheckBox)}
    assert set(boxes) == {"consent-medication", "consent-checkups"}
    assert not any(b.isChecked() for b in boxes.values())
    assert "薬剤情報" in boxes["consent-medication"].text()
    assert "(必須)" not in boxes["consent-medication"].text()
    boxes["consent-medication"].setChecked(True)
    kiosk.click("agree")

    kiosk.wait_screen(Screen.RESULT)
    shared = service.directory.shared
    assert len(shared) == 1
    account_ref = shared[0].account_ref  # the account the enrolment just created
    assert account_ref.startswith("K-")
    assert shared[0] == SharedWith(
        shared[0].provider_id, account_ref, frozenset({MEDICATION}), shared[0].on
    )
    found = service.directory.check(shared[0].provider_id, account_ref, shared[0].on)
    assert found.status is Coverage.VALID
    page = texts(kiosk.page())
    assert "資格確認：有効" in page
    assert found.insurer in page and mask_member(found.member) in page
    assert found.member not in page
    assert f"{found.copay_tenths}割" in page and found.valid_until.isoformat() in page
    assert "薬剤情報を医療機関に提供しました" in page and "特定健診情報" not in page
    assert kiosk.audit.records[-1].action == "service.insurance"
    assert kiosk.audit.records[-1].ok

    kiosk.click("lang-en")
    kiosk.qtbot.waitUntil(lambda: "Coverage: valid" in texts(kiosk.page()))
    assert "Shared with the clinic: medication records." in texts(kiosk.page())
    kiosk.click("done")
    kiosk.wait_screen(Screen.TAKE_CARD)


def test_staff_assisted_insurance_check_by_the_numbers(make_kiosk):
    service = demo_insurance_service()
    kiosk = make_kiosk(extra_services={"insurance": service}, services=("identity", "insurance"))
    kiosk.staff_login()
    kiosk.click("staff-assist")
    kiosk.wait_screen(Screen.STAFF_ASSIST)
    kiosk.click("service-insurance")
    kiosk.qtbot.waitUntil(lambda: kiosk.controller.state.service_id == "insurance")
    kiosk.page().findChild(QLineEdit, "insurer").setText("00009901")
    kiosk.page().findChild(QLineEdit, "member").setText("TEST-02")  # the demo's lost record
    kiosk.click("staff-confirm")
    kiosk.wait_screen(Screen.RESULT)
    page = texts(kiosk.page())
    assert "資格確認：資格喪失" in page and "2025-04-01" in page
    assert "●●●T-02" in page and "TEST-02" not in page
    assert service.directory.shared == []
    record = kiosk.audit.records[-1]
    assert (record.action, record.ok, record.actor) == ("staff_assisted.insurance", False, "1021")
    assert "00009901" not in repr(kiosk.audit.records)
    kiosk.click("done")
    kiosk.wait_screen(Screen.ATTRACT)

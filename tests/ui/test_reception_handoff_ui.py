"""The clinic's reception path in the real kiosk window, end to end.

The virtual card's person is in the clinic's patient records and the insurer's roster (loaded
from CSV into a real store). The visit goes from the picker to the eligibility result; the
result waits in the store's outbox while the reception system (a real HTTP receiver, uvicorn on
127.0.0.1) is down, and arrives once it is back: one FHIR Bundle that fhir.resources reads back
with the clinic's patient number and the insurer's numbers, exactly once after deduplication.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from reception_support import TOKEN, Receiver, secrets_in

from kiosk.clock import utc_now
from kiosk.flow.machine import Screen
from kiosk.services.eligibility import RosterDirectory
from kiosk.services.handoff import OutboxHandoff
from kiosk.services.insurance import MEDICATION, InsuranceService, ReceptionPoint
from kiosk.services.outbox_sender import OutboxSender
from kiosk.services.reception_delivery import HttpReception
from kiosk.services.records import PatientRecordLinker
from kiosk.services.records_csv import parse_patients, parse_roster
from kiosk.store.engine import Database
from kiosk.store.outbox import Outbox
from kiosk.store.roster import InsuranceRoster, PatientRecords

ROSTER = (
    "insurer,symbol,number,branch,name,name_kana,birth_date,valid_from,valid_to,lost_on,"
    "copay_tenths\n"
    "06123456,あいう,187,05,試験 太郎,シケン タロウ,1980-02-17,2025-04-01,2099-03-31,,3\n"
)
PATIENTS = (
    "patient_number,name,name_kana,birth_date,insurer,symbol,number,branch\n"
    "P-0417,試験 太郎,シケン タロウ,1980-02-17,06123456,あいう,187,05\n"
)
INSTITUTION = "1311234567"


@pytest.fixture
def clinic(tmp_path):
    """The clinic's store with its records and the roster loaded, and a stopped receiver."""
    db = Database(f"sqlite:///{tmp_path / 'kiosk.sqlite3'}")
    db.upgrade()
    at = datetime.now(UTC)
    roster = parse_roster(ROSTER.encode())
    InsuranceRoster(db).replace_insurer(roster.insurer, roster.members, roster.sha256, at)
    PatientRecords(db).replace("demo-clinic", parse_patients(PATIENTS.encode()).records, at)
    receiver = Receiver()
    yield db, receiver
    receiver.stop()
    db.dispose()


def test_the_eligibility_reaches_reception_once_it_is_back(make_kiosk, clinic, caplog):
    caplog.set_level(logging.DEBUG)
    db, receiver = clinic
    outbox = Outbox(db)
    delivery = HttpReception(receiver.url, TOKEN, 2.0)
    sender = OutboxSender(outbox, delivery, utc_now, interval_s=0.2)
    sender.start()
    try:
        insurance = InsuranceService(
            RosterDirectory(InsuranceRoster(db), PatientRecords(db)),
            reception=ReceptionPoint("kiosk-1", INSTITUTION),
        )
        kiosk = make_kiosk(
            extra_services={"insurance": insurance},
            services=("identity", "insurance"),
            provider_id="demo-clinic",
            records=PatientRecordLinker(PatientRecords(db)),
            handoff=OutboxHandoff(outbox, "kiosk-1", wake=sender.wake),
        )
        kiosk.click("start")
        kiosk.wait_screen(Screen.SERVICES)
        kiosk.click("service-insurance")
        kiosk.wait_screen(Screen.INSERT_CARD)
        kiosk.insert()
        kiosk.wait_screen(Screen.PIN)
        kiosk.type_secret("1234")
        kiosk.wait_screen(Screen.PASSWORD)  # first visit: linked to the clinic's record
        kiosk.type_secret("ABC123")
        kiosk.wait_screen(Screen.REVIEW)
        kiosk.click("confirm-info")
        kiosk.wait_screen(Screen.ENROL_CONSENT)
        kiosk.click("agree")
        kiosk.wait_screen(Screen.SERVICE_CONSENT)
        kiosk.page().findChild(object, "consent-medication").setChecked(True)
        kiosk.click("agree")
        kiosk.wait_screen(Screen.RESULT)
        assert kiosk.controller.state.result.ok  # the person is done: reception is down

        # the message waits, tried and failed, in the outbox
        kiosk.qtbot.waitUntil(lambda: outbox.list()[0].attempts >= 1, timeout=10_000)
        (waiting,) = outbox.list()
        assert not waiting.delivered and waiting.last_error
        assert not secrets_in(waiting.body.decode())  # no PIN, no 4 info in the message

        receiver.start()  # reception is back: the sender's next try (5 s after the first)
        kiosk.qtbot.waitUntil(lambda: outbox.list()[0].delivered, timeout=20_000)
        sender.wake()  # one more pass: a delivered message is not sent again
        kiosk.qtbot.waitUntil(lambda: receiver.received.arrived.is_set(), timeout=10_000)
    finally:
        sender.stop()

    (bundle,) = receiver.received.deduplicated()
    assert bundle.bundle_id == waiting.message_id
    assert (bundle.provider_id, bundle.terminal_id) == ("demo-clinic", "kiosk-1")
    assert bundle.patient_number == "P-0417"  # the clinic's own record, not a new account
    assert bundle.patient_system.endswith(INSTITUTION)
    assert bundle.shared == frozenset({MEDICATION})
    coverage = bundle.coverage
    assert [p.identifier.value for p in coverage.payor] == ["06123456"]  # 保険者番号
    numbers = sorted(e.valueString for e in coverage.extension)
    assert numbers == sorted(["あいう", "187", "05"])  # 記号, 番号, 枝番
    assert coverage.status == "active"
    assert receiver.received.authorizations[0] == f"Bearer {TOKEN}"
    # no PIN, no password, none of the 4 info in any log line or audit row of the visit
    lines = [r.getMessage() for r in caplog.records]
    assert any("not delivered" in line for line in lines)  # the log was captured
    assert [line for line in lines if secrets_in(line)] == []
    assert [r for r in kiosk.audit.records if secrets_in(repr(r))] == []
    assert all("P-0417" not in line for line in lines)  # nor the patient number

"""The reception Bundle: built with fhir.resources, read back with the same identifiers, and
nothing about the person but the clinic's patient number."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date

import pytest
from reception_support import (
    FACTS,
    INSTITUTION_CODE,
    PATIENT_NUMBER,
    PIN,
    message,
    secrets_in,
)

from kiosk.pki.authority import DEFAULT_PERSON
from kiosk.services.insurance import CHECKUPS, MEDICATION, Coverage
from kiosk.services.reception import (
    BRANCH_EXTENSION,
    CONSENT_ITEM_SYSTEM,
    INSURER_SYSTEM,
    MEMBER_ID_SYSTEM,
    NUMBER_EXTENSION,
    SYMBOL_EXTENSION,
    BundleRefused,
    CoverageFacts,
    ReceptionMessage,
    build_bundle,
    parse_bundle,
    patient_system,
)


def test_the_bundle_round_trips_with_the_same_identifiers():
    sent = message()
    back = parse_bundle(build_bundle(sent))
    assert back.bundle_id == str(sent.message_id)
    assert (back.provider_id, back.terminal_id) == ("demo-clinic", "kiosk-1")
    assert back.patient_number == PATIENT_NUMBER
    assert back.patient_system == f"urn:oid:1.2.392.100495.20.3.51.1{INSTITUTION_CODE}"
    coverage = back.coverage
    assert coverage is not None and coverage.status == "active"
    assert [(p.identifier.system, p.identifier.value) for p in coverage.payor] == [
        (INSURER_SYSTEM, "06123456")
    ]
    extensions = {e.url: e.valueString for e in coverage.extension}
    assert extensions == {
        SYMBOL_EXTENSION: "あいう",
        NUMBER_EXTENSION: "187",
        BRANCH_EXTENSION: "05",
    }
    assert [(i.system, i.value) for i in coverage.identifier] == [
        (MEMBER_ID_SYSTEM, "06123456:あいう:187:05")
    ]
    assert (coverage.period.start, coverage.period.end) == (date(2025, 4, 1), date(2027, 3, 31))
    (cost,) = coverage.costToBeneficiary
    assert (cost.type.coding[0].code, cost.valueQuantity.value) == ("copaypct", 30)
    # the Coverage and the Consents point at the one Patient in the Bundle
    patient_url = next(e.fullUrl for e in back.bundle.entry if e.resource is back.patient)
    assert coverage.beneficiary.reference == patient_url
    assert {c.patient.reference for c in back.consents} == {patient_url}
    assert back.shared == {MEDICATION, CHECKUPS}


def test_one_consent_per_item_the_person_agreed_to_share():
    back = parse_bundle(build_bundle(message(shared=frozenset({CHECKUPS}))))
    assert back.shared == {CHECKUPS}
    (consent,) = back.consents
    assert consent.provision.type == "permit"
    assert consent.provision.code[0].coding[0].system == CONSENT_ITEM_SYSTEM
    assert parse_bundle(build_bundle(message(shared=frozenset()))).consents == ()


def test_the_patient_carries_the_number_and_none_of_the_4_info():
    data = build_bundle(message())
    patient = parse_bundle(data).patient
    assert patient.name is None and patient.address is None
    assert patient.birthDate is None and patient.gender is None
    (raw_patient,) = [
        e["resource"]
        for e in json.loads(data)["entry"]
        if e["resource"]["resourceType"] == "Patient"
    ]
    assert set(raw_patient) == {"resourceType", "id", "identifier"}
    assert secrets_in(data.decode()) == []


def test_a_lost_coverage_is_cancelled_and_ends_the_day_before_it_was_lost():
    lost = replace(FACTS, status=Coverage.LOST, valid_until=None, lost_on=date(2026, 11, 1))
    coverage = parse_bundle(build_bundle(message(coverage=lost, shared=frozenset()))).coverage
    assert coverage is not None and coverage.status == "cancelled"
    assert coverage.period.end == date(2026, 10, 31)


def test_an_unknown_coverage_hands_off_the_patient_alone():
    back = parse_bundle(build_bundle(message(coverage=None, shared=frozenset())))
    assert back.coverage is None and back.patient_number == PATIENT_NUMBER
    with pytest.raises(ValueError, match="does not know"):
        CoverageFacts(Coverage.UNKNOWN, "06123456", "", "1")


def test_without_an_institution_code_the_kiosk_names_the_clinic_s_system():
    back = parse_bundle(build_bundle(message(institution_code="")))
    assert back.patient_system == patient_system("demo-clinic")
    assert back.patient_system != patient_system("other-clinic")


def test_building_a_message_twice_gives_the_same_bytes():
    sent = message()
    assert build_bundle(sent) == build_bundle(sent)
    assert build_bundle(message()) != build_bundle(sent)  # a new message, a new id


@pytest.mark.parametrize(
    "changes",
    [
        {"patient_number": ""},
        {"patient_number": "P 1"},
        {"institution_code": "12345"},
        {"provider_id": "a clinic"},
        {"shared": frozenset({"blood_type"})},
    ],
)
def test_a_message_that_cannot_be_handed_off_is_refused_when_made(changes):
    with pytest.raises(ValueError):
        message(**changes)


def test_the_message_repr_shows_no_patient_number():
    assert PATIENT_NUMBER not in repr(message())
    assert "06123456" not in repr(message())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "invalid_fhir"),
        (b"not json", "invalid_fhir"),
        (b"[1, 2]", "invalid_fhir"),
        (b'{"resourceType": "Patient"}', "invalid_fhir"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": 5}', "invalid_fhir"),
        (b'{"resourceType": "Bundle", "type": "collection"}', "no_bundle_id"),
        (b'{"resourceType": "Bundle", "id": "x", "type": "collection"}', "not_one_patient"),
        (
            b'{"resourceType": "Bundle", "id": "x", "type": "collection", "entry": '
            b'[{"resource": {"resourceType": "Patient"}}]}',
            "no_patient_number",
        ),
        (b"\xff\xfe" + "{}".encode("utf-16-le"), "invalid_fhir"),
        (b"[" * 100_000, "invalid_fhir"),
    ],
)
def test_anything_else_is_a_typed_refusal(data, reason):
    with pytest.raises(BundleRefused) as refused:
        parse_bundle(data)
    assert refused.value.reason == reason


def test_the_message_id_is_a_random_uuid():
    first, second = message(), message()
    assert first.message_id.version == 4 and first.message_id != second.message_id
    assert isinstance(ReceptionMessage.new("p", "t", "1", None, (), first.at).message_id, uuid.UUID)


def test_secrets_in_finds_what_it_looks_for():
    assert secrets_in("name 試験　太郎 x") == [DEFAULT_PERSON.name]
    assert "1980-02-17" in secrets_in('{"birthDate":"1980-02-17"}')
    assert secrets_in("pin '1234' typed") == [PIN]
    assert secrets_in("pin=1234 typed") == [PIN]
    assert secrets_in(f"id {uuid.UUID(int=0x1234)} at 12:34") == []

"""The hand-off to the clinic's reception system: one eligibility result as a FHIR Bundle.

A `ReceptionMessage` is what the reception needs after an insurance check: who came (the
clinic's own patient number, 診察券番号, and nothing else about the person: no name, no
address, no birth date, no sex), their coverage as of today (保険者番号, 記号・番号・枝番,
the period, the co-payment ratio, valid or lost) and the items the person agreed to share.
`build_bundle` turns it into a FHIR Bundle of a Patient, a Coverage and one Consent per
shared item, using JP Core's identifier systems where JP Core has one (docs/reception.md
lists them and where they come from); `parse_bundle` reads such a Bundle back, and is the
one place where the FHIR library's or the JSON parser's errors become a typed refusal.

The models are fhir.resources' R4B (4.3.0) ones: the only releases with R4 (4.0.1) models
need pydantic 1, and Patient, Coverage, Consent and Bundle are unchanged between R4 and R4B,
so the JSON is the same an R4 receiver expects (docs/reception.md).

Pure: no SQL, no HTTP, no clock (the time is part of the message).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.coverage import Coverage as FhirCoverage
from fhir.resources.R4B.patient import Patient

from kiosk.errors import KioskError
from kiosk.services.insurance import CHECKUPS, MEDICATION, SHARABLE, Coverage

# --- identifier systems (docs/reception.md says where each comes from) ----------------------

#: 保険者番号 (JP Core: the insurer's Organization.identifier, and the Coverage's payor).
INSURER_SYSTEM = "urn:oid:1.2.392.100495.20.3.61"
#: JP Core's extensions of Coverage for 記号, 番号 and 枝番 (valueString each).
SYMBOL_EXTENSION = (
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol"
)
NUMBER_EXTENSION = (
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber"
)
BRANCH_EXTENSION = (
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSubNumber"
)
#: JP Core's Coverage.identifier for the member: "保険者番号:記号:番号:枝番".
MEMBER_ID_SYSTEM = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
#: 患者を特定するID: this OID, then "1" and the clinic's 10-digit 医療機関コード.
PATIENT_ID_OID = "urn:oid:1.2.392.100495.20.3.51"
#: The kiosk's own systems, where JP Core has none (a clinic without an institution code
#: configured, the shared items, the provider and terminal tags).
KIOSK_BASE = "http://jpki-kiosk.local/fhir"
CONSENT_ITEM_SYSTEM = f"{KIOSK_BASE}/CodeSystem/shared-item"
PROVIDER_TAG_SYSTEM = f"{KIOSK_BASE}/CodeSystem/provider"
TERMINAL_TAG_SYSTEM = f"{KIOSK_BASE}/CodeSystem/terminal"
#: HL7's code systems used as the base specification does.
_COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
_LOINC = "http://loinc.org"
_UCUM = "http://unitsofmeasure.org"
_BUNDLE_ID_SYSTEM = "urn:ietf:rfc:3986"

_INSTITUTION_CODE = re.compile(r"[0-9]{10}")
_ID_TEXT = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

_ITEM_NAMES = {MEDICATION: "薬剤情報", CHECKUPS: "特定健診情報"}


class BundleRefused(KioskError):
    """Bytes that are not a reception Bundle this kiosk writes (not JSON, not FHIR, or a
    Bundle without what the reception needs); `reason` is a short code."""

    code = "reception_bundle_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a reception bundle: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CoverageFacts:
    """The person's coverage as the eligibility directory gave it (valid or lost)."""

    status: Coverage
    insurer: str  # 保険者番号
    symbol: str  # 記号 ("" when the card has none)
    number: str  # 番号
    branch: str = ""  # 枝番
    valid_from: date | None = None
    valid_until: date | None = None
    lost_on: date | None = None  # 資格喪失日: the first day without coverage
    copay_tenths: int | None = None  # 負担割合 in tenths: 1, 2 or 3

    def __post_init__(self) -> None:
        if self.status is Coverage.UNKNOWN:
            raise ValueError("a coverage the directory does not know has no facts to hand off")
        if not self.insurer.isdigit() or not self.number:
            raise ValueError("a coverage needs the insurer number and the member number")
        if self.copay_tenths is not None and not 0 <= self.copay_tenths <= 10:
            raise ValueError("the co-payment ratio is in tenths, 0 to 10")

    @property
    def period_end(self) -> date | None:
        """The last day covered: the valid-until date, or the day before the coverage was lost."""
        if self.valid_until is not None:
            return self.valid_until
        return None if self.lost_on is None else self.lost_on - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ReceptionMessage:
    """One eligibility result for the reception system; its repr shows no patient number."""

    message_id: uuid.UUID
    provider_id: str
    terminal_id: str
    patient_number: str = field(repr=False)  # 診察券番号
    coverage: CoverageFacts | None = field(repr=False)  # None: the directory knew no coverage
    shared: frozenset[str]  # the items the person agreed to share and the directory shared
    at: datetime
    #: The clinic's 10-digit 医療機関コード, naming the patient number's JP Core system; ""
    #: when the clinic has not configured one (the kiosk's own system is used then).
    institution_code: str = ""

    def __post_init__(self) -> None:
        if _CODE.fullmatch(self.provider_id) is None or _CODE.fullmatch(self.terminal_id) is None:
            raise ValueError("provider and terminal ids must be identifiers")
        if _ID_TEXT.fullmatch(self.patient_number) is None:
            raise ValueError("a patient number is 1 to 64 characters without spaces")
        if self.institution_code and _INSTITUTION_CODE.fullmatch(self.institution_code) is None:
            raise ValueError("a 医療機関コード has 10 digits")
        if not self.shared <= set(SHARABLE):
            raise ValueError("only the items the insurance check offers can be shared")
        if self.at.tzinfo is None:
            raise ValueError("the message's time must be timezone-aware")

    @classmethod
    def new(
        cls,
        provider_id: str,
        terminal_id: str,
        patient_number: str,
        coverage: CoverageFacts | None,
        shared: Iterable[str],
        at: datetime,
        institution_code: str = "",
    ) -> ReceptionMessage:
        """A message with a fresh random id (uuid4): the receivers deduplicate by it."""
        return cls(
            uuid.uuid4(),
            provider_id,
            terminal_id,
            patient_number,
            coverage,
            frozenset(shared),
            at,
            institution_code,
        )

    @property
    def patient_system(self) -> str:
        """The identifier system of the clinic's patient numbers."""
        return patient_system(self.provider_id, self.institution_code)


def patient_system(provider_id: str, institution_code: str = "") -> str:
    """JP Core's 患者ID system for a clinic with a 医療機関コード, else the kiosk's own per
    provider."""
    if institution_code:
        return f"{PATIENT_ID_OID}.1{institution_code}"
    return f"{KIOSK_BASE}/NamingSystem/patient-number/{provider_id}"


# --- building ------------------------------------------------------------------------------


def _urn(message_id: uuid.UUID, name: str) -> tuple[str, str]:
    """A resource's id and fullUrl, derived from the message id: building the same message
    twice gives the same bytes."""
    rid = str(uuid.uuid5(message_id, name))
    return rid, f"urn:uuid:{rid}"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def _patient(message: ReceptionMessage, rid: str) -> dict[str, Any]:
    # The identifier only: the 4 info are not the reception's to receive from the kiosk.
    identifier = {"system": message.patient_system, "value": message.patient_number}
    return {"resourceType": "Patient", "id": rid, "identifier": [identifier]}


def _coverage(facts: CoverageFacts, rid: str, patient_url: str) -> dict[str, Any]:
    extensions = [
        {"url": url, "valueString": value}
        for url, value in (
            (SYMBOL_EXTENSION, facts.symbol),
            (NUMBER_EXTENSION, facts.number),
            (BRANCH_EXTENSION, facts.branch),
        )
        if value
    ]
    member = f"{facts.insurer}:{facts.symbol}:{facts.number}:{facts.branch}"
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": rid,
        "extension": extensions,
        "identifier": [{"system": MEMBER_ID_SYSTEM, "value": member}],
        "status": "active" if facts.status is Coverage.VALID else "cancelled",
        "type": _coding(_ACT_CODE, "PUBLICPOL", "public healthcare"),
        "subscriberId": f"{facts.symbol}:{facts.number}" if facts.symbol else facts.number,
        "beneficiary": {"reference": patient_url},
        "payor": [{"identifier": {"system": INSURER_SYSTEM, "value": facts.insurer}}],
    }
    if facts.branch:
        resource["dependent"] = facts.branch
    period = {
        key: day.isoformat()
        for key, day in (("start", facts.valid_from), ("end", facts.period_end))
        if day is not None
    }
    if period:
        resource["period"] = period
    if facts.copay_tenths is not None:
        resource["costToBeneficiary"] = [
            {
                "type": _coding(_COPAY_TYPE, "copaypct", "Copay Percentage"),
                "valueQuantity": {
                    "value": facts.copay_tenths * 10,
                    "unit": "%",
                    "system": _UCUM,
                    "code": "%",
                },
            }
        ]
    return resource


def _consent(item: str, rid: str, patient_url: str, at: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": rid,
        "status": "active",
        "scope": _coding(_CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [_coding(_LOINC, "59284-0", "Patient Consent")],
        "patient": {"reference": patient_url},
        "dateTime": at.isoformat(),
        "policyRule": _coding(_ACT_CODE, "OPTIN", "opt-in"),
        "provision": {
            "type": "permit",
            "code": [_coding(CONSENT_ITEM_SYSTEM, item, _ITEM_NAMES[item])],
        },
    }


def build_bundle(message: ReceptionMessage) -> bytes:
    """The message as a FHIR Bundle (JSON, UTF-8): Bundle.id is the message id."""
    patient_id, patient_url = _urn(message.message_id, "patient")
    entries: list[dict[str, Any]] = [
        {"fullUrl": patient_url, "resource": _patient(message, patient_id)}
    ]
    if message.coverage is not None:
        rid, url = _urn(message.message_id, "coverage")
        entries.append({"fullUrl": url, "resource": _coverage(message.coverage, rid, patient_url)})
    for item in SHARABLE:  # a fixed order: the same message gives the same bytes
        if item in message.shared:
            rid, url = _urn(message.message_id, f"consent:{item}")
            entries.append(
                {"fullUrl": url, "resource": _consent(item, rid, patient_url, message.at)}
            )
    # validated by the library as a whole: a field it refuses is a bug here (ValueError)
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": str(message.message_id),
            "meta": {
                "tag": [
                    {"system": PROVIDER_TAG_SYSTEM, "code": message.provider_id},
                    {"system": TERMINAL_TAG_SYSTEM, "code": message.terminal_id},
                ]
            },
            "identifier": {"system": _BUNDLE_ID_SYSTEM, "value": f"urn:uuid:{message.message_id}"},
            "type": "collection",
            "timestamp": message.at.isoformat(),
            "entry": entries,
        }
    )
    return bundle.model_dump_json().encode()


# --- reading back ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedBundle:
    """What a reception Bundle says, read back: the message as the receiver sees it."""

    bundle_id: str
    provider_id: str
    terminal_id: str
    patient_system: str
    patient_number: str = field(repr=False)
    coverage: FhirCoverage | None = field(repr=False)
    consents: tuple[Consent, ...] = field(repr=False)
    patient: Patient = field(repr=False)
    bundle: Bundle = field(repr=False, compare=False)

    @property
    def shared(self) -> frozenset[str]:
        """The items the Consents permit to share."""
        items = set()
        for consent in self.consents:
            provision = consent.provision
            for concept in (provision.code or []) if provision is not None else []:
                for coding in concept.coding or []:
                    if coding.system == CONSENT_ITEM_SYSTEM and coding.code is not None:
                        items.add(str(coding.code))
        return frozenset(items)


def parse_bundle(data: bytes) -> ReceivedBundle:
    """Read a reception Bundle; anything else (not JSON, not a FHIR Bundle, no Patient with a
    patient number) is `BundleRefused`, whatever the library or the parser raised."""
    try:
        bundle = Bundle.model_validate_json(data)
    except (ValueError, TypeError, LookupError, RecursionError) as e:
        # pydantic's ValidationError (a ValueError) covers bad JSON and bad FHIR alike
        raise BundleRefused("invalid_fhir") from e
    if not bundle.id:
        raise BundleRefused("no_bundle_id")
    resources = [entry.resource for entry in bundle.entry or [] if entry.resource is not None]
    patients = [r for r in resources if isinstance(r, Patient)]
    coverages = [r for r in resources if isinstance(r, FhirCoverage)]
    if len(patients) != 1 or len(coverages) > 1:
        raise BundleRefused("not_one_patient")
    patient = patients[0]
    identifiers = [i for i in patient.identifier or [] if i.system and i.value]
    if len(identifiers) != 1:
        raise BundleRefused("no_patient_number")
    tags = {
        str(t.system): str(t.code)
        for t in (bundle.meta.tag or [] if bundle.meta is not None else [])
        if t.system and t.code
    }
    return ReceivedBundle(
        bundle_id=str(bundle.id),
        provider_id=tags.get(PROVIDER_TAG_SYSTEM, ""),
        terminal_id=tags.get(TERMINAL_TAG_SYSTEM, ""),
        patient_system=str(identifiers[0].system),
        patient_number=str(identifiers[0].value),
        coverage=coverages[0] if coverages else None,
        consents=tuple(r for r in resources if isinstance(r, Consent)),
        patient=patient,
        bundle=bundle,
    )

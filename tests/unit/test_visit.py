"""The real FlowBackend over the in-process virtual card and the local verifier."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

from kiosk.card.errors import CardError, CardRemoved, NoCard, NoReader, PcscUnavailable
from kiosk.card.reader import InProcessReader
from kiosk.demo.audit import MemoryAudit
from kiosk.demo.verification import MemoryVerificationStore
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.flow.machine import ReaderStatus
from kiosk.i18n import Text
from kiosk.jpki.errors import (
    NotAJpkiCard,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    PinUnconfirmed,
)
from kiosk.pki.authority import Revocation, make_crl
from kiosk.services.base import ServiceContext, ServicePreview, ServiceResult
from kiosk.services.identity import IdentityService
from kiosk.services.visit import Visit
from kiosk.simcard.applet import VirtualCard
from kiosk.ui.problems import REASON_PROBLEMS, problem_for
from kiosk.verify.challenge import ChallengeService
from kiosk.verify.crl import verify_crl_in
from kiosk.verify.enrolment import auth_binding_message, certificate_digest
from kiosk.verify.trust import TrustStore, authority_key_id
from kiosk.verify.verdict import CertRef, Reason, Refused
from kiosk.verify.verifier import Verifier


class FixedAccount:
    """The provider's record linker of these tests: every enrolment links this account."""

    def __init__(self, account_ref: str) -> None:
        self.account_ref = account_ref

    def account_for(self, provider_id, person) -> str:
        return self.account_ref


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def trust(test_pki):
    return TrustStore.from_dir(test_pki.trust_dir)


@pytest.fixture
def world(test_pki, card_file, trust):
    index = MemoryVerificationStore()
    for which in ("auth", "sign"):
        index.import_crl(verify_crl_in(test_pki.crl_der(which), trust, now()))
    challenges = ChallengeService()
    reader = InProcessReader()
    card = VirtualCard(card_file)
    reader.insert(card)
    audit = MemoryAudit()
    backend = Visit(
        reader.connect,
        Verifier(trust, index, challenges),
        challenges,
        audit,
        {"identity": IdentityService()},
        "kiosk-1",
        now,
        records=FixedAccount("K-TEST"),
    )
    return backend, reader, card, audit


def vars_of(record) -> list[object]:
    if isinstance(record, tuple):
        return list(record)
    return [getattr(record, f.name) for f in dataclasses.fields(record)]


def problem(excinfo) -> tuple[ProblemCode, int | None]:
    p = problem_for(excinfo.value)
    return p.code, p.retries_left


def test_first_visit_enrols_then_the_link_is_found(world):
    backend, reader, card, audit = world
    assert backend.read_card().auth_retries == 3
    first = backend.authenticate("1234", "identity", "clinic")
    assert first.link is None and not first.needs_reenrolment
    candidate = backend.read_signer("ABC123", first)
    assert candidate.four_info.name == "試験\u3000太郎"
    assert candidate.four_info.birth_date == "1980-02-17"
    link = backend.enrol(candidate, "clinic")
    assert link.account_ref == "K-TEST"
    backend.close_card()

    backend.read_card()
    again = backend.authenticate("1234", "identity", "clinic")
    assert again.link == link
    context = ServiceContext("identity", "clinic", "ja", again.subject, again.not_after, again.link)
    assert backend.run_service(context).ok
    # the verifier records each verdict (with the challenge it used up), the flow the service
    store = backend._verifier._store
    verdicts = [(e.action, e.ok, e.challenge is not None) for e in store.entries]
    assert verdicts == [
        ("authenticate", True, True),
        ("enrol", True, True),
        ("authenticate", True, True),
    ]
    assert [(r.action, r.ok) for r in audit.records] == [("service.identity", True)]
    # no PIN, password or 4 info in any text field (times and random ids may hold any digits)
    texts = [v for r in [*audit.records, *store.entries] for v in vars_of(r) if isinstance(v, str)]
    assert not [t for t in texts if "1234" in t or "ABC123" in t or "太郎" in t]


def test_links_are_per_provider(world):
    backend, *_ = world
    backend.read_card()
    auth = backend.authenticate("1234", "identity", "clinic")
    backend.enrol(backend.read_signer("ABC123", auth), "clinic")
    backend.read_card()
    assert backend.authenticate("1234", "identity", "pharmacy").link is None


def test_wrong_pin_and_wrong_password_report_tries_left(world):
    backend, _, card, _ = world
    backend.read_card()
    with pytest.raises(KioskError) as e:
        backend.authenticate("9999", "identity", "clinic")
    assert problem(e) == (ProblemCode.PIN_INCORRECT, 2)
    assert backend.read_card().auth_retries == 2
    auth = backend.authenticate("1234", "identity", "clinic")
    with pytest.raises(KioskError) as e:
        backend.read_signer("WRONG1", auth)
    assert problem(e) == (ProblemCode.PASSWORD_INCORRECT, 4)
    assert card.card.sign.retries_left == 4


def test_blocked_pin_is_read_as_zero_tries(world, card_file):
    backend, reader, _, _ = world
    reader.pull()
    reader.insert(VirtualCard(card_file.with_retries(auth=0)))
    assert backend.read_card().auth_retries == 0
    with pytest.raises(KioskError) as e:
        backend.authenticate("1234", "identity", "clinic")
    assert problem(e)[0] is ProblemCode.PIN_BLOCKED


def test_card_pulled_mid_visit(world):
    backend, reader, *_ = world
    backend.read_card()
    reader.pull()
    with pytest.raises(KioskError) as e:
        backend.authenticate("1234", "identity", "clinic")
    assert problem(e)[0] is ProblemCode.CARD_REMOVED
    with pytest.raises(KioskError) as e:
        backend.read_card()
    assert problem(e)[0] is ProblemCode.CARD_REMOVED


def test_close_card_forgets_the_verified_pin(world):
    backend, *_ = world
    backend.read_card()
    auth = backend.authenticate("1234", "identity", "clinic")
    backend.close_card()
    with pytest.raises(KioskError) as e:
        backend.read_signer("ABC123", auth)
    assert problem(e)[0] is ProblemCode.CARD_REMOVED


class ForeignCard:
    atr = bytes.fromhex("3b8f8001")

    def power_on(self): ...

    def power_off(self): ...

    def reset(self): ...

    def transmit(self, apdu: bytes) -> bytes:
        return bytes.fromhex("6a82")


def test_not_a_my_number_card(world):
    backend, reader, *_ = world
    reader.pull()
    reader.insert(ForeignCard())
    with pytest.raises(KioskError) as e:
        backend.read_card()
    assert problem(e)[0] is ProblemCode.NOT_MY_NUMBER_CARD


def test_reader_reports_status_to_watchers():
    reader = InProcessReader()
    seen = []
    reader.watch(seen.append)
    reader.insert(ForeignCard())
    reader.pull()
    assert seen == [ReaderStatus.READY, ReaderStatus.CARD, ReaderStatus.READY]
    with pytest.raises(NoCard):
        reader.connect()


@pytest.mark.parametrize(
    ("error", "code", "retries"),
    [
        (PinIncorrect("auth", 2), ProblemCode.PIN_INCORRECT, 2),
        (PinIncorrect("sign", 1), ProblemCode.PASSWORD_INCORRECT, 1),
        (PinBlocked("auth"), ProblemCode.PIN_BLOCKED, 0),
        (PinBlocked("sign"), ProblemCode.PASSWORD_BLOCKED, 0),
        (PinFormatError("auth"), ProblemCode.PIN_FORMAT, None),
        (PinFormatError("sign"), ProblemCode.PASSWORD_FORMAT, None),
        (PinUnconfirmed("auth", 0x6F00), ProblemCode.PIN_UNCONFIRMED, None),
        (PinUnconfirmed("sign", 0x6A81), ProblemCode.PASSWORD_UNCONFIRMED, None),
        (NotAJpkiCard(), ProblemCode.NOT_MY_NUMBER_CARD, None),
        (CardRemoved(), ProblemCode.CARD_REMOVED, None),
        (PcscUnavailable(), ProblemCode.PCSC_DOWN, None),
        (NoReader(), ProblemCode.READER_MISSING, None),
        (CardError(), ProblemCode.CARD_ERROR, None),
        (Refused(Reason.REVOKED, "x"), ProblemCode.CERT_REVOKED, None),
        (Refused(Reason.EXPIRED, "x"), ProblemCode.CERT_EXPIRED, None),
    ],
)
def test_errors_become_problems(error, code, retries):
    assert (problem_for(error).code, problem_for(error).retries_left) == (code, retries)


def test_every_verify_reason_has_a_problem():
    assert set(REASON_PROBLEMS) == set(Reason) - {Reason.OK}


def test_unexpected_errors_are_internal_and_logged(caplog):
    assert problem_for(ZeroDivisionError()).code is ProblemCode.INTERNAL
    assert "ZeroDivisionError" in caplog.text


def test_a_link_needing_reenrolment_is_renewed_for_the_same_account(world):
    backend, *_ = world
    store = backend._verifier._store
    backend.read_card()
    auth = backend.authenticate("1234", "identity", "clinic")
    first = backend.enrol(backend.read_signer("ABC123", auth), "clinic")
    # the card's certificates are now linked to an older account waiting for re-enrolment
    (key,) = store._links
    link = store._links[key]
    link.account_ref, link.status = "K-OLD", "needs_reenrolment"
    backend.read_card()
    stale = backend.authenticate("1234", "identity", "clinic")
    assert stale.link is None and stale.needs_reenrolment
    renewed = backend.enrol(backend.read_signer("ABC123", stale), "clinic")
    assert renewed.account_ref == "K-OLD" and first.account_ref == "K-TEST"


def test_a_refused_verification_is_recorded_before_the_person_is_told(world, test_pki, card_file):
    backend, *_ = world
    store = backend._verifier._store
    serial = x509.load_der_x509_certificate(card_file.auth.certificate).serial_number
    trust = TrustStore.from_dir(test_pki.trust_dir)
    crl = make_crl(
        test_pki.ca_certificate("auth"),
        test_pki.ca_key("auth"),
        [Revocation(serial, now() - timedelta(hours=1))],
        this_update=now() - timedelta(hours=1),
        next_update=now() + timedelta(days=1),
        number=10**6,
    ).public_bytes(serialization.Encoding.DER)
    store.import_crl(verify_crl_in(crl, trust, now()))
    backend.read_card()
    with pytest.raises(KioskError) as e:
        backend.authenticate("1234", "identity", "clinic")
    assert problem_for(e.value).code is ProblemCode.CERT_REVOKED
    assert [(x.action, x.ok, x.reason) for x in store.entries] == [
        ("authenticate", False, "revoked")
    ]


def test_a_card_linked_to_another_account_cannot_enrol_again(world, card_file):
    backend, *_ = world
    store = backend._verifier._store
    auth = x509.load_der_x509_certificate(card_file.auth.certificate)
    sign = x509.load_der_x509_certificate(card_file.sign.certificate)
    issuer = authority_key_id(auth.extensions)
    sign_issuer = authority_key_id(sign.extensions)
    # the provider closed the card's link to another account: no link is found for it, but the
    # card may not be linked to a second account (staff must sort it out)
    store.add_link(
        "clinic",
        "K-OTHER",
        CertRef(auth.serial_number, issuer),
        CertRef(sign.serial_number, sign_issuer),
        status="revoked",
    )
    backend.read_card()
    first = backend.authenticate("1234", "identity", "clinic")
    assert first.link is None
    with pytest.raises(KioskError) as e:
        backend.enrol(backend.read_signer("ABC123", first), "clinic")
    assert problem_for(e.value).code is ProblemCode.LINK_EXISTS
    assert store.entries[-1].reason == "link_exists" and store.entries[-1].challenge is not None


class RecordingVerifier:
    """The local verifier, keeping each enrolment application the kiosk sends it."""

    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier
        self.applications: list = []

    def verify_user_proof(self, proof, now, action="user_proof"):
        return self._verifier.verify_user_proof(proof, now, action)

    def verify_enrolment(self, application, now):
        self.applications.append(application)
        return self._verifier.verify_enrolment(application, now)


def test_the_kiosk_binds_each_half_of_the_application_to_the_others_certificate(
    test_pki, card_file, trust
):
    index = MemoryVerificationStore()
    for which in ("auth", "sign"):
        index.import_crl(verify_crl_in(test_pki.crl_der(which), trust, now()))
    challenges = ChallengeService()
    verifier = RecordingVerifier(Verifier(trust, index, challenges))
    reader = InProcessReader()
    reader.insert(VirtualCard(card_file))
    backend = Visit(reader.connect, verifier, challenges, MemoryAudit(), {}, "kiosk-1", now)
    backend.read_card()
    backend.enrol(
        backend.read_signer("ABC123", backend.authenticate("1234", "x", "clinic")), "clinic"
    )
    (app,) = verifier.applications
    auth_cert, sign_cert = card_file.auth.certificate, card_file.sign.certificate
    assert app.auth_certificate_sha256 == certificate_digest(auth_cert)
    assert app.auth_proof.certificate == auth_cert and app.sign_certificate == sign_cert
    auth_key = x509.load_der_x509_certificate(auth_cert).public_key()
    message = auth_binding_message("clinic", "kiosk-1", app.nonce, certificate_digest(sign_cert))
    auth_key.verify(app.auth_proof.signature, message, PKCS1v15(), hashes.SHA256())
    sign_key = x509.load_der_x509_certificate(sign_cert).public_key()
    sign_key.verify(app.sign_signature, app.document(), PKCS1v15(), hashes.SHA256())


class Previewing:
    """A service with a preview; `prepared` is what its prepare returns or raises."""

    id, needs_link, consent_items = "previewing", False, ()

    def __init__(self, prepared) -> None:
        self.prepared = prepared

    def prepare(self, context):
        if isinstance(self.prepared, Exception):
            raise self.prepared
        return self.prepared

    def run(self, context):
        raise AssertionError("not run here")


def previewing_backend(prepared) -> Visit:
    services = {"previewing": Previewing(prepared), "identity": IdentityService()}
    return Visit(None, None, None, MemoryAudit(), services, "kiosk-1", now)


def preview_context(service_id="previewing") -> ServiceContext:
    return ServiceContext(service_id, "clinic", "ja", "S", None, None)


def test_prepare_service_hands_back_the_services_preview_or_result():
    preview = ServicePreview(Text("お支払い", "To pay"), (), "order-7:1280")
    assert previewing_backend(preview).prepare_service(preview_context()) == preview
    nothing = ServiceResult(False, Text("なし", "Nothing to pay"), Text("", ""))
    assert previewing_backend(nothing).prepare_service(preview_context()) == nothing


@pytest.mark.parametrize(
    ("prepared", "service_id", "code"),
    [
        (RuntimeError("down"), "previewing", ProblemCode.SERVICE_FAILED),
        ("not a preview", "previewing", ProblemCode.SERVICE_FAILED),
        (None, "identity", ProblemCode.INTERNAL),  # the flow asks only services that prepare
    ],
)
def test_prepare_service_failures_are_problems(prepared, service_id, code):
    with pytest.raises(Exception) as e:  # noqa: B017, PT011 - what the worker catches
        previewing_backend(prepared).prepare_service(preview_context(service_id))
    assert problem_for(e.value).code is code


# --- the provider's own records -------------------------------------------------------------


class Patients:
    """A clinic's patient records in a list (the store's PatientRecords answers the same)."""

    def __init__(self, *records) -> None:
        self.records = records

    def born_on(self, provider_id, birth_date):
        return [r for r in self.records if r.birth_date == birth_date]

    def get(self, provider_id, patient_number):
        return next((r for r in self.records if r.patient_number == patient_number), None)


def patient(number: str, name: str, born: str):
    from datetime import date

    from kiosk.store.roster import PatientRecord

    return PatientRecord(number, name, "", date.fromisoformat(born), "", "", "", "")


def enrol_with(world, patients) -> object:
    from kiosk.services.records import PatientRecordLinker

    backend, reader, card, audit = world
    backend._records = PatientRecordLinker(patients)
    backend.read_card()
    first = backend.authenticate("1234", "identity", "clinic")
    candidate = backend.read_signer("ABC123", first)
    return backend, candidate


def test_enrolment_links_the_clinics_own_patient_record(world):
    # the test card says 試験　太郎, born 1980-02-17; the record writes the name its own way
    records = Patients(
        patient("P-0417", "試験 太郎", "1980-02-17"), patient("P-9", "試験 花子", "1990-01-01")
    )
    backend, candidate = enrol_with(world, records)
    assert backend.enrol(candidate, "clinic").account_ref == "P-0417"


@pytest.mark.parametrize(
    ("records", "code"),
    [
        ((), ProblemCode.NO_RECORD),  # nobody: register at the counter
        ((patient("P-1", "試験 花子", "1990-01-01"),), ProblemCode.NO_RECORD),
        ((patient("P-2", "別人 次郎", "1980-02-17"),), ProblemCode.RECORD_MISMATCH),  # staff
        (
            (patient("P-3", "試験 太郎", "1980-02-17"), patient("P-4", "試験　太郎", "1980-02-17")),
            ProblemCode.RECORD_MISMATCH,  # two records of one person: staff choose
        ),
    ],
    ids=["no-records", "none-born-that-day", "name-differs", "two-match"],
)
def test_no_matching_record_is_refused_before_anything_is_signed(world, records, code):
    backend, candidate = enrol_with(world, Patients(*records))
    signed_before = len(backend._verifier._store.entries)
    with pytest.raises(KioskError) as e:
        backend.enrol(candidate, "clinic")
    assert problem_for(e.value).code is code
    assert len(backend._verifier._store.entries) == signed_before  # no application was made
    (refusal,) = world[3].records  # audited with the field that differed, never its value
    assert (refusal.action, refusal.ok) == ("enrol.record", False)
    assert refusal.reason.startswith(code.value) and "試験" not in refusal.reason
    assert "試験" not in str(e.value) and "1980" not in str(e.value)


def staff_enrol(world, patients, number: str, staff_id: str = "1021"):
    backend, candidate = enrol_with(world, patients)
    return backend, backend.enrol(candidate, "clinic", record=number, staff_id=staff_id)


def test_a_patient_number_staff_confirmed_is_linked_even_under_another_spelling(world):
    # the record's name is one the variant table cannot fold: staff checked the person by sight
    records = Patients(patient("P-0417", "しけん たろう", "1980-02-17"))
    backend, link = staff_enrol(world, records, "P-0417")
    assert link.account_ref == "P-0417"
    (event,) = world[3].records
    assert (event.action, event.ok, event.actor) == ("enrol.staff_confirmed", True, "1021")
    assert event.reason == "accepted.name" and "しけん" not in event.reason


@pytest.mark.parametrize(
    ("records", "number", "code", "reason"),
    [
        ((), "P-1", ProblemCode.NO_RECORD, "no_record"),
        (
            (patient("P-1", "試験 太郎", "1990-01-01"),),
            "P-1",
            ProblemCode.RECORD_MISMATCH,
            "record_mismatch.birth_date",
        ),  # fmt: skip
    ],
    ids=["no-such-number", "another-birthday"],
)
def test_staff_cannot_confirm_a_number_with_no_record_or_another_birthday(
    world, records, number, code, reason
):
    backend, candidate = enrol_with(world, Patients(*records))
    with pytest.raises(KioskError) as e:
        backend.enrol(candidate, "clinic", record=number, staff_id="1021")
    assert problem_for(e.value).code is code
    (event,) = world[3].records
    assert (event.action, event.ok, event.reason, event.actor) == (
        "enrol.staff_confirmed", False, reason, "1021",
    )  # fmt: skip


def test_a_confirmed_number_needs_who_confirmed_it(world):
    backend, candidate = enrol_with(world, Patients(patient("P-1", "試験 太郎", "1980-02-17")))
    with pytest.raises(ValueError):
        backend.enrol(candidate, "clinic", record="P-1")

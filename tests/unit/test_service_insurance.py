"""The insurance check service (資格確認) over its TEST eligibility directory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import pytest

from kiosk.demo.audit import MemoryAudit
from kiosk.demo.insurance import (
    InsuranceRecord,
    SharedWith,
    TestEligibilityDirectory,
    demo_directory,
    demo_insurance_service,
    derived_record,
)
from kiosk.errors import KioskError
from kiosk.flow.errors_catalogue import ProblemCode
from kiosk.services.base import Link, ServiceContext
from kiosk.services.insurance import (
    CHECKUPS,
    MEDICATION,
    Coverage,
    Eligibility,
    InsuranceService,
    InsuranceUnavailable,
    mask_member,
)
from kiosk.services.visit import Visit
from kiosk.ui.problems import problem_for

TODAY = date(2026, 11, 25)
ACCOUNT = "K-0000TEST"
VALID = InsuranceRecord("00001234", "TEST・123456", 2, date(2027, 3, 31))
LOST = InsuranceRecord("00001234", "TEST・654321", 3, lost_on=date(2026, 10, 1))


def context(**overrides) -> ServiceContext:
    values = dict(
        service_id="insurance",
        provider_id="clinic-1",
        language="ja",
        subject="CN=test",
        cert_not_after=None,
        link=Link(ACCOUNT, datetime(2026, 1, 1, tzinfo=UTC)),
    )
    return ServiceContext(**(values | overrides))


def service(directory) -> InsuranceService:
    return InsuranceService(directory, today=lambda: TODAY)


def rows(result) -> dict[str, str]:
    return {row.label.en: row.value for row in result.rows}


def all_texts(result) -> list[str]:
    texts = [result.title, result.message, *(row.label for row in result.rows)]
    return [getattr(t, lang) for t in texts for lang in ("ja", "en", "easy")]


# --- the service's declaration ------------------------------------------------------------


def test_declares_the_insurance_service_with_two_optional_items():
    s = demo_insurance_service()
    assert s.id == "insurance" and s.needs_link
    assert [i.id for i in s.consent_items] == [MEDICATION, CHECKUPS]
    assert not any(i.required for i in s.consent_items)
    for text in (s.title, s.description, *(i.label for i in s.consent_items)):
        assert text.ja and text.en and text.easy and text.easy != text.ja
    assert "薬剤情報" in s.consent_items[0].label.ja
    assert "特定健診情報" in s.consent_items[1].label.ja


# --- a valid coverage ----------------------------------------------------------------------


def test_valid_coverage_shows_what_the_reception_needs():
    directory = TestEligibilityDirectory(accounts={ACCOUNT: VALID})
    result = service(directory).run(context())
    assert result.ok and not result.assisted
    assert result.title.ja == "資格確認：有効"
    assert rows(result) == {
        "Insurer number": "00001234",
        "Member symbol and number": "●●●●・●●●456",
        "Co-payment": "2割 (20%)",
        "Valid until": "2027-03-31",
    }
    assert "123456" not in repr(result)  # the member number is never shown whole
    assert all(all_texts(result))


@pytest.mark.parametrize(
    ("consented", "shared", "ja", "en"),
    [
        (frozenset(), frozenset(), "提供していません", "No medication records"),
        (frozenset({MEDICATION}), frozenset({MEDICATION}), "薬剤情報を医療機関", "medication"),
        (frozenset({CHECKUPS}), frozenset({CHECKUPS}), "特定健診情報を医療機関", "checkup"),
        (
            frozenset({MEDICATION, CHECKUPS, "address"}),  # not an item of this service
            frozenset({MEDICATION, CHECKUPS}),
            "薬剤情報・特定健診情報を医療機関に提供しました",
            "medication records, health checkup results",
        ),
    ],
)
def test_only_the_consented_items_are_passed_on_and_named(consented, shared, ja, en):
    directory = TestEligibilityDirectory(accounts={ACCOUNT: VALID})
    result = service(directory).run(context(consented=consented))
    expected = [SharedWith("clinic-1", ACCOUNT, shared, TODAY)] if shared else []
    assert directory.shared == expected
    assert result.ok
    assert ja in result.message.ja and en in result.message.en
    if shared:
        for item, name in ((MEDICATION, "薬剤情報"), (CHECKUPS, "特定健診情報")):
            assert (name in result.message.ja) is (item in shared)


@dataclass
class Recorder:
    """A directory that reports every item shared, agreed or not (a faulty system)."""

    answer: Eligibility
    calls: list[tuple] = field(default_factory=list)

    def check(self, provider_id, account_ref, as_of, share=frozenset()):
        self.calls.append(("check", provider_id, account_ref, as_of, share))
        return replace(self.answer, shared=frozenset({MEDICATION, CHECKUPS}))

    def check_by_member(self, insurer, member, as_of):
        self.calls.append(("member", insurer, member, as_of))
        return replace(self.answer, shared=frozenset({MEDICATION, CHECKUPS}))


def test_the_result_names_only_what_was_agreed_whatever_the_directory_reports():
    port = Recorder(VALID.on(TODAY))
    result = service(port).run(context(consented=frozenset({CHECKUPS})))
    assert port.calls == [("check", "clinic-1", ACCOUNT, TODAY, frozenset({CHECKUPS}))]
    assert "特定健診情報を医療機関に提供しました" in result.message.ja
    assert "薬剤" not in result.message.ja and "medication" not in result.message.en


def test_the_day_asked_is_today_in_japan(monkeypatch):
    import kiosk.clock

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 3, 31, 16, 0, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(kiosk.clock, "datetime", Clock)  # 01:00 JST, still the 31st in UTC
    port = Recorder(VALID.on(TODAY))
    InsuranceService(port).run(context())
    assert port.calls[0][3] == date(2026, 4, 1)


# --- lost, unknown, unreachable ----------------------------------------------------------


def test_lost_coverage_says_so_with_the_date_and_shares_nothing():
    directory = TestEligibilityDirectory(accounts={ACCOUNT: LOST})
    result = service(directory).run(context(consented=frozenset({MEDICATION, CHECKUPS})))
    assert not result.ok
    assert result.title.ja == "資格確認：資格喪失"
    assert rows(result) == {
        "Insurer number": "00001234",
        "Member symbol and number": "●●●●・●●●321",
        "Coverage lost on": "2026-10-01",
    }
    assert directory.shared == []
    assert "提供しました" not in result.message.ja
    assert all(all_texts(result))


def test_coverage_past_its_valid_until_date_is_expired_from_the_next_day():
    record = replace(VALID, valid_until=date(2026, 11, 24))
    assert record.on(date(2026, 11, 24)).status is Coverage.VALID
    expired = record.on(TODAY)
    assert expired.status is Coverage.EXPIRED and expired.valid_until == date(2026, 11, 24)
    assert expired.lost_on is None
    assert LOST.on(date(2026, 9, 30)).status is Coverage.VALID


def test_coverage_lost_before_it_expired_is_lost():
    record = replace(LOST, valid_until=date(2026, 11, 24))
    assert record.on(TODAY).status is Coverage.LOST


def test_expired_coverage_says_so_with_the_date_and_shares_nothing():
    expired = replace(VALID, valid_until=date(2026, 11, 24))
    directory = TestEligibilityDirectory(accounts={ACCOUNT: expired})
    result = service(directory).run(context(consented=frozenset({MEDICATION, CHECKUPS})))
    assert not result.ok
    assert result.title.ja == "資格確認：有効期限切れ"
    assert result.title.en == "Coverage: expired"
    assert rows(result) == {
        "Insurer number": "00001234",
        "Member symbol and number": "●●●●・●●●456",
        "Valid until": "2026-11-24",
    }
    assert "受付" in result.message.ja and "reception" in result.message.en
    assert directory.shared == []
    assert all(all_texts(result))


def test_an_unknown_person_cannot_be_confirmed():
    directory = TestEligibilityDirectory(unknown=[ACCOUNT])
    result = service(directory).run(context(consented=frozenset({MEDICATION})))
    assert not result.ok and result.rows == ()
    assert result.title.ja == "資格確認：確認できません"
    assert "受付" in result.message.ja and "reception" in result.message.en
    assert directory.shared == []


def test_an_unreachable_directory_tells_the_person_and_logs_no_numbers(caplog):
    directory = TestEligibilityDirectory(accounts={ACCOUNT: VALID}, reachable=False)
    with caplog.at_level(logging.INFO, logger="kiosk.services.insurance"):
        result = service(directory).run(context(consented=frozenset({MEDICATION})))
    assert not result.ok and result.rows == ()
    assert result.title.ja == "資格確認システムにつながりません"
    assert result.message.en and result.message.easy
    assert "insurance_unavailable" in caplog.text
    assert ACCOUNT not in caplog.text and "00001234" not in caplog.text
    assert directory.shared == []


def test_the_unavailable_error_is_a_kiosk_error_with_a_code():
    directory = TestEligibilityDirectory(reachable=False)
    with pytest.raises(InsuranceUnavailable) as raised:
        directory.check("clinic-1", ACCOUNT, TODAY)
    assert isinstance(raised.value, KioskError)
    assert raised.value.code == "insurance_unavailable"
    with pytest.raises(InsuranceUnavailable):
        directory.check_by_member("00009901", "TEST-01", TODAY)


def test_a_card_visit_without_a_link_is_a_programming_error():
    port = Recorder(VALID.on(TODAY))
    with pytest.raises(ValueError, match="linked account"):
        service(port).run(context(link=None))
    assert port.calls == []


class Broken:
    def check(self, *args, **kwargs):
        raise RuntimeError("bug")

    check_by_member = check


def test_an_unexpected_failure_reaches_the_flow_as_service_failed():
    audit = MemoryAudit()
    backend = Visit(
        connect=None,
        verifier=None,
        challenges=None,
        audit=audit,
        services={"insurance": service(Broken())},
        terminal_id="kiosk-1",
        clock=lambda: datetime(2026, 11, 25, tzinfo=UTC),
    )
    with pytest.raises(KioskError) as raised:
        backend.run_service(context())
    assert problem_for(raised.value).code is ProblemCode.SERVICE_FAILED
    assert [(r.action, r.ok) for r in audit.records] == [("service.insurance", False)]


def test_a_lost_coverage_is_audited_as_not_ok_through_the_backend():
    audit = MemoryAudit()
    backend = Visit(
        None,
        None,
        None,
        audit,
        {"insurance": service(TestEligibilityDirectory(accounts={ACCOUNT: LOST}))},
        "kiosk-1",
        lambda: datetime(2026, 11, 25, tzinfo=UTC),
    )
    assert not backend.run_service(context()).ok
    assert [(r.action, r.ok) for r in audit.records] == [("service.insurance", False)]
    assert "TEST" not in repr(audit.records)


# --- staff-assisted visits ---------------------------------------------------------------


def test_an_assisted_visit_looks_up_the_numbers_and_shares_nothing():
    port = Recorder(VALID.on(TODAY))
    assisted = context(
        assisted=True,
        subject="",
        link=None,
        insurer="00001234",
        member="TEST・123456",
        consented=frozenset({MEDICATION, CHECKUPS}),  # never asked on this path
    )
    result = service(port).run(assisted)
    assert port.calls == [("member", "00001234", "TEST・123456", TODAY)]
    assert result.ok and result.assisted
    assert "提供していません" in result.message.ja
    assert rows(result)["Member symbol and number"] == "●●●●・●●●456"


@pytest.mark.parametrize(
    ("member", "status"),
    [
        ("TEST-01", Coverage.VALID),
        ("test 01", Coverage.VALID),  # as staff may type it
        ("ＴＥＳＴ－０１", Coverage.VALID),  # full width
        ("TEST-02", Coverage.LOST),
        ("TEST-03", Coverage.UNKNOWN),
    ],
)
def test_the_demo_directory_finds_staff_entered_numbers(member, status):
    assert demo_directory().check_by_member("00009901", member, TODAY).status is status


def test_an_assisted_visit_with_unknown_numbers_or_lost_coverage_is_not_ok():
    s = service(demo_directory())
    unknown = s.run(context(assisted=True, link=None, insurer="123456", member="9-9"))
    assert not unknown.ok and unknown.assisted and unknown.rows == ()
    lost = s.run(context(assisted=True, link=None, insurer="00009901", member="TEST-02"))
    assert not lost.ok and lost.assisted
    assert rows(lost)["Coverage lost on"] == "2025-04-01"
    assert rows(lost)["Member symbol and number"] == "●●●T-02"


def test_an_assisted_visit_with_an_unreachable_directory_says_so():
    directory = replace(demo_directory(), reachable=False)
    result = service(directory).run(
        context(assisted=True, link=None, insurer="00009901", member="TEST-01")
    )
    assert not result.ok and result.assisted
    assert result.title.ja == "資格確認システムにつながりません"


# --- the TEST adapter's derived records and the masking ---------------------------------


def test_any_account_has_a_deterministic_obviously_fake_record():
    one = TestEligibilityDirectory().check("clinic-1", "K-1A2B3C4D", TODAY)
    again = TestEligibilityDirectory().check("clinic-2", "K-1A2B3C4D", TODAY)
    other = TestEligibilityDirectory().check("clinic-1", "K-99999999", TODAY)
    assert one == again and one.status is Coverage.VALID
    assert (one.insurer, one.member) != (other.insurer, other.member)
    for found in (one, other):
        assert len(found.insurer) == 8 and found.insurer.startswith("0000")
        assert found.member.startswith("TEST・")
        assert found.copay_tenths in (1, 2, 3)
        assert found.valid_until == date(2027, 3, 31)  # the end of the fiscal year
    assert derived_record("K-1", date(2027, 2, 1)).valid_until == date(2027, 3, 31)
    assert derived_record("K-1", date(2027, 4, 1)).valid_until == date(2028, 3, 31)


def test_explicit_records_win_over_derived_ones():
    directory = TestEligibilityDirectory(accounts={ACCOUNT: LOST})
    assert directory.check("clinic-1", ACCOUNT, TODAY).status is Coverage.LOST
    assert directory.check("clinic-1", "K-OTHER", TODAY).status is Coverage.VALID


@pytest.mark.parametrize(
    ("member", "masked"),
    [
        ("TEST・123456", "●●●●・●●●456"),
        ("12-345", "●●-●45"),
        ("1234", "●●34"),
        ("AB", "●B"),
        ("7", "●"),
        ("", ""),
    ],
)
def test_member_numbers_are_masked_but_for_the_last_characters(member, masked):
    assert mask_member(member) == masked


# --- the hand-off to reception ------------------------------------------------------------


class Answers:
    """A directory that gives one answer, with the member's numbers one by one."""

    def __init__(self, found: Eligibility) -> None:
        self.found = found

    def check(self, provider_id, account_ref, as_of, share=frozenset()):
        return replace(self.found, shared=share)

    def check_by_member(self, insurer, member, as_of):
        return self.found


NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
FOUND = Eligibility(
    Coverage.VALID, "06123456", "あいう・187-05", 3, date(2027, 3, 31),
    symbol="あいう", number="187", branch="05", valid_from=date(2025, 4, 1),
)  # fmt: skip


def handing_off(found: Eligibility) -> InsuranceService:
    from kiosk.services.insurance import ReceptionPoint

    point = ReceptionPoint("kiosk-7", "1311234567", clock=lambda: NOW)
    return InsuranceService(Answers(found), today=lambda: TODAY, reception=point)


def test_a_card_verified_check_is_handed_to_reception_with_the_patient_and_coverage():
    result = handing_off(FOUND).run(context(consented=frozenset({MEDICATION})))
    message = result.handoff
    assert (message.provider_id, message.terminal_id) == ("clinic-1", "kiosk-7")
    assert message.patient_number == ACCOUNT and message.at == NOW
    assert message.institution_code == "1311234567"
    facts = message.coverage
    assert (facts.insurer, facts.symbol, facts.number, facts.branch) == (
        "06123456", "あいう", "187", "05",
    )  # fmt: skip
    assert (facts.valid_from, facts.valid_until, facts.copay_tenths) == (
        date(2025, 4, 1), date(2027, 3, 31), 3,
    )  # fmt: skip
    assert message.shared == frozenset({MEDICATION})  # what the person agreed to


@pytest.mark.parametrize("status", [Coverage.LOST, Coverage.EXPIRED])
def test_a_coverage_that_ended_is_handed_off_as_such(status):
    message = (
        handing_off(replace(FOUND, status=status, lost_on=date(2026, 10, 1))).run(context()).handoff
    )
    assert message.coverage.status is status and message.shared == frozenset()


def test_an_unknown_person_is_handed_off_without_coverage():
    message = handing_off(Eligibility(Coverage.UNKNOWN)).run(context()).handoff
    assert message.patient_number == ACCOUNT and message.coverage is None


def test_nothing_is_handed_off_for_a_staff_assisted_check_or_without_a_reception():
    assisted = context(subject="", link=None, assisted=True, insurer="06123456", member="187")
    assert handing_off(FOUND).run(assisted).handoff is None
    assert service(Answers(FOUND)).run(context()).handoff is None

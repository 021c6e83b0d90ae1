"""The service 資格確認 (online qualification check): is the person's health insurance valid today?

The person verifies with the card (or staff check them by sight); the service asks the
eligibility directory (オンライン資格確認 at the clinic's side) for their coverage as of today
in Japan and shows what the reception needs: the insurer number (保険者番号), the member
symbol and number (記号・番号, masked but for the last characters), the co-payment ratio
(負担割合), the date the coverage is valid until, and the status (有効 / 資格喪失 / 有効期限切れ /
確認できません).

Sharing past medication information (薬剤情報) and specific health checkup results
(特定健診情報) with the clinic is asked item by item; only the items agreed are passed to the
directory, and the result names only what was agreed and shared. A staff-assisted visit
(no card proof, no consent asked) looks the person up by the numbers staff entered and
shares nothing.

Result values are language-neutral (numbers, dates, masked numbers); everything said in
words is a `Text`, so the result screen can switch language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from kiosk.clock import japan_today, utc_now
from kiosk.errors import KioskError
from kiosk.i18n import Text
from kiosk.services.base import ConsentItem, ResultRow, ServiceContext, ServiceResult

if TYPE_CHECKING:  # the FHIR models load only where a hand-off is made
    from kiosk.services.reception import ReceptionMessage

log = logging.getLogger(__name__)

MEDICATION = "medication"  # 薬剤情報
CHECKUPS = "checkups"  # 特定健診情報
SHARABLE = (MEDICATION, CHECKUPS)


class InsuranceUnavailable(KioskError):
    """The eligibility directory cannot be reached (network, maintenance, timeout)."""

    code = "insurance_unavailable"


class Coverage(StrEnum):
    """The status of a person's coverage on the day asked."""

    VALID = "valid"  # 有効
    LOST = "lost"  # 資格喪失 (on `lost_on`)
    EXPIRED = "expired"  # 有効期限切れ (the day after `valid_until`, with no loss recorded)
    UNKNOWN = "unknown"  # 確認できません (no record of this person)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The directory's answer for one person on one day."""

    status: Coverage
    insurer: str = ""  # 保険者番号
    member: str = ""  # 記号・番号 (never shown unmasked)
    copay_tenths: int | None = None  # 負担割合: 1, 2 or 3 (割)
    valid_until: date | None = None
    lost_on: date | None = None  # 資格喪失日 (the first day without coverage)
    shared: frozenset[str] = frozenset()  # the items the directory shared with the clinic
    #: The member's numbers one by one, and the first day covered, for the reception system
    #: (a directory that knows them gives them; the screen shows only `member`, masked).
    #: (Not compared: two answers about one member's coverage are equal by what they say of it.)
    symbol: str = field(default="", repr=False, compare=False)  # 記号
    number: str = field(default="", repr=False, compare=False)  # 番号
    branch: str = field(default="", repr=False, compare=False)  # 枝番
    valid_from: date | None = field(default=None, compare=False)


class EligibilityDirectory(Protocol):
    """The port to the qualification check system."""

    def check(
        self, provider_id: str, account_ref: str, as_of: date, share: frozenset[str] = ...
    ) -> Eligibility:
        """The coverage of the person behind the clinic's account `account_ref` on `as_of`;
        `share` are the items the person agreed to share with that clinic (shared only
        when the coverage is valid; `Eligibility.shared` says what was).
        Raises InsuranceUnavailable when the directory cannot be reached."""
        ...

    def check_by_member(self, insurer: str, member: str, as_of: date) -> Eligibility:
        """The coverage of insurer/member on `as_of` (staff-assisted visits: shares nothing).
        Raises InsuranceUnavailable when the directory cannot be reached."""
        ...


def mask_member(member: str) -> str:
    """記号・番号 with every letter or digit but the last 2–3 replaced by ●.

    Separators (・, -, spaces) stay so the shape can be read; at least half of the
    characters are always masked, so a short number never shows most of itself.
    """
    count = sum(1 for c in member if c.isalnum())
    visible = min(3, count // 2)
    out, seen = [], 0
    for c in member:
        if c.isalnum():
            seen += 1
            out.append(c if seen > count - visible else "●")
        else:
            out.append(c)
    return "".join(out)


# --- texts -------------------------------------------------------------------------------

_NAMES = {
    MEDICATION: Text("薬剤情報", "medication records", "くすりの じょうほう"),
    CHECKUPS: Text("特定健診情報", "health checkup results", "けんしんの けっか"),
}
_LABEL_INSURER = Text("保険者番号", "Insurer number", "ほけんしゃ ばんごう")
_LABEL_MEMBER = Text("記号・番号", "Member symbol and number", "きごう・ばんごう")
_LABEL_COPAY = Text("負担割合", "Co-payment", "まどぐで はらう わりあい")
_LABEL_VALID_UNTIL = Text("有効期限", "Valid until", "つかえる きげん")
_LABEL_LOST_ON = Text("資格喪失日", "Coverage lost on", "つかえなく なった ひ")
_ASK_RECEPTION = Text(
    "受付にお申し出ください。",
    "Please ask at reception.",
    "うけつけで はなして ください。",
)


def _shared_message(shared: Iterable[str]) -> Text:
    names = [_NAMES[i] for i in SHARABLE if i in set(shared)]
    if not names:
        return Text(
            "薬剤情報・特定健診情報は医療機関に提供していません。",
            "No medication records or health checkup results were shared with the clinic.",
            "くすりや けんしんの じょうほうは びょういんに みせて いません。",
        )
    return Text(
        "・".join(n.ja for n in names) + "を医療機関に提供しました。",
        "Shared with the clinic: " + ", ".join(n.en for n in names) + ".",
        "・".join(n.easy for n in names) + "を びょういんに みせました。",
    )


def _copay(tenths: int) -> str:
    return f"{tenths}割 ({tenths * 10}%)"


UNAVAILABLE_RESULT = ServiceResult(
    ok=False,
    title=Text(
        "資格確認システムにつながりません",
        "The insurance check system cannot be reached",
        "いま ほけんの かくにんが できません",
    ),
    message=Text(
        "しばらくしてからもう一度お試しいただくか、受付にお申し出ください。",
        "Please try again in a moment, or ask at reception.",
        "すこし まって もう いちど するか うけつけで はなして ください。",
    ),
)


# --- the service -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceptionPoint:
    """This kiosk as the reception system knows it: each card-verified check is handed to
    reception as a message (a FHIR Bundle, kiosk.services.reception), recorded with the visit."""

    terminal_id: str
    #: The clinic's 10-digit 医療機関コード ("" = the kiosk's own patient-number system).
    institution_code: str = ""
    clock: Callable[[], datetime] = utc_now

    def message(
        self, provider_id: str, patient_number: str, found: Eligibility, shared: frozenset[str]
    ) -> ReceptionMessage:
        """The message for one check: the patient, the coverage found (None when the
        directory knew none), and what the person agreed to share and was shared."""
        from kiosk.services.reception import CoverageFacts, ReceptionMessage

        facts = None
        if found.status is not Coverage.UNKNOWN and found.insurer.isdigit() and found.number:
            facts = CoverageFacts(
                found.status,
                found.insurer,
                found.symbol,
                found.number,
                found.branch,
                found.valid_from,
                found.valid_until,
                found.lost_on,
                found.copay_tenths,
            )
        return ReceptionMessage.new(
            provider_id,
            self.terminal_id,
            patient_number,
            facts,
            shared,
            self.clock(),
            self.institution_code,
        )


@dataclass(frozen=True, slots=True)
class InsuranceService:
    """資格確認: the person's health insurance checked for today, with optional sharing."""

    directory: EligibilityDirectory
    today: Callable[[], date] = japan_today
    #: Where card-verified checks go for the reception system; None: nowhere.
    reception: ReceptionPoint | None = None
    id: str = "insurance"
    title: Text = Text("健康保険の資格確認", "Health insurance check", "ほけんの かくにん")
    description: Text = Text(
        "健康保険が今日使えるかを確認します（オンライン資格確認）",
        "Check that your health insurance is valid today",
        "きょう けんこう ほけんが つかえるか たしかめます",
    )
    needs_link: bool = True  # the account links the card to the clinic's patient record
    consent_items: tuple[ConsentItem, ...] = (
        ConsentItem(
            MEDICATION,
            Text(
                "過去のお薬の情報（薬剤情報）をこの医療機関に提供する",
                "Share your past medication records with this clinic",
                "まえに もらった くすりの じょうほうを この びょういんに みせる",
            ),
        ),
        ConsentItem(
            CHECKUPS,
            Text(
                "特定健診の結果（特定健診情報）をこの医療機関に提供する",
                "Share your specific health checkup results with this clinic",
                "けんこう しんだんの けっかを この びょういんに みせる",
            ),
        ),
    )

    def run(self, context: ServiceContext) -> ServiceResult:
        """Ask the directory about today's coverage and say what the reception needs."""
        as_of = self.today()
        offered = {item.id for item in self.consent_items}
        try:
            if context.assisted:
                # no card proof and no consent asked: look up by the numbers, share nothing
                found = self.directory.check_by_member(context.insurer, context.member, as_of)
                agreed: frozenset[str] = frozenset()
            else:
                if context.link is None:
                    raise ValueError("the insurance check needs a linked account")
                agreed = frozenset(context.consented & offered)
                found = self.directory.check(
                    context.provider_id, context.link.account_ref, as_of, share=agreed
                )
        except InsuranceUnavailable as e:
            log.warning("insurance check for %s: %s", context.provider_id, e.code)
            return replace(UNAVAILABLE_RESULT, assisted=context.assisted)
        log.info("insurance check for %s: %s", context.provider_id, found.status.value)
        result = _result(found, agreed, context.assisted)
        if self.reception is None or context.link is None or context.assisted:
            return result  # staff's check by sight names no patient of the clinic's
        # each Consent reception gets is the person's own, whatever the directory held
        message = self.reception.message(
            context.provider_id, context.link.account_ref, found, agreed
        )
        return replace(result, handoff=message)


def _result(found: Eligibility, agreed: frozenset[str], assisted: bool) -> ServiceResult:
    if found.status is Coverage.VALID:
        rows = [
            ResultRow(_LABEL_INSURER, found.insurer),
            ResultRow(_LABEL_MEMBER, mask_member(found.member)),
        ]
        if found.copay_tenths is not None:
            rows.append(ResultRow(_LABEL_COPAY, _copay(found.copay_tenths)))
        if found.valid_until is not None:
            rows.append(ResultRow(_LABEL_VALID_UNTIL, found.valid_until.isoformat()))
        return ServiceResult(
            ok=True,
            title=Text("資格確認：有効", "Coverage: valid", "ほけんが つかえます"),
            # only what the person agreed to (whatever else the directory may report)
            message=_shared_message(found.shared & agreed),
            rows=tuple(rows),
            assisted=assisted,
        )
    if found.status is Coverage.LOST:
        lost = "" if found.lost_on is None else found.lost_on.isoformat()
        rows = [
            ResultRow(_LABEL_INSURER, found.insurer),
            ResultRow(_LABEL_MEMBER, mask_member(found.member)),
        ]
        if lost:
            rows.append(ResultRow(_LABEL_LOST_ON, lost))
        return ServiceResult(
            ok=False,
            title=Text(
                "資格確認：資格喪失",
                "Coverage: lost",
                "この ほけんは もう つかえません",
            ),
            message=Text(
                "この保険の資格はなくなっています。新しい保険証か資格確認書を受付にお見せください。",
                "This insurance no longer covers you. Please show your new insurance "
                "certificate at reception.",
                "この ほけんは もう つかえません。あたらしい ほけんしょうを "
                "うけつけで みせて ください。",
            ),
            rows=tuple(rows),
            assisted=assisted,
        )
    if found.status is Coverage.EXPIRED:
        rows = [
            ResultRow(_LABEL_INSURER, found.insurer),
            ResultRow(_LABEL_MEMBER, mask_member(found.member)),
        ]
        if found.valid_until is not None:
            rows.append(ResultRow(_LABEL_VALID_UNTIL, found.valid_until.isoformat()))
        return ServiceResult(
            ok=False,
            title=Text(
                "資格確認：有効期限切れ",
                "Coverage: expired",
                "ほけんの きげんが きれて います",
            ),
            message=Text(
                "この保険の有効期限が過ぎています。新しい保険証か資格確認書を受付にお見せください。",
                "This insurance has passed its valid-until date. Please show your new "
                "insurance certificate at reception.",
                "この ほけんは つかえる きげんが すぎて います。あたらしい ほけんしょうを "
                "うけつけで みせて ください。",
            ),
            rows=tuple(rows),
            assisted=assisted,
        )
    return ServiceResult(
        ok=False,
        title=Text(
            "資格確認：確認できません",
            "Coverage: could not be confirmed",
            "ほけんが たしかめられません",
        ),
        message=_ASK_RECEPTION,
        assisted=assisted,
    )

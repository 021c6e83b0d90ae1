"""The store-backed eligibility directory: the insurer's roster the operator loaded, asked
through the clinic's own patient records.

`RosterDirectory` implements the insurance service's `EligibilityDirectory` port over
`kiosk.store.roster`: a card-verified visit names the clinic's patient number (the link's
account reference, 診察券番号) → the clinic's record → the insurance it has on file (保険者番号,
記号・番号・枝番) → that member in the insurer's roster → the coverage on the day asked. A
staff-assisted visit names the insurer and the member's numbers directly.

The answer on `as_of` (the caller passes today in Japan, `kiosk.clock.japan_today`):

- LOST when the roster records a 資格喪失日 on or before `as_of`;
- EXPIRED when `as_of` is after the roster's valid-until date (and no loss is recorded by then);
- VALID when `as_of` lies in the member's period;
- UNKNOWN otherwise: no such patient, no insurance on file, no such member, a member whose
  coverage starts later, or a clinic record whose birth date is not the roster member's (the
  numbers on file are then someone else's: the reception checks, the kiosk does not guess).

Sharing: this directory holds no medication records or checkup results, so it shares nothing:
`Eligibility.shared` is always empty, whatever the person agreed to (the service then says
that nothing was shared). A store that cannot be reached is `InsuranceUnavailable`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

from kiosk.services.insurance import Coverage, Eligibility, InsuranceUnavailable
from kiosk.store.errors import StoreError
from kiosk.store.roster import InsuranceRoster, MemberKey, PatientRecords, RosterMember

log = logging.getLogger(__name__)

_INSURER = re.compile(r"[0-9]{6}|[0-9]{8}")
_BRANCH = re.compile(r"[0-9]{2}")
#: Written between the parts of 記号・番号-枝番 (the form `member_text` writes).
SYMBOL_SEPARATOR = "・"
BRANCH_SEPARATOR = "-"


def member_text(key: MemberKey) -> str:
    """記号・番号-枝番 as the reception reads it ("12・3456-01"; no 記号: "3456-01")."""
    text = SYMBOL_SEPARATOR.join(part for part in (key.symbol, key.number) if part)
    return f"{text}{BRANCH_SEPARATOR}{key.branch}" if key.branch else text


def _normalised(text: str) -> str:
    """As the CSV boundary stores numbers: NFKC, ASCII letters upper case."""
    text = unicodedata.normalize("NFKC", text).strip()
    return "".join(c.upper() if c.isascii() else c for c in text)


def _parts(member: str) -> list[str]:
    """The letters-and-digits runs of what was typed (any separator, any width)."""
    parts, run = [], []
    for c in _normalised(member):
        if c.isalnum():
            run.append(c)
        elif run:
            parts.append("".join(run))
            run = []
    if run:
        parts.append("".join(run))
    return parts


def member_readings(insurer: str, member: str) -> Iterator[tuple[MemberKey, bool]]:
    """The ways the numbers a person typed can be read, most likely first: (key, whether
    its 枝番 was given). "3456" is a number; "12・3456" a symbol and number, else a number and
    branch; "12・3456・01" all three."""
    insurer = _normalised(insurer)
    if _INSURER.fullmatch(insurer) is None:
        return
    parts = _parts(member)
    if len(parts) == 1:
        yield MemberKey(insurer, "", parts[0], ""), False
    elif len(parts) == 2:
        yield MemberKey(insurer, parts[0], parts[1], ""), False
        if _BRANCH.fullmatch(parts[1]):
            yield MemberKey(insurer, "", parts[0], parts[1]), True
    elif len(parts) == 3 and _BRANCH.fullmatch(parts[2]):
        yield MemberKey(insurer, *parts), True


def coverage_on(member: RosterMember, as_of: date) -> Eligibility:
    """The member's coverage on `as_of` (the rules in the module's docstring)."""
    found = Eligibility(
        Coverage.VALID,
        member.insurer,
        member_text(member.key),
        member.copay_tenths,
        valid_until=member.valid_to,
        symbol=member.symbol,
        number=member.number,
        branch=member.branch,
        valid_from=member.valid_from,
    )
    if member.lost_on is not None and member.lost_on <= as_of:
        return replace(found, status=Coverage.LOST, copay_tenths=None, valid_until=None,
                       lost_on=member.lost_on)  # fmt: skip
    if member.valid_to is not None and member.valid_to < as_of:
        return replace(found, status=Coverage.EXPIRED, copay_tenths=None)
    if as_of < member.valid_from:
        return Eligibility(Coverage.UNKNOWN)  # not covered yet: the reception checks
    return found


class RosterDirectory:
    """An EligibilityDirectory over the loaded roster and the clinic's patient records.

    Shares nothing (it holds no medication or checkup data): `shared` is always empty."""

    def __init__(self, roster: InsuranceRoster, patients: PatientRecords) -> None:
        self._roster = roster
        self._patients = patients

    def check(
        self,
        provider_id: str,
        account_ref: str,
        as_of: date,
        share: frozenset[str] = frozenset(),
    ) -> Eligibility:
        """The coverage of the clinic's patient `account_ref` (診察券番号) on `as_of`; `share`
        is accepted and ignored: there is nothing here to share."""
        with _reachable():
            patient = self._patients.get(provider_id, _normalised(account_ref))
            key = None if patient is None else patient.member
            if patient is None or key is None:
                return Eligibility(Coverage.UNKNOWN)
            member = self._roster.member(key.insurer, key.symbol, key.number, key.branch)
        if member is None or member.birth_date != patient.birth_date:
            return Eligibility(Coverage.UNKNOWN)
        return coverage_on(member, as_of)

    def check_by_member(self, insurer: str, member: str, as_of: date) -> Eligibility:
        """The coverage of the member with these numbers on `as_of`: 記号・番号 with or without
        枝番, any separator or width; numbers that name several members (a household's card
        without its 枝番) are UNKNOWN, so the reception asks for the 枝番."""
        with _reachable():
            for key, has_branch in member_readings(insurer, member):
                if has_branch:
                    found = self._roster.member(key.insurer, key.symbol, key.number, key.branch)
                    candidates = [] if found is None else [found]
                else:
                    candidates = self._roster.members(key.insurer, key.symbol, key.number)
                if len(candidates) == 1:
                    return coverage_on(candidates[0], as_of)
                if candidates:
                    return Eligibility(Coverage.UNKNOWN)  # which of the household?
        return Eligibility(Coverage.UNKNOWN)


@contextmanager
def _reachable() -> Iterator[None]:
    """A StoreError (the database is down or refused) is InsuranceUnavailable."""
    try:
        yield
    except StoreError as e:
        log.warning("eligibility: the store failed (%s)", e.code)
        raise InsuranceUnavailable("the insurance records cannot be read") from e

"""TEST adapter of the insurance check: an in-memory eligibility directory with fake records.

Every account reference has a record derived from it (so every enrolled demo account is
covered); insurer numbers start with 0000 and member numbers with TEST, so none is real.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from kiosk.services.insurance import (
    SHARABLE,
    Coverage,
    Eligibility,
    InsuranceService,
    InsuranceUnavailable,
)


@dataclass(frozen=True, slots=True)
class InsuranceRecord:
    """TEST: one person's coverage as the test directory holds it (fake numbers only)."""

    insurer: str
    member: str
    copay_tenths: int = 3
    valid_until: date | None = None
    lost_on: date | None = None

    def on(self, as_of: date) -> Eligibility:
        """The coverage on `as_of`: lost from `lost_on`, expired from the day after
        `valid_until` (as the store-backed directory answers)."""
        if self.lost_on is not None and as_of >= self.lost_on:
            return Eligibility(Coverage.LOST, self.insurer, self.member, lost_on=self.lost_on)
        if self.valid_until is not None and as_of > self.valid_until:
            return Eligibility(
                Coverage.EXPIRED, self.insurer, self.member, valid_until=self.valid_until
            )
        return Eligibility(
            Coverage.VALID, self.insurer, self.member, self.copay_tenths, self.valid_until
        )


def _fiscal_year_end(as_of: date) -> date:
    return date(as_of.year if as_of.month <= 3 else as_of.year + 1, 3, 31)


def derived_record(account_ref: str, as_of: date) -> InsuranceRecord:
    """TEST: the record any account reference has, derived from it (same ref, same record).

    The numbers are obviously fake: insurer numbers start with 0000 (no such 法別番号 or
    prefecture) and member numbers with TEST.
    """
    digest = int.from_bytes(hashlib.sha256(account_ref.encode()).digest()[:8], "big")
    insurer = f"0000{digest % 10_000:04d}"
    member = f"TEST・{(digest // 10_000) % 1_000_000:06d}"
    copay = (3, 3, 3, 2, 1)[(digest // 10**10) % 5]
    return InsuranceRecord(insurer, member, copay, _fiscal_year_end(as_of))


def _member_key(insurer: str, member: str) -> tuple[str, str]:
    """Numbers as staff may type them: full-width, lower case, other separators."""
    norm = unicodedata.normalize("NFKC", member).upper()
    return insurer.strip(), "".join(c for c in norm if c.isalnum())


@dataclass(frozen=True, slots=True)
class SharedWith:
    """TEST: one sharing the directory did (which clinic, which account, which items)."""

    provider_id: str
    account_ref: str
    items: frozenset[str]
    on: date


@dataclass
class TestEligibilityDirectory:
    """TEST adapter: an in-memory, deterministic eligibility directory (no real data).

    `accounts`: explicit records by account reference (lost coverage and the like);
    `unknown`: account references with no record; any other account reference has a
    record derived from it (`derived_record`), so every enrolled demo account is covered.
    `members`: the records staff can find by insurer and member number.
    Set `reachable = False` to have every call raise InsuranceUnavailable.
    """

    __test__ = False  # not a pytest test class

    accounts: Mapping[str, InsuranceRecord] = field(default_factory=dict)
    members: Iterable[InsuranceRecord] = ()
    unknown: Iterable[str] = ()
    reachable: bool = True
    shared: list[SharedWith] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.accounts = dict(self.accounts)
        self.members = tuple(self.members)
        self.unknown = frozenset(self.unknown)

    def _reach(self) -> None:
        if not self.reachable:
            raise InsuranceUnavailable("the eligibility directory cannot be reached")

    def check(
        self,
        provider_id: str,
        account_ref: str,
        as_of: date,
        share: frozenset[str] = frozenset(),
    ) -> Eligibility:
        """The account's record on `as_of`; the agreed items shared when it is valid."""
        self._reach()
        if account_ref in self.unknown:
            return Eligibility(Coverage.UNKNOWN)
        record = self.accounts.get(account_ref) or derived_record(account_ref, as_of)
        found = record.on(as_of)
        items = frozenset(share) & frozenset(SHARABLE)
        if found.status is not Coverage.VALID or not items:
            return found
        self.shared.append(SharedWith(provider_id, account_ref, items, as_of))
        return replace(found, shared=items)

    def check_by_member(self, insurer: str, member: str, as_of: date) -> Eligibility:
        """The record with those numbers on `as_of` (separators and width ignored)."""
        self._reach()
        key = _member_key(insurer, member)
        for record in self.members:
            if _member_key(record.insurer, record.member) == key:
                return record.on(as_of)
        return Eligibility(Coverage.UNKNOWN)


def demo_directory() -> TestEligibilityDirectory:
    """TEST: the demo's directory; staff can try 00009901 with TEST-01 (valid) or TEST-02 (lost)."""
    return TestEligibilityDirectory(
        members=(
            InsuranceRecord("00009901", "TEST-01", 3, date(2099, 3, 31)),
            InsuranceRecord("00009901", "TEST-02", 3, lost_on=date(2025, 4, 1)),
        )
    )


def demo_insurance_service() -> InsuranceService:
    """The insurance check over its TEST directory (tests and the demo)."""
    return InsuranceService(demo_directory())

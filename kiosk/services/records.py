"""Which of the provider's own records an enrolment links the card to.

A clinic that has patient records (loaded with `kiosk patients import`) links a card to the
patient it already knows, never to a new account: the record is found by the birth date the
signature certificate carries, and taken only when its name matches the certificate's as the
registries compare names (kiosk.services.record_match). No record born that day: the person is
asked to register at the counter (`NoRecord`). Records born that day whose names do not match,
or two that do: the person is sent to staff (`RecordMismatch`), who can see which field
differed in the audit. Nothing is linked on a guess, and no account is made up.

A provider without records (the demo providers) gives each first enrolment a new opaque account
reference (`NewAccounts`), as before.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Protocol

from kiosk.errors import KioskError
from kiosk.services.record_match import MatchField, RecordIdentity, match_record
from kiosk.verify.profile import BasicFourInfo

if TYPE_CHECKING:
    from kiosk.store.roster import PatientRecord

log = logging.getLogger(__name__)


class NoRecord(KioskError):
    """The provider has no record of this person: register at the counter first."""

    code = "no_record"


class RecordMismatch(KioskError):
    """A record looks like this person's but the 4 info do not match it (or two do): staff
    check by sight. `differs` names the fields (never their values)."""

    code = "record_mismatch"

    def __init__(self, differs: frozenset[MatchField]) -> None:
        super().__init__("the provider's record does not match the card")
        self.differs = differs

    @property
    def differs_text(self) -> str:
        """The fields that differed, for the log and audit (never their values): e.g.
        `name`, `birth_date.name`, or `ambiguous` when two records matched."""
        return ".".join(sorted(differs)) if (differs := self.differs) else "ambiguous"


class RecordLinker(Protocol):
    """The account an enrolment links the card to at one provider."""

    def account_for(self, provider_id: str, person: BasicFourInfo) -> str:
        """The provider's account reference for this person, or NoRecord / RecordMismatch."""
        ...

    def confirmed(
        self, provider_id: str, person: BasicFourInfo, number: str
    ) -> tuple[str, frozenset[MatchField]]:
        """The account `number` a member of staff confirmed with the person by sight, and
        the fields of its record that differ from the card (a name staff accepted); NoRecord
        when there is no such record, RecordMismatch when the birth date differs."""
        ...


class NewAccounts:
    """For providers without records of their own (the demo): a fresh opaque account."""

    def account_for(self, provider_id: str, person: BasicFourInfo) -> str:
        """A new account reference; nothing about the person goes into it."""
        return "K-" + secrets.token_hex(4).upper()

    def confirmed(
        self, provider_id: str, person: BasicFourInfo, number: str
    ) -> tuple[str, frozenset[MatchField]]:
        """The provider's own account number, as staff typed it (nothing to compare)."""
        return number, frozenset()


class PatientLookup(Protocol):
    """The clinic's patient records (kiosk.store.roster.PatientRecords)."""

    def born_on(self, provider_id: str, birth_date: date) -> Sequence[PatientRecord]:
        """The provider's records with that birth date."""
        ...

    def get(self, provider_id: str, patient_number: str) -> PatientRecord | None:
        """The provider's record with that patient number, or None."""
        ...


class PatientRecordLinker:
    """Links a card to the clinic's own patient record (its 診察券番号)."""

    def __init__(self, patients: PatientLookup) -> None:
        self._patients = patients

    def confirmed(
        self, provider_id: str, person: BasicFourInfo, number: str
    ) -> tuple[str, frozenset[MatchField]]:
        """The record with the patient number staff confirmed with the person: its birth
        date must be the card's (no one can confirm another birthday by sight); a name that
        differs (a variant the table does not fold, a married name) staff have accepted."""
        record = self._patients.get(provider_id, number)
        if record is None:
            raise NoRecord("no patient record with that number at this provider")
        result = match_record(person, RecordIdentity.of(record))
        if MatchField.BIRTH_DATE in result.differs:
            raise RecordMismatch(frozenset({MatchField.BIRTH_DATE}))
        return record.patient_number, result.differs

    def account_for(self, provider_id: str, person: BasicFourInfo) -> str:
        """The patient number of the one record whose name and birth date match the card."""
        candidates = self._patients.born_on(provider_id, person.birth_date)
        if not candidates:
            raise NoRecord("no patient record of this person at this provider")
        results = [(r, match_record(person, RecordIdentity.of(r))) for r in candidates]
        matched = [record for record, result in results if result.matched]
        if len(matched) == 1:
            return matched[0].patient_number
        if matched:  # two records of one person: which to link is staff's call
            log.warning("enrolment at %s: %d records match one card", provider_id, len(matched))
            raise RecordMismatch(frozenset())
        raise RecordMismatch(frozenset().union(*(result.differs for _, result in results)))

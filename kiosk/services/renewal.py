"""Renewal, as the kiosk and its operator meet it: the authority's link data read from the file
the operator imports, the sweep that moves every renewed card's links (現況確認, the status
check), and the notice of an authentication certificate that expires soon.

Renewal is possible from three months before a certificate expires, at the municipal office,
with the card and its PINs ([M] ../shared/jpki-lifecycle.md §1a); the result screen says so
when the certificate that proved the person expires within `NOTICE_DAYS` days. The link moves
themselves are the store's (kiosk.store.renewal), in one transaction each.

The file format is an assumption (docs/renewal.md): the authority's format is disclosed only
to registered verifiers. One record a line, comma-separated, after the header line
`old_issuer_key_id,old_serial,new_issuer_key_id,new_serial`: issuers as the hex of the CA's
subjectKeyIdentifier, serials in hex (as `openssl x509 -serial` prints them). Blank lines and
lines starting with `#` are skipped. Every line is checked; a file with one bad line is refused
whole, naming the line, and nothing of it is imported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Protocol

from kiosk.clock import JST
from kiosk.errors import KioskError
from kiosk.store.renewal import Outcome, Renewal, Succession
from kiosk.verify.verdict import CertRef

#: The header line of a link-data file.
HEADER: Final = "old_issuer_key_id,old_serial,new_issuer_key_id,new_serial"
#: The result screen tells the person when their auth certificate expires within this many days.
NOTICE_DAYS: Final = 90
#: A file larger than this is refused before it is read (the national data per import is
#: a day's renewals, far below; a bigger file is not what the operator meant to import).
MAX_FILE_BYTES: Final = 256 * 1024 * 1024

_KEY_ID = re.compile(r"[0-9a-f]{2,128}")
_SERIAL = re.compile(r"[0-9a-f]{1,42}")
_MAX_SERIAL = 1 << 160  # 20 octets: RFC 5280's bound on a serial


class SuccessionFileError(KioskError):
    """The link-data file is not in the expected format; nothing of it was imported."""

    code = "succession_file"


def parse_successions(text: str) -> list[Succession]:
    """The records of a link-data file (format above); SuccessionFileError naming the first
    bad line, or a certificate given two different successors in the file."""
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if _content(line)), None)
    if first is None or _content(lines[first]).lower() != HEADER:
        raise SuccessionFileError(f"the first line must be the header: {HEADER}")
    records: dict[CertRef, CertRef] = {}
    for number, line in enumerate(lines[first + 1 :], start=first + 2):
        content = _content(line)
        if not content:
            continue
        record = _record(content, number)
        if records.setdefault(record.old, record.new) != record.new:
            raise SuccessionFileError(f"line {number}: a second successor for one certificate")
    return [Succession(old, new) for old, new in records.items()]


def _content(line: str) -> str:
    stripped = line.strip()
    return "" if stripped.startswith("#") else stripped


def _record(content: str, number: int) -> Succession:
    fields = [field.strip().lower() for field in content.split(",")]
    if len(fields) != 4:
        raise SuccessionFileError(f"line {number}: four comma-separated fields expected")
    old_key, old_serial, new_key, new_serial = fields
    old = CertRef(_serial(old_serial, number), _key_id(old_key, number))
    new = CertRef(_serial(new_serial, number), _key_id(new_key, number))
    if old == new:
        raise SuccessionFileError(f"line {number}: a certificate cannot succeed itself")
    return Succession(old, new)


def _key_id(value: str, number: int) -> str:
    if _KEY_ID.fullmatch(value) is None or len(value) % 2:
        raise SuccessionFileError(f"line {number}: an issuer key id is hex octets")
    return value


def _serial(value: str, number: int) -> int:
    if _SERIAL.fullmatch(value) is None:
        raise SuccessionFileError(f"line {number}: a serial is hex digits")
    serial = int(value, 16)
    if not 0 < serial < _MAX_SERIAL:
        raise SuccessionFileError(f"line {number}: a serial is positive and at most 20 octets")
    return serial


# --- the sweep ------------------------------------------------------------------------------


class LinkRenewalPort(Protocol):
    """The store's link renewals (kiosk.store.renewal.LinkRenewals)."""

    def revoked_links(self) -> list[CertRef]:
        """Every linked authentication certificate the CRLs in force list."""

    def renew(self, old_auth: CertRef, at: datetime) -> list[Renewal]:
        """Move that certificate's links to its successor, if it was superseded and the
        successor is known; what became of each."""


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did, per outcome (codes and counts only: no serial, no account)."""

    renewals: tuple[Renewal, ...]

    @property
    def counts(self) -> Mapping[Outcome, int]:
        """How many links (or certificates) ended in each outcome."""
        return Counter(r.outcome for r in self.renewals)

    def line(self) -> str:
        """One line for the operator, e.g. `moved=3 awaiting_successor=1`."""
        counts = self.counts
        return " ".join(f"{o.value}={counts[o]}" for o in Outcome if counts[o]) or "nothing to do"


def sweep(renewals: LinkRenewalPort, now: datetime) -> SweepReport:
    """Look at every linked certificate the CRLs list and move the superseded ones whose
    successor is known (one transaction each); the rest stay as they are, for the next sweep
    or the card's next proof: awaiting a successor, needing re-enrolment, or blocked."""
    done: list[Renewal] = []
    for old_auth in renewals.revoked_links():
        done.extend(renewals.renew(old_auth, now))
    return SweepReport(tuple(done))


# --- expiry ahead ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpiryAhead:
    """The person's authentication certificate expires soon: on which day (Japan's date) and
    in how many days (0: today)."""

    expires_on: date
    days_left: int


def expiry_ahead(
    not_after: datetime, now: datetime, *, within_days: int = NOTICE_DAYS
) -> ExpiryAhead | None:
    """The notice for a certificate valid until `not_after`, seen at `now` (the injected
    clock's time, e.g. the verdict's): None when it has more than `within_days` days left, or
    has already expired (the verifier refuses that one)."""
    left = not_after - now
    if left < timedelta(0) or left > timedelta(days=within_days):
        return None
    return ExpiryAhead(not_after.astimezone(JST).date(), left.days)

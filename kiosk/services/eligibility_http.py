"""An insurer-side eligibility directory over HTTP: the second adapter of the same port.

`HttpEligibilityDirectory` asks a directory the insurer (or its intermediary) runs, JSON over
httpx, with the provider's bearer token (the request and answer are in docs/insurance.md):

- `POST {base}/v1/eligibility/patient` `{"provider_id", "patient_number", "as_of", "share"}`
- `POST {base}/v1/eligibility/member` `{"insurer", "member", "as_of"}`

and both answer `{"as_of", "status", "insurer", "member", "copay_tenths", "valid_until",
"lost_on", "shared"}`.

Every byte of the answer is untrusted and read at one boundary (`read_answer`): at most
`MAX_ANSWER_BYTES`, JSON with exactly the contract's fields and types (pydantic, strict, no
extra fields), then the rules a true answer keeps: the day asked echoed, dates ISO, a status
with the fields it needs and none it must not have, nothing shared but what the person agreed
to and only on a valid coverage. Anything else, a non-2xx status, a redirect, a timeout or no
connection at all, is `InsuranceUnavailable` (its subclasses say which), never a traceback: the
service then shows "the insurance check system cannot be reached". No call is retried.

Transport: https only, except plain http to this machine (127.0.0.1, ::1, localhost); every
phase of a request is bounded by `timeout_s`, and reading the answer by `total_s` overall, so
a server that drips bytes cannot hold a visit. The token is never logged or put in a message.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.services.bearer import (
    AnswerRefused,
    AnswerTooSlow,
    JsonClient,
)
from kiosk.services.insurance import SHARABLE, Coverage, Eligibility, InsuranceUnavailable

log = logging.getLogger(__name__)

#: The largest answer read (bytes); a true answer is a few hundred.
MAX_ANSWER_BYTES = 16 * 1024
PATIENT_PATH = "/v1/eligibility/patient"
MEMBER_PATH = "/v1/eligibility/member"

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSURER = re.compile(r"[0-9]{6}|[0-9]{8}")
#: 記号・番号-枝番 as shown: letters and digits (any script) and the separators people write.
_MEMBER_CHARS = frozenset("・-‐－ 　")


class DirectoryRefused(InsuranceUnavailable):
    """The directory answered with an error status (4xx: our request or token; 5xx: its own
    failure; 3xx: it wanted to send us elsewhere, which is not followed)."""

    code = "insurance_refused"

    def __init__(self, status: int) -> None:
        super().__init__(f"the eligibility directory answered with status {status}")
        self.status = status


class DirectoryAnswerInvalid(InsuranceUnavailable):
    """The directory's answer is not the contract's JSON, or breaks its rules."""

    code = "insurance_bad_answer"


class _Answer(BaseModel):
    """The answer's shape: exactly these fields, with these JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    as_of: str = Field(max_length=10)
    status: Literal["valid", "lost", "expired", "unknown"]
    insurer: str = Field(default="", max_length=8)
    member: str = Field(default="", max_length=64)
    copay_tenths: int | None = Field(default=None, ge=1, le=3)
    valid_until: str | None = Field(default=None, max_length=10)
    lost_on: str | None = Field(default=None, max_length=10)
    shared: list[str] = Field(default_factory=list, max_length=len(SHARABLE))


def _invalid(why: str) -> DirectoryAnswerInvalid:
    log.warning("eligibility directory: the answer is refused (%s)", why)
    return DirectoryAnswerInvalid(f"the eligibility directory gave an invalid answer ({why})")


def _day(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    if _DATE.fullmatch(value) is None:
        raise _invalid(f"{field} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise _invalid(f"{field} is not a day") from e


def read_answer(body: bytes, as_of: date, share: frozenset[str]) -> Eligibility:
    """The directory's answer to a question about `as_of` in which the person agreed to
    `share`, checked whole; DirectoryAnswerInvalid for anything the contract does not allow."""
    if len(body) > MAX_ANSWER_BYTES:
        raise _invalid("too large")
    try:
        answer = _Answer.model_validate_json(body)
    except (ValidationError, ValueError) as e:  # never the body: it is the directory's
        raise _invalid("not the contract's JSON") from e
    if answer.as_of != as_of.isoformat():
        raise _invalid("an answer about another day")
    valid_until = _day(answer.valid_until, "valid_until")
    lost_on = _day(answer.lost_on, "lost_on")
    shared = frozenset(answer.shared)
    if len(shared) != len(answer.shared) or not shared <= share & frozenset(SHARABLE):
        raise _invalid("shared what was not agreed")
    status = Coverage(answer.status)
    if status is Coverage.UNKNOWN:
        if answer != _Answer(as_of=answer.as_of, status="unknown"):
            raise _invalid("an unknown member with numbers")
        return Eligibility(Coverage.UNKNOWN)
    if _INSURER.fullmatch(answer.insurer) is None:
        raise _invalid("insurer is not 6 or 8 digits")
    member = answer.member
    if not member.strip() or not all(c.isalnum() or c in _MEMBER_CHARS for c in member):
        raise _invalid("member is not 記号・番号")
    if status is not Coverage.VALID and (shared or answer.copay_tenths is not None):
        raise _invalid("a coverage that is not valid with a copay or sharing")
    if status is Coverage.VALID:
        if answer.copay_tenths is None or lost_on is not None:
            raise _invalid("a valid coverage without its copay, or lost")
        if valid_until is not None and valid_until < as_of:
            raise _invalid("a valid coverage that has expired")
        return Eligibility(
            status, answer.insurer, member, answer.copay_tenths, valid_until, shared=shared
        )
    if status is Coverage.LOST:
        if lost_on is None or lost_on > as_of:
            raise _invalid("a lost coverage without its day")
        return Eligibility(status, answer.insurer, member, lost_on=lost_on)
    if valid_until is None or valid_until >= as_of or lost_on is not None:
        raise _invalid("an expired coverage without its day")
    return Eligibility(status, answer.insurer, member, valid_until=valid_until)


class HttpEligibilityDirectory(JsonClient):
    """An EligibilityDirectory that asks an insurer-side directory over HTTP (JSON)."""

    what = "the eligibility directory"
    max_answer_bytes = MAX_ANSWER_BYTES

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        total_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            base_url,
            token,
            timeout_s=timeout_s,
            total_s=total_s,
            transport=transport,
            monotonic=monotonic,
        )

    def check(
        self,
        provider_id: str,
        account_ref: str,
        as_of: date,
        share: frozenset[str] = frozenset(),
    ) -> Eligibility:
        """The coverage of the clinic's patient `account_ref` on `as_of`, asking the
        directory to share the agreed items (only those it may: SHARABLE)."""
        asked = frozenset(share) & frozenset(SHARABLE)
        payload = {
            "provider_id": provider_id,
            "patient_number": account_ref,
            "as_of": as_of.isoformat(),
            "share": sorted(asked),
        }
        return read_answer(self._post(PATIENT_PATH, payload), as_of, asked)

    def check_by_member(self, insurer: str, member: str, as_of: date) -> Eligibility:
        """The coverage of insurer/member on `as_of`; shares nothing."""
        payload = {"insurer": insurer, "member": member, "as_of": as_of.isoformat()}
        return read_answer(self._post(MEMBER_PATH, payload), as_of, frozenset())

    def _post(self, path: str, payload: Mapping[str, Any]) -> bytes:
        """The body of a 2xx answer, at most MAX_ANSWER_BYTES + 1 of it read."""
        deadline = self._deadline()
        try:
            with self._client.stream("POST", path, json=payload) as response:
                status = response.status_code
                if not 200 <= status < 300:
                    log.warning("eligibility directory %s: status %d", path, status)
                    raise DirectoryRefused(status)
                return self._read(response, deadline)
        except httpx.TimeoutException as e:
            log.warning("eligibility directory %s: timed out", path)
            raise InsuranceUnavailable("the eligibility directory did not answer in time") from e
        except httpx.HTTPError as e:  # refused connections, TLS, protocol errors
            log.warning("eligibility directory %s: %s", path, type(e).__name__)
            raise InsuranceUnavailable(
                f"the eligibility directory cannot be reached ({type(e).__name__})"
            ) from e

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        try:
            return self._read_json(response, deadline)
        except AnswerRefused as e:
            raise _invalid(e.why) from e
        except AnswerTooSlow as e:
            log.warning("eligibility directory: the answer took too long")
            raise InsuranceUnavailable("the eligibility directory did not answer in time") from e

"""The outcome of a verification: reason codes, verdicts and the verify error family."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from kiosk.errors import KioskError


class Reason(StrEnum):
    """Why a proof or an enrolment was accepted or refused (stable codes shown by UI and API)."""

    OK = "ok"
    MALFORMED = "malformed"
    UNKNOWN_ISSUER = "unknown_issuer"
    BAD_CHAIN = "bad_chain"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_KEY_PURPOSE = "wrong_key_purpose"
    WEAK_KEY = "weak_key"
    REVOKED = "revoked"
    CRL_MISSING = "crl_missing"
    CRL_STALE = "crl_stale"
    CRL_BAD_SIGNATURE = "crl_bad_signature"
    OCSP_UNAVAILABLE = "ocsp_unavailable"
    OCSP_BAD_SIGNATURE = "ocsp_bad_signature"
    OCSP_STALE = "ocsp_stale"
    OCSP_NONCE_MISMATCH = "ocsp_nonce_mismatch"
    OCSP_UNKNOWN = "ocsp_unknown"
    CHALLENGE_UNKNOWN = "challenge_unknown"
    CHALLENGE_REPLAYED = "challenge_replayed"
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_FOREIGN = "challenge_foreign"
    BAD_SIGNATURE = "bad_signature"
    FOUR_INFO_MISMATCH = "four_info_mismatch"
    NOT_SAME_SESSION = "not_same_session"
    SERIAL_UNAVAILABLE = "serial_unavailable"


class LinkStatus(StrEnum):
    """State of a provider link after checking its signature certificate against the CRL."""

    ACTIVE = "active"
    NEEDS_REENROLMENT = "needs_reenrolment"
    #: The signature CRL is missing or stale, so the link could not be checked this time.
    UNCHECKED = "unchecked"


class VerifyError(KioskError):
    """Base of the verification layer's errors."""

    code = "verify"


class Refused(VerifyError):
    """A check failed; `reason` says which one, the message says why in plain words."""

    code = "refused"

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of one user proof: who (auth serial under issuer), when, and ok or why not."""

    ok: bool
    reason: Reason
    message: str
    time: datetime
    auth_serial: int | None = None
    issuer_key_id: str | None = None  # hex SKI of the authentication CA
    link_status: LinkStatus | None = None  # set when the certificate is linked at the provider
    account_ref: str | None = None  # the provider's account linked to the certificate, if any

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON object (serial in hex, time in ISO 8601)."""
        return {
            "ok": self.ok,
            "reason": self.reason.value,
            "message": self.message,
            "time": self.time.isoformat(),
            "auth_serial": _hex(self.auth_serial),
            "issuer_key_id": self.issuer_key_id,
            "link_status": None if self.link_status is None else self.link_status.value,
            "account_ref": self.account_ref,
        }


@dataclass(frozen=True, slots=True)
class EnrolmentVerdict:
    """The result of an enrolment: both certificates' serials and issuers, and ok or why not."""

    ok: bool
    reason: Reason
    message: str
    time: datetime
    sign_serial: int | None = None
    sign_issuer_key_id: str | None = None
    auth_serial: int | None = None
    auth_issuer_key_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON object (serials in hex, time in ISO 8601)."""
        return {
            "ok": self.ok,
            "reason": self.reason.value,
            "message": self.message,
            "time": self.time.isoformat(),
            "sign_serial": _hex(self.sign_serial),
            "sign_issuer_key_id": self.sign_issuer_key_id,
            "auth_serial": _hex(self.auth_serial),
            "auth_issuer_key_id": self.auth_issuer_key_id,
        }


def _hex(serial: int | None) -> str | None:
    return None if serial is None else format(serial, "x")


@dataclass(frozen=True, slots=True)
class CertRef:
    """A certificate named by its serial number under an issuer (hex SKI of the CA)."""

    serial: int
    issuer_key_id: str

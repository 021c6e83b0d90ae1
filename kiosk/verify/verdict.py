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
    WRONG_CURVE = "wrong_curve"  # an EC key on another curve than the scheme's (P-384)
    SCHEME_NOT_ALLOWED = "scheme_not_allowed"  # a scheme the issuer's anchor group does not allow
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
    SERIAL_MISMATCH = "serial_mismatch"
    LINK_EXISTS = "link_exists"


class LinkStatus(StrEnum):
    """State of a provider link after checking its signature certificate against the CRL."""

    ACTIVE = "active"
    NEEDS_REENROLMENT = "needs_reenrolment"
    #: The signature CRL is missing or stale, so the link could not be checked this time.
    UNCHECKED = "unchecked"


class VerifyError(KioskError):
    """Base of the verification layer's errors."""

    code = "verify"


class VerifierUnavailable(VerifyError):
    """The verifier could not give a verdict: the platform is down, or refuses this kiosk (a
    misconfigured token). Nobody can be verified here until it is fixed; nothing was decided
    about the person."""

    code = "verifier_unavailable"


class KioskRefused(VerifierUnavailable):
    """The verification service refused this kiosk itself, not the person: trying again does
    not help, staff must fix the kiosk's registration (`code` says what to fix)."""

    code = "kiosk_refused"


class KioskNotRegistered(KioskRefused):
    """The kiosk's credential does not act for the provider asked for, or belongs to another
    terminal id than the kiosk's (the platform's 403 provider_not_allowed or
    terminal_not_allowed)."""

    code = "kiosk_not_registered"


class KioskCredentialRefused(KioskRefused):
    """The verification service does not accept the kiosk's credential: unknown, rotated or
    revoked (the platform's 401)."""

    code = "kiosk_credential_refused"


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
    linked_at: datetime | None = None  # since when that account is linked

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
            "linked_at": None if self.linked_at is None else self.linked_at.isoformat(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> Verdict:
        """Parse to_json()'s output; anything else raises ValueError."""
        try:
            status = obj["link_status"]
            return cls(
                ok=_bool(obj["ok"]),
                reason=Reason(obj["reason"]),
                message=_str(obj["message"]),
                time=_time(obj["time"]),
                auth_serial=_serial(obj["auth_serial"]),
                issuer_key_id=_opt_str(obj["issuer_key_id"]),
                link_status=None if status is None else LinkStatus(status),
                account_ref=_opt_str(obj["account_ref"]),
                linked_at=None if obj["linked_at"] is None else _time(obj["linked_at"]),
            )
        except (KeyError, TypeError) as e:
            raise ValueError("not a verdict") from e


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

    @classmethod
    def from_json(cls, obj: Any) -> EnrolmentVerdict:
        """Parse to_json()'s output; anything else raises ValueError."""
        try:
            return cls(
                ok=_bool(obj["ok"]),
                reason=Reason(obj["reason"]),
                message=_str(obj["message"]),
                time=_time(obj["time"]),
                sign_serial=_serial(obj["sign_serial"]),
                sign_issuer_key_id=_opt_str(obj["sign_issuer_key_id"]),
                auth_serial=_serial(obj["auth_serial"]),
                auth_issuer_key_id=_opt_str(obj["auth_issuer_key_id"]),
            )
        except (KeyError, TypeError) as e:
            raise ValueError("not an enrolment verdict") from e


def _hex(serial: int | None) -> str | None:
    return None if serial is None else format(serial, "x")


def _serial(value: Any) -> int | None:
    return None if value is None else int(_str(value), 16)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected true or false")
    return value


def _time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_str(value))
    if parsed.tzinfo is None:
        raise ValueError("a time without its zone")
    return parsed


@dataclass(frozen=True, slots=True)
class CertRef:
    """A certificate named by its serial number under an issuer (hex SKI of the CA)."""

    serial: int
    issuer_key_id: str

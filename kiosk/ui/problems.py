"""What the person is told for each typed error of a visit: one translation, at the worker.

The visit (kiosk.services.visit) raises the card's, the JPKI applet's and the verifier's own
errors; the card worker turns whatever ends a job into the `Problem` the flow shows, here and
nowhere else, matching on types (never on message or code strings). Anything unforeseen is
the internal problem, logged with its traceback.
"""

from __future__ import annotations

import logging

from kiosk.card.errors import CardError, CardRemoved, NoCard, PcscUnavailable, ReaderUnavailable
from kiosk.flow.errors_catalogue import Problem, ProblemCode
from kiosk.flow.ports import FlowProblem
from kiosk.jpki.errors import (
    JpkiError,
    NotAJpkiCard,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
    PinUnconfirmed,
    UnsupportedToken,
)
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingRefused,
    BindingUnknown,
    BindingUsed,
)
from kiosk.services.records import NoRecord, RecordMismatch
from kiosk.services.visit import ServiceFailed
from kiosk.verify.verdict import (
    KioskCredentialRefused,
    KioskNotRegistered,
    Reason,
    Refused,
    VerifierUnavailable,
)

log = logging.getLogger(__name__)

#: Verification reasons → what the person is told.
REASON_PROBLEMS: dict[Reason, ProblemCode] = {
    Reason.MALFORMED: ProblemCode.BAD_CERTIFICATE,
    Reason.UNKNOWN_ISSUER: ProblemCode.UNTRUSTED_ISSUER,
    Reason.BAD_CHAIN: ProblemCode.UNTRUSTED_ISSUER,
    Reason.EXPIRED: ProblemCode.CERT_EXPIRED,
    Reason.NOT_YET_VALID: ProblemCode.CERT_NOT_YET_VALID,
    Reason.WRONG_KEY_PURPOSE: ProblemCode.BAD_CERTIFICATE,
    Reason.WEAK_KEY: ProblemCode.BAD_CERTIFICATE,
    Reason.WRONG_CURVE: ProblemCode.BAD_CERTIFICATE,
    Reason.SCHEME_NOT_ALLOWED: ProblemCode.BAD_CERTIFICATE,
    Reason.REVOKED: ProblemCode.CERT_REVOKED,
    Reason.CRL_MISSING: ProblemCode.REVOCATION_UNKNOWN,
    Reason.CRL_STALE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.CRL_BAD_SIGNATURE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_UNAVAILABLE: ProblemCode.PLATFORM_UNREACHABLE,
    Reason.OCSP_BAD_SIGNATURE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_STALE: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_NONCE_MISMATCH: ProblemCode.REVOCATION_UNKNOWN,
    Reason.OCSP_UNKNOWN: ProblemCode.REVOCATION_UNKNOWN,
    Reason.CHALLENGE_UNKNOWN: ProblemCode.CHALLENGE_INVALID,
    Reason.CHALLENGE_REPLAYED: ProblemCode.CHALLENGE_INVALID,
    Reason.CHALLENGE_EXPIRED: ProblemCode.CHALLENGE_INVALID,
    Reason.CHALLENGE_FOREIGN: ProblemCode.CHALLENGE_INVALID,
    Reason.BAD_SIGNATURE: ProblemCode.BAD_SIGNATURE,
    Reason.FOUR_INFO_MISMATCH: ProblemCode.ENROLMENT_MISMATCH,
    Reason.NOT_SAME_SESSION: ProblemCode.ENROLMENT_MISMATCH,
    Reason.SERIAL_UNAVAILABLE: ProblemCode.PLATFORM_UNREACHABLE,  # the issuer did not answer
    Reason.SERIAL_MISMATCH: ProblemCode.ENROLMENT_MISMATCH,
    Reason.LINK_EXISTS: ProblemCode.LINK_EXISTS,
}

#: The provider's refusals of a binding code → what the person is told (typed again).
BINDING_PROBLEMS: dict[type[BindingRefused], ProblemCode] = {
    BindingUnknown: ProblemCode.LOGIN_CODE_UNKNOWN,
    BindingExpired: ProblemCode.LOGIN_CODE_EXPIRED,
    BindingUsed: ProblemCode.LOGIN_CODE_USED,
    BindingOtherProvider: ProblemCode.LOGIN_CODE_OTHER_PROVIDER,
}


def problem_for(error: BaseException) -> Problem:
    """The Problem the person is shown for an error that ended a job."""
    sign = getattr(error, "which", "auth") == "sign"
    match error:
        case FlowProblem():
            return error.problem
        case PinIncorrect():
            code = ProblemCode.PASSWORD_INCORRECT if sign else ProblemCode.PIN_INCORRECT
            return Problem(code, error.retries_left)
        case PinBlocked():
            return Problem(ProblemCode.PASSWORD_BLOCKED if sign else ProblemCode.PIN_BLOCKED, 0)
        case PinFormatError():
            return Problem(ProblemCode.PASSWORD_FORMAT if sign else ProblemCode.PIN_FORMAT)
        case PinUnconfirmed():  # sent once, answered oddly: start over, never resend
            return Problem(
                ProblemCode.PASSWORD_UNCONFIRMED if sign else ProblemCode.PIN_UNCONFIRMED
            )
        case NotAJpkiCard() | UnsupportedToken():
            return Problem(ProblemCode.NOT_MY_NUMBER_CARD)
        case CardRemoved() | NoCard():
            return Problem(ProblemCode.CARD_REMOVED)
        case PcscUnavailable():
            return Problem(ProblemCode.PCSC_DOWN)
        case ReaderUnavailable():
            return Problem(ProblemCode.READER_MISSING)
        case CardError() | JpkiError():
            return Problem(ProblemCode.CARD_ERROR)
        case Refused():
            return Problem(REASON_PROBLEMS.get(error.reason, ProblemCode.BAD_CERTIFICATE))
        case KioskNotRegistered():  # staff must register the kiosk: say so, not "unreachable"
            log.warning("the verification service refused this kiosk: %s", error.code)
            return Problem(ProblemCode.KIOSK_NOT_REGISTERED)
        case KioskCredentialRefused():
            log.warning("the verification service refused this kiosk: %s", error.code)
            return Problem(ProblemCode.KIOSK_CREDENTIAL_REFUSED)
        case VerifierUnavailable():
            # the verification service is down, or refused this kiosk (misconfigured token):
            # either way the person cannot be verified here now
            log.warning("verification unavailable: %s", type(error).__name__)
            return Problem(ProblemCode.PLATFORM_UNREACHABLE)
        case ServiceFailed():
            return Problem(ProblemCode.SERVICE_FAILED)
        case BindingRateLimited():
            return Problem(ProblemCode.LOGIN_CODE_RATE_LIMITED, wait_s=max(1, error.retry_after_s))
        case BindingRefused():
            said = (code for kind, code in BINDING_PROBLEMS.items() if isinstance(error, kind))
            return Problem(next(said, ProblemCode.LOGIN_CODE_REFUSED))
        case NoRecord():
            return Problem(ProblemCode.NO_RECORD)
        case RecordMismatch():
            log.info("enrolment: the record does not match the card (%s)", error.differs_text)
            return Problem(ProblemCode.RECORD_MISMATCH)
    log.error("unexpected error in card work: %s", type(error).__name__, exc_info=error)
    return Problem(ProblemCode.INTERNAL)

"""The kiosk's side of the common platform (docs/platform-api.md): httpx over the v1 API.

`PlatformClient` hands back the same types as local verification (`IssuedChallenge`,
`Verdict`, `EnrolmentVerdict`), so it can stand in for `ChallengeService.issue` and the
`Verifier`. It is also the kiosk's LoginBroker (`pending`, `approve`) when the platform is
the OpenID Provider: each refusal's error code comes back as the port's exception. The
platform's clock decides: the `now` (and `action`) arguments are accepted for that reason and
not sent.

Failures come in two kinds:

- `PlatformUnavailable`: a connection failure, a timeout, a 5xx, or an answer that is not the
  expected JSON (the kiosk shows "the verification service cannot be reached");
- `PlatformRefused`: a 4xx; `.error` is the API's error code (`unauthorized`, `malformed`...),
  `.status` the HTTP status.

No call is ever retried (a proof is single use; a challenge is cheap to ask for again by the
caller). The bearer token is never put in an exception message or a log line, nor is a
binding code (it travels in the body only).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from kiosk.platform.schema import (
    ChallengeBody,
    ChallengeRequest,
    EnrolmentBody,
    EnrolmentVerdictBody,
    LoginApproveRequest,
    LoginPendingRequest,
    PendingLoginBody,
    UserProofBody,
    VerdictBody,
)
from kiosk.services.bearer import bearer_client
from kiosk.services.login_broker import (
    BindingExpired,
    BindingOtherProvider,
    BindingRateLimited,
    BindingUnknown,
    BindingUsed,
    LinkRefused,
    LoginError,
    LoginUnavailable,
    PendingLogin,
)
from kiosk.verify.verdict import KioskCredentialRefused, KioskNotRegistered, VerifierUnavailable

if TYPE_CHECKING:
    from kiosk.verify.enrolment import EnrolmentApplication
    from kiosk.verify.ports import IssuedChallenge
    from kiosk.verify.proof import UserProof
    from kiosk.verify.verdict import EnrolmentVerdict, Verdict

_Answer = TypeVar("_Answer", bound=BaseModel)

#: Why the platform was unavailable: the connection could not be made, a timeout, the
#: exchange broke off or was not HTTP, a 5xx, or a 2xx that is not the API's JSON.
Unavailability = Literal["unreachable", "timeout", "broken", "status", "bad_answer"]

log = logging.getLogger(__name__)


#: The contract's error codes by status, for a 4xx whose body does not name one.
_CODES_BY_STATUS = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}

#: How much of the platform's own message an exception keeps.
_MESSAGE_CHARS = 200
#: The longest wait a Retry-After may ask for (seconds); a larger one is taken as this.
_MAX_RETRY_AFTER_S = 3600
#: The wait assumed when a 429 gives no usable Retry-After.
_DEFAULT_RETRY_AFTER_S = 60
#: The login endpoints' refusals (docs/platform-api.md), each back to the port's exception.
_LOGIN_REFUSALS: dict[str, tuple[type[LoginError], str]] = {
    "binding_unknown": (BindingUnknown, "no sign-in waits with this code"),
    "binding_expired": (
        BindingExpired,
        "this code is no longer valid: start again at the online service",
    ),
    "binding_used": (BindingUsed, "this code has been used already"),
    "binding_other_provider": (
        BindingOtherProvider,
        "the online service does not sign in through this kiosk",
    ),
    "link_refused": (LinkRefused, "the card's link cannot sign in (revoked or to be re-made)"),
}


class PlatformUnavailable(VerifierUnavailable):
    """The platform could not be reached or did not answer as the API says (retry later)."""

    code = "platform_unreachable"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        why: Unavailability = "status",
        error: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The HTTP status when the platform did answer (a 5xx, or a 2xx that did not parse).
        self.status = status
        #: Which failure it was (a relaying platform answers each with its own code).
        self.why = why
        #: The API's error code a 5xx answer named, if any (a relay refused further on).
        self.error = error


class PlatformRefused(VerifierUnavailable):
    """The platform refused the request (a 4xx): `.error` is the API's code, `.status` HTTP's."""

    code = "platform_refused"

    def __init__(
        self, error: str, status: int = 400, message: str = "", retry_after_s: int | None = None
    ) -> None:
        text = f"the verification service refused the request ({error})"
        super().__init__(f"{text}: {message}" if message else text)
        self.error = error
        self.status = status
        #: The answer's Retry-After in seconds, when it gave one (a 429).
        self.retry_after_s = retry_after_s


class PlatformNotRegistered(PlatformRefused, KioskNotRegistered):
    """A 403 provider_not_allowed or terminal_not_allowed: this kiosk's credential does not
    act for that provider, or names another terminal (the kiosk shows its own reason)."""

    code = "kiosk_not_registered"


class PlatformCredentialRefused(PlatformRefused, KioskCredentialRefused):
    """A 401: the platform does not accept this kiosk's token (unknown, rotated, revoked)."""

    code = "kiosk_credential_refused"


#: The 403 codes that say the kiosk is not registered for what it asked.
_NOT_REGISTERED = frozenset(("provider_not_allowed", "terminal_not_allowed"))


def _refusal(status: int, error: str) -> type[PlatformRefused]:
    """The PlatformRefused kind of a 4xx: the kiosk's own credential or registration
    refused (each its own reason on the screen), or any other refusal."""
    if status == 401:
        return PlatformCredentialRefused
    if status == 403 and error in _NOT_REGISTERED:
        return PlatformNotRegistered
    return PlatformRefused


class PlatformClient:
    """Calls the platform's v1 endpoints with the provider's bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("the platform URL is empty")
        self._token = token
        self._client = bearer_client(base_url, token, timeout_s, transport, what="the platform")
        #: Each request's timeout (seconds) unless `relaying` gave another.
        self.timeout_s = timeout_s
        self._extra_headers: dict[str, str] = {}
        self._call_timeout: float | None = None

    def __repr__(self) -> str:
        return f"PlatformClient({str(self._client.base_url)!r})"

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def relaying(self, headers: Mapping[str, str], timeout_s: float) -> PlatformClient:
        """This client for one relayed request (kiosk.platform.relay): these headers and this
        timeout on each call, over the same connection pool (close this client, not that)."""
        view = copy.copy(self)
        view._extra_headers, view._call_timeout = dict(headers), timeout_s
        return view

    # -- the endpoints -------------------------------------------------------------------

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge:
        """A fresh challenge for that provider's terminal (`now` is not sent: the platform's
        clock decides)."""
        request = ChallengeRequest.model_construct(provider_id=provider_id, terminal_id=terminal_id)
        body = self._call("POST", "/v1/challenges", request.wire())
        challenge = self._answer(ChallengeBody, body, "/v1/challenges").to_challenge()
        if (challenge.provider_id, challenge.terminal_id) != (provider_id, terminal_id):
            raise self._bad_answer("/v1/challenges")  # a challenge for someone else
        return challenge

    def verify_user_proof(
        self, proof: UserProof, now: datetime, action: str = "user_proof"
    ) -> Verdict:
        """The platform's verdict on a user proof (`now` and `action` are not sent: the
        platform uses its own clock and records its own action)."""
        body = self._call("POST", "/v1/proofs", UserProofBody.of(proof).wire())
        return self._answer(VerdictBody, body, "/v1/proofs").to_verdict()

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict:
        """The platform's verdict on an enrolment application (when ok, the platform has
        linked the account to the two certificates)."""
        body = self._call("POST", "/v1/enrolments", EnrolmentBody.of(application).wire())
        return self._answer(EnrolmentVerdictBody, body, "/v1/enrolments").to_verdict()

    def pending(
        self, provider_id: str, terminal_id: str, binding_code: str, now: datetime
    ) -> PendingLogin:
        """The sign-in waiting under this binding code (the LoginBroker port): raises the
        port's binding refusals as the platform names them, else LoginUnavailable."""
        request = LoginPendingRequest.model_construct(
            provider_id=provider_id, terminal_id=terminal_id, binding_code=binding_code
        )
        with _as_login_errors():
            body = self._call("POST", "/v1/logins/pending", request.wire())
            return self._answer(PendingLoginBody, body, "/v1/logins/pending").to_pending()

    def approve(
        self,
        pending: PendingLogin,
        provider_id: str,
        terminal_id: str,
        account_ref: str,
        auth_time: datetime,
        now: datetime,
    ) -> None:
        """The card holder agreed (the LoginBroker port): the platform answers the waiting
        authorization request. Raises the binding refusals, LinkRefused or LoginUnavailable."""
        request = LoginApproveRequest.of(pending, provider_id, terminal_id, account_ref, auth_time)
        with _as_login_errors():
            self._call("POST", "/v1/logins/approve", request.wire(), expect_body=False)

    def health(self) -> bool:
        """True when the platform answers `GET /v1/health` with `{"status": "ok"}`; never
        raises."""
        try:
            answer: object = self._call("GET", "/v1/health", None)
            return answer == {"status": "ok"}
        except (PlatformUnavailable, PlatformRefused):
            return False

    # -- the plumbing --------------------------------------------------------------------

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None, *, expect_body: bool = True
    ) -> Any:
        """One request, never retried; the decoded JSON of a 2xx answer (None for an answer
        without a body when `expect_body` is false: a 204)."""
        timeout = httpx.USE_CLIENT_DEFAULT if self._call_timeout is None else self._call_timeout
        try:
            response = self._client.request(
                method, path, json=payload, headers=self._extra_headers, timeout=timeout
            )
        except httpx.TimeoutException as e:
            log.warning("platform %s %s: timed out", method, path)
            raise PlatformUnavailable(
                "the verification service cannot be reached (timed out)", why="timeout"
            ) from e
        except httpx.HTTPError as e:
            log.warning("platform %s %s: %s", method, path, type(e).__name__)
            raise PlatformUnavailable(
                f"the verification service cannot be reached ({type(e).__name__})",
                why="unreachable" if isinstance(e, httpx.ConnectError) else "broken",
            ) from e
        status = response.status_code
        log.debug("platform %s %s: %d", method, path, status)
        if 400 <= status < 500:
            error, message = _error_body(response)
            code = self._scrub(error)[:64] if error else _CODES_BY_STATUS.get(status, "refused")
            retry = _retry_after(response) if status == 429 else None
            raise _refusal(status, code)(code, status, self._scrub(message), retry)
        if not 200 <= status < 300:
            log.warning("platform %s %s: status %d", method, path, status)
            error, _ = _error_body(response)
            raise PlatformUnavailable(
                f"the verification service cannot be reached (status {status})",
                status=status,
                error=self._scrub(error)[:64] if error else None,
            )
        if not expect_body:
            return None
        if not _is_json(response):
            raise self._bad_answer(path, status)
        try:
            return response.json()
        except ValueError as e:  # not JSON, or not UTF-8
            raise self._bad_answer(path, status) from e

    def _answer(self, model: type[_Answer], body: Any, path: str) -> _Answer:
        """The answer read with the schema's model; PlatformUnavailable if it is not one."""
        try:
            return model.model_validate(body)
        except ValidationError as e:  # never the body in the message: it is the platform's
            raise self._bad_answer(path) from e

    def _bad_answer(self, path: str, status: int | None = 200) -> PlatformUnavailable:
        log.warning("platform %s: the answer is not the API's JSON", path)
        return PlatformUnavailable(
            "the verification service gave an answer that is not the expected JSON",
            status=status,
            why="bad_answer",
        )

    def _scrub(self, message: str) -> str:
        """The platform's message, short, and never carrying the token."""
        return message.replace(self._token, "<token>")[:_MESSAGE_CHARS]


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    """The API error object's code and message, or (None, "") when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    error, message = body.get("error"), body.get("message")
    return (
        error if isinstance(error, str) and error else None,
        message if isinstance(message, str) else "",
    )


def _is_json(response: httpx.Response) -> bool:
    """Whether the answer says it is JSON (`application/json`), as every answer of the API is."""
    media = str(response.headers.get("content-type", "")).partition(";")[0]
    return media.strip().lower() == "application/json"


def _retry_after(response: httpx.Response) -> int | None:
    """The Retry-After header in whole seconds (a delay, not a date), at most an hour."""
    value = response.headers.get("retry-after", "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    return min(int(value), _MAX_RETRY_AFTER_S)


@contextmanager
def _as_login_errors() -> Iterator[None]:
    """The platform's answers as the LoginBroker port's exceptions: each login refusal code
    to its own exception; anything else (unreachable, 5xx, a wrong answer, or a refusal
    that is no login refusal: a token or a body the platform does not take) to
    LoginUnavailable, since the person can do nothing about it at the kiosk."""
    try:
        yield
    except PlatformRefused as e:
        if e.error == "binding_rate_limited":
            wait = e.retry_after_s if e.retry_after_s is not None else _DEFAULT_RETRY_AFTER_S
            raise BindingRateLimited("too many wrong codes at this kiosk", wait) from e
        known = _LOGIN_REFUSALS.get(e.error)
        if known is not None:
            kind, message = known
            raise kind(message) from e
        log.warning("sign-in refused by the platform: %s (%d)", e.error, e.status)
        raise LoginUnavailable("the sign-in service refused the kiosk's request") from e
    except PlatformUnavailable as e:
        raise LoginUnavailable("the sign-in service is unavailable") from e

"""The platform's HTTP service (FastAPI): challenges, user proofs and enrolments for providers.

The contract is docs/platform-api.md. Every caller but a health check presents a bearer token
whose SHA-256 the configuration names for one provider; the token speaks for that provider
only. Proofs and applications go to the same `Verifier` as local mode (it records every
verdict with its challenge's use); an accepted enrolment links the account at the provider.

Untrusted bytes are parsed at one boundary, in this order: the bearer token (before any byte
of the body is read), the body (at most MAX_BODY bytes, within the configured time), strict
JSON (UTF-8, no duplicate names, no NaN, no lone surrogates, bounded nesting and numbers), then
the endpoint's model, which turns it into the verifier's types (base64 into bytes, dates into
dates). Whatever fails there is `400 malformed` and nothing is verified or used up.

Every error is `{"error": code, "message": text}`, never a traceback; a request's outcome is
logged as endpoint, provider, status and reason code, never its body (an enrolment
application carries the 4 info as typed).

The endpoints are plain functions, so FastAPI runs them in its threadpool; the store's
`Database` keeps one driver connection per thread, which suits that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from kiosk.platform.client import PlatformClient, PlatformRefused, PlatformUnavailable
from kiosk.store.errors import StoreError
from kiosk.verify.challenge import IDENTIFIER
from kiosk.verify.enrolment import EnrolmentApplication
from kiosk.verify.ports import IssuedChallenge
from kiosk.verify.profile import BasicFourInfo
from kiosk.verify.proof import UserProof
from kiosk.verify.verdict import EnrolmentVerdict, Refused, Verdict

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from kiosk.config import Config
    from kiosk.verify.challenge import ChallengeService
    from kiosk.verify.verifier import Verifier

log = logging.getLogger(__name__)

#: The largest request body accepted (bytes).
MAX_BODY = 64 * 1024
#: Seconds to wait for a request's whole body, unless configured (`platform_body_timeout_s`).
BODY_TIMEOUT_S = 5.0
#: How deep a body's JSON may nest (an enrolment application, the deepest, needs 3 levels).
MAX_DEPTH = 32
#: The most digits a number may have anywhere in a body (no field of the API is a number).
MAX_DIGITS = 40
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_OUTCOME = "jpki.outcome"  # the scope key the handlers note provider and reason under

Clock = Callable[[], datetime]


# --- request and response bodies (the OpenAPI schema) -----------------------------------

_ID = Field(pattern=IDENTIFIER.pattern.join("^$"), description="an identifier")
_B64 = "standard base64"
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _from_base64(value: object) -> bytes:
    """Standard base64 with its padding, ASCII only, into bytes; else a validation error."""
    if not isinstance(value, str) or _BASE64.fullmatch(value) is None:
        raise ValueError("not standard base64")  # pydantic reports the field, not the value
    return base64.b64decode(value, validate=True)


def _from_iso_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("not an ISO 8601 date")
    return date.fromisoformat(value)


#: Bytes as standard base64 in the JSON (validated and decoded with the model).
Base64Bytes = Annotated[bytes, PlainValidator(_from_base64, json_schema_input_type=str)]
#: A date as an ISO 8601 string in the JSON.
IsoDate = Annotated[date, PlainValidator(_from_iso_date, json_schema_input_type=str)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChallengeRequest(_Body):
    """Ask for a challenge for one of the provider's terminals."""

    provider_id: str = _ID
    terminal_id: str = _ID


class ChallengeResponse(BaseModel):
    """A fresh challenge: the card signs proof_digest_info(provider_id, terminal_id, nonce)."""

    nonce: str = Field(description=f"the 73-byte token, {_B64}")
    provider_id: str
    terminal_id: str
    issued_at: str = Field(description="ISO 8601, UTC, microseconds")
    expires_at: str = Field(description="ISO 8601, UTC, microseconds")


class UserProofRequest(_Body):
    """A user proof (docs/proof-format.md §1), `UserProof.to_json()`."""

    provider_id: str
    terminal_id: str
    nonce: Base64Bytes = Field(description=_B64)
    certificate: Base64Bytes = Field(description=f"DER of the authentication certificate, {_B64}")
    signature: Base64Bytes = Field(description=f"PKCS#1 v1.5 / SHA-256 signature, {_B64}")

    def to_proof(self) -> UserProof:
        return UserProof(
            self.provider_id, self.terminal_id, self.nonce, self.certificate, self.signature
        )


class FourInfo(_Body):
    """The basic 4 info as typed (checked against the signature certificate, never recorded)."""

    name: str
    address: str
    birth_date: IsoDate = Field(description="ISO 8601 date")
    sex: Literal["male", "female", "unknown"]

    @model_validator(mode="after")
    def _fits_the_profile(self) -> FourInfo:
        self.to_four_info()  # ProfileError (a ValueError): blank name, address too long
        return self

    def to_four_info(self) -> BasicFourInfo:
        return BasicFourInfo(self.name, self.address, self.birth_date, self.sex)


class EnrolmentDocument(_Body):
    """The document the signature key signed (canonical JSON, docs/proof-format.md §2)."""

    format: Literal["jpki-kiosk/enrolment-2"]
    provider_id: str
    terminal_id: str
    account_ref: str = Field(min_length=1, max_length=128)
    four_info: FourInfo
    nonce: Base64Bytes = Field(description=_B64)
    auth_certificate_sha256: Base64Bytes | None = Field(
        description=f"SHA-256 of the authentication certificate's DER, {_B64}; "
        "null only without auth_proof"
    )


class EnrolmentRequest(_Body):
    """An enrolment application, `EnrolmentApplication.to_json()`."""

    document: EnrolmentDocument
    sign_certificate: Base64Bytes = Field(description=f"DER of the signature certificate, {_B64}")
    sign_signature: Base64Bytes = Field(description=f"over the canonical document, {_B64}")
    auth_proof: UserProofRequest | None = None

    def to_application(self) -> EnrolmentApplication:
        doc = self.document
        return EnrolmentApplication(
            provider_id=doc.provider_id,
            terminal_id=doc.terminal_id,
            account_ref=doc.account_ref,
            four_info=doc.four_info.to_four_info(),
            nonce=doc.nonce,
            sign_certificate=self.sign_certificate,
            sign_signature=self.sign_signature,
            auth_proof=None if self.auth_proof is None else self.auth_proof.to_proof(),
            auth_certificate_sha256=doc.auth_certificate_sha256,
        )


class VerdictResponse(BaseModel):
    """A user proof's verdict, `Verdict.to_json()`."""

    ok: bool
    reason: str
    message: str
    time: str
    auth_serial: str | None = Field(description="hex")
    issuer_key_id: str | None
    link_status: str | None = Field(description="active, needs_reenrolment or unchecked")
    account_ref: str | None
    linked_at: str | None = Field(description="since when the account is linked, ISO 8601")


class EnrolmentVerdictResponse(BaseModel):
    """An enrolment's verdict, `EnrolmentVerdict.to_json()`."""

    ok: bool
    reason: str
    message: str
    time: str
    sign_serial: str | None = Field(description="hex")
    sign_issuer_key_id: str | None
    auth_serial: str | None = Field(description="hex")
    auth_issuer_key_id: str | None


class ErrorResponse(BaseModel):
    """Every error."""

    error: str
    message: str


class HealthResponse(BaseModel):
    status: Literal["ok"]


# --- errors ------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: HTTP status, error code and a message safe to show."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message}, status_code=status, headers=dict(headers or {})
    )


def _note(request: Request, **fields: str) -> None:
    """Note the provider or the reason code for the request's log line."""
    request.scope.setdefault(_OUTCOME, {}).update(fields)


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code}
    for status, code in (
        (400, "malformed"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (408, "timeout"),
        (413, "too_large"),
        (503, "unavailable"),
        (500, "internal"),
    )
}
_HTTP_CODES = {
    400: "malformed",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
}


def _field_problem(errors: list[Any]) -> str:
    """Which field was wrong, in plain words (never the value: it may be 4 info)."""
    if not errors:
        return "The request body is malformed."
    first = errors[0]
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return "The request body is not valid JSON."
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if not loc:
        return "The request body must be a JSON object."
    where = ".".join(loc)
    if kind == "missing":
        return f"'{where}' is missing."
    return f"'{where}' has the wrong type or form."


# --- authentication ----------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="the provider's bearer token")


class _Tokens:
    """Provider ids by the SHA-256 of their tokens, compared in constant time."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._digests = [(bytes.fromhex(h), provider) for provider, h in tokens.items()]
        if len({d for d, _ in self._digests}) != len(self._digests):
            raise ValueError("each provider needs its own token")  # it would speak for both

    def provider(self, authorization: str | None) -> str:
        """The provider the header's bearer token belongs to; else ApiError 401."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "A bearer token is required.", _UNAUTHORIZED)
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found = None
        for expected, provider in self._digests:  # every one, so timing says nothing
            if hmac.compare_digest(digest, expected):
                found = provider
        if found is None:
            raise ApiError(401, "unauthorized", "The bearer token is not known.", _UNAUTHORIZED)
        return found


# --- the request boundary: the token, then the body read, decoded and checked, once -------

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads pairs the rest into one character
_DIGITS = re.compile("[0-9]{1,20}")


def _malformed(message: str) -> ApiError:
    return ApiError(400, "malformed", message)


class _NotJson(ValueError):
    """Why a body is not the strict JSON the API takes; the message names no value."""


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if _DIGITS.fullmatch(declared) else None


async def _read_body(request: Request, timeout_s: float) -> bytes:
    """The whole body within `timeout_s` (a client that trickles it is cut off: 408) and at
    most MAX_BODY bytes, by Content-Length and as read (413)."""
    too_large = ApiError(413, "too_large", f"The body is over {MAX_BODY} bytes.")
    declared = _declared_length(request)
    if declared is not None and declared > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError as e:
        message = f"The request body did not arrive within {timeout_s:g} s."
        raise ApiError(408, "timeout", message) from e
    except ClientDisconnect as e:  # nobody will read the answer; the log line says why
        raise _malformed("The request body ended early.") from e
    return b"".join(chunks)


def _is_utf8_json(content_type: str | None) -> bool:
    """Content-Type application/json, with no charset or UTF-8 (RFC 8259 §8.1)."""
    media, _, parameters = (content_type or "").partition(";")
    if media.strip().lower() != "application/json":
        return False
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are unique (a duplicate could mean one thing to the platform
    and another to whatever checked the body before it)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _NotJson("The request body names a member twice.")
    return obj


def _constant(name: str) -> Any:
    raise _NotJson("The request body has NaN or Infinity, which JSON does not.")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _NotJson("The request body has a number that is too long.")
    return int(text)


def _real(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson("The request body has a number that is too large.")
    return value


def _check_text_and_depth(value: Any) -> None:
    """No lone surrogate in any name or string (it is not Unicode text: it cannot be encoded,
    compared or stored) and no nesting deeper than MAX_DEPTH; iterative, so any shape is safe."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                raise _malformed("The request body has a \\u escape that is not Unicode text.")
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise _malformed("The request body nests too deeply.")
            members = [*item, *item.values()] if isinstance(item, dict) else item
            stack.extend((member, depth + 1) for member in members)


def _decode_json(body: bytes, content_type: str | None) -> Any:
    """The body as strict JSON: UTF-8 without a byte-order mark, unique names, no NaN or
    Infinity, numbers of at most MAX_DIGITS digits and finite, no lone surrogates, at most
    MAX_DEPTH deep. Anything else is ApiError 400 malformed, with a message naming no value."""
    if not _is_utf8_json(content_type):
        raise _malformed("The request body must be JSON (Content-Type: application/json).")
    try:
        value = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_int=_integer,
            parse_float=_real,
        )
    except _NotJson as e:
        raise _malformed(str(e)) from e
    except UnicodeDecodeError as e:
        raise _malformed("The request body is not UTF-8.") from e
    except RecursionError as e:  # deeper than the decoder's stack goes
        raise _malformed("The request body nests too deeply.") from e
    except ValueError as e:  # json.JSONDecodeError
        what = "is not valid JSON" if body.strip() else "is empty; it must be a JSON object"
        raise _malformed(f"The request body {what}.") from e
    _check_text_and_depth(value)
    return value


class _DecodedRequest(Request):
    """The request with its body read and decoded at the boundary: FastAPI takes the decoded
    value from here (its own reading and JSON decoding are never used) and validates it."""

    def __init__(self, request: Request, body: bytes, value: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._decoded = (body, value)

    async def body(self) -> bytes:
        return self._decoded[0]

    async def json(self) -> Any:
        return self._decoded[1]


def _boundary_route(tokens: _Tokens, body_timeout_s: float) -> type[APIRoute]:
    """A route class that checks the bearer token before any byte of the body is read (a
    caller without a valid token is answered 401 at once), then reads and decodes the body."""

    class BoundaryRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                provider = tokens.provider(request.headers.get("authorization"))
                _note(request, provider=provider)
                body = await _read_body(request, body_timeout_s)
                value = _decode_json(body, request.headers.get("content-type"))
                return await handler(_DecodedRequest(request, body, value))

            return guarded

    return BoundaryRoute


def _caller(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> str:
    """The provider the (already checked) token speaks for."""
    return str(request.scope[_OUTCOME]["provider"])


def _same_provider(caller: str, named: str) -> None:
    if not hmac.compare_digest(caller.encode("utf-8"), named.encode("utf-8")):
        raise ApiError(403, "forbidden", "The body names another provider than the token's.")


# --- the outermost layer: unexpected errors, unread bodies, the log line ------------------


class _Edge:
    """Turns an unexpected exception into a 500 without a traceback, closes the connection
    after an answer given before the request's body was read to its end (401, 408, 413, 404:
    what is left of the body must not be read as the next request, nor kept waiting for), and
    logs each request's outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outcome: dict[str, str] = {}
        scope[_OUTCOME] = outcome
        status = [0]
        body_read = [not _has_body(scope)]

        async def noting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_read[0] = True
            return message

        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if not body_read[0]:
                    headers = [*message.get("headers", ()), (b"connection", b"close")]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, noting_receive, noting_send)
        except Exception as e:  # anything the handlers did not answer
            outcome["reason"] = "internal"
            where = traceback.extract_tb(e.__traceback__)[-1:]
            place = f"{where[0].filename}:{where[0].lineno}" if where else "?"
            log.error("unexpected %s at %s", type(e).__name__, place)
            if status[0] == 0:
                await _error(500, "internal", "An internal error occurred.")(
                    scope, noting_receive, noting_send
                )
        finally:
            log.info(
                "%s %s provider=%s status=%s reason=%s",
                scope.get("method", "?"),
                _printable(str(scope.get("path", "?"))),
                outcome.get("provider", "-"),
                status[0] or "-",
                outcome.get("reason", "-"),
            )


def _has_body(scope: Scope) -> bool:
    """Whether the request has a body (HTTP/1.1: a Content-Length other than 0, or chunks)."""
    for name, value in scope.get("headers", ()):
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return True
    return False


def _printable(text: str, limit: int = 100) -> str:
    """A path for the log: printable ASCII only (no forged lines), cut short."""
    return "".join(c if " " < c < "\x7f" else "?" for c in text[:limit])


# --- the app -----------------------------------------------------------------------------


def create_app(
    *,
    verifier: Verifier,
    challenges: ChallengeService,
    tokens: Mapping[str, str],
    clock: Clock,
    peers: Mapping[str, Peer] | None = None,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> FastAPI:
    """The platform API over these services; `tokens` maps provider id -> SHA-256 hex of its
    bearer token; `clock()` is an aware UTC datetime. `peers` maps a provider id to another
    platform (its client) that verifies for that provider: this platform relays the provider's
    challenges, proofs and enrolments to it and answers with its verdicts (the peer records
    them and keeps the links) — e.g. a medical platform reusing a financial platform's
    verification. A request's body must arrive whole within `body_timeout_s` seconds."""
    known = _Tokens(tokens)
    relayed = dict(peers or {})
    app = FastAPI(
        title="jpki-kiosk platform",
        version="1",
        description="Verifies JPKI user proofs and enrolment applications for providers "
        "(docs/platform-api.md).",
        docs_url=None,
        redoc_url=None,
    )
    v1 = APIRouter(route_class=_boundary_route(known, body_timeout_s), responses=_ERRORS)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        _note(request, reason=exc.code)
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        _note(request, reason="malformed")
        return _error(400, "malformed", _field_problem(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "error")
        message = {
            "not_found": "No such endpoint.",
            "method_not_allowed": "This endpoint does not take that method.",
        }.get(code, "The request could not be served.")
        _note(request, reason=code)
        return _error(exc.status_code, code, message, exc.headers)

    @app.exception_handler(StoreError)
    async def unavailable(request: Request, exc: StoreError) -> JSONResponse:
        _note(request, reason="unavailable")
        log.warning("store error: %s", exc.code)
        return _error(503, "unavailable", "The store cannot be reached; try again.")

    @app.exception_handler(Refused)
    async def malformed(request: Request, exc: Refused) -> JSONResponse:
        _note(request, reason="malformed")
        return _error(400, "malformed", str(exc))

    @app.get("/v1/health", response_model=HealthResponse, tags=["health"])
    def health() -> dict[str, str]:
        """No token needed (for load balancers)."""
        return {"status": "ok"}

    @v1.post("/v1/challenges", status_code=201, response_model=ChallengeResponse)
    def issue(
        body: ChallengeRequest, request: Request, caller: str = Depends(_caller)
    ) -> JSONResponse:
        """A fresh challenge for one of the provider's terminals."""
        _same_provider(caller, body.provider_id)
        peer = relayed.get(body.provider_id)
        try:
            if peer is None:
                issued = challenges.issue(body.provider_id, body.terminal_id, clock())
            else:
                with _relaying():
                    issued = peer.issue(body.provider_id, body.terminal_id, clock())
        except ValueError as e:
            raise ApiError(400, "malformed", "The ids must be short identifiers.") from e
        _note(request, reason="issued")
        return JSONResponse(
            {
                "nonce": _b64(issued.nonce),
                "provider_id": issued.provider_id,
                "terminal_id": issued.terminal_id,
                "issued_at": _time(issued.issued_at),
                "expires_at": _time(issued.expires_at),
            },
            status_code=201,
        )

    @v1.post("/v1/proofs", response_model=VerdictResponse)
    def proof(
        body: UserProofRequest, request: Request, caller: str = Depends(_caller)
    ) -> JSONResponse:
        """Verify a user proof; a refusal is a verdict with ok false, not an HTTP error."""
        _same_provider(caller, body.provider_id)
        parsed = body.to_proof()
        peer = relayed.get(parsed.provider_id)
        if peer is None:
            verdict = verifier.verify_user_proof(parsed, clock())
        else:
            with _relaying():
                verdict = peer.verify_user_proof(parsed, clock())
        _note(request, reason=verdict.reason.value)
        return JSONResponse(verdict.to_json())

    @v1.post("/v1/enrolments", response_model=EnrolmentVerdictResponse)
    def enrol(
        body: EnrolmentRequest, request: Request, caller: str = Depends(_caller)
    ) -> JSONResponse:
        """Verify an enrolment application; when ok, the account is linked to both certificates
        (in the transaction that records the verdict); a card linked to another account here
        is the verdict `link_exists`."""
        _same_provider(caller, body.document.provider_id)
        application = body.to_application()
        now = clock()
        peer = relayed.get(application.provider_id)
        if peer is not None:
            with _relaying():  # the peer verifies, records and links
                verdict = peer.verify_enrolment(application, now)
            _note(request, reason=verdict.reason.value)
            return JSONResponse(verdict.to_json())
        verdict = verifier.verify_enrolment(application, now)  # records it and its link
        _note(request, reason=verdict.reason.value)
        return JSONResponse(verdict.to_json())

    app.include_router(v1)
    app.add_middleware(_Edge)
    return app


class Peer(Protocol):
    """Another platform that verifies for a provider (`kiosk.platform.client.PlatformClient`)."""

    def issue(self, provider_id: str, terminal_id: str, now: datetime) -> IssuedChallenge: ...

    def verify_user_proof(self, proof: UserProof, now: datetime) -> Verdict: ...

    def verify_enrolment(
        self, application: EnrolmentApplication, now: datetime
    ) -> EnrolmentVerdict: ...


@contextmanager
def _relaying() -> Iterator[None]:
    """A peer platform's failure as this platform's answer: unreachable -> 503 (may be
    retried); a malformed request -> 400 as if refused here; any other refusal -> 502 (the
    platforms' arrangement is broken: e.g. this platform's token at the peer is wrong)."""
    try:
        yield
    except PlatformUnavailable as e:
        log.warning("peer platform unavailable")
        raise ApiError(503, "unavailable", "The verification service cannot be reached.") from e
    except PlatformRefused as e:
        if e.error == "malformed":
            raise ApiError(400, "malformed", "The request is malformed.") from e
        log.warning("peer platform refused: %s", e.error)
        raise ApiError(502, "peer_refused", "The verifying platform refused the request.") from e


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# --- from the configuration --------------------------------------------------------------


def platform_tokens(cfg: Config) -> dict[str, str]:
    """`[extra.platform_tokens]`: provider id -> SHA-256 hex of its bearer token."""
    from kiosk.config import ConfigError

    table = cfg.extra.get("platform_tokens")
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(
            "'extra.platform_tokens' must map provider ids to the SHA-256 hex of their tokens"
        )
    tokens: dict[str, str] = {}
    for provider, digest in table.items():
        if not isinstance(provider, str) or IDENTIFIER.fullmatch(provider) is None:
            raise ConfigError("'extra.platform_tokens': provider ids must be short identifiers")
        if not isinstance(digest, str) or _SHA256_HEX.fullmatch(digest) is None:
            raise ConfigError(
                f"'extra.platform_tokens.{provider}' must be 64 hex digits (a SHA-256)"
            )
        tokens[provider] = digest.lower()
    if len(set(tokens.values())) != len(tokens):
        raise ConfigError("'extra.platform_tokens': each provider needs its own token")
    return tokens


def platform_peers(cfg: Config) -> dict[str, PlatformClient]:
    """`[extra.platform_peers.<provider>]` with `url` and `token`: another platform verifies for
    that provider (this platform's token there); none configured: an empty mapping."""
    from kiosk.config import ConfigError, check_platform

    table = cfg.extra.get("platform_peers", {})
    if not isinstance(table, Mapping):
        raise ConfigError("'extra.platform_peers' must map provider ids to {url, token} tables")
    peers: dict[str, PlatformClient] = {}
    for provider, peer in table.items():
        where = f"extra.platform_peers.{provider}"
        if not isinstance(provider, str) or IDENTIFIER.fullmatch(provider) is None:
            raise ConfigError("'extra.platform_peers': provider ids must be short identifiers")
        if not isinstance(peer, Mapping) or set(peer) != {"url", "token"}:
            raise ConfigError(f"'{where}' must have exactly 'url' and 'token'")
        url, token = peer["url"], peer["token"]
        if not isinstance(url, str) or not isinstance(token, str):
            raise ConfigError(f"'{where}': 'url' and 'token' must be strings")
        check_platform(url, token, where)
        try:
            peers[provider] = PlatformClient(url, token)
        except ValueError as e:
            raise ConfigError(f"'{where}.token' must be printable, without spaces") from e
    return peers


def _closing(
    *closers: Callable[[], None],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that calls each of `closers` when the server stops."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for close in closers:
                close()

    return lifespan


def app_from_config(cfg: Config) -> FastAPI:
    """The platform over the configured store: CRLs of crl_dir imported, tokens from
    `[extra.platform_tokens]`, links over the store, the wall clock."""
    from kiosk.app import import_crls
    from kiosk.local import LocalContext

    tokens = platform_tokens(cfg)  # before the store is opened: a bad table fails fast
    peers = platform_peers(cfg)
    local = LocalContext.from_config(cfg)
    import_crls(cfg, local)
    app = create_app(
        verifier=local.verifier,
        challenges=local.challenges,
        tokens=tokens,
        clock=lambda: datetime.now(UTC),
        peers=peers,
        body_timeout_s=cfg.platform_body_timeout_s,
    )
    closers = [local.db.dispose, *(peer.close for peer in peers.values())]
    app.router.lifespan_context = _closing(*closers)  # the store closes with the server
    return app

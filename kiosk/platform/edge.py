"""The platform's request boundary: what every request passes before and after a route.

In order, for each endpoint but the health check: the bearer token is checked before any byte
of the body is read (a caller without a valid token is answered 401 at once); the body is read
whole within the configured time (else 408) and at most MAX_BODY bytes, by Content-Length and
as read (else 413); it is decoded as strict JSON (UTF-8, no duplicate names, no NaN, no lone
surrogates, bounded nesting and numbers); only then does FastAPI validate it against the
endpoint's model (kiosk.platform.schema). Whatever fails there is `400 malformed`, and nothing
has been verified or used up.

Every error is `{"error": code, "message": text}`, never a traceback: `ApiError` and the
handlers installed by `install_error_handlers` answer the expected ones, `Edge` (the outermost
ASGI layer) turns anything unexpected into a 500, closes the connection after an answer given
before the body was read to its end, and logs one line per request: endpoint, provider,
status and reason code, never the body (an enrolment application carries the 4 info as typed).
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import re
import time
import traceback
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from fastapi import FastAPI, Request
from fastapi.dependencies.utils import get_typed_signature
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute

from kiosk.platform.schema import ErrorBody
from kiosk.store.errors import StoreError
from kiosk.verify.verdict import Refused

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: The largest request body accepted (bytes).
MAX_BODY = 64 * 1024
#: Seconds to wait for a request's whole body, unless configured (`platform_body_timeout_s`).
BODY_TIMEOUT_S = 5.0
#: How deep a body's JSON may nest (an enrolment application, the deepest, needs 3 levels).
MAX_DEPTH = 32
#: The most digits a number may have anywhere in a body (no field of the API is a number).
MAX_DIGITS = 40
_OUTCOME = "jpki.outcome"  # the scope key the handlers note provider and reason under
_CALLER = "jpki.caller"  # the scope key the boundary keeps the request's caller under


class Authenticated(Protocol):
    """Who a request's bearer token speaks for (kiosk.platform.auth.Caller)."""

    @property
    def who(self) -> str:
        """A name safe to log: a credential id or a provider id."""
        ...

    @property
    def terminal_id(self) -> str | None:
        """The one terminal a credential speaks for (None: a provider's own token)."""
        ...


#: Who a request's bearer token speaks for (`kiosk.platform.auth.Callers`), or ApiError
#: (401, or 429 for a credential over its allowance).
ProviderOf = Callable[[str | None], Authenticated]


# --- errors ------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: HTTP status, error code and a message safe to show."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The error answer (`ErrorBody`, the schema's one error shape)."""
    body = ErrorBody(error=code, message=message).wire()
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def note(request: Request, **fields: str) -> None:
    """Note the provider or the reason code for the request's log line."""
    request.scope.setdefault(_OUTCOME, {}).update(fields)


def noted_caller(request: Request) -> Authenticated:
    """Who the boundary found the request's token to speak for."""
    caller: Authenticated = request.scope[_CALLER]
    return caller


#: The error answers of a route with a body, for the OpenAPI schema.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in (
        (400, "malformed"),
        (401, "unauthorized or credential_revoked"),
        (403, "provider_not_allowed or terminal_not_allowed"),
        (408, "timeout"),
        (413, "too_large"),
        (429, "rate_limited (Retry-After)"),
        (500, "internal"),
        (502, "peer_refused"),
        (503, "unavailable"),
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


def install_error_handlers(app: FastAPI) -> None:
    """Answer every expected error as `{"error", "message"}` and note its reason code; the
    OpenAPI schema declares these answers (ERRORS) and not FastAPI's 422, never sent here (a
    body that does not fit its model is 400 malformed)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()  # FastAPI keeps it as app.openapi_schema
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = spec.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        note(request, reason=exc.code)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        note(request, reason="malformed")
        return error_response(400, "malformed", _field_problem(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "error")
        message = {
            "not_found": "No such endpoint.",
            "method_not_allowed": "This endpoint does not take that method.",
        }.get(code, "The request could not be served.")
        note(request, reason=code)
        return error_response(exc.status_code, code, message, exc.headers)

    @app.exception_handler(StoreError)
    async def unavailable(request: Request, exc: StoreError) -> JSONResponse:
        note(request, reason="unavailable")
        log.warning("store error: %s", exc.code)
        return error_response(503, "unavailable", "The store cannot be reached; try again.")

    @app.exception_handler(Refused)
    async def malformed(request: Request, exc: Refused) -> JSONResponse:
        note(request, reason="malformed")
        return error_response(400, "malformed", str(exc))


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


def boundary_route(provider_of: ProviderOf, body_timeout_s: float) -> type[APIRoute]:
    """A route class that checks the bearer token before any byte of the body is read (a
    caller without a valid token is answered 401 at once), then reads and decodes the body,
    validates it against the endpoint's model and calls the endpoint (`_Call`).

    FastAPI still reads the endpoints' signatures (the OpenAPI schema, the routing), but a
    request does not go through its per-request machinery (dependency solving, a second
    decoding of the body, validating the returned model again before serialising it): on the
    platform's hot path that machinery cost several times the verification itself
    (bench/RESULTS.md, "Platform over HTTP")."""

    class BoundaryRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            call = _Call(self)

            async def guarded(request: Request) -> Response:
                caller = provider_of(request.headers.get("authorization"))
                request.scope[_CALLER] = caller
                note(request, provider=caller.who)
                if caller.terminal_id is not None:  # the credential's, not the body's
                    note(request, terminal=caller.terminal_id)
                body = await _read_body(request, body_timeout_s)
                value = _decode_json(body, request.headers.get("content-type"))
                return await call(request, caller, value)

            return guarded

    return BoundaryRoute


class _Call:
    """How a boundary route calls its endpoint, worked out once from its signature: the body
    (the one parameter annotated with a pydantic model), `request` and `caller`; nothing
    else is allowed (a route that needs more is refused when the app is built). A coroutine
    endpoint runs on the event loop, a plain function in the thread pool; a model returned
    is serialised as the route's JSON answer with its status, a Response passes as it is."""

    __slots__ = ("_endpoint", "_model", "_body", "_wants", "_status", "_coroutine")

    def __init__(self, route: APIRoute) -> None:
        self._endpoint = route.endpoint
        self._coroutine = inspect.iscoroutinefunction(route.endpoint)
        self._status = route.status_code or 200
        self._model: type[BaseModel] | None = None
        self._body = ""
        wants = []
        for name, parameter in get_typed_signature(route.endpoint).parameters.items():
            kind = parameter.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                if self._model is not None:
                    raise TypeError(f"{route.path}: one body model per endpoint")
                self._model, self._body = kind, name
            elif name in ("request", "caller"):
                wants.append(name)
            else:
                raise TypeError(f"{route.path}: a boundary route cannot fill {name!r}")
        self._wants = tuple(wants)

    async def __call__(self, request: Request, caller: Authenticated, value: Any) -> Response:
        arguments: dict[str, Any] = {}
        if self._model is not None:
            try:
                arguments[self._body] = self._model.model_validate(value)
            except ValidationError as e:
                raise RequestValidationError(e.errors()) from e
        for name in self._wants:
            arguments[name] = request if name == "request" else caller
        if self._coroutine:
            result = await self._endpoint(**arguments)
        else:
            result = await run_in_threadpool(self._endpoint, **arguments)
        if isinstance(result, Response):
            return result
        if not isinstance(result, BaseModel):
            raise TypeError(f"an endpoint answered {type(result).__name__}, not its model")
        return Response(
            result.__pydantic_serializer__.to_json(result, by_alias=True),
            status_code=self._status,
            media_type="application/json",
        )


class HotRoutes:
    """The platform's hot endpoints (challenges, proofs, enrolments: every kiosk visit), run
    straight from the boundary's layers instead of through FastAPI's router and its inner
    layers (exception middleware, exit stack): FastAPI's per-request routing and layering cost
    more than a verification (bench/RESULTS.md, "Platform over HTTP").

    The same route objects FastAPI declares (the OpenAPI schema reads them) answer: a request
    whose method and path are one of `routes` is handed to that route's own handler (the
    boundary's: token, body, endpoint), with the route in the scope as FastAPI's router puts
    it there (the metrics label by it); an exception is answered by the app's own exception
    handler for it, as FastAPI's exception layer would. Anything else goes on to FastAPI.
    Installed as the innermost of the app's own layers (`install`), so Edge and the metrics
    still see every request."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self._routes: dict[tuple[str, str], tuple[APIRoute, Callable[[Request], Any]]] = {}
        for route in routes:
            if not isinstance(route, APIRoute):
                continue
            handler = route.get_route_handler()
            for method in route.methods or ():
                self._routes[(method, route.path)] = (route, handler)

    @classmethod
    def install(cls, app: FastAPI, routes: Iterable[BaseRoute]) -> None:
        """Add the layer to `app`; call it before any other `add_middleware` (innermost)."""
        app.add_middleware(cls, routes=list(routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self._routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        route, handler = found
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
        except Exception as e:
            answer = _exception_handler(scope, e)
            if answer is None:
                raise
            response = await answer(request, e)
        await response(scope, receive, send)


def _exception_handler(
    scope: Scope, error: Exception
) -> Callable[[Request, Exception], Coroutine[Any, Any, Response]] | None:
    """The app's handler for this exception (by its class, nearest first), as Starlette's
    exception layer looks it up; None when there is none (Edge answers 500)."""
    handlers = scope["app"].exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers:
            handler: Callable[[Request, Exception], Coroutine[Any, Any, Response]]
            handler = handlers[kind]
            return handler
    return None


# --- the outermost layer: unexpected errors, unread bodies, the log line ------------------


class Edge:
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
        started = time.perf_counter()
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
                await error_response(500, "internal", "An internal error occurred.")(
                    scope, noting_receive, noting_send
                )
        finally:
            path = _printable(str(scope.get("path", "?")))
            log.info(
                "%s %s provider=%s status=%s reason=%s",
                scope.get("method", "?"),
                path,
                outcome.get("provider", "-"),
                status[0] or "-",
                outcome.get("reason", "-"),
                extra={  # the same, as fields for a structured formatter (kiosk.platform.logs)
                    "method": scope.get("method", "?"),
                    "endpoint": path,
                    "provider": outcome.get("provider"),
                    "terminal": outcome.get("terminal"),
                    "status": status[0] or None,
                    "reason": outcome.get("reason"),
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )


def noted(scope: Scope) -> Mapping[str, str]:
    """What the handlers noted for a request (provider, reason), for the layers around `Edge`
    (the metrics) once it has answered."""
    found: Mapping[str, str] = scope.get(_OUTCOME, {})
    return found


def _has_body(scope: Scope) -> bool:
    """Whether the request has a body (HTTP/1.1: a Content-Length other than 0, or chunks)."""
    for name, value in scope.get("headers", ()):
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return True
    return False


def _printable(text: str, limit: int = 100) -> str:
    """A path for the log: printable ASCII only (no forged lines), cut short."""
    return "".join(c if " " < c < "\x7f" else "?" for c in text[:limit])

"""The POS API (FastAPI): a shop's point-of-sale system rings up, reads and cancels payment
requests for the kiosk's terminals. The contract is docs/pos-api.md; the store is
kiosk.store.payment_requests.

The boundary is strict so that no input can cause a 5xx: the bearer token is checked before
any byte of the body is read, the body is bounded and decoded here (bad UTF-8, bad or too
deeply nested JSON are a 422, never an exception), the bodies are pydantic models that refuse
unknown fields, and every refusal of the store is a 4xx with a JSON error code. Only an
unavailable database is a 503: the POS may try again.

A provider's token speaks for that provider only: a request of another provider is answered
404 exactly as an unknown id, so a token cannot learn which ids exist.

The endpoints are plain functions, so FastAPI runs them in its threadpool; the store's
`Database` keeps one driver connection per thread, which suits that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.services.pos_notices import request_state
from kiosk.store.errors import StoreError
from kiosk.store.payment_requests import (
    BadAmount,
    PaymentRequest,
    PaymentRequestError,
    PaymentRequests,
    RequestClosed,
    TerminalBusy,
    UnknownRequest,
)

#: How long a request stays open unless the factory is given another time (seconds).
DEFAULT_TTL_S = 180
#: The largest body accepted (bytes): the bodies are three short fields.
MAX_BODY = 4 * 1024

Clock = Callable[[], datetime]

_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
#: Declares the bearer scheme in the OpenAPI schema (the route class has checked the token).
_bearer = HTTPBearer(auto_error=False, description="the provider's bearer token")


class ApiError(Exception):
    """An answer with an HTTP status and a JSON error code."""

    def __init__(
        self, status: int, error: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})


class ErrorBody(BaseModel):
    """Every error: a stable code for programs and a sentence for people."""

    error: str = Field(description="e.g. unauthorized, bad_amount, terminal_busy, expired")
    detail: str


class PaymentRequestBody(BaseModel):
    """What the POS rings up for a terminal."""

    model_config = ConfigDict(extra="forbid")

    amount_yen: StrictInt = Field(description="whole yen, above zero, at most the kiosk's limit")
    order_ref: StrictStr = Field(description="the POS's own reference of the sale (short code)")
    shop: StrictStr = Field(description="the shop's code (short code)")


class PaymentRequestState(BaseModel):
    """A payment request as the POS sees it."""

    request_id: str
    terminal_id: str
    amount_yen: int
    order_ref: str
    shop: str
    state: Literal["open", "paid", "cancelled", "expired"]
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    receipt_no: str | None

    @classmethod
    def of(cls, request: PaymentRequest) -> PaymentRequestState:
        """The answer body of a stored request."""
        return cls.model_validate(request_state(request))


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 404, 409, 413, 422, 503)
}


class Tokens:
    """Provider ids by the SHA-256 of their bearer tokens, compared in constant time; every
    digest is compared, so the time of an answer says nothing about the tokens."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._digests = [(bytes.fromhex(h), provider) for provider, h in tokens.items()]
        if any(len(d) != hashlib.sha256().digest_size for d, _ in self._digests):
            raise ValueError("a token is known by its SHA-256 (64 hex digits)")
        if len({d for d, _ in self._digests}) != len(self._digests):
            raise ValueError("each provider needs its own token")  # it would speak for both

    def provider(self, authorization: str | None) -> str:
        """The provider the header's bearer token belongs to; else ApiError 401."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "A bearer token is required.", _UNAUTHORIZED)
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for expected, provider in self._digests:
            if hmac.compare_digest(digest, expected):
                found = provider
        if found is None:
            raise ApiError(401, "unauthorized", "The bearer token is not known.", _UNAUTHORIZED)
        return found


class _DecodedRequest(Request):
    """The request with its body already read and decoded by the boundary."""

    def __init__(self, request: Request, body: bytes, value: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._body = body
        self._value = value

    async def body(self) -> bytes:
        return self._body

    async def json(self) -> Any:
        return self._value


def _decode(body: bytes) -> Any:
    """The body's JSON value; ApiError 422 for anything that is not UTF-8 JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deeply
        raise ApiError(422, "bad_request", "The body is not a JSON object.") from e


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _boundary_route(tokens: Tokens) -> type[APIRoute]:
    """A route class that checks the token first, then reads and decodes a bounded body."""

    class BoundaryRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                request.state.provider_id = tokens.provider(request.headers.get("authorization"))
                if request.method != "POST":
                    return await handler(request)
                body = b""
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise ApiError(413, "too_large", f"A body is at most {MAX_BODY} bytes.")
                value = _decode(body) if body else None
                return await handler(_DecodedRequest(request, body, value))

            return guarded

    return BoundaryRoute


def _caller(
    request: Request,
    _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> str:
    """The provider the (already checked) token speaks for."""
    provider: str = request.state.provider_id
    return provider


def _refusal(e: PaymentRequestError) -> ApiError:
    """The store's refusal as an answer."""
    if isinstance(e, UnknownRequest):
        return ApiError(404, "not_found", "No such payment request.")
    if isinstance(e, TerminalBusy):
        return ApiError(409, "terminal_busy", "The terminal has an open payment request.")
    if isinstance(e, RequestClosed):
        return ApiError(409, e.state, f"The payment request is {e.state}.")
    if isinstance(e, BadAmount):
        return ApiError(422, "bad_amount", str(e))
    return ApiError(422, "bad_field", str(e))


def _validation_error(exc: RequestValidationError) -> ApiError:
    """A body pydantic refused: `bad_amount` when the amount is what is wrong."""
    for error in exc.errors():
        loc = error.get("loc", ())
        if loc[-1:] == ("amount_yen",) and error.get("type") != "missing":
            return ApiError(422, "bad_amount", "The amount is a whole number of yen.")
    return ApiError(422, "bad_request", "The body must be {amount_yen, order_ref, shop} only.")


def _install_error_handlers(app: FastAPI) -> None:
    def answer(e: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": e.error, "detail": e.detail}, status_code=e.status, headers=e.headers
        )

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return answer(ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(StoreError)
    async def unavailable(_: Request, exc: StoreError) -> JSONResponse:
        if isinstance(exc, PaymentRequestError):
            return answer(_refusal(exc))
        return answer(ApiError(503, "unavailable", "The store is unavailable; try again."))


def create_pos_app(
    requests: PaymentRequests,
    tokens: Mapping[str, str],
    clock: Clock,
    ttl_s: int = DEFAULT_TTL_S,
) -> FastAPI:
    """The POS API over this store; `tokens` maps provider id -> SHA-256 hex of its bearer
    token; `clock()` is an aware UTC datetime; a request stays open `ttl_s` seconds."""
    known = Tokens(tokens)
    app = FastAPI(
        title="jpki-kiosk POS",
        version="1",
        description="A shop's POS rings up payment requests for kiosk terminals (docs/pos-api.md).",
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(app)
    v1 = APIRouter(route_class=_boundary_route(known), responses=_ERRORS)

    @v1.post(
        "/v1/terminals/{terminal_id}/payment-requests",
        status_code=201,
        response_model=PaymentRequestState,
    )
    def ring_up(
        terminal_id: str, body: PaymentRequestBody, caller: str = Depends(_caller)
    ) -> PaymentRequestState:
        """Open a payment request for the terminal (409 terminal_busy if it has one)."""
        created = requests.create(
            caller, terminal_id, body.amount_yen, body.order_ref, body.shop, ttl_s, clock()
        )
        return PaymentRequestState.of(created)

    @v1.get("/v1/payment-requests/{request_id}", response_model=PaymentRequestState)
    def read(request_id: str, caller: str = Depends(_caller)) -> PaymentRequestState:
        """The request's state: open, paid, cancelled or expired."""
        return PaymentRequestState.of(requests.get(caller, request_id, clock()))

    @v1.post("/v1/payment-requests/{request_id}/cancel", response_model=PaymentRequestState)
    def cancel(request_id: str, caller: str = Depends(_caller)) -> PaymentRequestState:
        """Withdraw an open request (409 expired or paid if it is closed already)."""
        return PaymentRequestState.of(requests.cancel(caller, request_id, clock()))

    app.include_router(v1)
    return app

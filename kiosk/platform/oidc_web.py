"""The OpenID Provider over HTTP: discovery, JWKS, the authorization page and the token
endpoint (FastAPI), for the platform (`kiosk platform serve`) and a one-box kiosk alike.

The authorization endpoint hands the query to `OpenIdProvider.authorize`: a refused request
whose client and redirect URI are known good goes back to the client with the error; any
other refusal is a page that never redirects. An accepted one is a page that shows the
**sign-in code** (ログインコード) the person types at a kiosk, the online service's name, and
how long the code lasts; it asks `/oidc/authorize/wait` every two seconds (a meta refresh: no
script needed) until a kiosk approved it — then the browser is sent on to the client with its
authorization code — or the person cancelled or the time ran out. The waiting page is bound to
the browser that started it by an HttpOnly cookie holding the request's handle; the code and
the handle never appear in a log line.

The token endpoint reads a bounded form body (a repeated parameter is refused, RFC 6749
§3.2) and answers what `OpenIdProvider.token` says, never a 5xx for anything a client sends.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from kiosk.clock import JST
from kiosk.oidc.provider import (
    AUTHORIZATION_PATH,
    BINDING_TTL,
    DISCOVERY_PATH,
    JWKS_PATH,
    TOKEN_PATH,
    AuthorizeRefused,
    OpenIdProvider,
    Redirect,
    Refused,
    Started,
    Status,
    TokenError,
    UnknownAuthorizationRequest,
    Waiting,
)
from kiosk.store.errors import StoreError

log = logging.getLogger(__name__)

WAIT_PATH: Final = AUTHORIZATION_PATH + "/wait"
CANCEL_PATH: Final = AUTHORIZATION_PATH + "/cancel"
#: The cookie that binds the waiting page to the browser that started the sign-in.
COOKIE: Final = "kiosk_oidc_wait"
#: The largest token request body read (bytes): a code, a verifier, an assertion.
MAX_FORM: Final = 16 * 1024
#: Seconds between the waiting page's questions.
REFRESH_S: Final = 2

_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}
_STYLE = (
    "body{font-family:'Noto Sans CJK JP',sans-serif;margin:2em;max-width:36em}"
    ".code{font-size:3em;letter-spacing:.15em;font-weight:bold;margin:.4em 0}"
    "button{font-size:1.1em;padding:.4em 1.2em}"
)


def _code_text(code: str) -> str:
    """The code as shown: 1234 5678."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def _page(title: str, body: str, *, refresh: bool = False, status: int = 200) -> HTMLResponse:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_S};url={WAIT_PATH}">' if refresh else ""
    text = (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers=_PAGE_HEADERS)


def _waiting_page(code: str, client_name: str, expires_at: datetime) -> HTMLResponse:
    name = html.escape(client_name)
    until = expires_at.astimezone(JST).strftime("%H:%M")
    body = (
        f"<h1>{name} にログイン <small>/ Sign in to {name}</small></h1>"
        "<p>マイナンバーカードのキオスクで「ログイン」を選び、カードと暗証番号で本人確認の後、"
        "このログインコードを入力してください。<br>"
        "At a kiosk, choose “Sign in”, prove who you are with your My Number Card and PIN, "
        "then type this sign-in code:</p>"
        f'<p class="code" id="binding-code">{_code_text(code)}</p>'
        f"<p>有効期限 / valid until {until} (JST)。このページは自動で進みます / "
        "this page moves on by itself.</p>"
        f'<form method="post" action="{CANCEL_PATH}"><button id="cancel">やめる / Cancel'
        "</button></form>"
    )
    return _page(f"{client_name}: ログインコード", body, refresh=True)


def _refused_page(error: str, description: str) -> HTMLResponse:
    body = (
        "<h1>ログインを始められません <small>/ The sign-in cannot start</small></h1>"
        f'<p id="error">{html.escape(error)}: {html.escape(description)}</p>'
        "<p>ログインしようとしたサービスに戻って、最初からやり直してください。 / "
        "Go back to the service you were signing in to and start again.</p>"
    )
    return _page("ログインできません / Cannot sign in", body, status=400)


def _gone_page() -> HTMLResponse:
    body = (
        "<h1>このログインは終わっています <small>/ This sign-in has ended</small></h1>"
        "<p>ログインしようとしたサービスに戻って、最初からやり直してください。 / "
        "Go back to the service you were signing in to and start again.</p>"
    )
    return _page("ログインは終わりました / Sign-in ended", body, status=400)


def _started(started: Started, secure: bool) -> HTMLResponse:
    """The waiting page of a request just accepted, with the cookie that binds it here."""
    page = _waiting_page(started.binding_code, started.client_name, started.expires_at)
    page.set_cookie(
        COOKIE,
        started.request_id,
        max_age=int(BINDING_TTL.total_seconds()) + 60,
        path=AUTHORIZATION_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return page


def _unavailable_page() -> HTMLResponse:
    body = (
        "<h1>ただいまログインできません <small>/ Sign-in is unavailable right now</small></h1>"
        "<p>しばらくしてから、ログインしようとしたサービスでやり直してください。 / "
        "Please try again in a little while from the service you were signing in to.</p>"
    )
    page = _page("ログインできません / Cannot sign in", body, status=503)
    page.headers["Retry-After"] = "30"
    return page


def _redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers=_PAGE_HEADERS)
    response.delete_cookie(COOKIE, path=AUTHORIZATION_PATH)
    return response


def oidc_router(provider: OpenIdProvider) -> APIRouter:
    """The provider's HTTP endpoints (mount at the issuer's root)."""
    router = APIRouter(include_in_schema=False)
    secure_cookie = provider.issuer.startswith("https://")

    @router.get(DISCOVERY_PATH)
    def discovery() -> JSONResponse:
        return JSONResponse(provider.discovery(), headers={"Cache-Control": "max-age=300"})

    @router.get(JWKS_PATH)
    def jwks() -> JSONResponse:
        return JSONResponse(provider.jwks(), headers={"Cache-Control": "max-age=60"})

    @router.get(AUTHORIZATION_PATH)
    def authorize(request: Request) -> Response:
        try:
            started = provider.authorize(request.query_params.multi_items())
        except StoreError:
            return _unavailable_page()
        if isinstance(started, AuthorizeRefused):
            if started.redirect_url is not None:
                return RedirectResponse(started.redirect_url, 303, headers=_PAGE_HEADERS)
            return _refused_page(started.error, started.description)
        return _started(started, secure_cookie)

    def _next(status: Status) -> Response:
        if isinstance(status, Waiting):
            return _waiting_page(status.binding_code, status.client_name, status.expires_at)
        if isinstance(status, Redirect | Refused):
            return _redirect(status.url)
        return _gone_page()  # pragma: no cover - the union has three members

    @router.get(WAIT_PATH)
    def wait(request: Request) -> Response:
        try:
            return _next(provider.status(request.cookies.get(COOKIE, "")))
        except UnknownAuthorizationRequest:
            return _gone_page()
        except StoreError:
            return _unavailable_page()

    @router.post(CANCEL_PATH)
    def cancel(request: Request) -> Response:
        try:
            return _next(provider.cancel(request.cookies.get(COOKIE, "")))
        except UnknownAuthorizationRequest:
            return _gone_page()
        except StoreError:
            return _unavailable_page()

    @router.post(TOKEN_PATH)
    async def token(request: Request) -> JSONResponse:
        form = await _form(request)
        if form is None:
            return _token_error(400, "invalid_request", "The body is not a form of single values.")
        answer = provider.token(form, request.headers.get("authorization"))
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        headers.update(dict(answer.headers))
        if isinstance(answer, TokenError):
            return JSONResponse(answer.body(), status_code=answer.status, headers=headers)
        return JSONResponse(dict(answer.body), headers=headers)

    return router


def _token_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def _form(request: Request) -> Mapping[str, str] | None:
    """The token request's form, each parameter once; None for anything else."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != (
        "application/x-www-form-urlencoded"
    ):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


def create_oidc_app(provider: OpenIdProvider) -> FastAPI:
    """The provider alone as an app (a one-box kiosk serves it on `[oidc] listen`)."""
    app = FastAPI(title="jpki-kiosk OpenID Provider", docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.include_router(oidc_router(provider))
    return app

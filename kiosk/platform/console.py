"""The operator console's pages on the platform, under /console (server-rendered, Jinja2 with
autoescaping; no script, so the Content-Security-Policy allows none).

What the console does is kiosk.platform.console_actions; this module is its HTTP: the session
cookie, CSRF, the forms and the pages. A session lives in the store (kiosk.store.operators), so
every worker process knows it: the cookie holds a random id (HttpOnly, SameSite=Strict, Secure
over https, path /console), the store its SHA-256, with an idle and an absolute expiry. Every
POST carries the session's CSRF token in a hidden field, compared in constant time; without it,
with another session's, or in a body that cannot be read, the answer is 403 and nothing
changes. The login form carries a token of its own, bound to a cookie of the login page, so a
login cannot be forged from another site either.

The pages: the overview (the CRLs in force with their age, stale ones marked; verdicts by
reason per hour over the last 24 hours; the federation's peers and their health), the
providers, the terminals' credentials (issue — the token is shown once, on the answer's page,
never again — rotate and revoke) and the audit search (provider, terminal, time range; paged).
Every field a browser sends is untrusted: a bad date, an unknown id or an over-long field is a
message on the page (400), never a 5xx; store trouble is a 503 page. Pages are never cached or
framed, and the token page is not kept by the browser (no-store).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from kiosk.platform.console_actions import (
    LOCKOUT,
    MAX_FIELD,
    SEARCH_FIELDS,
    Clock,
    Console,
    ConsoleBusy,
    ConsoleSetup,
    FormError,
    check_lengths,
    console_setup,
    one,
    same_token,
)
from kiosk.store.errors import StoreError
from kiosk.store.operators import OperatorSession

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "LOCKOUT",
    "LOGIN_COOKIE",
    "PREFIX",
    "ConsoleSetup",
    "console_router",
    "console_setup",
]

log = logging.getLogger(__name__)

PREFIX: Final = "/console"
#: The session cookie (path /console) and the login page's own cookie (path /console/login).
COOKIE: Final = "kiosk_console"
LOGIN_COOKIE: Final = "kiosk_console_login"
#: The hidden field every POST carries.
CSRF_FIELD: Final = "csrf"
#: The largest form body read (bytes).
MAX_FORM: Final = 8 * 1024

_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}
_P = ParamSpec("_P")
_T = TypeVar("_T")

_STYLE: Final = (
    "body{font-family:'Noto Sans CJK JP',sans-serif;margin:0;color:#1b1b1b}"
    "header{background:#1f3a5f;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;"
    "align-items:center}header a{color:#fff}header form{margin-left:auto}"
    "main{padding:1em 1.2em;max-width:72em}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #bbb;"
    "padding:.25em .5em;text-align:left;font-size:.92em}th{background:#eef}"
    ".stale{background:#fdd;font-weight:bold}.ok{color:#060}.bad{color:#a00}"
    ".message{border:1px solid #a00;background:#fee;padding:.5em 1em}"
    ".notice{border:1px solid #060;background:#efe;padding:.5em 1em}"
    ".token{font-family:monospace;font-size:1.2em;background:#ffd;padding:.4em;"
    "word-break:break-all}"
    "label{margin-right:1em}input,button,select{font-size:1em}"
)


async def read_form(request: Request) -> dict[str, list[str]]:
    """A urlencoded form of at most MAX_FORM bytes, each field's values in order, or
    FormError (`check_lengths` checks the values once the CSRF token has been checked)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError("The form must be sent as a web form.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError("The form is too long.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError) as e:
        raise FormError("The form could not be read.") from e
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


@dataclass(frozen=True, slots=True)
class _Post:
    """A POST that passed the checks: its session (and the cookie's id) and its form."""

    session_id: str
    session: OperatorSession
    form: dict[str, list[str]]


#: What a POST does once checked (run in the thread pool); FormError for a refused field.
_Action = Callable[[Request, _Post], Response]


class _Pages:
    """The console's pages over one `Console`: rendering, the session, the checks of a POST."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.templates = Environment(
            loader=PackageLoader("kiosk.platform", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- building blocks ------------------------------------------------------------------

    def render(
        self, name: str, session: OperatorSession | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        text = self.templates.get_template(f"console/{name}.html").render(
            prefix=PREFIX, session=session, csrf_field=CSRF_FIELD, **context
        )
        return HTMLResponse(text, status_code=status, headers=_HEADERS)

    def message(self, session: OperatorSession | None, status: int, text: str) -> HTMLResponse:
        return self.render("message", session, status, message=text)

    def unavailable(self) -> HTMLResponse:
        page = self.message(None, 503, "The console's store is unavailable; try again.")
        page.headers["Retry-After"] = "30"
        return page

    def session_of(self, request: Request) -> tuple[str, OperatorSession] | None:
        """The request's live session (with the cookie's id), or None."""
        session_id = request.cookies.get(COOKIE, "")
        found = self.console.sessions.find(session_id, self.console.clock()) if session_id else None
        return None if found is None else (session_id, found)

    def signed_in(self, request: Request, show: Callable[[OperatorSession], Response]) -> Response:
        """A GET page for a signed-in operator; else the way to the login page."""
        try:
            found = self.session_of(request)
            return _to_login() if found is None else show(found[1])
        except StoreError:
            return self.unavailable()

    async def acting(self, request: Request, act: _Action) -> Response:
        """A POST: checked (`_checked`), then `act` in the thread pool; a refused field is
        the terminals page with the message, store trouble the 503 page."""
        try:
            checked = await self._checked(request)
            if isinstance(checked, Response):
                return checked
            try:
                return await _in_thread(act, request, checked)
            except FormError as e:
                return await _in_thread(self.terminals, checked.session, 400, error=str(e))
        except StoreError:
            return self.unavailable()

    async def _checked(self, request: Request) -> _Post | Response:
        """The POST's session and form, or the answer that refuses it: no session, to the
        login page; no CSRF token, another one or a form that cannot be read, 403; an
        over-long field, 400. Nothing has been done in either case."""
        found = await _in_thread(self.session_of, request)
        if found is None:
            return _to_login()
        session_id, session = found
        try:
            form = await read_form(request)
        except FormError:
            form = {}
        given = form.get(CSRF_FIELD, [])
        if len(given) != 1 or not same_token(given[0], session.csrf_token):
            log.warning("console POST refused: CSRF token missing or wrong")
            return self.message(session, 403, "The form's token is missing or wrong.")
        try:
            check_lengths(form)
        except FormError as e:
            return self.message(session, 400, str(e))
        return _Post(session_id, session, form)

    # -- login ----------------------------------------------------------------------------

    def login_form(self, request: Request, error: str | None, status: int) -> HTMLResponse:
        """The login page with a fresh form token, bound to a cookie of the login page."""
        token = secrets.token_urlsafe(32)
        page = self.render("login", None, status, error=error, login_token=token)
        page.set_cookie(
            LOGIN_COOKIE,
            token,
            path=f"{PREFIX}/login",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return page

    async def login(self, request: Request) -> Response:
        """Check the login form; a session cookie and the overview, or the form again with
        why not (401 wrong, 429 locked with Retry-After, 503 busy)."""
        try:
            form = await read_form(request)
            check_lengths(form)
            name, password = one(form, "name").strip(), one(form, "password")
            given = one(form, CSRF_FIELD)
        except FormError as e:
            return self.login_form(request, str(e), 400)
        if not same_token(given, request.cookies.get(LOGIN_COOKIE, "")):
            return self.message(None, 403, "The login form has expired; load it again.")
        try:
            outcome = await _in_thread(self.console.sign_in, name, password)
        except ConsoleBusy:
            return self.login_form(request, "The console is busy; try again.", 503)
        except StoreError:
            return self.unavailable()
        if outcome is None:
            return self.login_form(request, "Wrong name or password.", 401)
        if isinstance(outcome, int):
            locked = self.login_form(
                request, f"Too many wrong passwords: try again in {outcome} s.", 429
            )
            locked.headers["Retry-After"] = str(outcome)
            return locked
        opened = RedirectResponse(f"{PREFIX}/", status_code=303, headers=_HEADERS)
        opened.set_cookie(
            COOKIE,
            outcome[0],
            path=PREFIX,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        opened.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
        return opened

    def logout(self, _request: Request, post: _Post) -> Response:
        self.console.sign_out(post.session_id, post.session)
        answer = _to_login()
        answer.delete_cookie(COOKIE, path=PREFIX)
        return answer

    # -- terminals ------------------------------------------------------------------------

    def terminals(
        self,
        session: OperatorSession,
        status: int = 200,
        *,
        error: str | None = None,
        notice: str | None = None,
    ) -> HTMLResponse:
        credentials = self.console.credentials.all()
        return self.render(
            "terminals",
            session,
            status,
            credentials=sorted(credentials, key=lambda c: (c.terminal_id, c.created_at)),
            providers=self.console.providers,
            error=error,
            notice=notice,
        )

    def issue(self, _request: Request, post: _Post) -> Response:
        terminal_id = one(post.form, "terminal_id").strip()
        chosen = post.form.get("provider", [])
        issued, token = self.console.issue(post.session.operator, terminal_id, chosen)
        return self.render("token", post.session, credential=issued, token=token)

    def rotate(self, request: Request, post: _Post) -> Response:
        credential_id = one(post.form, "credential_id").strip()
        rotated, token = self.console.rotate(post.session.operator, credential_id)
        _forget(request, credential_id)
        return self.render("token", post.session, credential=rotated, token=token)

    def revoke(self, request: Request, post: _Post) -> Response:
        credential_id = one(post.form, "credential_id").strip()
        revoked = self.console.revoke(post.session.operator, credential_id)
        _forget(request, credential_id)
        notice = f"Revoked {revoked.credential_id} of terminal {revoked.terminal_id}."
        return self.terminals(post.session, notice=notice)

    # -- the audit search -----------------------------------------------------------------

    def audit(self, session: OperatorSession, query: Mapping[str, str]) -> HTMLResponse:
        try:
            result, shown = self.console.search(query)
        except FormError as e:
            shown = {k: query.get(k, "")[:MAX_FIELD] for k in SEARCH_FIELDS}
            return self.render(
                "audit", session, 400, result=None, shown=shown, error=str(e),
                next_url=None, previous_url=None,
            )  # fmt: skip
        return self.render(
            "audit",
            session,
            result=result,
            shown=shown,
            error=None,
            next_url=_page_url(shown, result.page + 2) if result.has_more else None,
            previous_url=_page_url(shown, result.page) if result.page > 0 else None,
        )


def console_router(setup: ConsoleSetup, *, providers: Iterable[str], clock: Clock) -> APIRouter:
    """The console's pages under /console (mount on the platform's app); `providers`: the
    ones this platform knows besides its peers' (its tokens' keys)."""
    pages = _Pages(Console(setup, providers=providers, clock=clock))
    console = pages.console
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("/style.css")
    def style() -> Response:
        return Response(_STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @router.get("/login")
    def login_page(request: Request) -> Response:
        return pages.login_form(request, None, 200)

    @router.post("/login")
    async def login(request: Request) -> Response:
        return await pages.login(request)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        return await pages.acting(request, pages.logout)

    @router.get("/")
    def overview(request: Request) -> Response:
        return pages.signed_in(request, lambda s: pages.render("overview", s, **console.overview()))

    @router.get("/providers")
    def providers_page(request: Request) -> Response:
        return pages.signed_in(
            request, lambda s: pages.render("providers", s, providers=console.provider_rows())
        )

    @router.get("/terminals")
    def terminals(request: Request) -> Response:
        return pages.signed_in(request, pages.terminals)

    @router.post("/terminals/issue")
    async def issue(request: Request) -> Response:
        return await pages.acting(request, pages.issue)

    @router.post("/terminals/rotate")
    async def rotate(request: Request) -> Response:
        return await pages.acting(request, pages.rotate)

    @router.post("/terminals/revoke")
    async def revoke(request: Request) -> Response:
        return await pages.acting(request, pages.revoke)

    @router.get("/audit")
    def audit(request: Request) -> Response:
        query = {k: v for k, v in request.query_params.multi_items() if k in SEARCH_FIELDS}
        return pages.signed_in(request, lambda s: pages.audit(s, query))

    return router


def _to_login() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=_HEADERS)


def _page_url(shown: Mapping[str, str], page: int) -> str:
    """The audit search's URL for another page of the same query."""
    fields = {k: v for k, v in shown.items() if k != "page" and v}
    return f"{PREFIX}/audit?{urlencode({**fields, 'page': str(page)})}"


def _forget(request: Request, credential_id: str) -> None:
    """Drop what this process's bearer check cached of the credential (`app.state.callers`,
    kiosk.platform.auth), so the revoked or rotated token is refused here at once; other
    worker processes notice within their cache's few seconds."""
    forget = getattr(getattr(request.app.state, "callers", None), "forget", None)
    if callable(forget):
        forget(credential_id)


async def _in_thread(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run blocking work (the store, the KDF) off the event loop, in the thread pool."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))

"""The operator console: server-rendered pages on the platform, under /console.

An operator signs in with a name and a password (`kiosk platform operator add`); the password
is checked against its scrypt key (`kiosk.flow.staff.Credential`: memory-hard, slow by design,
at most `CHECKS_AT_ONCE` at a time so a flood of logins cannot take every core), and an
unknown name costs a decoy check so timing does not tell which names exist. Wrong passwords
are counted per operator in the store; after `LOCKOUT.tries` in a row the login locks, longer
each time. Every sign-in, wrong try, lockout and sign-out is in the audit log, with the
operator's name as its actor.

A session lives in the store (kiosk.store.operators), so every worker process knows it: the
cookie holds a random id (HttpOnly, SameSite=Strict, Secure over https), the store its SHA-256,
with an idle and an absolute expiry. Every POST carries the session's CSRF token in a hidden
field, compared in constant time; without it, or with another, the answer is 403 and nothing
changes. The login form carries its own token, bound to a cookie of the login page (a login
cannot be forged from another site either).

The pages: the overview (the CRL in force per issuer with its age, stale ones marked; verdicts
by reason per hour over the last 24 hours; the federation's peers and whether each answers its
health check, asked all at once with a short timeout: kiosk.platform.relay.peer_health), the
providers, the terminals' credentials (issue — the token is shown once, on the answer's page,
never again — rotate and revoke) and the audit search (provider, terminal, time range; paged).
Every field a browser sends is untrusted: a bad date, an unknown id or an over-long field is a
message on the page, never a 5xx; store trouble is a 503 page.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from kiosk.flow.staff import Credential, CredentialError, LockoutPolicy
from kiosk.platform.relay import PeerHealth, peer_health
from kiosk.store.audit import AuditLog
from kiosk.store.credentials import TerminalCredential, TerminalCredentials
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.operators import (
    OPERATOR_NAME,
    Operator,
    Operators,
    OperatorSession,
    OperatorSessions,
)
from kiosk.store.reports import (
    MAX_PAGE,
    MAX_RANGE,
    AuditPage,
    AuditQuery,
    BadQuery,
    HourlyCount,
    Reports,
)
from kiosk.store.revocation import SqlRevocationIndex

if TYPE_CHECKING:
    from kiosk.config import Config, PeerConfig

log = logging.getLogger(__name__)

PREFIX: Final = "/console"
#: The session cookie (path /console) and the login page's own cookie (path /console/login).
COOKIE: Final = "kiosk_console"
LOGIN_COOKIE: Final = "kiosk_console_login"
#: The hidden field every POST carries.
CSRF_FIELD: Final = "csrf"
#: After 5 wrong passwords in a row the login locks 60 s, doubling up to 15 minutes.
LOCKOUT: Final = LockoutPolicy(tries=5, first_s=60, cap_s=900)
#: Password checks run at once (each takes 128 MiB and a few tenths of a second of a core).
CHECKS_AT_ONCE: Final = 2
#: Seconds a login waits for a free check before the page says "busy".
CHECK_WAIT_S: Final = 10.0
#: The largest form body read, and the longest field value accepted.
MAX_FORM: Final = 8 * 1024
MAX_FIELD: Final = 200
#: The longest password accepted (longer ones are refused before any KDF runs).
MAX_PASSWORD: Final = 1024
#: The audit log's provider and terminal for the console's own events.
CONSOLE_TERMINAL: Final = "console"
#: Times in forms: what a datetime-local input sends, with or without seconds (UTC).
TIME_FORMATS: Final = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_IDENTIFIER_HELP: Final = "1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)"

_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}

Clock = Callable[[], datetime]
_P = ParamSpec("_P")
_T = TypeVar("_T")


#: Each peer platform's health (kiosk.platform.relay.peer_health's signature).
HealthCheck = Callable[[Mapping[str, "PeerConfig"]], list[PeerHealth]]


@dataclass(frozen=True, slots=True)
class ConsoleSetup:
    """What the console needs beyond what the platform's app already has: the store, the
    peer platforms (`[platform_peers]`) and how their health is asked, the CRL grace the
    verifier allows, the platform's id (the provider of the console's own audit rows) and the
    sessions' lifetimes."""

    db: Database
    peers: Mapping[str, PeerConfig] = field(default_factory=dict)
    health: HealthCheck = peer_health
    crl_grace_s: int = 0
    platform_id: str = "platform"
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class CrlRow:
    """One issuer's CRL as the overview shows it."""

    issuer_key_id: str
    this_update: datetime
    next_update: datetime | None
    entries: int
    age: str
    stale: bool


@dataclass(frozen=True, slots=True)
class VerdictTable:
    """Verdict counts as a table: one row per hour, one column per reason."""

    reasons: tuple[str, ...]
    rows: tuple[tuple[datetime, tuple[int, ...], int], ...]
    totals: tuple[int, ...]
    total: int


class FormError(Exception):
    """A form or query the console will not act on; the message is shown on the page."""


# --- small pure helpers -------------------------------------------------------------------


def parse_time(text: str, what: str) -> datetime:
    """A time typed in a form (UTC), or FormError saying what is wrong with it."""
    for pattern in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise FormError(f"The {what} is not a time of the form YYYY-MM-DDTHH:MM (UTC).")


def age_text(delta: timedelta) -> str:
    """A duration as an operator reads it: 3 d 4 h, 5 h 2 min, 40 s."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in the future"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def verdict_table(counts: Sequence[HourlyCount], since: datetime, hours: int) -> VerdictTable:
    """The counts laid out by hour (every hour from `since`, empty ones too) and reason."""
    reasons = tuple(sorted({c.reason for c in counts}))
    cells: dict[tuple[datetime, str], int] = {(c.hour, c.reason): c.count for c in counts}
    rows = []
    for step in range(hours):
        hour = since + timedelta(hours=step)
        values = tuple(cells.get((hour, reason), 0) for reason in reasons)
        rows.append((hour, values, sum(values)))
    totals = tuple(sum(row[1][i] for row in rows) for i in range(len(reasons)))
    return VerdictTable(reasons, tuple(rows), totals, sum(totals))


def crl_rows(index: SqlRevocationIndex, now: datetime, grace_s: int) -> list[CrlRow]:
    """The CRL in force per issuer, marked stale once past nextUpdate + grace (or without a
    nextUpdate), as the verifier refuses it (`crl_stale`)."""
    grace = timedelta(seconds=grace_s)
    return [
        CrlRow(
            info.issuer_key_id,
            info.this_update,
            info.next_update,
            info.entries,
            age_text(now - info.this_update),
            info.next_update is None or now > info.next_update + grace,
        )
        for info in index.all_info()
    ]


async def read_form(request: Request) -> dict[str, list[str]]:
    """A urlencoded form of at most MAX_FORM bytes, or FormError (`check_lengths` checks its
    values once the CSRF token has been checked)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError("The form must be sent as a web form.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormError("The form is too long.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64
        )
    except (UnicodeDecodeError, ValueError) as e:
        raise FormError("The form could not be read.") from e
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def check_lengths(form: Mapping[str, list[str]]) -> None:
    """FormError naming the first field longer than MAX_FIELD (a password: MAX_PASSWORD)."""
    for name, values in form.items():
        limit = MAX_PASSWORD if name == "password" else MAX_FIELD
        if any(len(value) > limit for value in values):
            raise FormError(f"The field '{name[:32]}' is too long (at most {limit} characters).")


def one(form: Mapping[str, list[str]], name: str) -> str:
    """The single value of a field ('' when absent); FormError when it is repeated."""
    values = form.get(name, [])
    if len(values) > 1:
        raise FormError(f"The field '{name}' is given more than once.")
    return values[0] if values else ""


def same_token(given: str, expected: str) -> bool:
    """Whether a CSRF token matches, compared in constant time (an empty one never does)."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


# --- the console --------------------------------------------------------------------------


class Console:
    """The console's behaviour over the store, apart from HTTP (the router below is thin)."""

    def __init__(self, setup: ConsoleSetup, *, providers: Iterable[str], clock: Clock) -> None:
        self.setup = setup
        self.providers = tuple(sorted(set(providers) | set(setup.peers)))
        self.clock = clock
        self.operators = Operators(setup.db)
        self.sessions = OperatorSessions(setup.db, idle=setup.idle, lifetime=setup.lifetime)
        self.credentials = TerminalCredentials(setup.db)
        self.reports = Reports(setup.db)
        self.crls = SqlRevocationIndex(setup.db)
        self.audit = AuditLog(setup.db)
        self._checks = threading.BoundedSemaphore(CHECKS_AT_ONCE)
        self._decoy: Credential | None = None

    # -- sign-in ------------------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> tuple[str, OperatorSession] | int | None:
        """A session (its cookie id and itself) when the password is right; the seconds left
        when the operator's login is locked; None when it is wrong. Audited either way."""
        now = self.clock()
        operator = self.operators.get(name)
        if operator is not None and operator.locked_until and now < operator.locked_until:
            self._record("console.login", False, "locked", operator.name)
            return max(1, int((operator.locked_until - now).total_seconds() + 0.999))
        if not self._checks.acquire(timeout=CHECK_WAIT_S):
            raise ConsoleBusy
        try:
            right = self._matches(operator, password)
        finally:
            self._checks.release()
        if operator is None:
            self._record("console.login", False, "unknown_operator", None)
            return None
        if not right:
            until = self.operators.failed(
                operator.name, now, tries=LOCKOUT.tries, wait_s=LOCKOUT.wait_s
            )
            self._record("console.login", False, "wrong_password", operator.name)
            if until is not None:
                self._record("console.lockout", False, None, operator.name)
                return max(1, int((until - now).total_seconds()))
            return None
        self.operators.succeeded(operator.name, now)
        self._record("console.login", True, None, operator.name)
        return self.sessions.open(operator.name, now)

    def _matches(self, operator: Operator | None, password: str) -> bool:
        """Check the password against the operator's key, or a decoy's of the same cost."""
        credential: Credential | None = None
        if operator is not None:
            try:
                credential = Credential.parse(operator.password)
            except CredentialError:
                log.warning("the console operator's stored key is unreadable")
        if credential is None:
            if self._decoy is None:
                self._decoy = Credential.make(secrets.token_urlsafe(16))
            credential = self._decoy
        return credential.matches(password) and operator is not None

    def sign_out(self, session_id: str, session: OperatorSession) -> None:
        """End the session; audited."""
        self.sessions.close(session_id)
        self._record("console.logout", True, None, session.operator)

    def _record(self, action: str, ok: bool, reason: str | None, actor: str | None) -> None:
        self.audit.append(
            at=self.clock(),
            provider_id=self.setup.platform_id,
            terminal_id=CONSOLE_TERMINAL,
            action=action,
            ok=ok,
            reason=reason,
            actor=actor,
        )

    # -- terminals ------------------------------------------------------------------------

    def issue(
        self, operator: str, terminal_id: str, providers: Sequence[str]
    ) -> tuple[TerminalCredential, str]:
        """A new credential and its token; FormError for a field the console refuses."""
        if not OPERATOR_NAME.fullmatch(terminal_id):
            raise FormError(f"A terminal id is {_IDENTIFIER_HELP}.")
        if not providers:
            raise FormError("Choose at least one provider the terminal acts for.")
        unknown = [p for p in providers if p not in self.providers]
        if unknown:
            raise FormError("Choose providers from the list only.")
        if len(set(providers)) != len(providers):
            raise FormError("Each provider may be chosen once.")
        issued, token = self.credentials.issue(terminal_id, providers, self.clock())
        self._record_credential("console.credential_issue", operator, issued)
        return issued, token

    def rotate(self, operator: str, credential_id: str) -> tuple[TerminalCredential, str]:
        """A new token for the credential; FormError when there is no such live credential."""
        self._credential(credential_id)
        try:
            rotated, token = self.credentials.rotate(credential_id, self.clock())
        except StoreError as e:
            if type(e) is StoreError:
                raise
            raise FormError("That credential is revoked or unknown; nothing was changed.") from e
        self._record_credential("console.credential_rotate", operator, rotated)
        return rotated, token

    def revoke(self, operator: str, credential_id: str) -> TerminalCredential:
        """Revoke the credential; FormError when it is unknown or revoked already."""
        credential = self._credential(credential_id)
        if not self.credentials.revoke(credential_id, self.clock()):
            raise FormError("That credential is revoked already; nothing was changed.")
        self._record_credential("console.credential_revoke", operator, credential)
        return credential

    def _credential(self, credential_id: str) -> TerminalCredential:
        if not credential_id or len(credential_id) > 64:
            raise FormError("No credential was named.")
        for credential in self.credentials.all():
            if credential.credential_id == credential_id:
                return credential
        raise FormError("There is no credential with that id.")

    def _record_credential(self, action: str, operator: str, tc: TerminalCredential) -> None:
        """One audit row per provider the credential acts for (found searching either)."""
        for provider_id in tc.providers:
            self.audit.append(
                at=self.clock(),
                provider_id=provider_id,
                terminal_id=tc.terminal_id,
                action=action,
                ok=True,
                actor=operator,
            )

    # -- reads ----------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        """What the overview page shows."""
        now = self.clock()
        hour = now.replace(minute=0, second=0, microsecond=0)
        since = hour - timedelta(hours=23)
        counts = self.reports.verdicts_by_hour(since, now + timedelta(microseconds=1))
        return {
            "now": now,
            "crls": crl_rows(self.crls, now, self.setup.crl_grace_s),
            "verdicts": verdict_table(counts, since, 24),
            "peers": self.setup.health(self.setup.peers),
        }

    def provider_rows(self) -> list[dict[str, Any]]:
        """Each provider: verified here or at which peer, and its terminals' credentials."""
        credentials = self.credentials.all()
        return [
            {
                "provider_id": provider,
                "where": peer.url if (peer := self.setup.peers.get(provider)) else "this platform",
                "active": sum(1 for c in credentials if c.active and provider in c.providers),
                "terminals": len({c.terminal_id for c in credentials if provider in c.providers}),
            }
            for provider in self.providers
        ]

    def search(self, query: Mapping[str, str]) -> tuple[AuditPage, dict[str, str]]:
        """The audit search's page for the query's fields (none: the last 24 hours, page 1)
        and the fields as the form shows them again; FormError for a field it refuses."""
        now = self.clock()
        shown = {
            "provider": query.get("provider", "").strip(),
            "terminal": query.get("terminal", "").strip(),
            "since": query.get("since", "").strip()
            or (now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
            "until": query.get("until", "").strip()
            or (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "page": query.get("page", "1").strip() or "1",
        }
        if any(len(value) > MAX_FIELD for value in shown.values()):
            raise FormError("A field is too long.")
        if not shown["page"].isdigit() or not 1 <= int(shown["page"]) <= MAX_PAGE + 1:
            raise FormError(f"The page is a number from 1 to {MAX_PAGE + 1}.")
        since = parse_time(shown["since"], "start")
        until = parse_time(shown["until"], "end")
        if until - since > MAX_RANGE:
            raise FormError(f"A search spans at most {MAX_RANGE.days} days.")
        for what in ("provider", "terminal"):
            if shown[what] and OPERATOR_NAME.fullmatch(shown[what]) is None:
                raise FormError(f"A {what} id is {_IDENTIFIER_HELP}.")
        audit_query = AuditQuery(
            since,
            until,
            shown["provider"] or None,
            shown["terminal"] or None,
            int(shown["page"]) - 1,
        )
        try:
            return self.reports.search(audit_query), shown
        except BadQuery as e:
            raise FormError(f"{str(e)[:1].upper()}{str(e)[1:]}.") from e


class ConsoleBusy(Exception):
    """Too many password checks are running; the login page says to try again."""


# --- HTTP ---------------------------------------------------------------------------------


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


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("kiosk.platform", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def console_router(setup: ConsoleSetup, *, providers: Iterable[str], clock: Clock) -> APIRouter:
    """The console's pages under /console (mount on the platform's app); `providers`: the
    ones this platform knows besides its peers' (its tokens' keys)."""
    console = Console(setup, providers=providers, clock=clock)
    templates = _environment()
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def page(
        name: str,
        request: Request,
        session: OperatorSession | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        text = templates.get_template(name).render(
            prefix=PREFIX,
            session=session,
            csrf_field=CSRF_FIELD,
            **context,
        )
        return HTMLResponse(text, status_code=status, headers=_HEADERS)

    def message(
        request: Request, session: OperatorSession | None, status: int, text: str
    ) -> HTMLResponse:
        return page("console/message.html", request, session, status, message=text)

    def current(request: Request) -> tuple[str, OperatorSession] | None:
        session_id = request.cookies.get(COOKIE, "")
        found = console.sessions.find(session_id, clock()) if session_id else None
        return None if found is None else (session_id, found)

    def to_login() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=_HEADERS)

    def unavailable(request: Request) -> HTMLResponse:
        page_ = message(request, None, 503, "The console's store is unavailable; try again.")
        page_.headers["Retry-After"] = "30"
        return page_

    @router.get("/style.css")
    def style() -> Response:
        return Response(_STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @router.get("/login")
    def login_page(request: Request) -> Response:
        return _login_form(request, page, None, 200)

    @router.post("/login")
    async def login(request: Request) -> Response:
        try:
            form = await read_form(request)
            check_lengths(form)
            name, password = one(form, "name").strip(), one(form, "password")
            given = one(form, CSRF_FIELD)
        except FormError as e:
            return _login_form(request, page, str(e), 400)
        if not same_token(given, request.cookies.get(LOGIN_COOKIE, "")):
            return message(request, None, 403, "The login form has expired; load it again.")
        try:
            outcome = await _in_thread(console.sign_in, name, password)
        except ConsoleBusy:
            return _login_form(request, page, "The console is busy; try again.", 503)
        except StoreError:
            return unavailable(request)
        if outcome is None:
            return _login_form(request, page, "Wrong name or password.", 401)
        if isinstance(outcome, int):
            answer = _login_form(
                request, page, f"Too many wrong passwords: try again in {outcome} s.", 429
            )
            answer.headers["Retry-After"] = str(outcome)
            return answer
        session_id, _session = outcome
        opened = RedirectResponse(f"{PREFIX}/", status_code=303, headers=_HEADERS)
        opened.set_cookie(
            COOKIE,
            session_id,
            path=PREFIX,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        opened.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
        return opened

    async def signed_in_post(
        request: Request,
    ) -> tuple[str, OperatorSession, dict[str, list[str]]] | Response:
        """The session and the form of a POST, or the answer that refuses it (no session:
        to the login page; a form without the session's CSRF token, or unreadable: 403)."""
        found = await _in_thread(current, request)
        if found is None:
            return to_login()
        session_id, session = found
        try:
            form = await read_form(request)
        except FormError:
            form = {}
        given = form.get(CSRF_FIELD, [])
        if len(given) != 1 or not same_token(given[0], session.csrf_token):
            log.warning("console POST refused: CSRF token missing or wrong")
            return message(request, session, 403, "The form's token is missing or wrong.")
        try:
            check_lengths(form)
        except FormError as e:
            return message(request, session, 400, str(e))
        return session_id, session, form

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            checked = await signed_in_post(request)
            if isinstance(checked, Response):
                return checked
            session_id, session, _form = checked
            await _in_thread(console.sign_out, session_id, session)
        except StoreError:
            return unavailable(request)
        answer = to_login()
        answer.delete_cookie(COOKIE, path=PREFIX)
        return answer

    @router.get("/")
    def overview(request: Request) -> Response:
        try:
            found = current(request)
            if found is None:
                return to_login()
            return page("console/overview.html", request, found[1], **console.overview())
        except StoreError:
            return unavailable(request)

    @router.get("/providers")
    def providers_page(request: Request) -> Response:
        try:
            found = current(request)
            if found is None:
                return to_login()
            rows = console.provider_rows()
            return page("console/providers.html", request, found[1], providers=rows)
        except StoreError:
            return unavailable(request)

    def terminals(
        request: Request,
        session: OperatorSession,
        *,
        status: int = 200,
        error: str | None = None,
        notice: str | None = None,
    ) -> HTMLResponse:
        credentials = sorted(console.credentials.all(), key=lambda c: (c.terminal_id, c.created_at))
        return page(
            "console/terminals.html",
            request,
            session,
            status,
            credentials=credentials,
            providers=console.providers,
            error=error,
            notice=notice,
        )

    @router.get("/terminals")
    def terminals_page(request: Request) -> Response:
        try:
            found = current(request)
            if found is None:
                return to_login()
            return terminals(request, found[1])
        except StoreError:
            return unavailable(request)

    @router.post("/terminals/issue")
    async def issue(request: Request) -> Response:
        try:
            checked = await signed_in_post(request)
            if isinstance(checked, Response):
                return checked
            _id, session, form = checked
            try:
                terminal_id = one(form, "terminal_id").strip()
                chosen = form.get("provider", [])
                issued, token = await _in_thread(
                    console.issue, session.operator, terminal_id, chosen
                )
            except FormError as e:
                return await _in_thread(terminals, request, session, status=400, error=str(e))
            return page("console/token.html", request, session, credential=issued, token=token)
        except StoreError:
            return unavailable(request)

    @router.post("/terminals/rotate")
    async def rotate(request: Request) -> Response:
        try:
            checked = await signed_in_post(request)
            if isinstance(checked, Response):
                return checked
            _id, session, form = checked
            try:
                credential_id = one(form, "credential_id").strip()
                rotated, token = await _in_thread(console.rotate, session.operator, credential_id)
                _forget(request, credential_id)
            except FormError as e:
                return await _in_thread(terminals, request, session, status=400, error=str(e))
            return page("console/token.html", request, session, credential=rotated, token=token)
        except StoreError:
            return unavailable(request)

    @router.post("/terminals/revoke")
    async def revoke(request: Request) -> Response:
        try:
            checked = await signed_in_post(request)
            if isinstance(checked, Response):
                return checked
            _id, session, form = checked
            try:
                credential_id = one(form, "credential_id").strip()
                revoked = await _in_thread(console.revoke, session.operator, credential_id)
                _forget(request, credential_id)
            except FormError as e:
                return await _in_thread(terminals, request, session, status=400, error=str(e))
            notice = f"Revoked {revoked.credential_id} of terminal {revoked.terminal_id}."
            return await _in_thread(terminals, request, session, notice=notice)
        except StoreError:
            return unavailable(request)

    @router.get("/audit")
    def audit(request: Request) -> Response:
        try:
            found = current(request)
            if found is None:
                return to_login()
            session = found[1]
            query = {k: v for k, v in request.query_params.multi_items() if k in _SEARCH_FIELDS}
            try:
                result, shown = console.search(query)
            except FormError as e:
                shown = {k: query.get(k, "")[:MAX_FIELD] for k in _SEARCH_FIELDS}
                return page(
                    "console/audit.html", request, session, 400, result=None, shown=shown,
                    error=str(e), next_url=None, previous_url=None,
                )  # fmt: skip
            return page(
                "console/audit.html",
                request,
                session,
                result=result,
                shown=shown,
                error=None,
                next_url=_page_url(shown, result.page + 2) if result.has_more else None,
                previous_url=_page_url(shown, result.page) if result.page > 0 else None,
            )
        except StoreError:
            return unavailable(request)

    return router


_SEARCH_FIELDS: Final = ("provider", "terminal", "since", "until", "page")


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


def _login_form(
    request: Request, page: Callable[..., HTMLResponse], error: str | None, status: int
) -> HTMLResponse:
    """The login page with a fresh form token, bound to a cookie of the login page."""
    token = secrets.token_urlsafe(32)
    answer = page("console/login.html", request, None, status, error=error, login_token=token)
    answer.set_cookie(
        LOGIN_COOKIE,
        token,
        path=f"{PREFIX}/login",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return answer


async def _in_thread(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run blocking work (the store, the KDF) off the event loop, in the thread pool."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


def console_setup(cfg: Config, db: Database) -> ConsoleSetup:
    """The console of the platform configured by `cfg`, over its store `db`."""
    return ConsoleSetup(
        db=db,
        peers=cfg.platform_peers,
        crl_grace_s=cfg.crl_grace_s,
        platform_id=cfg.platform_id,
    )

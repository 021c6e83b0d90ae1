"""The operator console's behaviour, apart from HTTP (kiosk.platform.console serves it).

Sign-in: the password is checked against the operator's scrypt key (`kiosk.flow.staff.
Credential`: memory-hard, slow by design), at most `CHECKS_AT_ONCE` at a time so a flood of
logins cannot take every core; an unknown name costs a decoy check of the same price, so timing
does not tell which names exist. Wrong passwords are counted per operator in the store (every
worker process counts the same tries); after `LOCKOUT.tries` in a row the login locks, longer
each time. Every sign-in, wrong try, lockout and sign-out is in the audit log with the
operator's name as its actor, and so is every credential issued, rotated or revoked (one row
per provider it acts for, so a search by provider finds it).

Reads: the CRL in force per issuer with its age (stale past nextUpdate + the verifier's grace,
as the verifier refuses it), verdicts by reason per hour, the peers' health
(kiosk.platform.relay.peer_health), the providers, and the audit search. Whatever an operator
typed is checked here and refused with `FormError`, whose message the page shows.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from kiosk.flow.staff import Credential, CredentialError, LockoutPolicy
from kiosk.platform.relay import PeerHealth, peer_health
from kiosk.store.audit import AuditLog
from kiosk.store.credentials import (
    CredentialRevoked,
    TerminalCredential,
    TerminalCredentials,
    UnknownCredential,
)
from kiosk.store.engine import Database
from kiosk.store.operators import (
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
from kiosk.verify.challenge import IDENTIFIER

if TYPE_CHECKING:
    from kiosk.config import Config, PeerConfig
    from kiosk.verify.ports import CrlInfo

log = logging.getLogger(__name__)

#: After 5 wrong passwords in a row the login locks 60 s, doubling up to 15 minutes.
LOCKOUT: Final = LockoutPolicy(tries=5, first_s=60, cap_s=900)
#: Password checks run at once (each takes 128 MiB and a few tenths of a second of a core).
CHECKS_AT_ONCE: Final = 2
#: Seconds a login waits for a free check before the page says "busy".
CHECK_WAIT_S: Final = 10.0
#: The longest field value accepted, and the longest password (refused before any KDF runs).
MAX_FIELD: Final = 200
MAX_PASSWORD: Final = 1024
#: The audit log's terminal for the console's own events (their provider: the platform's id).
CONSOLE_TERMINAL: Final = "console"
#: Times in forms: what a datetime-local input sends, with or without seconds (UTC).
TIME_FORMATS: Final = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
#: The audit search's fields (any other query parameter is ignored).
SEARCH_FIELDS: Final = ("provider", "terminal", "since", "until", "page")
_IDENTIFIER_HELP: Final = "1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)"

Clock = Callable[[], datetime]


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


class CrlsInForce(Protocol):
    """Where the CRLs in force are read (`SqlRevocationIndex`)."""

    def all_info(self) -> list[CrlInfo]: ...


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


def crl_rows(index: CrlsInForce, now: datetime, grace_s: int) -> list[CrlRow]:
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
            return _seconds_until(operator.locked_until, now)
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
                return _seconds_until(until, now)
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
        if not IDENTIFIER.fullmatch(terminal_id):
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
        except (UnknownCredential, CredentialRevoked) as e:
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
        found = self.credentials.get(credential_id)
        if found is None:
            raise FormError("There is no credential with that id.")
        return found

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
            if shown[what] and IDENTIFIER.fullmatch(shown[what]) is None:
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


def _seconds_until(until: datetime, now: datetime) -> int:
    """Whole seconds from `now` to `until`, at least 1 (a Retry-After)."""
    return max(1, math.ceil((until - now).total_seconds()))


class ConsoleBusy(Exception):
    """Too many password checks are running; the login page says to try again."""


def console_setup(cfg: Config, db: Database) -> ConsoleSetup:
    """The console of the platform configured by `cfg`, over its store `db`."""
    return ConsoleSetup(
        db=db,
        peers=cfg.platform_peers,
        crl_grace_s=cfg.crl_grace_s,
        platform_id=cfg.platform_id,
    )

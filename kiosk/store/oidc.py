"""The OpenID Provider's records: authorization requests, their codes, wrong binding codes
per kiosk terminal, and the ids of client assertions already used.

A request is `waiting` until a kiosk approves it (`approved`, its authorization code issued
in the same transaction), the browser cancels it (`denied`) or its binding code's time runs
out (`expired`); the token endpoint's exchange of the code makes it `exchanged`. As with
payment requests, expiry needs no timer: whichever call notices a waiting request past its
time closes it first.

Only digests of credentials are stored: the binding code's keyed digest and the
authorization code's SHA-256, computed by kiosk.oidc (this module never sees a code). The
person is kept as the ID token will name them — a pairwise `sub` — never by a certificate,
a serial or the account reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import (
    OidcAssertionRow,
    OidcBindingFailureRow,
    OidcCodeRow,
    OidcRequestRow,
    table_of,
)

_requests = table_of(OidcRequestRow)
_codes = table_of(OidcCodeRow)
_failures = table_of(OidcBindingFailureRow)
_assertions = table_of(OidcAssertionRow)


class OidcStoreError(StoreError):
    """An OpenID Provider record was refused; `code` says why."""

    code = "oidc_store"


class BindingTaken(OidcStoreError):
    """Another waiting request holds this binding code (the caller draws another)."""

    code = "oidc_binding_taken"


class UnknownAuthorization(OidcStoreError):
    """No authorization request with this id."""

    code = "oidc_request_unknown"


class AuthorizationClosed(OidcStoreError):
    """The request no longer waits; `status` says what it became."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the authorization request is {status}")
        self.status = status
        self.code = f"oidc_request_{status}"


@dataclass(frozen=True, slots=True)
class NewAuthorization:
    """A validated authorization request, as the provider asks the store to keep it."""

    request_id: str
    login_id: str
    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str
    code_challenge: str
    scope: str
    binding_digest: bytes


@dataclass(frozen=True, slots=True)
class Approval:
    """What the kiosk proved, as the ID token will say it."""

    provider_id: str
    terminal_id: str
    sub: str
    auth_time: datetime
    acr: str
    amr: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Authorization:
    """One authorization request as the store hands it out (no code, no digest)."""

    request_id: str
    login_id: str
    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str
    code_challenge: str
    scope: str
    status: str
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    approval: Approval | None

    @property
    def waiting(self) -> bool:
        """Whether it still waits for a kiosk."""
        return self.status == "waiting"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """An authorization code's record: whose it is, until when, and whether it was used."""

    request_id: str
    client_id: str
    expires_at: datetime
    used_at: datetime | None


def _authorization(row: Row[Any]) -> Authorization:
    r = row._mapping
    approval = None
    if r["sub"] is not None:
        approval = Approval(
            r["provider_id"],
            r["terminal_id"],
            r["sub"],
            r["auth_time"],
            r["acr"],
            tuple(r["amr"].split()),
        )
    return Authorization(
        r["request_id"],
        r["login_id"],
        r["client_id"],
        r["redirect_uri"],
        r["state"],
        r["nonce"],
        r["code_challenge"],
        r["scope"],
        r["status"],
        r["created_at"],
        r["expires_at"],
        r["closed_at"],
        approval,
    )


def _expire_stale(conn: Connection, at: datetime, *conditions: Any) -> int:
    """Close as `expired` the waiting requests (matching `conditions`) whose time is up."""
    result = conn.execute(
        update(_requests)
        .where(_requests.c.status == "waiting", _requests.c.expires_at <= at, *conditions)
        .values(status="expired", live_binding=None, closed_at=at)
    )
    return result.rowcount


class OidcStore:
    """Keep and move on the OpenID Provider's authorization requests and codes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, new: NewAuthorization, ttl: timedelta, at: datetime) -> Authorization:
        """Keep a waiting request until `at + ttl`. A stale waiting request under the same
        binding code is expired first. Raises BindingTaken when a live one holds it."""
        try:
            with self._db.writing() as conn:
                _expire_stale(conn, at, _requests.c.live_binding == new.binding_digest)
                conn.execute(
                    insert(_requests).values(
                        request_id=new.request_id,
                        login_id=new.login_id,
                        client_id=new.client_id,
                        redirect_uri=new.redirect_uri,
                        state=new.state,
                        nonce=new.nonce,
                        code_challenge=new.code_challenge,
                        scope=new.scope,
                        binding_digest=new.binding_digest,
                        live_binding=new.binding_digest,
                        status="waiting",
                        created_at=at,
                        expires_at=at + ttl,
                    )
                )
        except IntegrityError as e:
            raise BindingTaken("another waiting request holds this binding code") from e
        return self._read(_requests.c.request_id == new.request_id)

    def get(self, request_id: str, at: datetime) -> Authorization:
        """The request as of `at` (expired first if its time is up). Raises
        UnknownAuthorization."""
        return self._fresh(_requests.c.request_id == request_id, at)

    def by_login(self, login_id: str, at: datetime) -> Authorization:
        """The request by the kiosk's handle, as of `at`. Raises UnknownAuthorization."""
        return self._fresh(_requests.c.login_id == login_id, at)

    def by_binding(self, binding_digest: bytes, at: datetime) -> Authorization | None:
        """The request a binding code stands for as of `at`: the one waiting under it, else
        the latest that ever had it (expired, used), else None (a wrong code)."""
        with self._db.writing() as conn:
            _expire_stale(conn, at, _requests.c.live_binding == binding_digest)
            row = conn.execute(
                select(_requests)
                .where(_requests.c.binding_digest == binding_digest)
                .order_by(_requests.c.created_at.desc())
                .limit(1)
            ).one_or_none()
        return None if row is None else _authorization(row)

    def nonce_seen(self, client_id: str, nonce: str, other_than: str | None = None) -> bool:
        """Whether a request of this client (other than `other_than`) carried this nonce."""
        query = select(_requests.c.request_id).where(
            _requests.c.client_id == client_id, _requests.c.nonce == nonce
        )
        if other_than is not None:
            query = query.where(_requests.c.request_id != other_than)
        with self._db.reading() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def approve(
        self,
        login_id: str,
        approval: Approval,
        code_digest: bytes,
        code_ttl: timedelta,
        at: datetime,
    ) -> Authorization:
        """Mark a waiting request approved with what the kiosk proved, and keep its
        authorization code's digest until `at + code_ttl`, in one transaction. Raises
        UnknownAuthorization, or AuthorizationClosed when it no longer waits."""
        found = self.by_login(login_id, at)
        with self._db.writing() as conn:
            _expire_stale(conn, at, _requests.c.request_id == found.request_id)
            changed = conn.execute(
                update(_requests)
                .where(_requests.c.request_id == found.request_id, _requests.c.status == "waiting")
                .values(
                    status="approved",
                    live_binding=None,
                    closed_at=at,
                    provider_id=approval.provider_id,
                    terminal_id=approval.terminal_id,
                    sub=approval.sub,
                    auth_time=approval.auth_time,
                    acr=approval.acr,
                    amr=" ".join(approval.amr),
                )
            ).rowcount
            if changed == 1:
                conn.execute(
                    insert(_codes).values(
                        code_digest=code_digest,
                        request_id=found.request_id,
                        client_id=found.client_id,
                        expires_at=at + code_ttl,
                    )
                )
        after = self._read(_requests.c.request_id == found.request_id)
        if changed != 1:
            raise AuthorizationClosed(after.status)
        return after

    def deny(self, request_id: str, at: datetime) -> Authorization:
        """Close a waiting request as `denied` (the person cancelled in the browser).
        Raises UnknownAuthorization, or AuthorizationClosed when it no longer waits."""
        found = self.get(request_id, at)
        with self._db.writing() as conn:
            changed = conn.execute(
                update(_requests)
                .where(_requests.c.request_id == found.request_id, _requests.c.status == "waiting")
                .values(status="denied", live_binding=None, closed_at=at)
            ).rowcount
        after = self._read(_requests.c.request_id == found.request_id)
        if changed != 1:
            raise AuthorizationClosed(after.status)
        return after

    def code(self, code_digest: bytes) -> IssuedCode | None:
        """The record of an authorization code by its digest, or None."""
        with self._db.reading() as conn:
            row = conn.execute(select(_codes).where(_codes.c.code_digest == code_digest)).first()
        if row is None:
            return None
        r = row._mapping
        return IssuedCode(r["request_id"], r["client_id"], r["expires_at"], r["used_at"])

    def use_code(self, code_digest: bytes, at: datetime) -> bool:
        """Use an authorization code once: True for the one caller that did (before its
        expiry), False for every other (used already, expired, unknown). Its request
        becomes `exchanged` in the same transaction."""
        with self._db.writing() as conn:
            changed = conn.execute(
                update(_codes)
                .where(
                    _codes.c.code_digest == code_digest,
                    _codes.c.used_at.is_(None),
                    _codes.c.expires_at > at,
                )
                .values(used_at=at)
            ).rowcount
            if changed != 1:
                return False
            request_id = select(_codes.c.request_id).where(_codes.c.code_digest == code_digest)
            conn.execute(
                update(_requests)
                .where(_requests.c.request_id == request_id.scalar_subquery())
                .values(status="exchanged")
            )
        return True

    def record_failure(self, provider_id: str, terminal_id: str, at: datetime) -> None:
        """Count one wrong binding code typed at a terminal."""
        with self._db.writing() as conn:
            conn.execute(
                insert(_failures).values(
                    provider_id=provider_id, terminal_id=terminal_id, failed_at=at
                )
            )

    def failures_since(
        self, provider_id: str, terminal_id: str, since: datetime
    ) -> Sequence[datetime]:
        """When each wrong binding code typed at the terminal after `since` was, oldest first."""
        with self._db.reading() as conn:
            rows = conn.execute(
                select(_failures.c.failed_at)
                .where(
                    _failures.c.provider_id == provider_id,
                    _failures.c.terminal_id == terminal_id,
                    _failures.c.failed_at > since,
                )
                .order_by(_failures.c.failed_at)
            ).all()
        return tuple(row[0] for row in rows)

    def use_assertion(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Remember a client assertion's `jti` until it expires: True the first time, False
        when it was used already."""
        try:
            with self._db.writing() as conn:
                conn.execute(
                    insert(_assertions).values(client_id=client_id, jti=jti, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    def purge(self, at: datetime, keep: timedelta) -> int:
        """Delete what no longer matters as of `at`: requests (and their codes) that ended
        more than `keep` ago, wrong-code counts older than `keep`, assertion ids past their
        expiry. How many rows went."""
        before = at - keep
        gone = 0
        with self._db.writing() as conn:
            _expire_stale(conn, at)
            old = select(_requests.c.request_id).where(_requests.c.expires_at < before)
            ended = _requests.c.status != "waiting"
            old = old.where(ended)
            gone += conn.execute(delete(_codes).where(_codes.c.request_id.in_(old))).rowcount
            gone += conn.execute(
                delete(_requests).where(_requests.c.expires_at < before, ended)
            ).rowcount
            gone += conn.execute(delete(_failures).where(_failures.c.failed_at < before)).rowcount
            gone += conn.execute(delete(_assertions).where(_assertions.c.expires_at < at)).rowcount
        return gone

    def count(self) -> int:
        """How many authorization requests are kept (for tests and the operator)."""
        with self._db.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(_requests)).scalar_one())

    def _fresh(self, condition: Any, at: datetime) -> Authorization:
        found = self._read(condition)
        if not found.waiting or found.expires_at > at:
            return found  # the browser polls: most reads need no write transaction
        with self._db.writing() as conn:
            _expire_stale(conn, at, _requests.c.request_id == found.request_id)
        return self._read(_requests.c.request_id == found.request_id)

    def _read(self, condition: Any) -> Authorization:
        with self._db.reading() as conn:
            row = conn.execute(select(_requests).where(condition)).one_or_none()
        if row is None:
            raise UnknownAuthorization("no such authorization request")
        return _authorization(row)

"""Terminal credentials: the bearer token each kiosk terminal presents to the platform.

A credential names one terminal and the providers it may act for (a clinic's kiosk that also
takes payments acts for two). Its token is 256 random bits, shown once when it is issued or
rotated, and kept here as its SHA-256 only: the digest column is unique, so one token never
names two credentials, and a stolen copy of the store yields no token. A revoked credential
keeps its digest, so the platform can tell the kiosk "revoked" rather than "unknown"; a
rotation replaces the digest, so the old token is unknown from then on.

The platform looks a token up on every request (`lookup`, through the store's hot-path
`Database.one()`); issuing, rotating and revoking are the operator's (the CLI, the console).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import TerminalCredentialRow, table_of
from kiosk.verify.challenge import IDENTIFIER

_t = table_of(TerminalCredentialRow)

#: The most providers one credential may act for (a kiosk serves a handful at most).
MAX_PROVIDERS = 16
#: Bytes of randomness in a token (256 bits).
TOKEN_BYTES = 32
#: A credential id: "tc-" and 12 hex digits (safe to log and show; it grants nothing).
CREDENTIAL_ID = re.compile(r"tc-[0-9a-f]{12}")
#: Tries at a fresh credential id before giving up (48 random bits: a clash is rare).
_ID_TRIES = 4


class CredentialError(StoreError):
    """A terminal credential operation was refused; `code` says why."""

    code = "credential"


class BadCredentialField(CredentialError):
    """A terminal id or provider id is not a short identifier, or no provider is named."""

    code = "credential_field"


class UnknownCredential(CredentialError):
    """No credential with this id."""

    code = "credential_unknown"


class CredentialRevoked(CredentialError):
    """The credential is revoked: it cannot be rotated (issue a new one)."""

    code = "credential_revoked"


@dataclass(frozen=True, slots=True)
class TerminalCredential:
    """One terminal credential as the store hands it out (never its token or digest)."""

    credential_id: str
    terminal_id: str
    providers: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    rotated_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether its token is still accepted."""
        return self.revoked_at is None


def token_digest(token: str) -> bytes:
    """The SHA-256 a token is kept and looked up by (any text: a header's never raises)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or IDENTIFIER.fullmatch(value) is None:
        raise BadCredentialField(
            f"the {what} must be 1 to 64 of A-Z a-z 0-9 _ . : - (a letter or digit first)"
        )
    return value


def _providers(providers: Sequence[str]) -> tuple[str, ...]:
    """The providers sorted and without repeats; at least one, at most MAX_PROVIDERS."""
    if isinstance(providers, str):  # a lone id would be read as its characters
        raise BadCredentialField("the providers must be a list of provider ids")
    unique = sorted({_identifier(p, "provider id") for p in providers})
    if not 1 <= len(unique) <= MAX_PROVIDERS:
        raise BadCredentialField(f"a credential acts for 1 to {MAX_PROVIDERS} providers")
    return tuple(unique)


def _credential(
    credential_id: str,
    terminal_id: str,
    providers: str,
    created_at: datetime,
    revoked_at: datetime | None,
    rotated_at: datetime | None,
) -> TerminalCredential:
    return TerminalCredential(
        credential_id, terminal_id, tuple(providers.split()), created_at, revoked_at, rotated_at
    )


def _from_row(row: Row[Any]) -> TerminalCredential:
    r = row._mapping
    return _credential(
        r["credential_id"],
        r["terminal_id"],
        r["providers"],
        r["created_at"],
        r["revoked_at"],
        r["rotated_at"],
    )


class TerminalCredentials:
    """Issue, rotate, revoke, list and look up terminal credentials."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lookup_sql = db.sql(
            "SELECT credential_id, terminal_id, providers, created_at, revoked_at, rotated_at "
            "FROM terminal_credentials WHERE token_digest = ?"
        )

    def issue(
        self, terminal_id: str, providers: Sequence[str], now: datetime
    ) -> tuple[TerminalCredential, str]:
        """A new credential for `terminal_id`, acting for `providers`, and its token (shown
        once: only its digest is kept). BadCredentialField for an id of the wrong form."""
        terminal_id = _identifier(terminal_id, "terminal id")
        acting_for = _providers(providers)
        for _ in range(_ID_TRIES):
            credential_id = "tc-" + secrets.token_hex(6)
            token = secrets.token_urlsafe(TOKEN_BYTES)
            try:
                with self._db.writing() as conn:
                    conn.execute(
                        insert(_t).values(
                            credential_id=credential_id,
                            terminal_id=terminal_id,
                            providers=" ".join(acting_for),
                            token_digest=token_digest(token),
                            created_at=now,
                        )
                    )
            except IntegrityError:
                continue  # the id (or, never in practice, the digest) is taken: draw again
            issued = TerminalCredential(credential_id, terminal_id, acting_for, now, None, None)
            return issued, token
        raise CredentialError("no free credential id could be drawn")

    def rotate(self, credential_id: str, now: datetime) -> tuple[TerminalCredential, str]:
        """A new token for the credential; the old one is refused from now on.
        UnknownCredential or CredentialRevoked when there is nothing to rotate."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._db.writing() as conn:
            row = conn.execute(self._select(credential_id)).first()
            if row is None:
                raise UnknownCredential("no terminal credential with this id")
            if row._mapping["revoked_at"] is not None:
                raise CredentialRevoked("the terminal credential is revoked")
            conn.execute(
                update(_t)
                .where(_t.c.credential_id == credential_id)
                .values(token_digest=token_digest(token), rotated_at=now)
            )
        rotated = _from_row(row)
        return TerminalCredential(
            rotated.credential_id,
            rotated.terminal_id,
            rotated.providers,
            rotated.created_at,
            None,
            now,
        ), token

    def revoke(self, credential_id: str, now: datetime) -> bool:
        """Refuse the credential's token from now on; False when it is unknown or revoked
        already."""
        if CREDENTIAL_ID.fullmatch(credential_id) is None:
            return False
        with self._db.writing() as conn:
            result = conn.execute(
                update(_t)
                .where(_t.c.credential_id == credential_id, _t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return bool(result.rowcount == 1)

    def get(self, credential_id: str) -> TerminalCredential | None:
        """The credential with this id, in any state; None when there is none."""
        with self._db.autocommitted() as conn:
            row = conn.execute(self._select(credential_id)).first()
        return None if row is None else _from_row(row)

    def all(self) -> list[TerminalCredential]:
        """Every credential, oldest first (revoked ones too: they say who had access)."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(select(_t).order_by(_t.c.created_at, _t.c.credential_id)).all()
        return [_from_row(row) for row in rows]

    def by_token(self, token: str) -> TerminalCredential | None:
        """The active credential this token belongs to; None when unknown or revoked."""
        found = self.lookup(token_digest(token))
        return found if found is not None and found.active else None

    def lookup(self, digest: bytes) -> TerminalCredential | None:
        """The credential whose token has this SHA-256, revoked or not: the platform's hot
        path (one statement through `Database.one()`)."""
        row = self._db.one(self._lookup_sql, (digest,))
        if row is None:
            return None
        credential_id, terminal_id, providers, created, revoked, rotated = row
        read = self._db.read_time
        return _credential(
            credential_id,
            terminal_id,
            providers,
            read(created),
            None if revoked is None else read(revoked),
            None if rotated is None else read(rotated),
        )

    @staticmethod
    def _select(credential_id: str) -> Any:
        return select(_t).where(_t.c.credential_id == credential_id)

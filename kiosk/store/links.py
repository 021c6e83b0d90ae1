"""Providers and links: a customer's account at a provider bound to one card's certificates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.engine import Database
from kiosk.store.errors import LinkExists, StoreError, UnknownLink
from kiosk.store.models import LinkRow, ProviderRow, table_of
from kiosk.store.records import (
    LinkRecord,
    LinkStatus,
    Provider,
    serial_from_bytes,
    serial_to_bytes,
)

_links = table_of(LinkRow)
_providers = table_of(ProviderRow)
_NAMES = (
    "link_id", "provider_id", "account_ref", "auth_issuer_key_id", "auth_serial",
    "sign_issuer_key_id", "sign_serial", "status", "created_at", "updated_at",
)  # fmt: skip
_COLUMNS = [_links.c[name] for name in _NAMES]
_BY_AUTH = (
    f"SELECT {', '.join(_NAMES)} FROM links "  # noqa: S608 - fixed column names
    "WHERE provider_id = ? AND auth_issuer_key_id = ? AND auth_serial = ?"
)


def _link(row: Sequence[Any], read_time: Callable[[Any], datetime]) -> LinkRecord:
    """A LinkRecord from a row in `_NAMES` order."""
    return LinkRecord(
        link_id=row[0],
        provider_id=row[1],
        account_ref=row[2],
        auth_issuer_key_id=row[3],
        auth_serial=serial_from_bytes(row[4]),
        sign_issuer_key_id=row[5],
        sign_serial=serial_from_bytes(row[6]),
        status=LinkStatus(row[7]),
        created_at=read_time(row[8]),
        updated_at=read_time(row[9]),
    )


class LinkRepository:
    """Create, find and change links and their providers."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_auth = db.sql(_BY_AUTH)

    def add_provider(self, provider_id: str, name: str, at: datetime) -> Provider:
        """Register a provider (idempotent: an existing one is returned unchanged)."""
        with self._db.writing() as conn:
            row = conn.execute(
                select(_providers).where(_providers.c.provider_id == provider_id)
            ).first()
            if row is None:
                conn.execute(
                    _providers.insert().values(provider_id=provider_id, name=name, created_at=at)
                )
                return Provider(provider_id, name, at)
        return Provider(row.provider_id, row.name, row.created_at)

    def provider(self, provider_id: str) -> Provider | None:
        """The provider with that id, or None."""
        with self._db.autocommitted() as conn:
            row = conn.execute(
                select(_providers).where(_providers.c.provider_id == provider_id)
            ).first()
        return None if row is None else Provider(row.provider_id, row.name, row.created_at)

    def create(
        self,
        *,
        provider_id: str,
        account_ref: str,
        auth_issuer_key_id: str,
        auth_serial: int,
        sign_issuer_key_id: str,
        sign_serial: int,
        at: datetime,
    ) -> LinkRecord:
        """Store a new active link; LinkExists if the account or the auth certificate is linked."""
        values = {
            "provider_id": provider_id,
            "account_ref": account_ref,
            "auth_issuer_key_id": auth_issuer_key_id,
            "auth_serial": serial_to_bytes(auth_serial),
            "sign_issuer_key_id": sign_issuer_key_id,
            "sign_serial": serial_to_bytes(sign_serial),
            "status": LinkStatus.ACTIVE.value,
            "created_at": at,
            "updated_at": at,
        }
        try:
            with self._db.writing() as conn:
                row = conn.execute(_links.insert().values(values).returning(*_COLUMNS)).one()
        except IntegrityError as e:
            if self.provider(provider_id) is None:
                raise StoreError(f"unknown provider: {provider_id}") from e
            raise LinkExists("this account or this card is already linked") from e
        return _link(row, self._db.read_time)

    def get(self, link_id: int) -> LinkRecord:
        """The link with that id; UnknownLink if there is none."""
        with self._db.autocommitted() as conn:
            row = conn.execute(select(*_COLUMNS).where(_links.c.link_id == link_id)).first()
        if row is None:
            raise UnknownLink(f"no link {link_id}")
        return _link(row, self._db.read_time)

    def find_by_account(self, provider_id: str, account_ref: str) -> LinkRecord | None:
        """The link of a provider's account, or None."""
        return self._find(
            (_links.c.provider_id == provider_id) & (_links.c.account_ref == account_ref)
        )

    def find_by_auth(self, provider_id: str, issuer_key_id: str, serial: int) -> LinkRecord | None:
        """The provider's link for an authentication certificate, or None (hot path: driver)."""
        db = self._db
        row = db.one(self._by_auth, (provider_id, issuer_key_id, serial_to_bytes(serial)))
        return None if row is None else _link(row, db.read_time)

    def find_by_sign(self, issuer_key_id: str, serial: int) -> list[LinkRecord]:
        """Every link (any provider) bound to a signature certificate."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(
                select(*_COLUMNS).where(
                    (_links.c.sign_issuer_key_id == issuer_key_id)
                    & (_links.c.sign_serial == serial_to_bytes(serial))
                )
            ).all()
        return [_link(r, self._db.read_time) for r in rows]

    def set_status(self, link_id: int, status: LinkStatus, at: datetime) -> LinkRecord:
        """Change a link's status."""
        with self._db.writing() as conn:
            row = conn.execute(
                update(_links)
                .where(_links.c.link_id == link_id)
                .values(status=status.value, updated_at=at)
                .returning(*_COLUMNS)
            ).first()
        if row is None:
            raise UnknownLink(f"no link {link_id}")
        return _link(row, self._db.read_time)

    def flag_sign_revoked(self, issuer_key_id: str, serial: int, at: datetime) -> list[LinkRecord]:
        """Move active links bound to a revoked signature certificate to needs re-enrolment."""
        with self._db.writing() as conn:
            rows = conn.execute(
                update(_links)
                .where(
                    (_links.c.sign_issuer_key_id == issuer_key_id)
                    & (_links.c.sign_serial == serial_to_bytes(serial))
                    & (_links.c.status == LinkStatus.ACTIVE.value)
                )
                .values(status=LinkStatus.NEEDS_REENROLMENT.value, updated_at=at)
                .returning(*_COLUMNS)
            ).all()
        return [_link(r, self._db.read_time) for r in rows]

    def reenrol(
        self,
        link_id: int,
        *,
        auth_issuer_key_id: str,
        auth_serial: int,
        sign_issuer_key_id: str,
        sign_serial: int,
        at: datetime,
    ) -> LinkRecord:
        """Bind an existing link to a new card's certificates and make it active again."""
        try:
            with self._db.writing() as conn:
                row = conn.execute(
                    update(_links)
                    .where(_links.c.link_id == link_id)
                    .values(
                        auth_issuer_key_id=auth_issuer_key_id,
                        auth_serial=serial_to_bytes(auth_serial),
                        sign_issuer_key_id=sign_issuer_key_id,
                        sign_serial=serial_to_bytes(sign_serial),
                        status=LinkStatus.ACTIVE.value,
                        updated_at=at,
                    )
                    .returning(*_COLUMNS)
                ).first()
        except IntegrityError as e:
            raise LinkExists("this card is already linked to another account") from e
        if row is None:
            raise UnknownLink(f"no link {link_id}")
        return _link(row, self._db.read_time)

    def _find(self, condition: Any) -> LinkRecord | None:
        with self._db.autocommitted() as conn:
            row = conn.execute(select(*_COLUMNS).where(condition)).first()
        return None if row is None else _link(row, self._db.read_time)

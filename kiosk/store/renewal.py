"""Links that survive a card's renewal: the certificate authority's old → new serial link
(新旧紐付け), and the move of a customer's link to the renewed card's certificates.

Renewal (every five years, and on reissue) writes new certificates with new serials onto the
card and revokes the old ones with the CRL reason `superseded`; a signature certificate whose
4 info changed is revoked `affiliationChanged` instead (../shared/jpki-lifecycle.md §1). A
verifier may obtain from the authority which new certificate succeeds an old one.

The port, `SuccessionSource`, answers one question each way: which certificate succeeds this
one (`successor`), and which one this certificate succeeds (`predecessor`). What the authority
actually delivers is disclosed only to registered verifiers (「失効情報等を提供するシステムに
関する技術仕様」, given on application); this module assumes, with low confidence ([L]):

- one record per renewed certificate: (old issuer key id, old serial) → (new issuer key id,
  new serial), issuers named by the CA's subjectKeyIdentifier as everywhere in the store;
- auth → auth and sign → sign records, each certificate on its own (not a person id);
- at most one successor per certificate (a later renewal is a new record from the successor,
  a chain, never a second successor of the same certificate);
- the data is pulled, on demand or in batches; docs/renewal.md has the file format the
  operator imports (`SqlSuccessionSource`, filled by `kiosk renewal import`).

A link moves only on the authority's word (the link data and the CRL in force), never on a
proof: when its authentication certificate is revoked `superseded` and the successor is known,
`LinkRenewals.renew` moves it, in one transaction with its history row and its audit row, so a
process killed at any point leaves the link on the old certificates or on the new ones. The
signature certificate moves with it when it was superseded too and its successor is known; one
revoked for any other reason (affiliationChanged: the 4 info changed) leaves the link needing
re-enrolment, with the signature password, as before. `RenewingVerificationStore` does this at
the first proof of a renewed card, so the person is recognised on their first visit after
renewal; `kiosk.services.renewal.sweep` does it for every linked certificate the CRLs list.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, Select, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.store.audit import check_fields
from kiosk.store.engine import Database
from kiosk.store.errors import StoreError
from kiosk.store.models import (
    AuditRow,
    CertificateSuccessionRow,
    CrlCurrentRow,
    LinkRenewalRow,
    LinkRow,
    RevokedSerialRow,
    table_of,
)
from kiosk.store.records import LinkStatus, serial_from_bytes, serial_to_bytes
from kiosk.store.revocation import SqlRevocationIndex
from kiosk.store.verification import _CONTEXT, SqlVerificationStore
from kiosk.verify.ports import ProofContext
from kiosk.verify.verdict import CertRef

log = logging.getLogger(__name__)

_succ = table_of(CertificateSuccessionRow)
_renewals = table_of(LinkRenewalRow)
_links = table_of(LinkRow)
_audit = table_of(AuditRow)
_cur = table_of(CrlCurrentRow)
_rev = table_of(RevokedSerialRow)

_PREDECESSOR = (
    "SELECT old_issuer_key_id, old_serial FROM certificate_successions "
    "WHERE new_issuer_key_id = ? AND new_serial = ?"
)
#: The CRL reason of a renewed certificate (RFC 5280 `superseded`, J-LIS: 証明書を更新した).
SUPERSEDED = "superseded"
#: The audit action of a link moved to a renewed card.
RENEWED_ACTION = "link.renewed"
#: The terminal id the audit names for a move no kiosk asked for (the store's own work).
RENEWAL_TERMINAL = "renewal"


class SuccessionUnavailable(StoreError):
    """The authority's link data could not be obtained (its service failed): nothing moved."""

    code = "succession_unavailable"


class SuccessionConflict(StoreError):
    """An import names a second, different successor for a certificate: nothing imported."""

    code = "succession_conflict"


@dataclass(frozen=True, slots=True)
class Succession:
    """One record of the authority's old → new link: `new` succeeds `old`."""

    old: CertRef
    new: CertRef


class SuccessionSource(Protocol):
    """The certificate authority's old → new serial link (新旧紐付け), asked both ways.

    Either method raises `SuccessionUnavailable` when the data cannot be had right now."""

    def successor(self, old: CertRef) -> CertRef | None:
        """The certificate that succeeds `old`, or None if none is known."""

    def predecessor(self, new: CertRef) -> CertRef | None:
        """The certificate that `new` succeeds, or None if none is known."""


class SqlSuccessionSource:
    """The link data as the operator imported it (`certificate_successions`)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._predecessor = db.sql(_PREDECESSOR)

    def successor(self, old: CertRef) -> CertRef | None:
        """The imported successor of `old`, or None."""
        return self._one(
            select(_succ.c.new_issuer_key_id, _succ.c.new_serial).where(
                (_succ.c.old_issuer_key_id == old.issuer_key_id)
                & (_succ.c.old_serial == serial_to_bytes(old.serial))
            )
        )

    def predecessor(self, new: CertRef) -> CertRef | None:
        """The imported certificate `new` succeeds, or None (on the hot path: every proof of
        a certificate linked nowhere asks it, so it is one driver statement)."""
        row = self._db.one(self._predecessor, (new.issuer_key_id, serial_to_bytes(new.serial)))
        return None if row is None else CertRef(serial_from_bytes(bytes(row[1])), row[0])

    def put(self, successions: Iterable[Succession], at: datetime) -> int:
        """Import records in one transaction; how many were new. A record imported before is
        kept as it is; one naming another successor for the same certificate refuses the
        whole import (`SuccessionConflict`), since the authority never changes its word."""
        added = 0
        with self._db.writing() as conn:
            for record in successions:
                known = self._successor_in(conn, record.old)
                if known == record.new:
                    continue
                if known is not None:
                    raise SuccessionConflict(
                        f"certificate {record.old.serial:x} under {record.old.issuer_key_id} "
                        "already has another successor"
                    )
                conn.execute(insert(_succ).values(**_succession_values(record), imported_at=at))
                added += 1
        return added

    def _successor_in(self, conn: Connection, old: CertRef) -> CertRef | None:
        row = conn.execute(
            select(_succ.c.new_issuer_key_id, _succ.c.new_serial).where(
                (_succ.c.old_issuer_key_id == old.issuer_key_id)
                & (_succ.c.old_serial == serial_to_bytes(old.serial))
            )
        ).first()
        return None if row is None else CertRef(serial_from_bytes(row[1]), row[0])

    def _one(self, query: Select[str, bytes]) -> CertRef | None:
        with self._db.autocommitted() as conn:
            row = conn.execute(query).first()
        return None if row is None else CertRef(serial_from_bytes(row[1]), row[0])


def _succession_values(record: Succession) -> dict[str, object]:
    return {
        "old_issuer_key_id": record.old.issuer_key_id,
        "old_serial": serial_to_bytes(record.old.serial),
        "new_issuer_key_id": record.new.issuer_key_id,
        "new_serial": serial_to_bytes(record.new.serial),
    }


class Outcome(enum.StrEnum):
    """What became of one linked certificate's renewal (codes: the sweep counts them)."""

    MOVED = "moved"  # both certificates (or the auth one alone) moved; the link is active
    #: The auth certificate moved; the signature one was revoked for another reason (the 4
    #: info changed) or has no known successor: the person re-enrols with the password.
    MOVED_REENROL = "moved_reenrol"
    NOT_LINKED = "not_linked"  # no link holds that certificate (any more)
    NOT_REVOKED = "not_revoked"  # the CRL in force does not list it
    NOT_SUPERSEDED = "not_superseded"  # revoked for another reason: the link does not move
    AWAITING_SUCCESSOR = "awaiting_successor"  # superseded, successor not known (yet)
    SOURCE_UNAVAILABLE = "source_unavailable"  # the link data could not be had
    TAKEN = "taken"  # the successor is linked to another account at that provider

    @property
    def moved(self) -> bool:
        """The link now holds the new authentication certificate."""
        return self in (Outcome.MOVED, Outcome.MOVED_REENROL)


@dataclass(frozen=True, slots=True)
class Renewal:
    """The renewal of one link (or, without a link id, of a certificate no link moved for)."""

    outcome: Outcome
    old_auth: CertRef
    new_auth: CertRef | None = None
    link_id: int | None = None
    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Linked:
    link_id: int
    provider_id: str
    sign: CertRef


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one link moves: its new signature certificate and status, and the audit reason."""

    link: _Linked
    sign: CertRef
    status: LinkStatus
    reason: str

    @property
    def outcome(self) -> Outcome:
        return Outcome.MOVED if self.status is LinkStatus.ACTIVE else Outcome.MOVED_REENROL


class LinkRenewals:
    """Moves links to a renewed card's certificates, on the authority's link data and CRLs."""

    def __init__(
        self, db: Database, source: SuccessionSource, *, terminal_id: str = RENEWAL_TERMINAL
    ) -> None:
        self._db = db
        self.source = source
        self._index = SqlRevocationIndex(db)
        self._terminal_id = terminal_id

    def revoked_links(self) -> list[CertRef]:
        """Every authentication certificate that a link holds and the CRL in force for its
        issuer lists (any reason), once each: what a sweep looks at."""
        query = (
            select(_links.c.auth_issuer_key_id, _links.c.auth_serial)
            .distinct()
            .select_from(
                _links.join(_cur, _cur.c.issuer_key_id == _links.c.auth_issuer_key_id).join(
                    _rev,
                    and_(
                        _rev.c.generation_id == _cur.c.generation_id,
                        _rev.c.serial == _links.c.auth_serial,
                    ),
                )
            )
            .where(_links.c.status != LinkStatus.REVOKED.value)
            .order_by(_links.c.auth_issuer_key_id, _links.c.auth_serial)
        )
        with self._db.autocommitted() as conn:
            rows = conn.execute(query).all()
        return [CertRef(serial_from_bytes(row[1]), row[0]) for row in rows]

    def renew(self, old_auth: CertRef, at: datetime) -> list[Renewal]:
        """Move every link of `old_auth` to its successor when the CRL in force lists it as
        superseded and the successor is known: one transaction for all of them, each move
        with its history row and its audit row. Otherwise nothing changes, and the outcome
        says why."""
        linked = self._linked(old_auth)
        if not linked:
            return [Renewal(Outcome.NOT_LINKED, old_auth)]
        refusal, new_auth = self._successor_of_superseded(old_auth)
        if new_auth is None:
            return [Renewal(refusal, old_auth, None, x.link_id, x.provider_id) for x in linked]
        try:
            plans = [self._plan(link) for link in linked]
        except SuccessionUnavailable:
            outcome = Outcome.SOURCE_UNAVAILABLE
            return [Renewal(outcome, old_auth, new_auth, x.link_id, x.provider_id) for x in linked]
        try:
            with self._db.writing() as conn:
                return [self._move(conn, old_auth, new_auth, plan, at) for plan in plans]
        except IntegrityError:  # the successor was enrolled meanwhile: nothing was written
            outcome = Outcome.TAKEN
            return [Renewal(outcome, old_auth, new_auth, x.link_id, x.provider_id) for x in linked]

    def _successor_of_superseded(self, old_auth: CertRef) -> tuple[Outcome, CertRef | None]:
        entry = self._index.lookup(old_auth.issuer_key_id, old_auth.serial)
        if entry is None:
            return Outcome.NOT_REVOKED, None
        if entry.reason != SUPERSEDED:
            return Outcome.NOT_SUPERSEDED, None
        try:
            new_auth = self.source.successor(old_auth)
        except SuccessionUnavailable:
            log.info("renewal: the certificate authority's link data is unavailable")
            return Outcome.SOURCE_UNAVAILABLE, None
        return Outcome.AWAITING_SUCCESSOR, new_auth

    def _plan(self, link: _Linked) -> _Plan:
        """The signature certificate moves too when it was superseded and its successor is
        known; revoked otherwise, the link needs re-enrolment (the password, once)."""
        entry = self._index.lookup(link.sign.issuer_key_id, link.sign.serial)
        if entry is None:
            return _Plan(link, link.sign, LinkStatus.ACTIVE, SUPERSEDED)
        if entry.reason == SUPERSEDED:
            new_sign = self.source.successor(link.sign)
            if new_sign is not None:
                return _Plan(link, new_sign, LinkStatus.ACTIVE, SUPERSEDED)
            return _Plan(link, link.sign, LinkStatus.NEEDS_REENROLMENT, "superseded.sign_unknown")
        sign_reason = entry.reason or "unspecified"
        return _Plan(
            link, link.sign, LinkStatus.NEEDS_REENROLMENT, f"superseded.sign_{sign_reason}"
        )

    def _move(
        self, conn: Connection, old: CertRef, new: CertRef, plan: _Plan, at: datetime
    ) -> Renewal:
        """One link's move, in the caller's transaction: refused (TAKEN, audited) when the
        successor is another account's at that provider; a link moved meanwhile is left."""
        link = plan.link
        taken = conn.execute(
            select(_links.c.link_id).where(
                (_links.c.provider_id == link.provider_id)
                & (_links.c.auth_issuer_key_id == new.issuer_key_id)
                & (_links.c.auth_serial == serial_to_bytes(new.serial))
                & (_links.c.link_id != link.link_id)
            )
        ).first()
        if taken is not None:
            self._audit(conn, link.provider_id, False, "taken", new, at)
            return Renewal(Outcome.TAKEN, old, new, link.link_id, link.provider_id)
        moved = conn.execute(
            update(_links)
            .where(
                (_links.c.link_id == link.link_id)
                & (_links.c.auth_issuer_key_id == old.issuer_key_id)
                & (_links.c.auth_serial == serial_to_bytes(old.serial))
                & (_links.c.status != LinkStatus.REVOKED.value)
            )
            .values(
                auth_issuer_key_id=new.issuer_key_id,
                auth_serial=serial_to_bytes(new.serial),
                sign_issuer_key_id=plan.sign.issuer_key_id,
                sign_serial=serial_to_bytes(plan.sign.serial),
                status=plan.status.value,
                updated_at=at,
            )
        ).rowcount
        if moved != 1:  # another process moved (or revoked) it first
            return Renewal(Outcome.NOT_LINKED, old, new, link.link_id, link.provider_id)
        conn.execute(
            insert(_renewals).values(
                link_id=link.link_id,
                at=at,
                reason=plan.reason,
                old_auth_issuer_key_id=old.issuer_key_id,
                old_auth_serial=serial_to_bytes(old.serial),
                new_auth_issuer_key_id=new.issuer_key_id,
                new_auth_serial=serial_to_bytes(new.serial),
                old_sign_issuer_key_id=link.sign.issuer_key_id,
                old_sign_serial=serial_to_bytes(link.sign.serial),
                new_sign_issuer_key_id=plan.sign.issuer_key_id,
                new_sign_serial=serial_to_bytes(plan.sign.serial),
            )
        )
        self._audit(conn, link.provider_id, True, plan.reason, new, at)
        return Renewal(plan.outcome, old, new, link.link_id, link.provider_id)

    def _audit(
        self, conn: Connection, provider_id: str, ok: bool, reason: str, cert: CertRef, at: datetime
    ) -> None:
        check_fields(provider_id, self._terminal_id, RENEWED_ACTION, reason, cert.issuer_key_id)
        conn.execute(
            insert(_audit).values(
                at=at,
                provider_id=provider_id,
                terminal_id=self._terminal_id,
                action=RENEWED_ACTION,
                ok=ok,
                reason=reason,
                issuer_key_id=cert.issuer_key_id,
                serial=serial_to_bytes(cert.serial),
            )
        )

    def _linked(self, auth: CertRef) -> list[_Linked]:
        with self._db.autocommitted() as conn:
            rows = conn.execute(
                select(
                    _links.c.link_id,
                    _links.c.provider_id,
                    _links.c.sign_issuer_key_id,
                    _links.c.sign_serial,
                )
                .where(
                    (_links.c.auth_issuer_key_id == auth.issuer_key_id)
                    & (_links.c.auth_serial == serial_to_bytes(auth.serial))
                    & (_links.c.status != LinkStatus.REVOKED.value)
                )
                .order_by(_links.c.link_id)
            ).all()
        return [_Linked(r[0], r[1], CertRef(serial_from_bytes(r[3]), r[2])) for r in rows]

    def history(self, link_id: int) -> list[Succession]:
        """The authentication certificates a link moved between, oldest move first."""
        with self._db.autocommitted() as conn:
            rows = conn.execute(
                select(
                    _renewals.c.old_auth_issuer_key_id,
                    _renewals.c.old_auth_serial,
                    _renewals.c.new_auth_issuer_key_id,
                    _renewals.c.new_auth_serial,
                )
                .where(_renewals.c.link_id == link_id)
                .order_by(_renewals.c.renewal_id)
            ).all()
        return [
            Succession(
                CertRef(serial_from_bytes(r[1]), r[0]), CertRef(serial_from_bytes(r[3]), r[2])
            )
            for r in rows
        ]


#: The proof's context (`SqlVerificationStore`'s one read) with the predecessor of its
#: certificate in the imported link data, looked up only when no link holds the certificate:
#: a proof still costs one statement.
_RENEWING_CONTEXT = (
    _CONTEXT.replace(  # noqa: S608 - fixed statement text, no value in it
        "FROM (SELECT 1 AS one) AS q",
        ", p.old_issuer_key_id, p.old_serial FROM (SELECT 1 AS one) AS q",
    )
    + " LEFT JOIN certificate_successions p ON l.link_id IS NULL"
    " AND p.new_issuer_key_id = ? AND p.new_serial = ?"
)
if _RENEWING_CONTEXT.count("p.old_serial FROM") != 1:  # the context query changed its shape
    raise ImportError("kiosk.store.verification's context query is not as renewal expects")


class RenewingVerificationStore(SqlVerificationStore):
    """The verifier's store, recognising a renewed card at its first proof: a certificate
    no link holds whose predecessor a link holds has that link moved to it (`LinkRenewals`)
    before the proof's context is read again. The proof's own signature, validity and chain
    were checked before the verifier asks for the context; the move rests on the authority's
    data alone.

    Over the imported link data (`SqlSuccessionSource`) the predecessor comes with the
    context, in its one statement; another source is asked for an unlinked certificate."""

    def __init__(self, db: Database, renewals: LinkRenewals, clock: Callable[[], datetime]) -> None:
        super().__init__(db)
        self._renewals = renewals
        self._clock = clock
        self._joined = isinstance(renewals.source, SqlSuccessionSource)
        self._renewing = db.sql(_RENEWING_CONTEXT)

    def proof_context(self, provider_id: str, issuer_key_id: str, serial: int) -> ProofContext:
        """The context of the proof, after moving a renewed card's link to this certificate."""
        cert = CertRef(serial, issuer_key_id)
        context, old = self._read(provider_id, cert)
        if context.link is not None or old is None:
            return context
        self._renewals.renew(old, self._clock())
        # read again whatever became of it: moved here, or by another process just before
        return super().proof_context(provider_id, issuer_key_id, serial)

    def _read(self, provider_id: str, cert: CertRef) -> tuple[ProofContext, CertRef | None]:
        """The context, and the certificate's predecessor when no link holds it."""
        if not self._joined:
            context = super().proof_context(provider_id, cert.issuer_key_id, cert.serial)
            if context.link is not None:
                return context, None
            try:
                return context, self._renewals.source.predecessor(cert)
            except SuccessionUnavailable:
                log.info("renewal: the certificate authority's link data is unavailable")
                return context, None
        octets, key_id = serial_to_bytes(cert.serial), cert.issuer_key_id
        row = self._db.one(
            self._renewing, (octets, key_id, provider_id, key_id, octets, key_id, octets)
        )
        old = None if row[12] is None else CertRef(serial_from_bytes(bytes(row[13])), row[12])
        return self._context_of(row), old


__all__ = [
    "RENEWAL_TERMINAL",
    "RENEWED_ACTION",
    "SUPERSEDED",
    "LinkRenewals",
    "Outcome",
    "Renewal",
    "RenewingVerificationStore",
    "SqlSuccessionSource",
    "Succession",
    "SuccessionConflict",
    "SuccessionSource",
    "SuccessionUnavailable",
]

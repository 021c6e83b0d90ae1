"""SQLAlchemy 2.x typed models of the linkage store; imported only inside kiosk.store.

Times are timezone-aware UTC (`UtcDateTime`), except `revoked_serials.revoked_at`, which holds
Unix seconds: a national CRL has millions of rows and an integer is cheaper to write and read.
Revoked serials belong to one imported CRL generation; `crl_current` points at the generation in
force per issuer, and flipping that pointer is the atomic swap of a CRL import.

The insurer's roster (`insurance_members`, one `roster_imports` row per import) and the clinic's
own patient records (`patients`) are data the operator loads from CSV (kiosk.store.roster).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Short machine codes only (actions, reasons): no spaces, so no names or addresses.
CODE_LENGTH = 64
#: Issuer key ids are the hex of a subjectKeyIdentifier (SHA-1: 40, SHA-256: 64 characters).
KEY_ID_LENGTH = 128
#: DER INTEGER content of a serial: 20 octets plus a sign octet.
SERIAL_LENGTH = 21


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass a UTC-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(row: type[Base]) -> Table:
    """The Core table of a mapped class, for the insert/update/delete statements of the store.

    SQLAlchemy types `__table__` as any FromClause; a declarative class with a `__tablename__`
    always maps a Table, and this says so once instead of at every statement."""
    table = row.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{row.__name__} is not mapped to a table.")
    return table


class ProviderRow(Base):
    __tablename__ = "providers"

    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LinkRow(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("provider_id", "account_ref", name="uq_links_account"),
        UniqueConstraint("provider_id", "auth_issuer_key_id", "auth_serial", name="uq_links_auth"),
        Index("ix_links_sign", "sign_issuer_key_id", "sign_serial"),
        CheckConstraint(
            "status IN ('active', 'needs_reenrolment', 'revoked')", name="status_known"
        ),
    )

    link_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.provider_id"))
    account_ref: Mapped[str] = mapped_column(String(128))
    auth_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    auth_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    sign_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    sign_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CertificateSuccessionRow(Base):
    """The certificate authority's old → new link (新旧紐付け) of one renewed certificate, as
    the operator imported it (kiosk.store.renewal; format in docs/renewal.md)."""

    __tablename__ = "certificate_successions"
    __table_args__ = (
        PrimaryKeyConstraint("old_issuer_key_id", "old_serial"),
        Index("ix_certificate_successions_new", "new_issuer_key_id", "new_serial"),
    )

    old_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    old_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    new_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    new_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LinkRenewalRow(Base):
    """Append-only history of links moved to a renewed card's certificates without a new
    enrolment (kiosk.store.renewal): from which certificates to which, why, and when."""

    __tablename__ = "link_renewals"
    __table_args__ = (Index("ix_link_renewals_link", "link_id"),)

    renewal_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    link_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(CODE_LENGTH))
    old_auth_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    old_auth_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    new_auth_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    new_auth_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    old_sign_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    old_sign_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    new_sign_issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    new_sign_serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))


class VerificationRow(Base):
    """Append-only, like the audit log: one row per verdict that used up a challenge.

    The key is made from the challenge (`verification_key`: its expiry in µs shifted left 11
    bits, or'ed with the top 11 bits of its random part), so a challenge answers one recorded
    verdict and a second use finds its key taken by the same `challenge_id`. Two different
    challenges that share a key (same µs of expiry and 11 bits) are rare; the second one goes
    to the next free key (`SqlVerificationStore.record`). The key is the table's rowid on
    SQLite: rows are appended in key order (about the order of time), one B-tree, and a
    commit usually changes one page. Times are µs since the Unix epoch (UTC).
    """

    __tablename__ = "verifications"

    verification_key: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    challenge_id: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[int] = mapped_column(BigInteger())
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    terminal_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    action: Mapped[str] = mapped_column(String(CODE_LENGTH))
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(CODE_LENGTH))
    issuer_key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH), nullable=True)
    serial: Mapped[bytes | None] = mapped_column(LargeBinary(SERIAL_LENGTH), nullable=True)
    link_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CrlGenerationRow(Base):
    """One imported CRL; its entries are the revoked_serials rows with its generation_id."""

    __tablename__ = "crl_generations"
    __table_args__ = (Index("ix_crl_generations_issuer", "issuer_key_id"),)

    generation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    this_update: Mapped[datetime] = mapped_column(UtcDateTime())
    next_update: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    crl_number: Mapped[int | None] = mapped_column(Numeric(50, 0), nullable=True)
    entries: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CrlCurrentRow(Base):
    """The CRL generation in force for each issuer (the pointer an import flips)."""

    __tablename__ = "crl_current"

    issuer_key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH), primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("crl_generations.generation_id"), unique=True
    )


class RevokedSerialRow(Base):
    """A revoked serial of one CRL generation (no foreign key: bulk loads stay fast).

    On PostgreSQL the table is partitioned by generation; an import attaches a partition."""

    __tablename__ = "revoked_serials"
    __table_args__ = (
        PrimaryKeyConstraint("generation_id", "serial"),
        # PostgreSQL keeps each generation in its own partition (dropped whole on replacement)
        {"sqlite_with_rowid": False, "postgresql_partition_by": "LIST (generation_id)"},
    )

    generation_id: Mapped[int] = mapped_column(Integer)
    serial: Mapped[bytes] = mapped_column(LargeBinary(SERIAL_LENGTH))
    revoked_at: Mapped[int] = mapped_column(BigInteger)  # Unix seconds, UTC
    reason: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)  # RFC 5280 CRLReason


class CrlSourceRow(Base):
    """A CRL URL fetched on a schedule (kiosk.store.crlsources): the validators and identity of
    the last CRL put in force from it, the last check, success and error code, and the lease
    one worker process holds while it fetches."""

    __tablename__ = "crl_sources"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(512), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issuer_key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH), nullable=True)
    crl_number: Mapped[int | None] = mapped_column(Numeric(50, 0), nullable=True)
    der_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AuditRow(Base):
    """Append-only: triggers refuse UPDATE, and DELETE except by the retention purge.

    Only short codes, identifiers and certificate references: no column can hold a PIN or
    basic 4 info. A purge (`AuditLog.purge`) first appends its own row (action `audit.purge`,
    who in `actor`, how many rows in `affected_rows`, the cutoff in `cutoff_at`); the database
    lets a DELETE through only for rows older than the cutoff of the log's latest row when
    that row is a purge, and never for a row younger than the floor (migration 0004).
    """

    __tablename__ = "audit_log"
    # No index on `at`: event_id grows with time and every proof appends here.

    event_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    terminal_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    action: Mapped[str] = mapped_column(String(CODE_LENGTH))
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    issuer_key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH), nullable=True)
    serial: Mapped[bytes | None] = mapped_column(LargeBinary(SERIAL_LENGTH), nullable=True)
    #: Who acted when it was not the card holder: a staff id or an operator's login (an
    #: identifier, never a name typed as free text).
    actor: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    #: How many rows the action changed (a purge: how many audit rows it removed).
    affected_rows: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    #: The time bound the action used (a purge: rows before it were removed).
    cutoff_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


#: 保険者番号: 8 digits (6 for 国民健康保険).
INSURER_LENGTH = 8
#: 記号 and 番号 of a health insurance card: up to 20 characters each (full-width allowed).
MEMBER_PART_LENGTH = 20
#: 枝番: 2 digits.
BRANCH_LENGTH = 2
#: A person's name as the record spells it (kanji or kana).
PERSON_NAME_LENGTH = 100
#: 診察券番号: the clinic's own patient number.
PATIENT_NUMBER_LENGTH = 32


class RosterImportRow(Base):
    """One import of an insurer's member roster: when, how many rows, the file's SHA-256.

    The members in force for an insurer are those of its latest import; a re-import deletes
    the previous members and inserts the new ones in one transaction (kiosk.store.roster), so
    earlier imports stay here as the history of what was loaded, with no members left.
    """

    __tablename__ = "roster_imports"
    __table_args__ = (Index("ix_roster_imports_insurer", "insurer"),)

    import_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    insurer: Mapped[str] = mapped_column(String(INSURER_LENGTH))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[bytes] = mapped_column(LargeBinary(32))


class InsuranceMemberRow(Base):
    """One member of an insurer's roster (被保険者), as the insurer's file gave it.

    An empty 記号 or 枝番 is stored as "" (not NULL) so the unique key holds for it too.
    """

    __tablename__ = "insurance_members"
    __table_args__ = (
        UniqueConstraint("insurer", "symbol", "number", "branch", name="uq_insurance_members_key"),
        Index("ix_insurance_members_import", "import_id"),
        CheckConstraint("copay_tenths BETWEEN 1 AND 3", name="copay_known"),
    )

    member_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("roster_imports.import_id"))
    insurer: Mapped[str] = mapped_column(String(INSURER_LENGTH))
    symbol: Mapped[str] = mapped_column(String(MEMBER_PART_LENGTH))
    number: Mapped[str] = mapped_column(String(MEMBER_PART_LENGTH))
    branch: Mapped[str] = mapped_column(String(BRANCH_LENGTH))
    name: Mapped[str] = mapped_column(String(PERSON_NAME_LENGTH))
    name_kana: Mapped[str] = mapped_column(String(PERSON_NAME_LENGTH))
    birth_date: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    lost_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # 資格喪失日
    copay_tenths: Mapped[int] = mapped_column(SmallInteger)


class PatientRow(Base):
    """One of a clinic's own patient records (診察券番号), with the insurance it has on file.

    No foreign key to `providers`: a clinic loads its records before its first enrolment
    creates the provider row. An insurance field the clinic does not have is "". A load
    replaces all of a provider's records in one transaction; `imported_at` says when.
    """

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("provider_id", "patient_number", name="uq_patients_number"),
        Index("ix_patients_member", "provider_id", "insurer", "number"),
        # an enrolment finds the person's record by the birth date on the card
        Index("ix_patients_born", "provider_id", "birth_date"),
    )

    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    patient_number: Mapped[str] = mapped_column(String(PATIENT_NUMBER_LENGTH))
    name: Mapped[str] = mapped_column(String(PERSON_NAME_LENGTH))
    name_kana: Mapped[str] = mapped_column(String(PERSON_NAME_LENGTH))
    birth_date: Mapped[date] = mapped_column(Date)
    insurer: Mapped[str] = mapped_column(String(INSURER_LENGTH))
    symbol: Mapped[str] = mapped_column(String(MEMBER_PART_LENGTH))
    number: Mapped[str] = mapped_column(String(MEMBER_PART_LENGTH))
    branch: Mapped[str] = mapped_column(String(BRANCH_LENGTH))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxRow(Base):
    """A message waiting for (or delivered to) another system: the reception's FHIR Bundles.

    Written in the transaction that audits the visit (kiosk.store.outbox), so a recorded
    visit always has its message; sent after, retried with backoff (`next_attempt_at`), and
    marked delivered only once the receiver accepted it. `body` is what is sent, as built;
    the other columns are codes and times, never anything about the person.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "destination", "delivered_at", "next_attempt_at"),
        CheckConstraint("attempts >= 0", name="attempts_counted"),
    )

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a uuid, as text
    destination: Mapped[str] = mapped_column(String(CODE_LENGTH))
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    body: Mapped[bytes] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    #: The short code of the last failed attempt (e.g. `timeout`, `http_503`).
    last_error: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


#: The states of a payment ledger row (kiosk.store.ledger): written `pending` before the
#: gateway is called, then `settled`, `declined` or `unknown`; a settled one may be `voided`.
LEDGER_STATES = ("pending", "settled", "declined", "unknown", "voided")


class LedgerRow(Base):
    """One charge attempt at a shop counter (kiosk.store.ledger), written before the gateway
    is asked to charge, so a crash leaves a row to reconcile and never an unrecorded charge.

    `(provider_id, idempotency_key)` is unique: a retried or duplicated request finds the
    first row instead of writing a second. `business_day` is the day in Japan the attempt was
    begun on, the day its amount counts towards the daily limits and the settlement. Only
    codes, references and amounts are stored: the account is the shop's own `account_ref`.
    """

    __tablename__ = "payment_ledger"
    __table_args__ = (
        UniqueConstraint("provider_id", "idempotency_key", name="uq_payment_ledger_key"),
        # the daily limits: the day's rows of an account, of a terminal
        Index("ix_payment_ledger_account_day", "provider_id", "account_ref", "business_day"),
        Index("ix_payment_ledger_terminal_day", "provider_id", "terminal_id", "business_day"),
        # reconciliation at start: the rows still pending or unknown, oldest first
        Index("ix_payment_ledger_state", "state", "created_at"),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        CheckConstraint(
            "state IN ('pending', 'settled', 'declined', 'unknown', 'voided')", name="state_known"
        ),
    )

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    idempotency_key: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    terminal_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    account_ref: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH))
    amount_yen: Mapped[int] = mapped_column(Integer)
    #: The card company's gateway that is asked to charge (settlement totals are per gateway).
    gateway: Mapped[str] = mapped_column(String(CODE_LENGTH))
    state: Mapped[str] = mapped_column(String(16))
    #: The decline's reason code (e.g. `insufficient_funds`); None unless declined.
    reason: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    receipt_no: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH), nullable=True)
    business_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    #: Who voided it: the staff member's code, as the audit log's `actor`.
    voided_by: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)


class PaymentDayLockRow(Base):
    """One row per (shop, account or terminal, day in Japan) that a payment began on: on
    PostgreSQL, `begin` locks the account's and the terminal's row (an `INSERT … ON CONFLICT
    DO UPDATE`, which locks the row it finds as `FOR UPDATE` would) before it sums the day's
    ledger rows, so two payments racing past a daily limit are checked one after the other.
    (SQLite's `BEGIN IMMEDIATE` serialises all writers already.)
    The ledger stays the only record of amounts: these rows hold no totals that could drift.
    """

    __tablename__ = "payment_day_locks"
    __table_args__ = (
        PrimaryKeyConstraint("provider_id", "scope", "subject", "business_day"),
        CheckConstraint("scope IN ('account', 'terminal')", name="scope_known"),
    )

    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128))
    business_day: Mapped[date] = mapped_column(Date)


#: The states of a payment request (kiosk.store.payment_requests): `open` until the card is
#: charged (`paid`), the shop withdraws it (`cancelled`) or its time runs out (`expired`).
PAYMENT_REQUEST_STATES = ("open", "paid", "cancelled", "expired")


class PaymentRequestRow(Base):
    """An amount a shop's POS rang up for one kiosk terminal, waiting for the card holder.

    `open_terminal` is the terminal id while the request is open and NULL once it is closed:
    its unique constraint lets the database itself refuse a second open request for a
    terminal (two POS calls racing cannot both open one), on SQLite and PostgreSQL alike,
    since both let any number of rows hold NULL in a unique column.
    """

    __tablename__ = "payment_requests"
    __table_args__ = (
        UniqueConstraint("open_terminal", name="uq_payment_requests_open_terminal"),
        Index("ix_payment_requests_state", "state", "expires_at"),
        CheckConstraint("amount_yen > 0", name="amount_positive"),
        CheckConstraint("state IN ('open', 'paid', 'cancelled', 'expired')", name="state_known"),
        CheckConstraint(
            "(state = 'open') = (open_terminal IS NOT NULL)", name="open_holds_terminal"
        ),
    )

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a uuid, as text
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    terminal_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    open_terminal: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    amount_yen: Mapped[int] = mapped_column(Integer)
    #: The shop's own reference of the sale (its POS's order number).
    order_ref: Mapped[str] = mapped_column(String(CODE_LENGTH))
    #: The shop's code (a provider may run several shops).
    shop: Mapped[str] = mapped_column(String(CODE_LENGTH))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    receipt_no: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH), nullable=True)


#: The states of an OpenID Connect authorization request (kiosk.store.oidc): `waiting` for a
#: kiosk visit, `approved` there (its authorization code issued), `exchanged` at the token
#: endpoint; `denied` (cancelled in the browser) and `expired` end it without a login.
OIDC_REQUEST_STATES = ("waiting", "approved", "denied", "expired", "exchanged")


class OidcRequestRow(Base):
    """One browser's authorization request at the OpenID Provider (kiosk.oidc), waiting for
    the person to prove with the card at a kiosk and type its binding code there.

    The binding code itself is never stored: `binding_digest` is its keyed SHA-256 (HMAC),
    kept to tell an expired or used code from a mistyped one, and `live_binding` holds the
    same digest only while the request waits (NULL after), so the unique constraint refuses
    a second waiting request under one code. `request_id` is the browser's handle (its
    waiting page polls it), `login_id` the kiosk's: neither can be derived from the other.
    What the kiosk proved is kept as the ID token will say it (pairwise `sub`, `acr`, `amr`,
    `auth_time`) — never a certificate, a serial or the account reference.
    """

    __tablename__ = "oidc_requests"
    __table_args__ = (
        UniqueConstraint("login_id", name="uq_oidc_requests_login_id"),
        UniqueConstraint("live_binding", name="uq_oidc_requests_live_binding"),
        Index("ix_oidc_requests_binding", "binding_digest"),
        Index("ix_oidc_requests_nonce", "client_id", "nonce"),
        Index("ix_oidc_requests_expires", "expires_at"),
        CheckConstraint(
            "status IN ('waiting', 'approved', 'denied', 'expired', 'exchanged')",
            name="status_known",
        ),
        CheckConstraint(
            "(status = 'waiting') = (live_binding IS NOT NULL)", name="waiting_holds_binding"
        ),
    )

    request_id: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    login_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    client_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    redirect_uri: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str | None] = mapped_column(String(512), nullable=True)
    nonce: Mapped[str] = mapped_column(String(255))
    #: BASE64URL(SHA-256(code_verifier)): PKCE with S256 only.
    code_challenge: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(255))
    binding_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    live_binding: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    terminal_id: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    sub: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)
    auth_time: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acr: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: The RFC 8176 method values, space-separated (`sc hwk pin`).
    amr: Mapped[str | None] = mapped_column(String(CODE_LENGTH), nullable=True)


class OidcCodeRow(Base):
    """The authorization code of an approved request: its SHA-256 only (the code is 256
    random-looking bits, so a plain hash is enough), good once (`used_at`) and briefly."""

    __tablename__ = "oidc_codes"
    __table_args__ = (UniqueConstraint("request_id", name="uq_oidc_codes_request_id"),)

    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("oidc_requests.request_id"))
    client_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OidcBindingFailureRow(Base):
    """One wrong binding code typed at a kiosk terminal: the rate limit counts a terminal's
    rows in its window (kiosk.oidc.provider). Only codes and times: never what was typed."""

    __tablename__ = "oidc_binding_failures"
    __table_args__ = (
        Index("ix_oidc_binding_failures_terminal", "provider_id", "terminal_id", "failed_at"),
    )

    failure_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    terminal_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OidcAssertionRow(Base):
    """A `private_key_jwt` client assertion's `jti`, kept until the assertion expires so
    that it is accepted once (RFC 7523 §3, OpenID Connect Core §9)."""

    __tablename__ = "oidc_assertions"
    __table_args__ = (
        PrimaryKeyConstraint("client_id", "jti"),
        Index("ix_oidc_assertions_expires", "expires_at"),
    )

    client_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TerminalCredentialRow(Base):
    """A kiosk terminal's bearer credential at the platform (kiosk.store.credentials): the
    terminal it names and the providers it may act for (space-separated, sorted).

    Only the token's SHA-256 is kept (the token is 256 random bits, so a plain hash is
    enough), unique, so one token never names two credentials. A revoked row keeps its digest,
    so the platform can say "revoked" rather than "unknown"; a rotation replaces it."""

    __tablename__ = "terminal_credentials"
    __table_args__ = (
        UniqueConstraint("token_digest", name="uq_terminal_credentials_token_digest"),
        Index("ix_terminal_credentials_terminal", "terminal_id"),
    )

    credential_id: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    terminal_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    providers: Mapped[str] = mapped_column(String(1040))
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OperatorRow(Base):
    """An operator of the platform's console (kiosk.store.operators): the login name, the
    password's scrypt key (`kiosk.flow.staff.Credential`'s string, never the password) and the
    wrong tries counted since the last good login, with the lockout they started."""

    __tablename__ = "operators"

    name: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    password: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OperatorSessionRow(Base):
    """A signed-in operator's console session, kept here so every worker process sees it: the
    SHA-256 of the cookie's random id (never the id), the CSRF token its forms carry, and the
    idle and absolute expiry."""

    __tablename__ = "operator_sessions"
    __table_args__ = (Index("ix_operator_sessions_operator", "operator"),)

    session_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    operator: Mapped[str] = mapped_column(ForeignKey("operators.name"))
    csrf_token: Mapped[str] = mapped_column(String(CODE_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())

"""audit retention: the purge's own columns, and DELETE only behind a purge's audit row

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00

The audit log stays append-only for every statement but one: the retention purge
(`kiosk.store.audit.AuditLog.purge`, run by `kiosk audit purge`). The database lets a DELETE
of an audit row through only when

- the log's latest row (the highest `event_id`) is a purge's own audit row
  (`action = 'audit.purge'`), and the deleted row is older than the cutoff that row names
  (`cutoff_at`); and
- the deleted row is older than `FLOOR_DAYS` by the database's own clock.

UPDATE and (on PostgreSQL) TRUNCATE stay refused, as in 0001.

Why this design. The purge appends its row (who, how many, the cutoff) and deletes in one
transaction, so the rule "a row may go only once a purge has said so, in the log, first" is
checked by the database itself, with no state outside the log: no session setting the
database cannot see on SQLite, no marker table a statement could fill and empty without
leaving a trace. A DELETE that is not preceded by its purge row is refused, because the latest
row is then something else (after a purge, nothing older than its cutoff is left to delete, and
any later append ends its permission). A trigger that allowed DELETE of rows older than a fixed
N days would let any statement remove them silently, and would fix the operator's period in
the schema. The floor is a second line: even a purge row written by hand with a cutoff in the
future cannot remove a row younger than 90 days, the shortest period the configuration accepts
(`kiosk.config.AUDIT_RETENTION_MIN_DAYS`). It is a constant here on purpose: a migration states
the schema as it was written, and a later change to the floor is a new migration.

The new columns: `actor` (who acted, when not the card holder: a staff id or an operator's
login), `affected_rows` (how many rows the action changed) and `cutoff_at` (the time bound it
used). They are nullable: the rows before this revision have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: No audit row younger than this many days can be deleted, whatever a purge row says.
FLOOR_DAYS = 90

#: The purge's cutoff: that of the log's latest row, when that row is a purge (else NULL).
_LATEST_PURGE_CUTOFF = (
    "(SELECT p.cutoff_at FROM audit_log AS p "
    "WHERE p.event_id = (SELECT max(event_id) FROM audit_log) AND p.action = 'audit.purge')"
)

_SQLITE_DELETE_TRIGGER = (
    "CREATE TRIGGER audit_log_only_purge_deletes BEFORE DELETE ON audit_log "
    # NULL (no purge row, no cutoff) counts as "not allowed": the trigger fires and refuses
    f"WHEN NOT coalesce(OLD.at < datetime('now', '-{FLOOR_DAYS} days') "
    f"AND OLD.at < {_LATEST_PURGE_CUTOFF}, 0) "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)

_POSTGRES_DELETE_FUNCTION = (
    "CREATE FUNCTION audit_log_only_purge_deletes() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN IF OLD.at < now() - interval '{FLOOR_DAYS} days' "
    f"AND OLD.at < {_LATEST_PURGE_CUTOFF} THEN RETURN OLD; END IF; "
    "RAISE EXCEPTION 'audit_log is append-only'; END $$"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    else:
        op.execute("DROP TRIGGER audit_log_no_delete")
    op.add_column("audit_log", sa.Column("actor", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("affected_rows", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("cutoff_at", UtcDateTime(), nullable=True))
    if postgres:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(_POSTGRES_DELETE_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_log_only_purge_deletes BEFORE DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_only_purge_deletes()"
        )
    else:
        op.execute(_SQLITE_DELETE_TRIGGER)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER audit_log_only_purge_deletes ON audit_log")
        op.execute("DROP FUNCTION audit_log_only_purge_deletes()")
        op.execute("DROP TRIGGER audit_log_no_update ON audit_log")
    else:
        op.execute("DROP TRIGGER audit_log_only_purge_deletes")
    op.drop_column("audit_log", "cutoff_at")
    op.drop_column("audit_log", "affected_rows")
    op.drop_column("audit_log", "actor")
    # the rows a purge left stay; the log is wholly append-only again, as in 0001
    if postgres:
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )

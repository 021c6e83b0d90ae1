"""payment ledger: every charge attempt at a shop counter, written before the gateway is asked

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:00:00

`payment_ledger` has one row per charge attempt (kiosk.store.ledger): pending before the
gateway is called, then settled, declined (with a reason code) or unknown, and a settled one
may be voided (by whom, when). `(provider_id, idempotency_key)` is unique, so a retried or
duplicated request can never write a second row, not even across a crash. The daily limits
sum a day's rows per account and per terminal (the two `_day` indexes); on PostgreSQL they
are checked under a lock on that account's and terminal's `payment_day_locks` row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_ledger",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("account_ref", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("receipt_no", sa.String(length=128), nullable=True),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("voided_at", UtcDateTime(), nullable=True),
        sa.Column("voided_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("amount_yen > 0", name=op.f("ck_payment_ledger_amount_positive")),
        sa.CheckConstraint(
            "state IN ('pending', 'settled', 'declined', 'unknown', 'voided')",
            name=op.f("ck_payment_ledger_state_known"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_payment_ledger")),
        sa.UniqueConstraint("provider_id", "idempotency_key", name="uq_payment_ledger_key"),
    )
    op.create_index(
        "ix_payment_ledger_account_day",
        "payment_ledger",
        ["provider_id", "account_ref", "business_day"],
    )
    op.create_index(
        "ix_payment_ledger_terminal_day",
        "payment_ledger",
        ["provider_id", "terminal_id", "business_day"],
    )
    op.create_index("ix_payment_ledger_state", "payment_ledger", ["state", "created_at"])
    op.create_table(
        "payment_day_locks",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('account', 'terminal')", name=op.f("ck_payment_day_locks_scope_known")
        ),
        sa.PrimaryKeyConstraint(
            "provider_id", "scope", "subject", "business_day", name=op.f("pk_payment_day_locks")
        ),
    )


def downgrade() -> None:
    op.drop_table("payment_day_locks")
    op.drop_index("ix_payment_ledger_state", table_name="payment_ledger")
    op.drop_index("ix_payment_ledger_terminal_day", table_name="payment_ledger")
    op.drop_index("ix_payment_ledger_account_day", table_name="payment_ledger")
    op.drop_table("payment_ledger")

"""payment requests: the amounts a shop's POS rings up for a kiosk terminal

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:20:00

`payment_requests` has one row per request (kiosk.store.payment_requests). `open_terminal`
holds the terminal id while the request is open and NULL after; it is unique, so the database
refuses a second open request for a terminal (NULLs never collide, on SQLite or PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_requests",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("open_terminal", sa.String(length=64), nullable=True),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=64), nullable=False),
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("receipt_no", sa.String(length=128), nullable=True),
        sa.CheckConstraint("amount_yen > 0", name=op.f("ck_payment_requests_amount_positive")),
        sa.CheckConstraint(
            "state IN ('open', 'paid', 'cancelled', 'expired')",
            name=op.f("ck_payment_requests_state_known"),
        ),
        sa.CheckConstraint(
            "(state = 'open') = (open_terminal IS NOT NULL)",
            name=op.f("ck_payment_requests_open_holds_terminal"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("open_terminal", name="uq_payment_requests_open_terminal"),
    )
    op.create_index("ix_payment_requests_state", "payment_requests", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_payment_requests_state", table_name="payment_requests")
    op.drop_table("payment_requests")

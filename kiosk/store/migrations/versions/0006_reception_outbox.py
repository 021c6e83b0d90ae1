"""reception outbox: the messages for the clinic's reception system, delivered at least once

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:00:00

One row per message (`message_id`, a uuid: the receiver deduplicates by it), written in the
transaction that audits the visit (kiosk.store.outbox). A sender takes the rows of its
destination that are not delivered and due (`ix_outbox_due`), marks each delivered once the
receiver accepted it, or counts the failed attempt and sets the next one later (backoff).
Rows are updated, not appended: the audit log is the record of what happened, the outbox is
the work still to do.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_counted")),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_due", "outbox", ["destination", "delivered_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")

"""stateless challenges: store only their use

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "challenge_uses",
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("challenge_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("expires_at", "challenge_id", name=op.f("pk_challenge_uses")),
        sqlite_with_rowid=False,
    )
    op.drop_table("challenges")


def downgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("nonce", sa.LargeBinary(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_challenges")),
        sqlite_with_rowid=False,
    )
    op.drop_table("challenge_uses")

"""terminal_credentials: each kiosk terminal's bearer credential at the platform (issue 14)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:00:00

One row per credential (kiosk.store.credentials): the terminal it names, the providers it may
act for (space-separated, sorted), the SHA-256 of its token (unique: one token never names two
credentials; the token itself is never stored), when it was issued, last rotated and revoked.
A revoked row keeps its digest so the platform can answer "revoked" rather than "unknown".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terminal_credentials",
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("providers", sa.String(length=1040), nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("rotated_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_terminal_credentials")),
        sa.UniqueConstraint("token_digest", name="uq_terminal_credentials_token_digest"),
    )
    op.create_index("ix_terminal_credentials_terminal", "terminal_credentials", ["terminal_id"])


def downgrade() -> None:
    op.drop_index("ix_terminal_credentials_terminal", table_name="terminal_credentials")
    op.drop_table("terminal_credentials")

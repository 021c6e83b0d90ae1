"""operator_console: the operator console's operators and sessions (issue 14, part 7)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:00:00

`operators` holds each console operator's login name, the scrypt key of the password (never
the password) and the wrong tries since the last good login with the lockout they started.
`operator_sessions` holds the signed-in sessions, shared by every worker process: the SHA-256
of the cookie's random id, the CSRF token of the session's forms, and when it expires (idle and
absolute). kiosk.store.operators reads and writes both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("last_login_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_operators")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("session_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator"],
            ["operators.name"],
            name=op.f("fk_operator_sessions_operator_operators"),
        ),
        sa.PrimaryKeyConstraint("session_digest", name=op.f("pk_operator_sessions")),
    )
    op.create_index("ix_operator_sessions_operator", "operator_sessions", ["operator"])


def downgrade() -> None:
    op.drop_index("ix_operator_sessions_operator", table_name="operator_sessions")
    op.drop_table("operator_sessions")
    op.drop_table("operators")

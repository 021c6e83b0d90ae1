"""oidc: the OpenID Provider's authorization requests, codes, wrong-code counts, assertion ids

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00

`oidc_requests` has one row per browser authorization request (kiosk.store.oidc); its binding
code is kept as a keyed digest only, and `live_binding` (unique, NULL unless waiting) refuses a
second waiting request under one code. `oidc_codes` holds the SHA-256 of each request's one
authorization code. `oidc_binding_failures` counts wrong binding codes per kiosk terminal for
the rate limit; `oidc_assertions` remembers the `jti` of each private_key_jwt assertion until
it expires.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("login_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=512), nullable=True),
        sa.Column("nonce", sa.String(length=255), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=255), nullable=False),
        sa.Column("binding_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("live_binding", sa.LargeBinary(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("terminal_id", sa.String(length=64), nullable=True),
        sa.Column("sub", sa.String(length=64), nullable=True),
        sa.Column("auth_time", UtcDateTime(), nullable=True),
        sa.Column("acr", sa.String(length=128), nullable=True),
        sa.Column("amr", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'approved', 'denied', 'expired', 'exchanged')",
            name=op.f("ck_oidc_requests_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'waiting') = (live_binding IS NOT NULL)",
            name=op.f("ck_oidc_requests_waiting_holds_binding"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_oidc_requests")),
        sa.UniqueConstraint("login_id", name="uq_oidc_requests_login_id"),
        sa.UniqueConstraint("live_binding", name="uq_oidc_requests_live_binding"),
    )
    op.create_index("ix_oidc_requests_binding", "oidc_requests", ["binding_digest"])
    op.create_index("ix_oidc_requests_nonce", "oidc_requests", ["client_id", "nonce"])
    op.create_index("ix_oidc_requests_expires", "oidc_requests", ["expires_at"])
    op.create_table(
        "oidc_codes",
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["oidc_requests.request_id"],
            name=op.f("fk_oidc_codes_request_id_oidc_requests"),
        ),
        sa.PrimaryKeyConstraint("code_digest", name=op.f("pk_oidc_codes")),
        sa.UniqueConstraint("request_id", name="uq_oidc_codes_request_id"),
    )
    op.create_table(
        "oidc_binding_failures",
        sa.Column("failure_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("failed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("failure_id", name=op.f("pk_oidc_binding_failures")),
    )
    op.create_index(
        "ix_oidc_binding_failures_terminal",
        "oidc_binding_failures",
        ["provider_id", "terminal_id", "failed_at"],
    )
    op.create_table(
        "oidc_assertions",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_oidc_assertions")),
    )
    op.create_index("ix_oidc_assertions_expires", "oidc_assertions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oidc_assertions_expires", table_name="oidc_assertions")
    op.drop_table("oidc_assertions")
    op.drop_index("ix_oidc_binding_failures_terminal", table_name="oidc_binding_failures")
    op.drop_table("oidc_binding_failures")
    op.drop_table("oidc_codes")
    op.drop_index("ix_oidc_requests_expires", table_name="oidc_requests")
    op.drop_index("ix_oidc_requests_nonce", table_name="oidc_requests")
    op.drop_index("ix_oidc_requests_binding", table_name="oidc_requests")
    op.drop_table("oidc_requests")

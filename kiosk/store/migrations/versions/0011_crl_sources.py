"""crl_sources: the CRL URLs fetched on a schedule, one row each (issue 14, part 5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:00:00

One row per configured URL (kiosk.store.crlsources): the HTTP validators of the last CRL put
in force from it (ETag, Last-Modified: the next fetch asks "changed since?"), the CRL it was
(issuer, number, SHA-256 of its DER: the base a full CRL is diffed against), when it was last
checked and last succeeded, the code of the last failure, and a lease (owner, until) so that of
several worker processes one fetches a URL at a time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crl_sources",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("etag", sa.String(length=512), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("issuer_key_id", sa.String(length=128), nullable=True),
        sa.Column("crl_number", sa.Numeric(precision=50, scale=0), nullable=True),
        sa.Column("der_sha256", sa.String(length=64), nullable=True),
        sa.Column("last_check_at", UtcDateTime(), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_crl_sources")),
    )


def downgrade() -> None:
    op.drop_table("crl_sources")

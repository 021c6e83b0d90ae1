"""link_renewals: links that survive a card's renewal (issue 16, part 2)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 21:30:00

`certificate_successions` holds the certificate authority's old → new serial link
(新旧紐付け) as the operator imported it: one row per renewed certificate, keyed by the old
certificate, indexed by the new one (a proof from a renewed card looks its predecessor up).
`link_renewals` is the append-only history of links moved to a renewed card's certificates
without a new enrolment, written in the transaction that moves the link (with its audit row).
kiosk.store.renewal reads and writes both; docs/renewal.md says what the format assumes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_KEY_ID, _SERIAL, _CODE = 128, 21, 64


def upgrade() -> None:
    op.create_table(
        "certificate_successions",
        sa.Column("old_issuer_key_id", sa.String(length=_KEY_ID), nullable=False),
        sa.Column("old_serial", sa.LargeBinary(length=_SERIAL), nullable=False),
        sa.Column("new_issuer_key_id", sa.String(length=_KEY_ID), nullable=False),
        sa.Column("new_serial", sa.LargeBinary(length=_SERIAL), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "old_issuer_key_id", "old_serial", name=op.f("pk_certificate_successions")
        ),
    )
    op.create_index(
        "ix_certificate_successions_new",
        "certificate_successions",
        ["new_issuer_key_id", "new_serial"],
    )
    op.create_table(
        "link_renewals",
        sa.Column("renewal_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=_CODE), nullable=False),
        sa.Column("old_auth_issuer_key_id", sa.String(length=_KEY_ID), nullable=False),
        sa.Column("old_auth_serial", sa.LargeBinary(length=_SERIAL), nullable=False),
        sa.Column("new_auth_issuer_key_id", sa.String(length=_KEY_ID), nullable=False),
        sa.Column("new_auth_serial", sa.LargeBinary(length=_SERIAL), nullable=False),
        sa.Column("old_sign_issuer_key_id", sa.String(length=_KEY_ID), nullable=False),
        sa.Column("old_sign_serial", sa.LargeBinary(length=_SERIAL), nullable=False),
        sa.Column("new_sign_issuer_key_id", sa.String(length=_KEY_ID), nullable=False),
        sa.Column("new_sign_serial", sa.LargeBinary(length=_SERIAL), nullable=False),
        sa.PrimaryKeyConstraint("renewal_id", name=op.f("pk_link_renewals")),
    )
    op.create_index("ix_link_renewals_link", "link_renewals", ["link_id"])


def downgrade() -> None:
    op.drop_index("ix_link_renewals_link", table_name="link_renewals")
    op.drop_table("link_renewals")
    op.drop_index("ix_certificate_successions_new", table_name="certificate_successions")
    op.drop_table("certificate_successions")

"""verifications: a verdict and the use of its challenge in one append-only row, keyed by the challenge

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verifications",
        sa.Column(
            "verification_key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("challenge_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("issuer_key_id", sa.String(length=128), nullable=True),
        sa.Column("serial", sa.LargeBinary(length=21), nullable=True),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("verification_key", name=op.f("pk_verifications")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION verifications_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'verifications is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER verifications_append_only BEFORE UPDATE OR DELETE ON verifications "
            "FOR EACH ROW EXECUTE FUNCTION verifications_append_only()"
        )
        op.execute(
            "CREATE TRIGGER verifications_no_truncate BEFORE TRUNCATE ON verifications "
            "FOR EACH STATEMENT EXECUTE FUNCTION verifications_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER verifications_no_{event.lower()} BEFORE {event} "
                "ON verifications BEGIN SELECT RAISE(ABORT, 'verifications is append-only'); END"
            )
    # Challenge uses are now the verifications' keys (never purged: they are the audit trail).
    op.drop_table("challenge_uses")


def downgrade() -> None:
    op.create_table(
        "challenge_uses",
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("challenge_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("expires_at", "challenge_id", name=op.f("pk_challenge_uses")),
        sqlite_with_rowid=False,
    )
    # The key is expiry << 11 | the top 11 bits of the challenge, plus a small offset when
    # other challenges held the key first (< 64, see kiosk.store.verification).
    bind = op.get_bind()
    uses = [
        {"e": (key - (int.from_bytes(bytes(cid)[:2], "big") >> 5)) >> 11, "c": bytes(cid), "u": at}
        for key, cid, at in bind.execute(
            sa.text("SELECT verification_key, challenge_id, at FROM verifications")
        )
    ]
    if uses:
        bind.execute(
            sa.text(
                "INSERT INTO challenge_uses (expires_at, challenge_id, used_at) VALUES (:e, :c, :u)"
            ),
            uses,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER verifications_no_truncate ON verifications")
        op.execute("DROP TRIGGER verifications_append_only ON verifications")
        op.execute("DROP FUNCTION verifications_append_only()")
    op.drop_table("verifications")

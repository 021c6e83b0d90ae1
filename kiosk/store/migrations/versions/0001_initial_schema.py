"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 03:15:36
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', UtcDateTime(), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('issuer_key_id', sa.String(length=128), nullable=True),
    sa.Column('serial', sa.LargeBinary(length=21), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_audit_log'))
    )
    op.create_table('challenges',
    sa.Column('nonce', sa.LargeBinary(length=32), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('issued_at', UtcDateTime(), nullable=False),
    sa.Column('expires_at', UtcDateTime(), nullable=False),
    sa.Column('used_at', UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_challenges')),
    sqlite_with_rowid=False
    )

    op.create_table('crl_generations',
    sa.Column('generation_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('issuer_key_id', sa.String(length=128), nullable=False),
    sa.Column('this_update', UtcDateTime(), nullable=False),
    sa.Column('next_update', UtcDateTime(), nullable=True),
    sa.Column('crl_number', sa.Numeric(precision=50, scale=0), nullable=True),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('imported_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('generation_id', name=op.f('pk_crl_generations'))
    )
    with op.batch_alter_table('crl_generations', schema=None) as batch_op:
        batch_op.create_index('ix_crl_generations_issuer', ['issuer_key_id'], unique=False)

    op.create_table('providers',
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('provider_id', name=op.f('pk_providers'))
    )
    op.create_table('revoked_serials',
    sa.Column('generation_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.LargeBinary(length=21), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.SmallInteger(), nullable=True),
    sa.PrimaryKeyConstraint('generation_id', 'serial', name=op.f('pk_revoked_serials')),
    sqlite_with_rowid=False,
    postgresql_partition_by='LIST (generation_id)'
    )
    op.create_table('crl_current',
    sa.Column('issuer_key_id', sa.String(length=128), nullable=False),
    sa.Column('generation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['generation_id'], ['crl_generations.generation_id'], name=op.f('fk_crl_current_generation_id_crl_generations')),
    sa.PrimaryKeyConstraint('issuer_key_id', name=op.f('pk_crl_current')),
    sa.UniqueConstraint('generation_id', name=op.f('uq_crl_current_generation_id'))
    )
    op.create_table('links',
    sa.Column('link_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('account_ref', sa.String(length=128), nullable=False),
    sa.Column('auth_issuer_key_id', sa.String(length=128), nullable=False),
    sa.Column('auth_serial', sa.LargeBinary(length=21), nullable=False),
    sa.Column('sign_issuer_key_id', sa.String(length=128), nullable=False),
    sa.Column('sign_serial', sa.LargeBinary(length=21), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.CheckConstraint("status IN ('active', 'needs_reenrolment', 'revoked')", name=op.f('ck_links_status_known')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.provider_id'], name=op.f('fk_links_provider_id_providers')),
    sa.PrimaryKeyConstraint('link_id', name=op.f('pk_links')),
    sa.UniqueConstraint('provider_id', 'account_ref', name='uq_links_account'),
    sa.UniqueConstraint('provider_id', 'auth_issuer_key_id', 'auth_serial', name='uq_links_auth')
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index('ix_links_sign', ['sign_issuer_key_id', 'sign_serial'], unique=False)


    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index('ix_links_sign')

    op.drop_table('links')
    op.drop_table('crl_current')
    op.drop_table('revoked_serials')
    op.drop_table('providers')
    with op.batch_alter_table('crl_generations', schema=None) as batch_op:
        batch_op.drop_index('ix_crl_generations_issuer')

    op.drop_table('crl_generations')
    op.drop_table('challenges')
    op.drop_table('audit_log')

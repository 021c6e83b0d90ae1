"""insurance records: the insurer's member roster, its imports, and the clinic's patients

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:40:00

`roster_imports` holds one row per roster import (insurer, when, how many rows, the file's
SHA-256); `insurance_members` the members in force, each naming the import it came from, unique
on (insurer, symbol, number, branch) with "" for an empty 記号 or 枝番. `patients` holds the
clinic's own records, unique on (provider_id, patient_number). A re-import of an insurer is a
DELETE of its members and an INSERT of the new ones in one transaction (kiosk.store.roster).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kiosk.store.models import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roster_imports",
        sa.Column("import_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("insurer", sa.String(length=8), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_roster_imports")),
    )
    op.create_index("ix_roster_imports_insurer", "roster_imports", ["insurer"])
    op.create_table(
        "insurance_members",
        sa.Column("member_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("insurer", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("lost_on", sa.Date(), nullable=True),
        sa.Column("copay_tenths", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "copay_tenths BETWEEN 1 AND 3", name=op.f("ck_insurance_members_copay_known")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["roster_imports.import_id"],
            name=op.f("fk_insurance_members_import_id_roster_imports"),
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_insurance_members")),
        sa.UniqueConstraint(
            "insurer", "symbol", "number", "branch", name="uq_insurance_members_key"
        ),
    )
    op.create_index("ix_insurance_members_import", "insurance_members", ["import_id"])
    op.create_table(
        "patients",
        sa.Column("patient_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("patient_number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("insurer", sa.String(length=8), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("branch", sa.String(length=2), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
        sa.UniqueConstraint("provider_id", "patient_number", name="uq_patients_number"),
    )
    op.create_index("ix_patients_member", "patients", ["provider_id", "insurer", "number"])
    op.create_index("ix_patients_born", "patients", ["provider_id", "birth_date"])


def downgrade() -> None:
    op.drop_index("ix_patients_born", table_name="patients")
    op.drop_index("ix_patients_member", table_name="patients")
    op.drop_table("patients")
    op.drop_index("ix_insurance_members_import", table_name="insurance_members")
    op.drop_table("insurance_members")
    op.drop_index("ix_roster_imports_insurer", table_name="roster_imports")
    op.drop_table("roster_imports")

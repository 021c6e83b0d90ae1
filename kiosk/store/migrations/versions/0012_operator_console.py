"""operator_console: the operator console's operators and sessions (issue 14, part 7): FILLED IN BY THE CONSOLE WORK

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""What became of each attendance trigger: a case opened, attached to the open case, or not
opened (with the reason).

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-23 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attendance_triggers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attendance_triggers", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("outcome")

"""The staff directory from ESR: each member of staff's assignment, position, cost centre,
start date and leaving date (a leaver is kept, marked with the date), and each organisation's
own mapping of the extract's column names.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.models

revision: str = "0012"
# Another migration (0011) is being added beside this one; the coordinator re-chains it.
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignment_number", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("position", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("cost_centre", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("start_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("left_on", sa.Date(), nullable=True))
    op.create_table(
        "staff_import_mappings",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("organisation_id"),
    )


def downgrade() -> None:
    op.drop_table("staff_import_mappings")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("left_on")
        batch_op.drop_column("start_date")
        batch_op.drop_column("cost_centre")
        batch_op.drop_column("position")
        batch_op.drop_column("assignment_number")

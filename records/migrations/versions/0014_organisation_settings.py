"""Each organisation's own settings: report weights, hourly rates, FOI threshold and mail
sender name (none set: the environment's values apply), and the bank-holiday region each case
was opened with.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
# Other migrations are being added beside this one; the coordinator re-chains it.
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_type_weights", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("risk_weights", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("hourly_rates", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("foi_threshold", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("mail_sender_name", sa.String(length=120), nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        # Every case so far ran on the England & Wales calendar, whatever its organisation's
        # region said: nothing read the region before this revision.
        batch_op.add_column(
            sa.Column(
                "holiday_region",
                sa.String(length=30),
                nullable=False,
                server_default="england-and-wales",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("holiday_region")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("mail_sender_name")
        batch_op.drop_column("foi_threshold")
        batch_op.drop_column("hourly_rates")
        batch_op.drop_column("risk_weights")
        batch_op.drop_column("case_type_weights")

"""Go-live accounts: each organisation's bank-holiday region, and single-use set-password
links (stored hashed).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        # Every trust so far was on the England & Wales calendar, the only one there was.
        batch_op.add_column(
            sa.Column(
                "holiday_region",
                sa.String(length=30),
                nullable=False,
                server_default="england-and-wales",
            )
        )
    op.create_table(
        "set_password_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", records.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("set_password_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_set_password_links_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("set_password_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_set_password_links_user_id"))
    op.drop_table("set_password_links")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("holiday_region")

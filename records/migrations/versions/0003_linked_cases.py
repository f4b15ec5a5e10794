"""Linked cases: the parent of an investigation or an appeal, and what opened each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 08:51:45.776691
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_case_id", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("origin", sa.String(length=80), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cases_parent_case_id"), ["parent_case_id"], unique=False
        )
        batch_op.create_unique_constraint("uq_cases_origin", ["origin"])
        batch_op.create_foreign_key("fk_cases_parent_case_id", "cases", ["parent_case_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint("fk_cases_parent_case_id", type_="foreignkey")
        batch_op.drop_constraint("uq_cases_origin", type_="unique")
        batch_op.drop_index(batch_op.f("ix_cases_parent_case_id"))
        batch_op.drop_column("origin")
        batch_op.drop_column("parent_case_id")

"""Reporting: stage intervals, root-cause codes and closures, indexes for report windows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("started_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", records.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", records.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "kind", "started_at"),
    )
    with op.batch_alter_table("stage_intervals", schema=None) as batch_op:
        batch_op.create_index("ix_stage_intervals_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_stage_intervals_ended", ["kind", "ended_at"], unique=False)

    op.create_table(
        "root_cause_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "code"),
    )
    with op.batch_alter_table("root_cause_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_root_cause_codes_organisation_id", ["organisation_id"], unique=False
        )

    op.create_table(
        "case_closures",
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("root_cause", sa.String(length=40), nullable=True),
        sa.Column("closed_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_org_opened", ["organisation_id", "opened_at"], unique=False)
        batch_op.create_index("ix_cases_org_closed", ["organisation_id", "closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_org_closed")
        batch_op.drop_index("ix_cases_org_opened")
    op.drop_table("case_closures")
    with op.batch_alter_table("root_cause_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_root_cause_codes_organisation_id")
    op.drop_table("root_cause_codes")
    with op.batch_alter_table("stage_intervals", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_intervals_ended")
        batch_op.drop_index("ix_stage_intervals_case_id")
    op.drop_table("stage_intervals")

"""Sickness absence episodes from the e-roster, and the attendance triggers that fired.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import records.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.String(length=40), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "employee_id", "first_day"),
    )
    op.create_table(
        "attendance_triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.String(length=40), nullable=False),
        sa.Column("origin", sa.String(length=120), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("fired_on", sa.Date(), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("at", records.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("origin", "trigger"),
    )
    with op.batch_alter_table("attendance_triggers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attendance_triggers_employee", ["organisation_id", "employee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance_triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_triggers_employee")
    op.drop_table("attendance_triggers")
    op.drop_table("absences")

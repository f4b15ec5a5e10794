"""Reporting at scale: each stay carries its organisation, indexes for one organisation's and
the national report windows, and the stays that ended before 0006 back-filled from case events.

On PostgreSQL the reporting indexes carry (INCLUDE) the columns the reports read, so that a
report reads index pages only, not one table page per case (an organisation's cases are
spread over the whole table).

Back-filled stays know when they began and ended (the case events hold that) but not their
deadline as moved by pauses, which the events never held: their due_at stays empty, so they
count in how long a stage took and not in whether it was on time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A stay in a stage begins with the event that entered it and ends with the next such event
# or the closing one. Only stays that ended are back-filled, and only where no recorded stay
# of the case overlaps them: the recording activity has written every stay since 0006.
STAGE_STAYS = """
INSERT INTO stage_intervals (case_id, organisation_id, kind, key, started_at, ended_at, due_at)
SELECT s.case_id, c.organisation_id, 'stage', s.stage_key, s.at, s.ended, NULL
FROM (
    SELECT e.case_id, e.kind, e.stage_key, e.at,
           LEAD(e.at) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS ended
    FROM case_events e
    WHERE e.kind IN ('opened', 'advanced', 'attendance_moved', 'closed')
) s
JOIN cases c ON c.id = s.case_id
WHERE s.kind <> 'closed' AND s.stage_key IS NOT NULL AND s.ended IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM stage_intervals i
    WHERE i.case_id = s.case_id AND i.kind = 'stage'
      AND (i.started_at = s.at
           OR (i.started_at < s.ended AND (i.ended_at IS NULL OR i.ended_at > s.at)))
  )
"""

# A suspension: from the event that suspended to the next one that lifted it.
SUSPENSIONS = """
INSERT INTO stage_intervals (case_id, organisation_id, kind, key, started_at, ended_at, due_at)
SELECT s.case_id, c.organisation_id, 'suspension', 'suspension', s.at, s.ended, NULL
FROM (
    SELECT e.case_id, e.kind, e.at,
           LEAD(e.kind) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS next_kind,
           LEAD(e.at) OVER (PARTITION BY e.case_id ORDER BY e.seq) AS ended
    FROM case_events e
    WHERE e.kind IN ('suspended', 'suspension_lifted')
) s
JOIN cases c ON c.id = s.case_id
WHERE s.kind = 'suspended' AND s.next_kind = 'suspension_lifted'
  AND NOT EXISTS (
    SELECT 1 FROM stage_intervals i
    WHERE i.case_id = s.case_id AND i.kind = 'suspension'
      AND (i.started_at = s.at
           OR (i.started_at < s.ended AND (i.ended_at IS NULL OR i.ended_at > s.at)))
  )
"""


REPORTED = ["case_type", "division", "department", "advisor"]
# Indexes 0006 made, now carrying what the reports read (INCLUDE: PostgreSQL only).
COVERING = [
    ("cases", "ix_cases_org_status", ["organisation_id", "status"],
     [*REPORTED, "risk", "breached", "opened_at"]),
    ("cases", "ix_cases_org_opened", ["organisation_id", "opened_at"], [*REPORTED, "employee_id"]),
    ("cases", "ix_cases_org_closed", ["organisation_id", "closed_at"],
     [*REPORTED, "status", "opened_at", "due_at"]),
    ("stage_intervals", "ix_stage_intervals_ended", ["kind", "ended_at"],
     ["key", "started_at", "due_at", "organisation_id", "case_id"]),
]  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("stage_intervals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE stage_intervals SET organisation_id = cases.organisation_id "
        "FROM cases WHERE cases.id = stage_intervals.case_id"
    )
    op.execute(STAGE_STAYS)
    op.execute(SUSPENSIONS)
    with op.batch_alter_table("stage_intervals", schema=None) as batch_op:
        batch_op.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_stage_intervals_organisation_id", "organisations", ["organisation_id"], ["id"]
        )
        batch_op.create_index(
            "ix_stage_intervals_org_ended",
            ["organisation_id", "kind", "ended_at"],
            unique=False,
            postgresql_include=["key", "started_at", "due_at", "case_id"],
        )
        batch_op.create_index(
            "ix_stage_intervals_org_started",
            ["organisation_id", "kind", "key", "started_at"],
            unique=False,
            postgresql_include=["case_id"],
        )
        batch_op.create_index(
            "ix_stage_intervals_started",
            ["kind", "key", "started_at"],
            unique=False,
            postgresql_include=["organisation_id", "case_id"],
        )
    # National figures: every organisation's cases opened or closed in a window.
    op.create_index(
        "ix_cases_opened",
        "cases",
        ["opened_at"],
        postgresql_include=[*REPORTED, "organisation_id"],
    )
    op.create_index(
        "ix_cases_closed",
        "cases",
        ["closed_at"],
        postgresql_include=[*REPORTED, "organisation_id", "status", "opened_at", "due_at"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, name, columns, include in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns, postgresql_include=include)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, columns, _ in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns)
    op.drop_index("ix_cases_closed", table_name="cases")
    op.drop_index("ix_cases_opened", table_name="cases")
    with op.batch_alter_table("stage_intervals", schema=None) as batch_op:
        batch_op.drop_index("ix_stage_intervals_started")
        batch_op.drop_index("ix_stage_intervals_org_started")
        batch_op.drop_index("ix_stage_intervals_org_ended")
        batch_op.drop_constraint("fk_stage_intervals_organisation_id", type_="foreignkey")
        batch_op.drop_column("organisation_id")

"""The recording activity keeps each stay in a stage, each suspension and the root cause at
closure, once, whatever is retried (SQLite and PostgreSQL)."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from records.database import Database
from records.models import CaseClosure, StageInterval
from tests.records.test_records import CASE_ID, OPENED_AT, event, open_case_row, record


@pytest.mark.asyncio
async def test_stays_suspensions_and_root_cause_are_recorded_once(database: Database) -> None:
    await open_case_row(database)  # the API's row: stage assessment from OPENED_AT
    hour = timedelta(hours=1)
    opened = event(1, "assessment", "opened")
    opened = replace(
        opened,
        snapshot=replace(
            opened.snapshot, stage_started_at=OPENED_AT, stage_due_at=OPENED_AT + 5 * 24 * hour
        ),
    )
    advanced = event(2, "investigation")  # enters investigation at +2 h, due 21 days later
    suspended = replace(
        event(3, "investigation", "suspended"),
        snapshot=replace(advanced.snapshot, suspended_since=OPENED_AT + 3 * hour),
    )
    lifted = replace(event(4, "investigation", "suspension_lifted"), snapshot=advanced.snapshot)
    closed = replace(
        event(5, "investigation", "closed"),
        snapshot=replace(
            advanced.snapshot,
            status="closed",
            stage_key="closed",
            stage_name="Closed",
            stage_started_at=OPENED_AT + 5 * hour,
            stage_due_at=None,
            closed_at=OPENED_AT + 5 * hour,
        ),
        detail={"data": {"outcome": "No case", "root_cause": "rota"}, "to": "closed"},
    )
    for change in (opened, advanced, advanced, suspended, lifted, lifted, closed, closed):
        await record(database, change)

    async with database.sessions() as session:
        stays = [
            (row.kind, row.key, row.started_at, row.ended_at, row.due_at)
            for row in await session.scalars(
                select(StageInterval)
                .where(StageInterval.case_id == CASE_ID)
                .order_by(StageInterval.started_at, StageInterval.kind)
            )
        ]
        closure = await session.get(CaseClosure, CASE_ID)
    assert stays == [
        # assessment: from opening until the step at +2 h, due as the case row had it then
        ("stage", "assessment", OPENED_AT, OPENED_AT + 2 * hour, OPENED_AT + 5 * 24 * hour),
        (
            "stage",
            "investigation",
            OPENED_AT + 2 * hour,
            OPENED_AT + 5 * hour,
            OPENED_AT + 2 * hour + 21 * 24 * hour,
        ),
        ("suspension", "suspension", OPENED_AT + 3 * hour, OPENED_AT + 4 * hour, None),
    ]
    assert closure is not None and closure.root_cause == "rota"

"""Writing each change of a case's process state to the read model, idempotently."""

import asyncio
import time
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import RECORD_CASE_EVENT, CaseEventRecord, CaseSnapshot
from records.database import Database
from records.models import Case, CaseClosure, CaseEvent, StageInterval

# The API starts a case's workflow before it commits the case's row (services/cases.py), so
# the first event can arrive a moment before the row: wait for it here, briefly, rather than
# fail the attempt and wait for Temporal's first retry (a second later).
ROW_WAIT_SECONDS = 5.0
ROW_POLL_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)


class _NoRowYet(Exception):
    pass


class RecordingActivities:
    def __init__(self, database: Database):
        self._database = database

    @activity.defn(name=RECORD_CASE_EVENT)
    async def record_case_event(self, record: CaseEventRecord) -> bool:
        """Store the event and move the case's projection on; False if it was already stored."""
        give_up_at = time.monotonic() + ROW_WAIT_SECONDS
        attempt = 0
        while True:
            try:
                return await self._record(record)
            except _NoRowYet:
                pause = ROW_POLL_SECONDS[min(attempt, len(ROW_POLL_SECONDS) - 1)]
                if time.monotonic() + pause > give_up_at:
                    # Temporal retries with backoff. A row whose opening failed never comes;
                    # the API then terminates the workflow.
                    raise ApplicationError(
                        f"case {record.case_id} is not in the database yet"
                    ) from None
                attempt += 1
                await asyncio.sleep(pause)

    async def _record(self, record: CaseEventRecord) -> bool:
        try:
            async with self._database.transaction() as session:
                case = await session.get(Case, record.case_id, with_for_update=True)
                if case is None:
                    raise _NoRowYet()
                known = await session.scalar(
                    select(CaseEvent.id).where(
                        CaseEvent.case_id == record.case_id, CaseEvent.seq == record.seq
                    )
                )
                if known is not None:
                    return False
                session.add(
                    CaseEvent(
                        case_id=record.case_id,
                        seq=record.seq,
                        kind=record.kind,
                        at=record.at,
                        actor=record.actor,
                        stage_key=record.stage_key,
                        detail=record.detail,
                    )
                )
                if record.seq > case.last_seq:
                    await _record_intervals(session, case, record)
                    project(case, record.snapshot)
                    case.last_seq = record.seq
        except IntegrityError:
            # A concurrent attempt stored the same (case, seq) first: that is the idempotent case.
            return False
        return True


def project(case: Case, snapshot: CaseSnapshot) -> None:
    """Move the case's row to the process state the workflow reports."""
    projection = asdict(snapshot)
    if projection["policy_version"] is None:  # recorded by older workflow code
        del projection["policy_version"]
    for field, value in projection.items():
        setattr(case, field, value)


async def _record_intervals(session: AsyncSession, case: Case, record: CaseEventRecord) -> None:
    """Keep the case's stage stays and suspensions in step with the projection it moves to.

    Runs inside the event's transaction, before the projection changes, so `case` still holds
    the stage being left (with its due time as last moved by pauses). Each stay is keyed by
    (case, kind, started_at): a stay is opened once and closed once, whatever is retried.
    """
    after = record.snapshot
    left_stage = after.status == "closed" or (after.stage_key, after.stage_started_at) != (
        case.stage_key,
        case.stage_started_at,
    )
    if left_stage and case.status != "closed":
        stay = await _stay(session, case, "stage", case.stage_started_at, case.stage_key)
        stay.ended_at, stay.due_at = record.at, case.stage_due_at
    if after.status != "closed":
        stay = await _stay(session, case, "stage", after.stage_started_at, after.stage_key)
        stay.due_at = after.stage_due_at  # pauses move it; the latest word stands
    if case.suspended_since is not None and after.suspended_since != case.suspended_since:
        stay = await _stay(session, case, "suspension", case.suspended_since, "suspension")
        stay.ended_at = record.at
    if after.suspended_since is not None:
        await _stay(session, case, "suspension", after.suspended_since, "suspension")
    if record.kind == "closed" and after.closed_at is not None:
        data = record.detail.get("data") or {}
        root_cause = data.get("root_cause") if isinstance(data, dict) else None
        session.add(
            CaseClosure(
                case_id=case.id,
                root_cause=str(root_cause) if root_cause else None,
                closed_at=after.closed_at,
            )
        )


async def _stay(
    session: AsyncSession, case: Case, kind: str, started_at: datetime, key: str
) -> StageInterval:
    stay = await session.scalar(
        select(StageInterval).where(
            StageInterval.case_id == case.id,
            StageInterval.kind == kind,
            StageInterval.started_at == started_at,
        )
    )
    if stay is None:
        stay = StageInterval(
            case_id=case.id,
            organisation_id=case.organisation_id,
            kind=kind,
            key=key,
            started_at=started_at,
        )
        session.add(stay)
        await session.flush()
    return stay

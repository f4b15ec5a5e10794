"""The read model a case's events move: its row, its event list, its stage stays and closure.

The recording activity (activities/recording.py) writes through this module and the case
service (services/case_steps.py) moves its answer with `project`, so both depend on records
and neither on the other. The event and snapshot are described here by what is read of them
(activities/types.py has the dataclasses the workflow sends), as records imports no activity.
"""

from dataclasses import Field, asdict
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from records.database import Database
from records.models import Case, CaseClosure, CaseEvent, StageInterval


class Snapshot(Protocol):
    """A case's process state, as reported by its workflow: a dataclass whose fields are
    columns of the cases row."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def status(self) -> str: ...
    @property
    def stage_key(self) -> str: ...
    @property
    def stage_started_at(self) -> datetime: ...
    @property
    def stage_due_at(self) -> datetime | None: ...
    @property
    def suspended_since(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...


class Event(Protocol):
    """One change to a case; (case_id, seq) makes writing it twice a no-op."""

    @property
    def case_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str | None: ...
    @property
    def stage_key(self) -> str | None: ...
    @property
    def detail(self) -> dict[str, Any]: ...
    @property
    def snapshot(self) -> Snapshot: ...


class NoRowYet(Exception):
    """The case's row is not committed yet (its opening writes it after starting the workflow)."""


async def record_event(database: Database, event: Event) -> bool:
    """Store the event and move the case's projection on; False if it was already stored."""
    try:
        async with database.transaction() as session:
            case = await session.get(Case, event.case_id, with_for_update=True)
            if case is None:
                raise NoRowYet(event.case_id)
            known = await session.scalar(
                select(CaseEvent.id).where(
                    CaseEvent.case_id == event.case_id, CaseEvent.seq == event.seq
                )
            )
            if known is not None:
                return False
            session.add(
                CaseEvent(
                    case_id=event.case_id,
                    seq=event.seq,
                    kind=event.kind,
                    at=event.at,
                    # The workflow knows the case's advisor, not who opened it (a manager, an
                    # import, the attendance monitor, the case that linked it): the row does.
                    actor=case.opened_by if event.kind == "opened" else event.actor,
                    stage_key=event.stage_key,
                    detail=event.detail,
                )
            )
            if event.seq > case.last_seq:
                await _record_intervals(session, case, event)
                project(case, event.snapshot)
                case.last_seq = event.seq
    except IntegrityError:
        # A concurrent attempt stored the same (case, seq) first: that is the idempotent case.
        return False
    return True


def project(case: Case, snapshot: Snapshot) -> None:
    """Move the case's row to the process state the workflow reports."""
    projection = asdict(snapshot)
    if projection["policy_version"] is None:  # recorded by older workflow code
        del projection["policy_version"]
    for field, value in projection.items():
        setattr(case, field, value)


async def _record_intervals(session: AsyncSession, case: Case, event: Event) -> None:
    """Keep the case's stage stays and suspensions in step with the projection it moves to.

    Runs inside the event's transaction, before the projection changes, so `case` still holds
    the stage being left (with its due time as last moved by pauses). Each stay is keyed by
    (case, kind, started_at): a stay is opened once and closed once, whatever is retried.
    """
    after = event.snapshot
    left_stage = after.status == "closed" or (after.stage_key, after.stage_started_at) != (
        case.stage_key,
        case.stage_started_at,
    )
    if left_stage and case.status != "closed":
        stay = await _stay(session, case, "stage", case.stage_started_at, case.stage_key)
        stay.ended_at, stay.due_at = event.at, case.stage_due_at
    if after.status != "closed":
        stay = await _stay(session, case, "stage", after.stage_started_at, after.stage_key)
        stay.due_at = after.stage_due_at  # pauses move it; the latest word stands
    if case.suspended_since is not None and after.suspended_since != case.suspended_since:
        stay = await _stay(session, case, "suspension", case.suspended_since, "suspension")
        stay.ended_at = event.at
    if after.suspended_since is not None:
        await _stay(session, case, "suspension", after.suspended_since, "suspension")
    if event.kind == "closed" and after.closed_at is not None:
        data = event.detail.get("data") or {}
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

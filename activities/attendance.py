"""What attendance monitoring does to the records: the triggers that fired, and the sickness
case they open (through the same case rows, references and audit as any other case)."""

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import (
    FIND_OPEN_SICKNESS_CASE,
    OPEN_ATTENDANCE_CASE,
    AttendanceCase,
    AttendanceCaseRequest,
    EmployeeRef,
    FoundCase,
)
from records.cases import (
    NewCase,
    allocate_reference,
    current_policy,
    find_staff,
    new_case_row,
)
from records.database import Database
from records.models import AttendanceTrigger, AuditEntry, Case, PolicyVersion, User

SICKNESS = "sickness"
MONITOR = "attendance-monitor"  # who opened the case, on the case and in the audit log
TRIGGER_WORDS = {
    "episodes": "episodes of absence",
    "days_lost": "working days lost",
    "bradford": "Bradford factor",
    "long_term": "long-term sickness",
}


async def _open_sickness_case(
    session: AsyncSession, organisation_id: int, employee_id: str
) -> Case | None:
    return await session.scalar(
        select(Case)
        .where(
            Case.organisation_id == organisation_id,
            Case.employee_id == employee_id,
            Case.case_type == SICKNESS,
            Case.status != "closed",
        )
        .order_by(Case.opened_at.desc())
        .limit(1)
    )


async def _least_busy_advisor(session: AsyncSession, organisation_id: int) -> str:
    """Nobody chose an advisor: the organisation's advisor with the fewest open cases."""
    users = await session.scalars(
        select(User)
        .where(User.organisation_id == organisation_id, User.active.is_(True))
        .order_by(User.username)
    )
    advisors = [user.username for user in users if "advisor" in user.roles]
    if not advisors:
        # Retried: the case opens once the organisation has an advisor.
        raise ApplicationError(f"organisation {organisation_id} has no advisor to open a case for")
    load = dict(
        (
            await session.execute(
                select(Case.advisor, func.count())
                .where(Case.organisation_id == organisation_id, Case.status != "closed")
                .group_by(Case.advisor)
            )
        ).all()
    )
    return min(advisors, key=lambda name: (load.get(name, 0), name))


class AttendanceActivities:
    def __init__(self, database: Database):
        self._database = database

    @activity.defn(name=OPEN_ATTENDANCE_CASE)
    async def open_attendance_case(self, request: AttendanceCaseRequest) -> AttendanceCase:
        async with self._database.transaction() as session:
            case = await session.scalar(select(Case).where(Case.origin == request.origin))
            opened = True
            if case is None:
                case = await _open_sickness_case(
                    session, request.organisation_id, request.employee_id
                )
                opened = case is None
            if case is None:
                case = await self._insert(session, request)
            recorded = set(
                await session.scalars(
                    select(AttendanceTrigger.trigger).where(
                        AttendanceTrigger.origin == request.origin
                    )
                )
            )
            for firing in request.firings:
                if firing["trigger"] in recorded:
                    continue  # a retry of this activity after it committed
                session.add(
                    AttendanceTrigger(
                        organisation_id=request.organisation_id,
                        employee_id=request.employee_id,
                        origin=request.origin,
                        trigger=firing["trigger"],
                        fired_on=date.fromisoformat(firing["day"]),
                        case_id=case.id,
                        figures={k: v for k, v in firing.items() if k not in ("trigger", "day")},
                    )
                )
            definition: dict[str, Any] = {}  # only a new case's workflow needs its policy
            if opened:
                stored = await session.scalar(
                    select(PolicyVersion.definition).where(
                        PolicyVersion.organisation_id == case.organisation_id,
                        PolicyVersion.case_type == case.case_type,
                        PolicyVersion.version == case.policy_version,
                    )
                )
                assert stored is not None  # _insert stored it through current_policy
                definition = stored
            return AttendanceCase(
                case_id=case.id,
                opened=opened,
                policy=definition,
                policy_version=case.policy_version,
                opened_at=case.opened_at,
                advisor=case.advisor,
                risk=case.risk,
                stage_key=case.stage_key,
            )

    async def _insert(self, session: AsyncSession, request: AttendanceCaseRequest) -> Case:
        found = await current_policy(session, request.organisation_id, SICKNESS)
        staff = await find_staff(session, request.organisation_id, request.employee_id)
        if found is None or staff is None:
            raise ApplicationError(
                f"cannot open a sickness case for {request.employee_id}", non_retryable=True
            )
        policy, version = found
        if not policy.has_stage(request.stage_key):
            raise ApplicationError(
                f"the sickness policy has no stage '{request.stage_key}'", non_retryable=True
            )
        now = request.opened_at
        reference = await allocate_reference(session, policy.reference_prefix, now.year)
        fired = ", ".join(TRIGGER_WORDS.get(f["trigger"], f["trigger"]) for f in request.firings)
        case = new_case_row(
            NewCase(
                reference=reference,
                organisation_id=request.organisation_id,
                policy=policy,
                policy_version=version,
                staff=staff,
                summary=f"Attendance trigger reached: {fired}",
                risk="routine",
                advisor=await _least_busy_advisor(session, request.organisation_id),
                opened_by=MONITOR,
                opened_at=now,
                stage_key=request.stage_key,
                stage_started_at=now,
                origin=request.origin,
            )
        )
        session.add(case)
        session.add(
            AuditEntry(
                organisation_id=request.organisation_id,
                username=MONITOR,
                action="case.open",
                case_id=reference,
                detail={"triggers": [f["trigger"] for f in request.firings]},
            )
        )
        await session.flush()
        return case

    @activity.defn(name=FIND_OPEN_SICKNESS_CASE)
    async def find_open_sickness_case(self, employee: EmployeeRef) -> FoundCase:
        async with self._database.transaction() as session:
            case = await _open_sickness_case(
                session, employee.organisation_id, employee.employee_id
            )
            return FoundCase(case.id if case else None)

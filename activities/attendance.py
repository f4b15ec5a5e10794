"""What attendance monitoring does to the records: the triggers that fired, and the sickness
case they open (through the same case rows, references and audit as any other case)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import (
    ATTACHED,
    FIND_OPEN_SICKNESS_CASE,
    NOT_OPENED,
    OPEN_ATTENDANCE_CASE,
    OPENED,
    AttendanceCase,
    AttendanceCaseRequest,
    EmployeeRef,
    FoundCase,
)
from policies.opening_limits import counts_from, describe_window
from policies.schema import PolicyDefinition
from records.audit import append_audit
from records.cases import (
    NewCase,
    allocate_reference,
    current_policy,
    find_staff,
    holiday_region_of,
    new_case_row,
)
from records.database import Database
from records.memberships import members_of
from records.models import AttendanceTrigger, Case, PolicyVersion

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


async def _over_opening_limit(
    session: AsyncSession, policy: PolicyDefinition, request: AttendanceCaseRequest, at: datetime
) -> str | None:
    """The policy's opening limit (as for a case opened by hand), as a reason, if reached."""
    limit = policy.opening_limit
    if limit is None:
        return None
    since = counts_from(limit.within, at)
    earlier = list(
        await session.scalars(
            select(Case.id)
            .where(
                Case.organisation_id == request.organisation_id,
                Case.case_type == policy.case_type,
                Case.employee_id == request.employee_id,
                Case.opened_at >= since,
                Case.opened_at <= at,
            )
            .order_by(Case.opened_at)
        )
    )
    if len(earlier) < limit.count:
        return None
    return (
        f"the policy allows at most {limit.count} sickness case(s) in "
        f"{describe_window(limit.within)}, and {request.employee_id} had "
        f"{', '.join(earlier)}"
    )


def _not_opened(request: AttendanceCaseRequest, reason: str) -> AttendanceCase:
    return AttendanceCase(
        case_id=None,
        opened=False,
        policy={},
        policy_version=0,
        opened_at=request.opened_at,
        advisor="",
        risk="",
        stage_key=request.stage_key,
        outcome=NOT_OPENED,
        reason=reason,
    )


async def _least_busy_advisor(session: AsyncSession, organisation_id: int) -> str:
    """Nobody chose an advisor: the organisation's advisor with the fewest open cases."""
    people = await members_of(session, organisation_id)
    advisors = [person.username for person in people if "advisor" in person.roles]
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
        """Record the triggers and what became of them; open a case unless one is open.

        A trigger is never lost. With a sickness case already open, the triggers go to it
        (recorded against it here; the monitor then tells the case, whose stage decides whether
        it moves on or notes them on its timeline): an advisor expects one case per employee
        that gathers what happens, not a second one. When no case can open (the employee has
        left the directory, the policy has no such stage, or the policy's opening limit is
        reached), the triggers are recorded as not opened with the reason, shown on the
        attendance record for an advisor to act on (open a case by hand if right). They are
        not retried on their own: the same figures would be refused again, and a case opened
        weeks later by a retry would carry the wrong dates.
        """
        async with self._database.transaction() as session:
            earlier = list(
                await session.scalars(
                    select(AttendanceTrigger).where(AttendanceTrigger.origin == request.origin)
                )
            )
            refused = next((row for row in earlier if row.outcome == NOT_OPENED), None)
            if refused is not None:  # a retry of this activity after it committed a refusal
                return _not_opened(request, refused.reason or "")
            case = await session.scalar(select(Case).where(Case.origin == request.origin))
            outcome = OPENED
            if case is None:
                case = await _open_sickness_case(
                    session, request.organisation_id, request.employee_id
                )
                outcome = OPENED if case is None else ATTACHED
            reason = None
            if case is None:
                case, reason = await self._insert(session, request)
            recorded = {row.trigger for row in earlier}
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
                        case_id=case.id if case else None,
                        figures={k: v for k, v in firing.items() if k not in ("trigger", "day")},
                        outcome=NOT_OPENED if case is None else outcome,
                        reason=reason,
                    )
                )
            if case is None:
                assert reason is not None
                return _not_opened(request, reason)
            definition: dict[str, Any] = {}  # only a new case's workflow needs its policy
            if outcome == OPENED:
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
                opened=outcome == OPENED,
                policy=definition,
                policy_version=case.policy_version,
                opened_at=case.opened_at,
                advisor=case.advisor,
                risk=case.risk,
                stage_key=case.stage_key,
                outcome=outcome,
                holiday_region=case.holiday_region,
            )

    async def _insert(
        self, session: AsyncSession, request: AttendanceCaseRequest
    ) -> tuple[Case | None, str | None]:
        """The new case, or None and why it cannot open."""
        found = await current_policy(session, request.organisation_id, SICKNESS)
        if found is None:
            return None, "the organisation has no sickness absence policy"
        staff = await find_staff(session, request.organisation_id, request.employee_id)
        if staff is None:
            return None, f"{request.employee_id} is no longer in the staff directory"
        policy, version = found
        if not policy.has_stage(request.stage_key):
            return None, f"the sickness policy has no stage '{request.stage_key}'"
        now = request.opened_at
        limited = await _over_opening_limit(session, policy, request, now)
        if limited is not None:
            return None, limited
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
                holiday_region=await holiday_region_of(session, request.organisation_id),
                origin=request.origin,
            )
        )
        session.add(case)
        append_audit(
            session,
            organisation_id=request.organisation_id,
            username=MONITOR,
            action="case.open",
            case_id=reference,
            detail={"triggers": [f["trigger"] for f in request.firings]},
        )
        await session.flush()
        return case, None

    @activity.defn(name=FIND_OPEN_SICKNESS_CASE)
    async def find_open_sickness_case(self, employee: EmployeeRef) -> FoundCase:
        async with self._database.transaction() as session:
            case = await _open_sickness_case(
                session, employee.organisation_id, employee.employee_id
            )
            return FoundCase(case.id if case else None)

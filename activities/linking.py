"""Opening a case linked to another (an investigation a disciplinary case waits for)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import OPEN_LINKED_CASE, LinkedCase, LinkedCaseRequest
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
from records.models import Case, PolicyVersion


class LinkingActivities:
    def __init__(self, database: Database):
        self._database = database

    @activity.defn(name=OPEN_LINKED_CASE)
    async def open_linked_case(self, request: LinkedCaseRequest) -> LinkedCase:
        """The linked case's row (made once per origin), ready for its workflow to start."""
        async with self._database.transaction() as session:
            existing = await session.scalar(select(Case).where(Case.origin == request.origin))
            if existing is None:
                existing = await self._insert(session, request)
            definition = await session.scalar(
                select(PolicyVersion.definition).where(
                    PolicyVersion.organisation_id == existing.organisation_id,
                    PolicyVersion.case_type == existing.case_type,
                    PolicyVersion.version == existing.policy_version,
                )
            )
            assert definition is not None
            return LinkedCase(
                case_id=existing.id,
                case_type=existing.case_type,
                policy=definition,
                policy_version=existing.policy_version,
                opened_at=existing.opened_at,
                advisor=existing.advisor,
                risk=existing.risk,
                holiday_region=existing.holiday_region,
                stage=request.stage,
            )

    async def _insert(self, session: AsyncSession, request: LinkedCaseRequest) -> Case:
        parent = await session.get(Case, request.parent_id)
        if parent is None:
            raise ApplicationError(f"case {request.parent_id} is not in the database yet")
        found = await current_policy(session, parent.organisation_id, request.case_type)
        staff = await find_staff(session, parent.organisation_id, parent.employee_id)
        if found is None or staff is None:
            raise ApplicationError(
                f"cannot open a {request.case_type} case for {parent.id}", non_retryable=True
            )
        policy, version = found
        if request.stage is not None and not policy.has_stage(request.stage):
            raise ApplicationError(
                f"the {request.case_type} policy has no stage '{request.stage}' to open at",
                non_retryable=True,
            )
        now = request.opened_at
        reference = await allocate_reference(session, policy.reference_prefix, now.year)
        case = new_case_row(
            NewCase(
                reference=reference,
                organisation_id=parent.organisation_id,
                policy=policy,
                policy_version=version,
                staff=staff,
                summary=f"{policy.name} for {parent.id}",
                risk=parent.risk,
                advisor=parent.advisor,
                opened_by=request.actor,
                opened_at=now,
                stage_key=request.stage or policy.stages[0].key,
                stage_started_at=now,
                # The organisation's region now, which may differ from the parent's own.
                holiday_region=await holiday_region_of(session, parent.organisation_id),
                parent_case_id=parent.id,
                origin=request.origin,
            )
        )
        session.add(case)
        append_audit(
            session,
            organisation_id=parent.organisation_id,
            username=request.actor,
            action="case.open",
            case_id=reference,
            detail={"linked_to": parent.id},
        )
        await session.flush()
        return case

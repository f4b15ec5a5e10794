"""Opening cases and taking their steps: the database row first, the workflow drives the rest."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from activities.types import CaseSnapshot
from policies.calendar import due_instant
from policies.schema import duration
from records.cases import CaseFilters, allocate_reference, current_policy, find_staff, list_page
from records.database import Database
from records.models import AuditEntry, Case, Note, User
from services.access import CASE_WORKERS, Principal, visible_cases
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from workflows import WORKFLOW_FOR_CASE_TYPE, workflow_id
from workflows.case_process import CaseProcess
from workflows.types import (
    INVALID_DATA,
    ActionRequest,
    AssignRequest,
    CaseInput,
    PauseRequest,
    ResumeRequest,
)

RISKS = ("urgent", "routine")
Request = TypeVar("Request")


@dataclass
class OpenCase:
    case_type: str
    employee_id: str
    summary: str
    risk: str = "routine"
    advisor: str | None = None
    # A case brought in already under way: its real dates, and the stage it has reached.
    opened_at: datetime | None = None
    stage: str | None = None
    stage_started_at: datetime | None = None


@dataclass
class CaseCommands:
    """Everything that changes or reads a case, for one signed-in person."""

    database: Database
    client: Callable[[], Awaitable[Client]]
    task_queue: str
    principal: Principal
    client_address: str | None = None

    # ---- reading -----------------------------------------------------------------

    async def get(self, session: AsyncSession, case_id: str) -> Case:
        case = await session.scalar(visible_cases(self.principal).where(Case.id == case_id))
        if case is None:
            raise NotFound(f"There is no case {case_id} that you can see.")
        return case

    async def read(self, case_id: str) -> Case:
        """A case for display; every read is audited."""
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            session.add(self._audit_entry("case.read", case_id))
            return case

    async def list(self, filters: CaseFilters) -> tuple[list[Case], int]:
        async with self.database.transaction() as session:
            return await list_page(session, visible_cases(self.principal), filters)

    # ---- opening -----------------------------------------------------------------

    async def open(self, request: OpenCase) -> Case:
        self._require_worker()
        if request.risk not in RISKS:
            raise Invalid("risk must be 'urgent' or 'routine'.")
        if not request.summary.strip():
            raise Invalid("Give a short summary of the case.")
        workflow_type = WORKFLOW_FOR_CASE_TYPE.get(request.case_type)
        if workflow_type is None:
            raise Invalid(f"There is no case type '{request.case_type}'.")
        now = datetime.now(UTC)
        client = await self.client()
        async with self.database.transaction() as session:
            organisation_id = self.principal.organisation_id
            found = await current_policy(session, organisation_id, request.case_type)
            if found is None:
                raise Invalid(f"There is no policy for case type '{request.case_type}'.")
            policy, version = found
            staff = await find_staff(session, organisation_id, request.employee_id)
            if staff is None:
                raise Invalid(f"There is no member of staff with id '{request.employee_id}'.")
            advisor = await self._advisor_for(session, request.advisor)
            opened_at = request.opened_at or now
            if opened_at > now:
                raise Invalid("opened_at cannot be in the future.")
            stage_key = request.stage or policy.stages[0].key
            if not policy.has_stage(stage_key):
                raise Invalid(f"The {policy.name} policy has no stage '{stage_key}'.")
            stage = policy.stage(stage_key)
            stage_started_at = request.stage_started_at or opened_at
            if not opened_at <= stage_started_at <= now:
                raise Invalid("stage_started_at must lie between opened_at and now.")
            reference = await allocate_reference(session, policy.reference_prefix, opened_at.year)
            case = Case(
                id=reference,
                organisation_id=organisation_id,
                case_type=request.case_type,
                policy_version=version,
                employee_id=staff.employee_id,
                summary=request.summary.strip(),
                risk=request.risk,
                advisor=advisor,
                division=staff.division,
                department=staff.department,
                opened_by=self.principal.username,
                status="open",
                stage_key=stage.key,
                stage_name=stage.name,
                stage_started_at=stage_started_at,
                stage_due_at=due_instant(stage_started_at, duration(stage.due))
                if stage.due
                else None,
                due_at=due_instant(opened_at, duration(policy.target)) if policy.target else None,
                opened_at=opened_at,
                actions=[action.key for action in stage.actions],
            )
            session.add(case)
            session.add(self._audit_entry("case.open", reference))
            # Commit only once the workflow has started: no case row without its process.
            await session.flush()
            try:
                await client.start_workflow(
                    workflow_type,
                    CaseInput(
                        case_id=reference,
                        organisation_id=organisation_id,
                        policy=policy,
                        policy_version=version,
                        opened_at=opened_at,
                        advisor=advisor,
                        risk=request.risk,
                        start_stage=stage.key,
                        stage_started_at=stage_started_at,
                    ),
                    id=workflow_id(reference),
                    task_queue=self.task_queue,
                )
            except WorkflowAlreadyStartedError as error:
                # The engine already runs a process under this reference (e.g. the database was
                # reset while the engine kept its state): refuse clearly; nothing is written.
                raise Unavailable(
                    f"The case engine already has a case {reference}, so the database and the "
                    "engine are out of step; nothing was opened. Ask an administrator."
                ) from error
            except RPCError as error:
                raise Unavailable(f"The case engine did not answer ({error.message}).") from error
        return case

    async def _advisor_for(self, session: AsyncSession, username: str | None) -> str:
        if username is None:
            if "advisor" in self.principal.roles:
                return self.principal.username
            raise Invalid("Name the advisor who will handle the case.")
        user = await session.scalar(
            select(User).where(
                User.username == username,
                User.organisation_id == self.principal.organisation_id,
                User.active.is_(True),
            )
        )
        if user is None or "advisor" not in user.roles:
            raise Invalid(f"'{username}' is not an advisor in your organisation.")
        return user.username

    # ---- steps -------------------------------------------------------------------

    async def act(
        self, case_id: str, action: str, data: dict[str, Any], request_id: str | None
    ) -> Case:
        request = ActionRequest(
            action=action, actor=self.principal.username, data=data, request_id=request_id
        )
        return await self._step(case_id, CaseProcess.act, request, f"case.action.{action}")

    async def pause(self, case_id: str, reason: str, request_id: str | None) -> Case:
        if not reason.strip():
            raise Invalid("Give a reason for pausing the clock.")
        request = PauseRequest(reason=reason, actor=self.principal.username, request_id=request_id)
        return await self._step(case_id, CaseProcess.pause, request, "case.pause")

    async def resume(self, case_id: str, request_id: str | None) -> Case:
        request = ResumeRequest(actor=self.principal.username, request_id=request_id)
        return await self._step(case_id, CaseProcess.resume, request, "case.resume")

    async def assign(self, case_id: str, advisor: str, request_id: str | None) -> Case:
        self._require_worker()
        async with self.database.transaction() as session:
            await self.get(session, case_id)  # an unknown case is a 404 whoever is named
            advisor = await self._advisor_for(session, advisor)
        request = AssignRequest(
            advisor=advisor, actor=self.principal.username, request_id=request_id
        )
        return await self._step(case_id, CaseProcess.assign, request, "case.assign")

    async def _step(
        self,
        case_id: str,
        update: UpdateMethodMultiParam[[Any, Request], CaseSnapshot],
        request: Request,
        audit_action: str,
    ) -> Case:
        self._require_worker()
        request_id = getattr(request, "request_id", None)
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            # A retried request (same request_id) still gets its answer from the engine, even
            # when it was the step that closed the case.
            if case.status == "closed" and not request_id:
                raise Conflict(f"Case {case_id} is closed; nothing more can be done in it.")
        handle: WorkflowHandle[Any, Any] = (await self.client()).get_workflow_handle(
            workflow_id(case_id)
        )
        try:
            await handle.execute_update(
                update,
                request,
                id=f"{audit_action}:{request_id}" if request_id else None,
            )
        except WorkflowUpdateFailedError as failed:
            raise _refusal(failed) from failed
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise Conflict(
                    f"Case {case_id} has finished; nothing more can be done in it."
                ) from error
            raise Unavailable(f"The case engine did not answer ({error.message}).") from error
        async with self.database.transaction() as session:
            session.add(self._audit_entry(audit_action, case_id))
            # The handler recorded the change before it returned: this read already shows it.
            return await self.get(session, case_id)

    async def add_note(self, case_id: str, kind: str, text: str) -> Note:
        """Notes are records the API owns; the process does not need to know about them."""
        self._require_worker()
        async with self.database.transaction() as session:
            await self.get(session, case_id)
            note = Note(case_id=case_id, author=self.principal.username, kind=kind, body=text)
            session.add(note)
            session.add(self._audit_entry(f"case.note.{kind}", case_id))
            await session.flush()
            return note

    # ---- helpers -----------------------------------------------------------------

    def _require_worker(self) -> None:
        if not self.principal.has_any(CASE_WORKERS):
            raise Forbidden("Your role cannot open or change cases.")

    def _audit_entry(self, action: str, case_id: str | None) -> AuditEntry:
        return AuditEntry(
            organisation_id=self.principal.organisation_id,
            username=self.principal.username,
            action=action,
            case_id=case_id,
            client_address=self.client_address,
        )


def _refusal(failed: WorkflowUpdateFailedError) -> Conflict | Invalid:
    cause = failed.cause
    if isinstance(cause, ApplicationError):
        if cause.type == INVALID_DATA:
            return Invalid(cause.message)
        return Conflict(cause.message)
    return Conflict("The step was refused.")

"""A case's steps: actions, pause and resume, suspension, assignment, a move to a new policy.

Each is checked here (who may, and whether the case is closed), run in the engine, which
refuses what its rules refuse, and audited once the engine has answered.
"""

from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from activities.types import CaseSnapshot
from policies.schema import PolicyDefinition
from records.cases import policy_version
from records.models import Case
from records.projection import project
from services.access import CASE_READERS, POLICY_MOVERS, reachable_cases, visible_cases
from services.case_context import CaseContext
from services.case_people import advisor_for, check_may_handle
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from services.reports import check_root_cause
from workflows import workflow_id
from workflows.case_process import CaseProcess
from workflows.types import (
    INVALID_DATA,
    ActionRequest,
    AssignRequest,
    ChangePolicyRequest,
    PauseRequest,
    ResumeRequest,
    SuspensionRequest,
)

Request = TypeVar("Request")


@dataclass(frozen=True)
class CaseSteps:
    context: CaseContext

    async def act(
        self, case_id: str, action: str, data: dict[str, Any], request_id: str | None
    ) -> Case:
        if "root_cause" in data:  # recorded at closure for reports; only the maintained codes
            async with self.context.database.sessions() as session:
                await check_root_cause(
                    session, self.context.principal.organisation_id, data["root_cause"]
                )
        request = ActionRequest(
            action=action, actor=self.context.principal.username, data=data, request_id=request_id
        )
        return await self._step(case_id, CaseProcess.act, request, f"case.action.{action}")

    async def pause(self, case_id: str, reason: str, request_id: str | None) -> Case:
        # The one place a blank reason is refused (422) for the API and the web pages alike;
        # the workflow refuses one too, as it does every bad request, but nothing reaches it.
        if not reason.strip():
            raise Invalid("Give a reason for pausing the clock.")
        request = PauseRequest(
            reason=reason, actor=self.context.principal.username, request_id=request_id
        )
        return await self._step(case_id, CaseProcess.pause, request, "case.pause")

    async def resume(self, case_id: str, request_id: str | None) -> Case:
        request = ResumeRequest(actor=self.context.principal.username, request_id=request_id)
        return await self._step(case_id, CaseProcess.resume, request, "case.resume")

    async def suspension(self, case_id: str, step: str, note: str, request_id: str | None) -> Case:
        """Suspend the employee (note = the reason), record a review, or lift the suspension."""
        request = SuspensionRequest(step, note, self.context.principal.username, request_id)
        return await self._step(case_id, CaseProcess.suspension, request, f"case.suspension.{step}")

    async def assign(self, case_id: str, advisor: str, request_id: str | None) -> Case:
        async with self.context.database.transaction() as session:
            # An unknown case is a 404 whoever is named.
            case = await self.context.visible(session, case_id)
            self.context.require_worker()
            advisor = await advisor_for(session, self.context.principal, advisor)
            await check_may_handle(session, case, advisor)
        request = AssignRequest(
            advisor=advisor, actor=self.context.principal.username, request_id=request_id
        )
        return await self._step(case_id, CaseProcess.assign, request, "case.assign")

    async def _step(
        self,
        case_id: str,
        update: UpdateMethodMultiParam[[Any, Request], CaseSnapshot],
        request: Request,
        audit_action: str,
    ) -> Case:
        request_id = getattr(request, "request_id", None)
        async with self.context.database.transaction() as session:
            case = await self.context.visible(session, case_id)
            self.context.require_worker()
            # A retried request (same request_id) still gets its answer from the engine, even
            # when it was the step that closed the case.
            if case.status == "closed" and not request_id:
                raise Conflict(f"Case {case_id} is closed; nothing more can be done in it.")
        return await self._execute(case, update, request, audit_action)

    async def change_policy(self, case_id: str, version: int, request_id: str | None) -> Case:
        """Move a running case to a newer version of its policy: explicit and audited.

        Policy owners may do it without seeing the case's content, so this looks the case up
        by organisation only; the caller shows them no more than its reference and version.
        """
        async with self.context.database.transaction() as session:
            # Case readers move only cases they see; a policy owner, who reads none, any case
            # of the organisation that is theirs to reach (not restricted away, no conflict).
            scope = (
                visible_cases(self.context.principal)
                if self.context.principal.has_any(CASE_READERS)
                else reachable_cases(self.context.principal)
            )
            case = await session.scalar(scope.where(Case.id == case_id))
            if case is None:
                raise NotFound(f"There is no case {case_id} that you can see.")
            if not self.context.principal.has_any(POLICY_MOVERS):
                raise Forbidden(
                    "Only a policy owner or a manager can move a case to a new version."
                )
            if case.status == "closed" and not request_id:
                raise Conflict(f"Case {case_id} is closed; nothing more can be done in it.")
            row = await policy_version(session, case.organisation_id, case.case_type, version)
            if row is None or row.version != version:
                raise Invalid(f"There is no version {version} of the {case.case_type} policy.")
            policy = PolicyDefinition.model_validate(row.definition)
        request = ChangePolicyRequest(policy, version, self.context.principal.username, request_id)
        return await self._execute(case, CaseProcess.change_policy, request, "case.policy_change")

    async def _execute(
        self,
        case: Case,
        update: UpdateMethodMultiParam[[Any, Request], CaseSnapshot],
        request: Request,
        audit_action: str,
    ) -> Case:
        """Run the step in the engine and audit it; refusals become 409 or 422. Answers with
        `case` (read, access checked, before the step) moved to the state the engine returned."""
        case_id = case.id
        request_id = getattr(request, "request_id", None)
        handle: WorkflowHandle[Any, Any] = (await self.context.client()).get_workflow_handle(
            workflow_id(case_id)
        )
        try:
            snapshot: CaseSnapshot = await handle.execute_update(
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
        async with self.context.database.transaction() as session:
            # Chained at the commit, so the audit chain's lock is held for the commit alone.
            self.context.audit(session, audit_action, case_id)
        # The handler recorded this state in the row before it returned it: the answer needs no
        # second read (`case` is detached: setting it writes nothing).
        project(case, snapshot)
        return case


def _refusal(failed: WorkflowUpdateFailedError) -> Conflict | Invalid:
    cause = failed.cause
    if isinstance(cause, ApplicationError):
        if cause.type == INVALID_DATA:
            return Invalid(cause.message)
        return Conflict(cause.message)
    return Conflict("The step was refused.")

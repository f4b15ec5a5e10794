"""Opening cases: one, an import of cases already under way, or an appeal; all or none.

The workflows start first and the rows are committed after them (a workflow's first recording
waits for its row, activities/recording.py); if the commit fails, the workflows just started
are terminated, so no process runs a case the database does not know.
"""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from codec import KeyStore
from policies.calendar import LONDON, due_instant
from policies.opening_limits import counts_from, describe_window
from policies.schema import PolicyDefinition, Stage, duration
from records.cases import (
    NewCase,
    allocate_reference,
    current_policy,
    find_staff,
    holiday_region_of,
    new_case_row,
    policy_version,
)
from records.models import Case, Staff
from services.case_context import CaseContext
from services.case_people import advisor_for, check_not_party
from services.errors import Conflict, Invalid, RowsInvalid, Unavailable
from temporal_client import case_keys_of
from workflows import WORKFLOW_FOR_CASE_TYPE, workflow_id
from workflows.types import CaseInput

RISKS = ("urgent", "routine")


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
    # The case this one is linked to (an appeal's original case).
    parent_case_id: str | None = None


@dataclass(frozen=True)
class CheckedCase:
    """A case that has passed every check an opening makes, before it has a reference."""

    workflow_type: str
    organisation_id: int
    policy: PolicyDefinition
    policy_version: int
    staff: Staff
    summary: str
    risk: str
    advisor: str
    opened_at: datetime
    stage: Stage
    stage_started_at: datetime
    holiday_region: str

    def case_input(self, reference: str) -> CaseInput:
        """What its workflow starts from."""
        return CaseInput(
            case_id=reference,
            organisation_id=self.organisation_id,
            policy=self.policy,
            policy_version=self.policy_version,
            opened_at=self.opened_at,
            advisor=self.advisor,
            risk=self.risk,
            start_stage=self.stage.key,
            stage_started_at=self.stage_started_at,
            holiday_region=self.holiday_region,
        )


@dataclass(frozen=True)
class CaseOpening:
    context: CaseContext

    async def open(self, request: OpenCase) -> Case:
        [case] = await self._open_together([request], row_labels=None)
        return case

    async def import_cases(
        self, rows: list[tuple[str, OpenCase]], unreadable: list[dict[str, str]]
    ) -> list[Case]:
        """Bring in cases already under way, all or none; each bad row is named by its label.

        `unreadable` are the rows the file's reader could not make sense of: they are
        reported together with the rows these checks refuse.
        """
        return await self._open_together(
            [request for _, request in rows],
            row_labels=[label for label, _ in rows],
            earlier_problems=unreadable,
        )

    async def appeal(self, case_id: str, grounds: str) -> Case:
        """Open an appeal against a closed case, as a linked case, within its policy's window."""
        async with self.context.database.transaction() as session:
            original = await self.context.visible(session, case_id)
            self.context.require_worker()
            if not grounds.strip():
                raise Invalid("Give the grounds of appeal.")
            if original.status != "closed" or original.closed_at is None:
                raise Conflict(f"Case {case_id} is still open; an appeal is against a closed case.")
            row = await policy_version(
                session, original.organisation_id, original.case_type, original.policy_version
            )
            assert row is not None
            right = PolicyDefinition.model_validate(row.definition).appeal
            if right is None:
                raise Conflict(f"A {original.case_type} case is not appealed as a case of its own.")
            window_closes = due_instant(
                original.closed_at, duration(right.within), original.holiday_region
            )
            if datetime.now(UTC) > window_closes:
                closed_on = window_closes.astimezone(LONDON).strftime("%d %B %Y")
                raise Conflict(f"The appeal window for {case_id} closed on {closed_on}.")
            earlier = await session.scalar(
                select(Case.id).where(
                    Case.parent_case_id == case_id, Case.case_type == right.case_type
                )
            )
            if earlier is not None:
                raise Conflict(f"Case {case_id} has already been appealed: {earlier}.")
        request = OpenCase(
            case_type=right.case_type,
            employee_id=original.employee_id,
            summary=f"Appeal against {case_id}: {grounds.strip()}",
            risk=original.risk,
            advisor=original.advisor,
            parent_case_id=case_id,
        )
        [appeal] = await self._open_together([request], row_labels=None)
        return appeal

    async def _open_together(
        self,
        requests: list[OpenCase],
        row_labels: list[str] | None,
        earlier_problems: Sequence[dict[str, str]] = (),
    ) -> list[Case]:
        """Check every case, start every workflow, write every row; or do nothing at all.

        No database lock is held while the engine answers, so openings run side by side
        instead of one after another: the references are drawn and committed in a short
        transaction, the workflows started, and the rows written with their audit entries
        last. A workflow is never left without its row: if the rows do not commit, every
        workflow started is ended. Its reference stays used, so no later case draws it again.
        The workflow's first recording waits for the row (activities/recording.py).
        """
        self.context.require_worker()
        now = datetime.now(UTC)
        client = await self.context.client()
        prepared = await self._check_and_number(
            requests, row_labels, earlier_problems, now, case_keys_of(client)
        )
        started: list[WorkflowHandle[Any, Any]] = []
        try:
            await self._start_all(client, prepared, started)
            async with self.context.database.transaction() as session:
                session.add_all(case for case, _, _ in prepared)
                for case, _, _ in prepared:
                    self.context.audit(session, "case.open", case.id)
        except Exception:
            # E.g. the database went away at the commit: end the workflows, so none runs a
            # case the database does not know. Found by the chaos run.
            for handle in started:
                with contextlib.suppress(RPCError):
                    await handle.terminate("opening cancelled: the case could not be saved")
            raise
        return [case for case, _, _ in prepared]

    async def _check_and_number(
        self,
        requests: list[OpenCase],
        row_labels: list[str] | None,
        earlier_problems: Sequence[dict[str, str]],
        now: datetime,
        keys: KeyStore | None,
    ) -> list[tuple[Case, str, CaseInput]]:
        """Check every case and give each its reference and its own key; any refusal leaves
        nothing drawn."""
        async with self.context.database.transaction() as session:
            prepared: list[tuple[Case, str, CaseInput]] = []
            alongside: list[tuple[str, CheckedCase]] = []
            problems = [*earlier_problems]
            for index, request in enumerate(requests):
                try:
                    prepared.append(await self._prepare(session, request, now, alongside))
                except (Invalid, Conflict) as refused:
                    if row_labels is None:
                        raise
                    problems.append({"row": row_labels[index], "message": refused.detail})
            if problems:
                raise RowsInvalid(sorted(problems, key=lambda problem: row_order(problem["row"])))
            if keys is not None:
                # Each case's key (codec.py) commits with its reference, before its workflow
                # starts, so the start input is sealed with it too. An opening that fails
                # later leaves a key with no case row: it seals only that ended workflow.
                await keys.make(session, [case.id for case, _, _ in prepared])
        return prepared

    async def _prepare(
        self,
        session: AsyncSession,
        request: OpenCase,
        now: datetime,
        alongside: list[tuple[str, CheckedCase]],
    ) -> tuple[Case, str, CaseInput]:
        """Check one case (after those `alongside`, opened with it) and draw its reference;
        its row is written once its workflow has started. Refusals are Invalid or Conflict;
        the case joins `alongside` under its reference."""
        checked = await self.check(session, request, now, alongside)
        reference = await allocate_reference(
            session, checked.policy.reference_prefix, checked.opened_at.year
        )
        case = new_case_row(
            NewCase(
                reference=reference,
                organisation_id=self.context.principal.organisation_id,
                policy=checked.policy,
                policy_version=checked.policy_version,
                staff=checked.staff,
                summary=checked.summary,
                risk=checked.risk,
                advisor=checked.advisor,
                opened_by=self.context.principal.username,
                opened_at=checked.opened_at,
                stage_key=checked.stage.key,
                stage_started_at=checked.stage_started_at,
                holiday_region=checked.holiday_region,
                parent_case_id=request.parent_case_id,
            )
        )
        alongside.append((reference, checked))
        return case, checked.workflow_type, checked.case_input(reference)

    async def check(
        self,
        session: AsyncSession,
        request: OpenCase,
        now: datetime,
        alongside: Sequence[tuple[str, CheckedCase]] = (),
    ) -> CheckedCase:
        """Every check an opening makes, drawing nothing: what the case would be.

        `alongside` are the cases opened with it (an import), each with its reference or,
        in a preview, its row's label. Refusals are Invalid, or Conflict for an advisor who
        is a party to the case.
        """
        if request.risk not in RISKS:
            raise Invalid("risk must be 'urgent' or 'routine'.")
        if not request.summary.strip():
            raise Invalid("Give a short summary of the case.")
        workflow_type = WORKFLOW_FOR_CASE_TYPE.get(request.case_type)
        if workflow_type is None:
            raise Invalid(f"There is no case type '{request.case_type}'.")
        organisation_id = self.context.principal.organisation_id
        found = await current_policy(session, organisation_id, request.case_type)
        if found is None:
            raise Invalid(f"There is no policy for case type '{request.case_type}'.")
        policy, version = found
        staff = await find_staff(session, organisation_id, request.employee_id)
        if staff is None:
            raise Invalid(f"There is no member of staff with id '{request.employee_id}'.")
        advisor = await advisor_for(session, self.context.principal, request.advisor)
        await check_not_party(
            session, self.context.principal, advisor, staff.employee_id, staff.line_manager_id
        )
        opened_at = request.opened_at or now
        if opened_at > now:
            raise Invalid("opened_at cannot be in the future.")
        if policy.opening_limit:
            await self._check_opening_limit(
                session, policy, staff.employee_id, opened_at, alongside
            )
            if policy.opening_limit.one_at_a_time and request.opened_at is None:
                await self._check_none_open(session, policy, staff.employee_id, alongside)
        stage_key = request.stage or policy.stages[0].key
        if not policy.has_stage(stage_key):
            raise Invalid(f"The {policy.name} policy has no stage '{stage_key}'.")
        stage_started_at = request.stage_started_at or opened_at
        if not opened_at <= stage_started_at <= now:
            raise Invalid("stage_started_at must lie between opened_at and now.")
        # A case (an imported one too) runs on its organisation's calendar as it is now.
        region = await holiday_region_of(session, organisation_id)
        return CheckedCase(
            workflow_type=workflow_type,
            organisation_id=organisation_id,
            policy=policy,
            policy_version=version,
            staff=staff,
            summary=request.summary.strip(),
            risk=request.risk,
            advisor=advisor,
            opened_at=opened_at,
            stage=policy.stage(stage_key),
            stage_started_at=stage_started_at,
            holiday_region=region,
        )

    async def _check_opening_limit(
        self,
        session: AsyncSession,
        policy: PolicyDefinition,
        employee_id: str,
        at: datetime,
        alongside: Sequence[tuple[str, CheckedCase]],
    ) -> None:
        """E.g. at most two flexible working requests in any 12 months: refused with a reason.

        Counts the cases stored and those opened alongside (an import), by their names; a
        period in months by calendar date (policies/opening_limits.py)."""
        limit = policy.opening_limit
        assert limit is not None
        since = counts_from(limit.within, at)
        stored = list(
            await session.scalars(
                select(Case.id)
                .where(
                    Case.organisation_id == self.context.principal.organisation_id,
                    Case.case_type == policy.case_type,
                    Case.employee_id == employee_id,
                    Case.opened_at >= since,
                    Case.opened_at <= at,
                )
                .order_by(Case.opened_at)
            )
        )
        batch = [
            (name, case)
            for name, case in alongside
            if case.policy.case_type == policy.case_type
            and case.staff.employee_id == employee_id
            and since <= case.opened_at <= at
        ]
        earlier = stored + [name for name, _ in sorted(batch, key=lambda named: named[1].opened_at)]
        if len(earlier) >= limit.count:
            raise Invalid(
                f"{employee_id} already has {len(earlier)} {policy.name.lower()} case(s) in the "
                f"last {describe_window(limit.within)} ({', '.join(earlier)}); the policy "
                f"allows at most {limit.count}."
            )

    async def _check_none_open(
        self,
        session: AsyncSession,
        policy: PolicyDefinition,
        employee_id: str,
        alongside: Sequence[tuple[str, CheckedCase]],
    ) -> None:
        """No new request while an earlier one is still being dealt with (ERA 1996 s.80F(4)
        as amended 2024): refused, naming the open case. Only for a case opened now; an
        import brings in requests already made, as they stand."""
        stored = list(
            await session.scalars(
                select(Case.id)
                .where(
                    Case.organisation_id == self.context.principal.organisation_id,
                    Case.case_type == policy.case_type,
                    Case.employee_id == employee_id,
                    Case.status != "closed",
                )
                .order_by(Case.opened_at)
            )
        )
        batch = [
            name
            for name, case in alongside
            if case.policy.case_type == policy.case_type and case.staff.employee_id == employee_id
        ]
        if stored or batch:
            raise Invalid(
                f"{employee_id}'s earlier {policy.name.lower()} ({', '.join(stored + batch)}) is "
                "still being dealt with; a new one can be made once it is decided and closed."
            )

    async def _start_all(
        self,
        client: Client,
        prepared: list[tuple[Case, str, CaseInput]],
        started: list[WorkflowHandle[Any, Any]],
    ) -> None:
        """Start each case's workflow (into `started`); if one cannot start, end those started."""
        starting = ""
        try:
            for case, workflow_type, case_input in prepared:
                starting = workflow_id(case.id)
                started.append(await self._start_one(client, workflow_type, case_input, case.id))
        except (WorkflowAlreadyStartedError, RPCError) as error:
            if isinstance(error, RPCError):
                # The start may have reached the engine with only its answer lost (the
                # frontend restarting): end that workflow too, if it exists.
                started.append(client.get_workflow_handle(starting))
            for handle in started:
                with contextlib.suppress(RPCError):
                    await handle.terminate(
                        "opening cancelled: a case of the opening could not start"
                    )
            started.clear()
            if isinstance(error, WorkflowAlreadyStartedError):
                # The engine already runs a process under this reference (e.g. the database was
                # reset while the engine kept its state): refuse clearly; nothing is written.
                raise Unavailable(
                    f"The case engine already has a case {error.workflow_id}, so the database "
                    "and the engine are out of step; nothing was opened. Ask an administrator."
                ) from error
            raise Unavailable(f"The case engine did not answer ({error.message}).") from error

    async def _start_one(
        self, client: Client, workflow_type: str, case_input: CaseInput, case_id: str
    ) -> WorkflowHandle[Any, Any]:
        async def start() -> WorkflowHandle[Any, Any]:
            return await client.start_workflow(
                workflow_type,
                case_input,
                id=workflow_id(case_id),
                task_queue=self.context.task_queue,
            )

        try:
            return await start()
        except WorkflowAlreadyStartedError:
            existing = client.get_workflow_handle(workflow_id(case_id))
            if not await _left_by_a_failed_opening(existing):
                raise
            # The reference was just drawn, so no case has it: the process is one whose opening
            # failed and could not even end it (the frontend restarting mid-request). It has
            # recorded nothing; end it and start this case in its place. Found by the chaos run.
            await existing.terminate("its opening failed; the reference is reused")
            return await start()


def row_order(label: str) -> tuple[str, int]:
    """Sort "line 10" after "line 9"."""
    word, _, number = label.rpartition(" ")
    return (word, int(number)) if number.isdigit() else (label, 0)


async def _left_by_a_failed_opening(handle: WorkflowHandle[Any, Any]) -> bool:
    """A running case process (the only kind that blocks a start) that has recorded nothing,
    not even its opening: its recording activity waits for a case row that never came. A
    process whose case was lost another way (a database restored from an older backup) has
    recorded its opening, and is left for an administrator."""
    history = await handle.fetch_history()
    completed = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    return not any(event.event_type == completed for event in history.events)

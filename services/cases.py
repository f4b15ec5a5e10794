"""Opening cases and taking their steps: the database row first, the workflow drives the rest."""

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from activities.types import CaseSnapshot
from codec import KeyStore
from policies.calendar import LONDON, due_instant
from policies.durations import as_timedelta, describe
from policies.schema import PolicyDefinition, duration
from records.cases import (
    CaseFilters,
    NewCase,
    allocate_reference,
    current_policy,
    filtered,
    find_staff,
    list_page,
    new_case_row,
    policy_version,
)
from records.database import Database
from records.models import AuditEntry, Case, CaseAccess, CaseParty, Note, User
from records.projection import project
from services.access import (
    CASE_READERS,
    CASE_WORKERS,
    POLICY_MOVERS,
    RESTRICTERS,
    Principal,
    party_to_case,
    principal_of,
    reachable_cases,
    visible_cases,
)
from services.errors import Conflict, Forbidden, Invalid, NotFound, RowsInvalid, Unavailable
from services.reports import check_root_cause
from temporal_client import case_keys_of
from workflows import WORKFLOW_FOR_CASE_TYPE, workflow_id
from workflows.case_process import CaseProcess
from workflows.types import (
    INVALID_DATA,
    ActionRequest,
    AssignRequest,
    CaseInput,
    ChangePolicyRequest,
    PauseRequest,
    ResumeRequest,
    SuspensionRequest,
)

RISKS = ("urgent", "routine")
# Parties recorded on a case; the subject and their line manager need no record.
PARTY_ROLES = ("complainant", "witness")
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
    # The case this one is linked to (an appeal's original case).
    parent_case_id: str | None = None


async def visible_case(session: AsyncSession, principal: Principal, case_id: str) -> Case:
    """The case, if this person may know it exists; otherwise the same 404 as for no case."""
    case = await session.scalar(visible_cases(principal).where(Case.id == case_id))
    if case is None:
        raise NotFound(f"There is no case {case_id} that you can see.")
    return case


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
        return await visible_case(session, self.principal, case_id)

    async def read(self, case_id: str) -> Case:
        """A case for display; every read is audited."""
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            session.add(self._audit_entry("case.read", case_id))
            return case

    async def page(self, filters: CaseFilters) -> tuple[list[Case], int]:
        async with self.database.transaction() as session:
            return await list_page(session, visible_cases(self.principal), filters)

    async def matching(
        self, filters: CaseFilters, *conditions: ColumnElement[bool], limit: int = 5000
    ) -> Sequence[Case]:
        """Every visible case that matches, unpaged (up to `limit`): work lists, dashboards."""
        query = filtered(visible_cases(self.principal), filters).where(*conditions)
        async with self.database.transaction() as session:
            rows = await session.scalars(
                query.order_by(Case.stage_due_at.is_(None), Case.stage_due_at, Case.id).limit(limit)
            )
            return list(rows)

    async def advisors(self) -> Sequence[User]:
        """The active advisors of this person's organisation, by name."""
        async with self.database.transaction() as session:
            users = await session.scalars(
                select(User)
                .where(
                    User.organisation_id == self.principal.organisation_id,
                    User.active.is_(True),
                )
                .order_by(User.full_name)
            )
            return [user for user in users if "advisor" in user.roles]

    # ---- opening -----------------------------------------------------------------

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
        async with self.database.transaction() as session:
            original = await self.get(session, case_id)
            self._require_worker()
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
            window_closes = due_instant(original.closed_at, duration(right.within))
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
        self._require_worker()
        now = datetime.now(UTC)
        client = await self.client()
        prepared = await self._check_and_number(
            requests, row_labels, earlier_problems, now, case_keys_of(client)
        )
        started: list[WorkflowHandle[Any, Any]] = []
        try:
            await self._start_all(client, prepared, started)
            async with self.database.transaction() as session:
                session.add_all(case for case, _, _ in prepared)
                for case, _, _ in prepared:
                    session.add(self._audit_entry("case.open", case.id))
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
        async with self.database.transaction() as session:
            prepared: list[tuple[Case, str, CaseInput]] = []
            problems = [*earlier_problems]
            for index, request in enumerate(requests):
                try:
                    batch = [case for case, _, _ in prepared]
                    prepared.append(await self._prepare(session, request, now, batch))
                except Invalid as invalid:
                    if row_labels is None:
                        raise
                    problems.append({"row": row_labels[index], "message": invalid.detail})
            if problems:
                raise RowsInvalid(sorted(problems, key=lambda problem: _row_order(problem["row"])))
            if keys is not None:
                # Each case's key (codec.py) commits with its reference, before its workflow
                # starts, so the start input is sealed with it too. An opening that fails
                # later leaves a key with no case row: it seals only that ended workflow.
                await keys.make(session, [case.id for case, _, _ in prepared])
        return prepared

    async def _prepare(
        self, session: AsyncSession, request: OpenCase, now: datetime, batch: list[Case]
    ) -> tuple[Case, str, CaseInput]:
        """Check one case (after `batch`, opened with it) and draw its reference; its row is
        written once its workflow has started. Refusals are Invalid."""
        if request.risk not in RISKS:
            raise Invalid("risk must be 'urgent' or 'routine'.")
        if not request.summary.strip():
            raise Invalid("Give a short summary of the case.")
        workflow_type = WORKFLOW_FOR_CASE_TYPE.get(request.case_type)
        if workflow_type is None:
            raise Invalid(f"There is no case type '{request.case_type}'.")
        organisation_id = self.principal.organisation_id
        found = await current_policy(session, organisation_id, request.case_type)
        if found is None:
            raise Invalid(f"There is no policy for case type '{request.case_type}'.")
        policy, version = found
        staff = await find_staff(session, organisation_id, request.employee_id)
        if staff is None:
            raise Invalid(f"There is no member of staff with id '{request.employee_id}'.")
        advisor = await self._advisor_for(session, request.advisor)
        await self._check_not_party(session, advisor, staff.employee_id, staff.line_manager_id)
        opened_at = request.opened_at or now
        if opened_at > now:
            raise Invalid("opened_at cannot be in the future.")
        if policy.opening_limit:
            await self._check_opening_limit(session, policy, staff.employee_id, opened_at, batch)
        stage_key = request.stage or policy.stages[0].key
        if not policy.has_stage(stage_key):
            raise Invalid(f"The {policy.name} policy has no stage '{stage_key}'.")
        stage = policy.stage(stage_key)
        stage_started_at = request.stage_started_at or opened_at
        if not opened_at <= stage_started_at <= now:
            raise Invalid("stage_started_at must lie between opened_at and now.")
        reference = await allocate_reference(session, policy.reference_prefix, opened_at.year)
        case = new_case_row(
            NewCase(
                reference=reference,
                organisation_id=organisation_id,
                policy=policy,
                policy_version=version,
                staff=staff,
                summary=request.summary.strip(),
                risk=request.risk,
                advisor=advisor,
                opened_by=self.principal.username,
                opened_at=opened_at,
                stage_key=stage.key,
                stage_started_at=stage_started_at,
                parent_case_id=request.parent_case_id,
            )
        )
        case_input = CaseInput(
            case_id=reference,
            organisation_id=organisation_id,
            policy=policy,
            policy_version=version,
            opened_at=opened_at,
            advisor=advisor,
            risk=request.risk,
            start_stage=stage.key,
            stage_started_at=stage_started_at,
        )
        return case, workflow_type, case_input

    async def _check_opening_limit(
        self,
        session: AsyncSession,
        policy: PolicyDefinition,
        employee_id: str,
        at: datetime,
        batch: list[Case],
    ) -> None:
        """E.g. at most two flexible working requests in 12 months: refused with a reason.

        Counts the cases stored and those opened in the same batch (an import)."""
        limit = policy.opening_limit
        assert limit is not None
        since = at - as_timedelta(duration(limit.within))
        stored = list(
            await session.scalars(
                select(Case.id)
                .where(
                    Case.organisation_id == self.principal.organisation_id,
                    Case.case_type == policy.case_type,
                    Case.employee_id == employee_id,
                    Case.opened_at > since,
                    Case.opened_at <= at,
                )
                .order_by(Case.opened_at)
            )
        )
        alongside = [
            case
            for case in batch
            if case.case_type == policy.case_type
            and case.employee_id == employee_id
            and since < case.opened_at <= at
        ]
        earlier = stored + [case.id for case in sorted(alongside, key=lambda case: case.opened_at)]
        if len(earlier) >= limit.count:
            raise Invalid(
                f"{employee_id} already has {len(earlier)} {policy.name.lower()} case(s) in the "
                f"last {describe(duration(limit.within))} ({', '.join(earlier)}); the policy "
                f"allows at most {limit.count}."
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
                workflow_type, case_input, id=workflow_id(case_id), task_queue=self.task_queue
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
        if "root_cause" in data:  # recorded at closure for reports; only the maintained codes
            async with self.database.sessions() as session:
                await check_root_cause(session, self.principal.organisation_id, data["root_cause"])
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

    async def suspension(self, case_id: str, step: str, note: str, request_id: str | None) -> Case:
        """Suspend the employee (note = the reason), record a review, or lift the suspension."""
        request = SuspensionRequest(step, note, self.principal.username, request_id)
        return await self._step(case_id, CaseProcess.suspension, request, f"case.suspension.{step}")

    async def assign(self, case_id: str, advisor: str, request_id: str | None) -> Case:
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)  # an unknown case is a 404 whoever is named
            self._require_worker()
            advisor = await self._advisor_for(session, advisor)
            await self._check_may_handle(session, case, advisor)
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
        request_id = getattr(request, "request_id", None)
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            self._require_worker()
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
        async with self.database.transaction() as session:
            # Case readers move only cases they see; a policy owner, who reads none, any case
            # of the organisation that is theirs to reach (not restricted away, no conflict).
            scope = (
                visible_cases(self.principal)
                if self.principal.has_any(CASE_READERS)
                else reachable_cases(self.principal)
            )
            case = await session.scalar(scope.where(Case.id == case_id))
            if case is None:
                raise NotFound(f"There is no case {case_id} that you can see.")
            if not self.principal.has_any(POLICY_MOVERS):
                raise Forbidden(
                    "Only a policy owner or a manager can move a case to a new version."
                )
            if case.status == "closed" and not request_id:
                raise Conflict(f"Case {case_id} is closed; nothing more can be done in it.")
            row = await policy_version(session, case.organisation_id, case.case_type, version)
            if row is None or row.version != version:
                raise Invalid(f"There is no version {version} of the {case.case_type} policy.")
            policy = PolicyDefinition.model_validate(row.definition)
        request = ChangePolicyRequest(policy, version, self.principal.username, request_id)
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
        handle: WorkflowHandle[Any, Any] = (await self.client()).get_workflow_handle(
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
        async with self.database.transaction() as session:
            # Chained at the commit, so the audit chain's lock is held for the commit alone.
            session.add(self._audit_entry(audit_action, case_id))
        # The handler recorded this state in the row before it returned it: the answer needs no
        # second read (`case` is detached: setting it writes nothing).
        project(case, snapshot)
        return case

    async def notes(self, case_id: str) -> Sequence[Note]:
        async with self.database.transaction() as session:
            await self.get(session, case_id)
            rows = await session.scalars(
                select(Note).where(Note.case_id == case_id).order_by(Note.created_at, Note.id)
            )
            session.add(self._audit_entry("case.notes.read", case_id))
            return list(rows)

    async def add_note(self, case_id: str, kind: str, text: str) -> Note:
        """Notes are records the API owns; the process does not need to know about them."""
        async with self.database.transaction() as session:
            await self.get(session, case_id)
            self._require_worker()
            note = Note(case_id=case_id, author=self.principal.username, kind=kind, body=text)
            session.add(note)
            session.add(self._audit_entry(f"case.note.{kind}", case_id))
            await session.flush()
            return note

    # ---- restriction and parties ------------------------------------------------------

    async def restriction(self, case_id: str) -> tuple[bool, list[str]]:
        """Whether the case is restricted and who is named on it."""
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            return case.restricted, await _named_people(session, case_id)

    async def restrict(self, case_id: str, restricted: bool, people: list[str]) -> list[str]:
        """Restrict a case to the people named (or lift the restriction); managers and admins.

        Each person named must be an active case reader of the organisation and not a party to
        the case; the names replace the earlier ones.
        """
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            if not self.principal.has_any(RESTRICTERS):
                raise Forbidden("Only a manager or an admin can restrict a case.")
            names = sorted(set(people))
            if restricted and not names:
                raise Invalid("Name at least one person who may see the restricted case.")
            for username in names:
                user = await session.scalar(
                    select(User).where(
                        User.username == username,
                        User.organisation_id == self.principal.organisation_id,
                        User.active.is_(True),
                    )
                )
                if user is None or not set(user.roles) & CASE_READERS:
                    raise Invalid(
                        f"'{username}' is not a person in your organisation who reads cases."
                    )
                await self._check_not_conflicted(session, case, user)
            await session.execute(delete(CaseAccess).where(CaseAccess.case_id == case_id))
            for username in names:
                session.add(
                    CaseAccess(case_id=case_id, username=username, added_by=self.principal.username)
                )
            case.restricted = restricted
            session.add(
                self._audit_entry(
                    "case.restrict" if restricted else "case.unrestrict",
                    case_id,
                    {"people": names},
                )
            )
            return names

    async def parties(self, case_id: str) -> list[CaseParty]:
        async with self.database.transaction() as session:
            await self.get(session, case_id)
            rows = await session.scalars(
                select(CaseParty).where(CaseParty.case_id == case_id).order_by(CaseParty.id)
            )
            session.add(self._audit_entry("case.parties.read", case_id))
            return list(rows)

    async def add_party(self, case_id: str, employee_id: str, role: str) -> CaseParty:
        """Record a complainant or witness: from now on they never see the case."""
        async with self.database.transaction() as session:
            case = await self.get(session, case_id)
            self._require_worker()
            if role not in PARTY_ROLES:
                raise Invalid(f"role must be one of: {', '.join(PARTY_ROLES)}.")
            if await find_staff(session, case.organisation_id, employee_id) is None:
                raise Invalid(f"There is no member of staff with id '{employee_id}'.")
            handler = await session.scalar(
                select(User).where(
                    User.organisation_id == case.organisation_id,
                    User.username == case.advisor,
                    User.staff_employee_id == employee_id,
                )
            )
            if handler is not None:
                raise Conflict(
                    f"{employee_id} is {case.advisor}, who handles case {case_id}: assign the case "
                    "to another advisor before recording them as a party."
                )
            existing = await session.scalar(
                select(CaseParty).where(
                    CaseParty.case_id == case_id,
                    CaseParty.employee_id == employee_id,
                    CaseParty.role == role,
                )
            )
            if existing is not None:
                return existing
            party = CaseParty(
                case_id=case_id,
                employee_id=employee_id,
                role=role,
                added_by=self.principal.username,
            )
            session.add(party)
            session.add(
                self._audit_entry(
                    "case.party.add", case_id, {"employee_id": employee_id, "role": role}
                )
            )
            await session.flush()
            return party

    async def _check_not_conflicted(self, session: AsyncSession, case: Case, user: User) -> None:
        if user.staff_employee_id is None:
            return
        conflicted = await session.scalar(
            select(Case.id).where(Case.id == case.id, party_to_case(user.staff_employee_id))
        )
        if conflicted is not None:
            raise Conflict(
                f"{user.username} cannot be given case {case.id}: they are a party to it "
                "(conflict of interest)."
            )

    async def _check_may_handle(self, session: AsyncSession, case: Case, advisor: str) -> None:
        """The new handler is not a party to the case, and is named on it if it is restricted."""
        user = await session.scalar(
            select(User).where(
                User.username == advisor, User.organisation_id == case.organisation_id
            )
        )
        assert user is not None  # _advisor_for found them
        await self._check_not_conflicted(session, case, user)
        if case.restricted:
            named = await session.scalar(
                reachable_cases(principal_of(user)).where(Case.id == case.id)
            )
            if named is None:
                raise Conflict(
                    f"Case {case.id} is restricted and {advisor} is not named on it; "
                    "name them on it first."
                )

    async def _check_not_party(
        self, session: AsyncSession, advisor: str, employee_id: str, line_manager_id: str | None
    ) -> None:
        """A new case is not handed to its subject or the subject's line manager."""
        user = await session.scalar(
            select(User).where(
                User.username == advisor, User.organisation_id == self.principal.organisation_id
            )
        )
        linked = user.staff_employee_id if user is not None else None
        if linked is not None and linked in (employee_id, line_manager_id):
            raise Conflict(
                f"{advisor} cannot handle a case about {employee_id}: they are a party to it "
                "(conflict of interest)."
            )

    # ---- helpers -----------------------------------------------------------------

    def _require_worker(self) -> None:
        if not self.principal.has_any(CASE_WORKERS):
            raise Forbidden("Your role cannot open or change cases.")

    def _audit_entry(
        self, action: str, case_id: str | None, detail: dict[str, Any] | None = None
    ) -> AuditEntry:
        return AuditEntry(
            organisation_id=self.principal.organisation_id,
            username=self.principal.username,
            action=action,
            case_id=case_id,
            client_address=self.client_address,
            detail=detail or {},
        )


async def _named_people(session: AsyncSession, case_id: str) -> list[str]:
    rows = await session.scalars(
        select(CaseAccess.username)
        .where(CaseAccess.case_id == case_id)
        .order_by(CaseAccess.username)
    )
    return list(rows)


def _row_order(label: str) -> tuple[str, int]:
    """Sort "line 10" after "line 9"."""
    word, _, number = label.rpartition(" ")
    return (word, int(number)) if number.isdigit() else (label, 0)


def _refusal(failed: WorkflowUpdateFailedError) -> Conflict | Invalid:
    cause = failed.cause
    if isinstance(cause, ApplicationError):
        if cause.type == INVALID_DATA:
            return Invalid(cause.message)
        return Conflict(cause.message)
    return Conflict("The step was refused.")


async def _left_by_a_failed_opening(handle: WorkflowHandle[Any, Any]) -> bool:
    """A running case process (the only kind that blocks a start) that has recorded nothing,
    not even its opening: its recording activity waits for a case row that never came. A
    process whose case was lost another way (a database restored from an older backup) has
    recorded its opening, and is left for an administrator."""
    history = await handle.fetch_history()
    completed = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    return not any(event.event_type == completed for event in history.events)

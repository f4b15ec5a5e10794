"""Someone's open cases, and handing them all to another advisor in one action (a leaver, a
long absence). Each case is reassigned through the case's own assignment step
(services/case_steps.py, `CaseSteps.assign`): a real step in its workflow, audited, after
which the workflow's reminders and deadlines go to the new advisor.

Admins and managers may; each sees and hands over the cases their access reaches
(services/access.py). Cases of the person's that the one acting may not see (restricted, or a
conflict of interest) are counted, never shown, so someone who sees them can hand them over.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from records.models import Case
from services.access import Principal, visible_cases
from services.case_context import CaseContext
from services.case_people import advisor_for, advisors_of, check_may_handle
from services.case_steps import CaseSteps
from services.errors import Conflict, Forbidden, Invalid, ServiceError
from services.organisation_accounts import account_in

HANDOVER_ROLES = frozenset({"admin", "manager"})


@dataclass(frozen=True)
class OpenCase:
    id: str
    case_type: str
    stage_name: str
    stage_due_at: datetime | None
    risk: str
    breached: bool


@dataclass(frozen=True)
class OpenCases:
    items: list[OpenCase]
    hidden: int  # open cases of theirs the one asking may not see


@dataclass(frozen=True)
class HandedOver:
    to: str
    cases: list[str]
    hidden: int


def may_hand_over(principal: Principal) -> bool:
    return principal.has_any(HANDOVER_ROLES)


@dataclass(frozen=True)
class CaseHandover:
    context: CaseContext

    def _require(self) -> None:
        if not may_hand_over(self.context.principal):
            raise Forbidden("Only an administrator or a manager can reassign someone's cases.")

    async def advisors(self, username: str) -> list[tuple[str, str]]:
        """(username, full name) of the organisation's active advisors who could take the
        cases, the person themselves aside."""
        self._require()
        async with self.context.database.sessions() as session:
            advisors = await advisors_of(session, self.context.principal.organisation_id)
            return [
                (person.username, person.user.full_name)
                for person in advisors
                if person.username != username
            ]

    async def open_cases(self, username: str) -> OpenCases:
        self._require()
        principal = self.context.principal
        async with self.context.database.sessions() as session:
            await account_in(session, principal.organisation_id, username)
            cases = list(
                await session.scalars(
                    visible_cases(principal)
                    .where(Case.advisor == username, Case.status == "open")
                    .order_by(Case.id)
                )
            )
            everyone = await session.scalar(
                select(func.count())
                .select_from(Case)
                .where(
                    Case.organisation_id == principal.organisation_id,
                    Case.advisor == username,
                    Case.status == "open",
                )
            )
        items = [
            OpenCase(
                case.id,
                case.case_type,
                case.stage_name,
                case.stage_due_at,
                case.risk,
                case.breached,
            )
            for case in cases
        ]
        return OpenCases(items, (everyone or 0) - len(items))

    async def reassign_all(self, username: str, to: str) -> HandedOver:
        """Every open case of theirs this person sees, to `to`. Checked for every case before
        any is moved, so a predictable refusal (a conflict of interest, a restricted case the
        new advisor is not named on) moves none."""
        self._require()
        principal = self.context.principal
        async with self.context.database.sessions() as session:
            await account_in(session, principal.organisation_id, username)
            if to == username:
                raise Invalid(f"Choose an advisor other than {username} to take the cases.")
            to = await advisor_for(session, principal, to)
            cases = list(
                await session.scalars(
                    visible_cases(principal)
                    .where(Case.advisor == username, Case.status == "open")
                    .order_by(Case.id)
                )
            )
            refusals = []
            for case in cases:
                try:
                    await check_may_handle(session, case, to)
                except Conflict as refused:
                    refusals.append(refused.detail)
            if refusals:
                more = f" ({len(refusals) - 1} more like it)" if len(refusals) > 1 else ""
                raise Conflict(f"Nothing was reassigned: {refusals[0]}{more}")
        steps = CaseSteps(self.context)
        moved: list[str] = []
        for case in cases:
            try:
                await steps.assign(case.id, to, None)
            except ServiceError as error:
                # The engine refused one (it closed meanwhile, say): the ones before it stay
                # moved, each a step of its own; running it again moves the rest.
                raise Conflict(
                    f"{len(moved)} of {len(cases)} cases were reassigned to {to}; {case.id} was "
                    f"refused ({error.detail}). Reassign again to move the rest."
                ) from error
            moved.append(case.id)
        async with self.context.database.transaction() as session:
            account = await account_in(session, principal.organisation_id, username)
            self.context.audit(
                session,
                "user.cases_reassigned",
                None,
                {"account": account.username, "to": to, "cases": moved},
            )
        hidden = (await self.open_cases(username)).hidden
        return HandedOver(to, moved, hidden)

"""Who is on a case: its restriction and the people named on it, its parties, its handler.

The checks on who may handle a case are here too; opening and assignment use them.
"""

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from records.cases import find_staff
from records.models import Case, CaseAccess, CaseParty, User
from services.access import (
    CASE_READERS,
    RESTRICTERS,
    Principal,
    party_to_case,
    principal_of,
    reachable_cases,
)
from services.case_context import CaseContext
from services.errors import Conflict, Forbidden, Invalid

# Parties recorded on a case; the subject and their line manager need no record.
PARTY_ROLES = ("complainant", "witness")


@dataclass(frozen=True)
class CasePeople:
    context: CaseContext

    async def restriction(self, case_id: str) -> tuple[bool, list[str]]:
        """Whether the case is restricted and who is named on it."""
        async with self.context.database.transaction() as session:
            case = await self.context.visible(session, case_id)
            self.context.audit(session, "case.restriction.read", case_id)
            return case.restricted, await _named_people(session, case_id)

    async def restrict(self, case_id: str, restricted: bool, people: list[str]) -> list[str]:
        """Restrict a case to the people named (or lift the restriction); managers and admins.

        Each person named must be an active case reader of the organisation and not a party to
        the case; the names replace the earlier ones.
        """
        async with self.context.database.transaction() as session:
            case = await self.context.visible(session, case_id)
            if not self.context.principal.has_any(RESTRICTERS):
                raise Forbidden("Only a manager or an admin can restrict a case.")
            names = sorted(set(people))
            if restricted and not names:
                raise Invalid("Name at least one person who may see the restricted case.")
            for username in names:
                user = await session.scalar(
                    select(User).where(
                        User.username == username,
                        User.organisation_id == self.context.principal.organisation_id,
                        User.active.is_(True),
                    )
                )
                if user is None or not set(user.roles) & CASE_READERS:
                    raise Invalid(
                        f"'{username}' is not a person in your organisation who reads cases."
                    )
                await check_not_conflicted(session, case, user)
            await session.execute(delete(CaseAccess).where(CaseAccess.case_id == case_id))
            for username in names:
                session.add(
                    CaseAccess(
                        case_id=case_id, username=username, added_by=self.context.principal.username
                    )
                )
            case.restricted = restricted
            self.context.audit(
                session,
                "case.restrict" if restricted else "case.unrestrict",
                case_id,
                {"people": names},
            )
            return names

    async def parties(self, case_id: str) -> list[CaseParty]:
        async with self.context.database.transaction() as session:
            await self.context.visible(session, case_id)
            rows = await session.scalars(
                select(CaseParty).where(CaseParty.case_id == case_id).order_by(CaseParty.id)
            )
            self.context.audit(session, "case.parties.read", case_id)
            return list(rows)

    async def add_party(self, case_id: str, employee_id: str, role: str) -> CaseParty:
        """Record a complainant or witness: from now on they never see the case."""
        async with self.context.database.transaction() as session:
            case = await self.context.visible(session, case_id)
            self.context.require_worker()
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
                added_by=self.context.principal.username,
            )
            session.add(party)
            self.context.audit(
                session, "case.party.add", case_id, {"employee_id": employee_id, "role": role}
            )
            await session.flush()
            return party


async def check_not_conflicted(session: AsyncSession, case: Case, user: User) -> None:
    """The person is not a party to the case (conflict of interest)."""
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


async def check_may_handle(session: AsyncSession, case: Case, advisor: str) -> None:
    """The new handler is not a party to the case, and is named on it if it is restricted."""
    user = await session.scalar(
        select(User).where(User.username == advisor, User.organisation_id == case.organisation_id)
    )
    assert user is not None  # advisor_for found them
    await check_not_conflicted(session, case, user)
    if case.restricted:
        named = await session.scalar(reachable_cases(principal_of(user)).where(Case.id == case.id))
        if named is None:
            raise Conflict(
                f"Case {case.id} is restricted and {advisor} is not named on it; "
                "name them on it first."
            )


async def check_not_party(
    session: AsyncSession,
    principal: Principal,
    advisor: str,
    employee_id: str,
    line_manager_id: str | None,
) -> None:
    """A new case is not handed to its subject or the subject's line manager."""
    user = await session.scalar(
        select(User).where(
            User.username == advisor, User.organisation_id == principal.organisation_id
        )
    )
    linked = user.staff_employee_id if user is not None else None
    if linked is not None and linked in (employee_id, line_manager_id):
        raise Conflict(
            f"{advisor} cannot handle a case about {employee_id}: they are a party to it "
            "(conflict of interest)."
        )


async def advisor_for(session: AsyncSession, principal: Principal, username: str | None) -> str:
    """The advisor named (active, of the organisation), or the person acting if they advise."""
    if username is None:
        if "advisor" in principal.roles:
            return principal.username
        raise Invalid("Name the advisor who will handle the case.")
    user = await session.scalar(
        select(User).where(
            User.username == username,
            User.organisation_id == principal.organisation_id,
            User.active.is_(True),
        )
    )
    if user is None or "advisor" not in user.roles:
        raise Invalid(f"'{username}' is not an advisor in your organisation.")
    return user.username


async def _named_people(session: AsyncSession, case_id: str) -> list[str]:
    rows = await session.scalars(
        select(CaseAccess.username)
        .where(CaseAccess.case_id == case_id)
        .order_by(CaseAccess.username)
    )
    return list(rows)

"""Who is on a case: its restriction and the people named on it, its parties, its handler.

The checks on who may handle a case are here too; opening and assignment use them.
"""

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from records.cases import find_staff
from records.memberships import Member, member_in, members_of
from records.models import Case, CaseAccess, CaseParty
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
                person = await member_in(session, case.organisation_id, username)
                if person is None or not set(person.roles) & CASE_READERS:
                    raise Invalid(
                        f"'{username}' is not a person in your organisation who reads cases."
                    )
                await check_not_conflicted(session, case, person)
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
            handler = await member_in(session, case.organisation_id, case.advisor, active=False)
            if handler is not None and handler.staff_employee_id == employee_id:
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


async def check_not_conflicted(session: AsyncSession, case: Case, person: Member) -> None:
    """The person is not a party to the case (conflict of interest), by the staff record
    they are linked to in the case's organisation."""
    if person.staff_employee_id is None:
        return
    conflicted = await session.scalar(
        select(Case.id).where(Case.id == case.id, party_to_case(person.staff_employee_id))
    )
    if conflicted is not None:
        raise Conflict(
            f"{person.username} cannot be given case {case.id}: they are a party to it "
            "(conflict of interest)."
        )


async def check_may_handle(session: AsyncSession, case: Case, advisor: str) -> None:
    """The new handler is not a party to the case, and is named on it if it is restricted."""
    person = await member_in(session, case.organisation_id, advisor)
    assert person is not None  # advisor_for found them
    await check_not_conflicted(session, case, person)
    if case.restricted:
        principal = principal_of(person.user, person.membership)
        named = await session.scalar(reachable_cases(principal).where(Case.id == case.id))
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
    person = await member_in(session, principal.organisation_id, advisor, active=False)
    linked = person.staff_employee_id if person is not None else None
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
    person = await member_in(session, principal.organisation_id, username)
    if person is None or "advisor" not in person.roles:
        raise Invalid(f"'{username}' is not an advisor in your organisation.")
    return person.username


async def advisors_of(session: AsyncSession, organisation_id: int) -> list[Member]:
    """The organisation's active advisors (its own and its members), by username."""
    return [
        person for person in await members_of(session, organisation_id) if "advisor" in person.roles
    ]


async def _named_people(session: AsyncSession, case_id: str) -> list[str]:
    rows = await session.scalars(
        select(CaseAccess.username)
        .where(CaseAccess.case_id == case_id)
        .order_by(CaseAccess.username)
    )
    return list(rows)

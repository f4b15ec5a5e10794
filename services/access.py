"""Who may see and do what: the one place every case query is scoped by organisation and role.

A case is visible to someone when all of these hold:

- it belongs to their organisation;
- they are not a party to it: its subject, the subject's line manager, or a complainant or
  witness recorded on it (through the staff record their account is linked to) — whatever
  their role;
- if it is restricted, they are named on it (naming is the whole grant: role scope aside);
- otherwise their role reaches it: advisors the cases assigned to them or to someone in their
  team, managers the cases of the divisions they manage, HR directors, auditors and admins
  the whole organisation. Policy owners see no case content.

Anything else is answered as if the case did not exist (404), so nobody learns that a case
they may not see is there.
"""

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from records.memberships import team_usernames
from records.models import Case, CaseAccess, CaseParty, Membership, Staff, User
from services.errors import Conflict, Forbidden, NotFound

CASE_READERS = frozenset({"advisor", "manager", "hr_director", "auditor", "admin"})
CASE_WORKERS = frozenset({"advisor", "manager", "admin"})
# Who records absences from the roster or sickness feed.
STAFF_EDITORS = frozenset({"advisor", "manager", "hr_director", "admin"})
# Who changes the staff directory (by hand or from ESR): it decides who is a party to a case
# (a line manager) and holds special-category data (ethnicity, disability) for WRES/WDES.
DIRECTORY_EDITORS = frozenset({"admin"})
POLICY_PUBLISHERS = frozenset({"policy_owner", "admin"})
POLICY_MOVERS = frozenset({"policy_owner", "manager", "admin"})
# Who may restrict a case and name the people on it.
RESTRICTERS = frozenset({"manager", "admin"})
AUDIT_READERS = frozenset({"auditor", "admin"})
ORGANISATION_WIDE = frozenset({"hr_director", "auditor", "admin"})


@dataclass(frozen=True)
class Principal:
    """The signed-in person in the organisation they are working in, as every service call
    sees them: the roles and scope are the ones they hold there (records/memberships.py)."""

    username: str
    organisation_id: int
    roles: frozenset[str]
    team: str | None = None
    divisions: frozenset[str] = field(default_factory=frozenset)
    staff_employee_id: str | None = None

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)


def principal_of(user: User, membership: Membership | None = None) -> Principal:
    """The person working in their home organisation, or in the membership's."""
    place = user if membership is None else membership
    return Principal(
        username=user.username,
        organisation_id=place.organisation_id,
        roles=frozenset(place.roles),
        team=place.team,
        divisions=frozenset(place.divisions or ()),
        staff_employee_id=place.staff_employee_id,
    )


def party_to_case(employee_id: str) -> ColumnElement[bool]:
    """The member of staff is the case's subject, their line manager, or a recorded party."""
    line_manager = exists().where(
        Staff.organisation_id == Case.organisation_id,
        Staff.employee_id == Case.employee_id,
        Staff.line_manager_id == employee_id,
    )
    recorded = exists().where(CaseParty.case_id == Case.id, CaseParty.employee_id == employee_id)
    return or_(Case.employee_id == employee_id, line_manager, recorded)


def _named(principal: Principal) -> ColumnElement[bool]:
    return exists().where(CaseAccess.case_id == Case.id, CaseAccess.username == principal.username)


def _role_reach(principal: Principal) -> ColumnElement[bool]:
    """The unrestricted cases this person's roles reach (any one role is enough)."""
    if principal.has_any(ORGANISATION_WIDE):
        return true()
    reaches: list[ColumnElement[bool]] = []
    if "advisor" in principal.roles:
        reaches.append(Case.advisor == principal.username)
        if principal.team:
            team = team_usernames(principal.organisation_id, principal.team)
            reaches.append(Case.advisor.in_(team))
    if "manager" in principal.roles and principal.divisions:
        reaches.append(Case.division.in_(sorted(principal.divisions)))
    return or_(false(), *reaches)


def reachable_cases(principal: Principal) -> Select[Case]:
    """Cases this person may act on without reading them (a policy owner moving a case to a new
    policy version): their organisation, not a party, and named if it is restricted."""
    query = select(Case).where(Case.organisation_id == principal.organisation_id)
    if principal.staff_employee_id:
        query = query.where(~party_to_case(principal.staff_employee_id))
    return query.where(or_(Case.restricted.is_(False), _named(principal)))


def visible_cases(principal: Principal) -> Select[Case]:
    """Cases this person may know exist. Policy owners see no case content."""
    query = reachable_cases(principal)
    if not principal.has_any(CASE_READERS):
        return query.where(false())
    return query.where(
        or_(and_(Case.restricted.is_(False), _role_reach(principal)), _named(principal))
    )


# Reports: aggregate figures (never a case's content) for those who answer for the service.
REPORT_VIEWERS = frozenset({"hr_director", "auditor", "manager", "admin"})
# No role spans organisations yet; until one does, an admin may see figures across them all.
NATIONAL_REPORT_VIEWERS = frozenset({"admin"})
ROOT_CAUSE_EDITORS = POLICY_PUBLISHERS


async def visible_case(session: AsyncSession, principal: Principal, case_id: str) -> Case:
    """The case, if this person may know it exists; otherwise the same 404 as for no case."""
    case = await session.scalar(visible_cases(principal).where(Case.id == case_id))
    if case is None:
        raise NotFound(f"There is no case {case_id} that you can see.")
    return case


async def visible_case_ids(session: AsyncSession, principal: Principal) -> set[str]:
    return set(await session.scalars(visible_cases(principal).with_only_columns(Case.id)))


async def refuse_gained_access(
    session: AsyncSession, principal: Principal, before: set[str] | None
) -> None:
    """After a change to the directory (not yet committed): refuse it if it lets the person
    making it see cases they could not see before — a line manager moving a case's subject
    away from themselves, say, to escape the conflict-of-interest rule. `before` is None when
    they are linked to no staff record (no directory change can then reach their access)."""
    if before is None:
        return
    gained = await visible_case_ids(session, principal) - before
    if gained:
        raise Conflict(
            f"This change would let you see {len(gained)} case(s) you are a party to or "
            "excluded from; nothing was changed. Ask another administrator to make it."
        )


async def visible_before_change(session: AsyncSession, principal: Principal) -> set[str] | None:
    """What refuse_gained_access compares with, taken before the change."""
    if not principal.staff_employee_id:
        return None
    return await visible_case_ids(session, principal)


def report_scope(principal: Principal, national: bool = False) -> ColumnElement[bool]:
    """The condition every report puts on cases: the principal's organisation, or all of them
    for a national view (refused to anyone whose role does not span organisations)."""
    if not principal.has_any(REPORT_VIEWERS):
        raise Forbidden("Your role does not allow you to see reports.")
    if national:
        if not principal.has_any(NATIONAL_REPORT_VIEWERS):
            raise Forbidden("Only a role that spans organisations may see national figures.")
        return true()
    return Case.organisation_id == principal.organisation_id

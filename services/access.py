"""Who may see and do what: the one place every case query is scoped by organisation and role."""

from dataclasses import dataclass

from sqlalchemy import Select, select, true
from sqlalchemy.sql.elements import ColumnElement

from records.models import Case
from services.errors import Forbidden

CASE_READERS = frozenset({"advisor", "manager", "hr_director", "auditor", "admin"})
CASE_WORKERS = frozenset({"advisor", "manager", "admin"})
STAFF_EDITORS = frozenset({"advisor", "manager", "hr_director", "admin"})
POLICY_PUBLISHERS = frozenset({"policy_owner", "admin"})
POLICY_MOVERS = frozenset({"policy_owner", "manager", "admin"})


@dataclass(frozen=True)
class Principal:
    """The signed-in person, as every service call sees them."""

    username: str
    organisation_id: int
    roles: frozenset[str]

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)


def visible_cases(principal: Principal) -> Select[Case]:
    """Cases this person may know exist. Policy owners see no case content."""
    query = select(Case).where(Case.organisation_id == principal.organisation_id)
    if not principal.has_any(CASE_READERS):
        return query.where(Case.id.is_(None))
    return query


# Reports: aggregate figures (never a case's content) for those who answer for the service.
REPORT_VIEWERS = frozenset({"hr_director", "auditor", "manager", "admin"})
# No role spans organisations yet; until one does, an admin may see figures across them all.
NATIONAL_REPORT_VIEWERS = frozenset({"admin"})
ROOT_CAUSE_EDITORS = POLICY_PUBLISHERS


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

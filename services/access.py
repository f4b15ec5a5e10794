"""Who may see and do what: the one place every case query is scoped by organisation and role."""

from dataclasses import dataclass

from sqlalchemy import Select, select

from records.models import Case

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

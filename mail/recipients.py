"""Who is told about a case: the people in the notified roles, within its organisation (its
own accounts and the members it has added, with the roles they hold there)."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records.memberships import member_in, members_of
from records.models import Case, Staff, User

# How each role reads in a sentence such as "Now also told: managers and the HR director".
ROLE_WORDS = {
    "advisor": "the case advisor",
    "manager": "managers",
    "hr_director": "the HR director",
    "line_manager": "the employee's line manager",
}
# Kinds a person who chose the daily digest gets in it instead of one by one. Breaches,
# escalations and new assignments always go at once.
DIGESTIBLE = frozenset({"reminder", "outcome_letter_due", "suspension_review"})


class UnknownRole(ValueError):
    """A notification names a role no one can be mailed for: a bug, never worth a retry."""


@dataclass(frozen=True)
class Recipient:
    address: str
    digest: bool = False  # takes reminders in the daily digest instead of one by one

    def folds(self, kind: str) -> bool:
        """Whether mail of this kind is held for this person's digest instead of sent."""
        return self.digest and kind in DIGESTIBLE


def roles_in_words(roles: Iterable[str]) -> str:
    words = [ROLE_WORDS[role] for role in dict.fromkeys(roles)]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _person(user: User) -> Recipient:
    return Recipient(user.email, digest=user.mail_preference == "digest")


async def _users_with_role(
    session: AsyncSession, organisation_id: int, role: str
) -> list[Recipient]:
    # roles is a JSON list, which SQLite and PostgreSQL query differently: filter here.
    people = await members_of(session, organisation_id)
    return [_person(person.user) for person in people if role in person.roles]


async def _advisor(session: AsyncSession, case: Case, username: str) -> list[Recipient]:
    person = await member_in(session, case.organisation_id, username)
    return [_person(person.user)] if person is not None else []


async def _staff(session: AsyncSession, organisation_id: int, employee_id: str) -> Staff | None:
    return await session.scalar(
        select(Staff).where(
            Staff.organisation_id == organisation_id, Staff.employee_id == employee_id
        )
    )


async def _line_manager(session: AsyncSession, case: Case) -> list[Recipient]:
    employee = await _staff(session, case.organisation_id, case.employee_id)
    if employee is None or not employee.line_manager_id:
        return []
    manager = await _staff(session, case.organisation_id, employee.line_manager_id)
    # Line managers are staff, not ercase users: they have no digest, so mail goes at once.
    return [Recipient(manager.email)] if manager is not None and manager.email else []


async def resolve_recipients(
    session: AsyncSession, case: Case, roles: Iterable[str], advisor: str | None = None
) -> list[Recipient]:
    """The people in these roles for the case, within its organisation, each once.

    `advisor` is the case's advisor when the event happened; without it, the case row's.
    Raises UnknownRole for a role outside ROLE_WORDS.
    """
    found_by_address: dict[str, Recipient] = {}
    for role in roles:
        if role == "advisor":
            found = await _advisor(session, case, advisor or case.advisor)
        elif role == "line_manager":
            found = await _line_manager(session, case)
        elif role in ("manager", "hr_director"):
            found = await _users_with_role(session, case.organisation_id, role)
        else:
            raise UnknownRole(f"no one can be mailed for role {role!r}")
        for recipient in found:
            address = recipient.address.strip()
            if address:
                found_by_address.setdefault(address.lower(), Recipient(address, recipient.digest))
    return list(found_by_address.values())

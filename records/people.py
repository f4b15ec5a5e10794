"""Organisations, user accounts and the staff directory."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records.models import Organisation, Staff, User

ROLES = ("advisor", "manager", "policy_owner", "hr_director", "auditor", "admin")


@dataclass
class StaffEntry:
    employee_id: str
    name: str | None = None
    email: str | None = None
    division: str | None = None
    department: str | None = None
    line_manager_id: str | None = None
    band: str | None = None
    ethnic_group: str | None = None
    disability: str | None = None


async def get_or_create_organisation(session: AsyncSession, code: str, name: str) -> Organisation:
    organisation = await session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        organisation = Organisation(code=code, name=name)
        session.add(organisation)
        await session.flush()
    return organisation


async def create_user(
    session: AsyncSession,
    organisation: Organisation,
    username: str,
    password_hash: str,
    roles: Iterable[str],
    full_name: str,
    email: str,
    *,
    team: str | None = None,
    divisions: Iterable[str] = (),
    staff_employee_id: str | None = None,
) -> User:
    roles = list(roles)
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    user = User(
        organisation_id=organisation.id,
        username=username,
        password_hash=password_hash,
        roles=roles,
        full_name=full_name,
        email=email,
        team=team,
        divisions=sorted(divisions),
        staff_employee_id=staff_employee_id,
    )
    session.add(user)
    await session.flush()
    return user


async def upsert_staff(
    session: AsyncSession, organisation_id: int, entries: Iterable[StaffEntry]
) -> tuple[int, int]:
    """Add or update staff by employee id; returns (created, updated).

    Fields given as None keep their stored value.
    """
    created = updated = 0
    for entry in entries:
        staff = await session.scalar(
            select(Staff).where(
                Staff.organisation_id == organisation_id, Staff.employee_id == entry.employee_id
            )
        )
        if staff is None:
            session.add(Staff(organisation_id=organisation_id, **vars(entry)))
            created += 1
        else:
            # A feed that leaves a field out (or empty) does not wipe what the directory knows.
            for name, value in vars(entry).items():
                if value is not None:
                    setattr(staff, name, value)
            updated += 1
    await session.flush()
    return created, updated

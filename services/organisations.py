"""Organisations (trusts): adding one for a new install, and listing them.

A pure service over the database, shared by `ercase organisations` and, later, the admin
API and pages.
"""

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policies.calendar import DEFAULT_REGION, REGIONS
from records.audit import append_audit
from records.database import Database
from records.models import Organisation
from services.errors import Conflict, Invalid, NotFound

# The UK's three bank-holiday calendars (policies/calendar.py); England & Wales is the
# default, and every trust's before 0011.
HOLIDAY_REGIONS = REGIONS
DEFAULT_HOLIDAY_REGION = DEFAULT_REGION
# ODS codes are short letters and digits (RXX, RX1, 7A1); allow a little more for groups.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,39}")


@dataclass(frozen=True)
class OrganisationView:
    code: str
    name: str
    holiday_region: str


def view_of(organisation: Organisation) -> OrganisationView:
    return OrganisationView(organisation.code, organisation.name, organisation.holiday_region)


async def organisation_by_code(session: AsyncSession, code: str) -> Organisation:
    organisation = await session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        raise NotFound(f"There is no organisation with the code {code!r}.")
    return organisation


async def add_organisation(
    database: Database,
    code: str,
    name: str,
    holiday_region: str = DEFAULT_HOLIDAY_REGION,
    *,
    actor: str | None = None,
) -> OrganisationView:
    """A new organisation, audited; refused (nothing written) on a bad or taken code."""
    if not CODE.fullmatch(code):
        raise Invalid(
            f"The code {code!r} is not an organisation code: use 2 to 40 letters, digits "
            "or hyphens, such as RXX."
        )
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("The organisation's name must be 1 to 200 characters.")
    if holiday_region not in HOLIDAY_REGIONS:
        raise Invalid(
            f"Unknown bank-holiday region {holiday_region!r}: use one of "
            f"{', '.join(HOLIDAY_REGIONS)}."
        )
    async with database.transaction() as session:
        taken = await session.scalar(select(Organisation.id).where(Organisation.code == code))
        if taken is not None:
            raise Conflict(f"An organisation with the code {code!r} already exists.")
        organisation = Organisation(code=code, name=name, holiday_region=holiday_region)
        session.add(organisation)
        await session.flush()
        append_audit(
            session,
            organisation_id=organisation.id,
            username=actor,
            action="organisation.create",
            detail={"code": code, "holiday_region": holiday_region},
        )
        return view_of(organisation)


async def list_organisations(database: Database) -> list[OrganisationView]:
    async with database.sessions() as session:
        rows = await session.scalars(select(Organisation).order_by(Organisation.code))
        return [view_of(organisation) for organisation in rows]

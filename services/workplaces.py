"""The organisations a person may work in (their own, and any they are a member of), and
choosing one: a token or web session then stands for that organisation only."""

from dataclasses import dataclass

from sqlalchemy import select

from records.audit import append_audit
from records.database import Database
from records.memberships import member_in, workplaces_of
from records.models import Organisation, User
from services.access import Principal
from services.errors import NotFound


@dataclass(frozen=True)
class Workplace:
    code: str
    name: str
    roles: tuple[str, ...]
    home: bool
    current: bool


async def workplaces(database: Database, principal: Principal) -> list[Workplace]:
    """Where the signed-in person may work now, their home organisation first."""
    async with database.sessions() as session:
        user = await session.scalar(select(User).where(User.username == principal.username))
        if user is None:
            return []
        return [
            Workplace(
                organisation.code,
                organisation.name,
                tuple(member.roles),
                member.home,
                organisation.id == principal.organisation_id,
            )
            for organisation, member in await workplaces_of(session, user)
        ]


async def choose_workplace(
    database: Database, principal: Principal, code: str, client_address: str | None
) -> int:
    """The id of the organisation (by its code) the person will work in from now on; one they
    do not work in is answered as if it did not exist. Audited in the organisation chosen."""
    async with database.transaction() as session:
        organisation = await session.scalar(select(Organisation).where(Organisation.code == code))
        member = (
            await member_in(session, organisation.id, principal.username)
            if organisation is not None
            else None
        )
        if organisation is None or member is None:
            raise NotFound(f"You do not work in an organisation {code!r}.")
        append_audit(
            session,
            organisation_id=organisation.id,
            username=principal.username,
            action="auth.organisation_chosen",
            client_address=client_address,
        )
        return organisation.id

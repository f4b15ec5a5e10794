"""Who works in an organisation: its own accounts, and people of other organisations added to
it as members (a shared HR service's advisor), each with the roles and scope they hold there.

An account's own row is its home organisation: its roles, team, divisions and staff record are
the ones it holds there. A membership row adds another organisation with roles of its own. A
person can act in a membership only while their account is active (deactivating the account
ends them all) and the membership has not been ended by that organisation's admins.

Everything that asks "who in this organisation has this role" asks here, so a member is found
exactly where a home user would be, and never in any other organisation.
"""

from dataclasses import dataclass

from sqlalchemy import Select, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from records.models import Membership, Organisation, User


@dataclass(frozen=True)
class Member:
    """A person as one organisation sees them."""

    user: User
    organisation_id: int
    # None: the organisation is their home one, and their account's row holds their roles.
    membership: Membership | None = None

    @property
    def place(self) -> User | Membership:
        """The row holding their roles and scope in this organisation (both have the same
        columns, so a change is written the same way to either)."""
        return self.user if self.membership is None else self.membership

    @property
    def home(self) -> bool:
        return self.membership is None

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def roles(self) -> list[str]:
        return list(self.place.roles)

    @property
    def team(self) -> str | None:
        return self.place.team

    @property
    def divisions(self) -> list[str]:
        return list(self.place.divisions or ())

    @property
    def staff_employee_id(self) -> str | None:
        return self.place.staff_employee_id

    @property
    def active(self) -> bool:
        """Whether they may work here now."""
        ended = self.membership is not None and self.membership.ended_at is not None
        return self.user.active and not ended


async def members_of(
    session: AsyncSession, organisation_id: int, *, active: bool = True
) -> list[Member]:
    """Everyone who works in the organisation, by username; with active=False, also those
    deactivated or whose membership was ended (an admin's list of accounts)."""
    home = await session.scalars(select(User).where(User.organisation_id == organisation_id))
    added = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id)
    )
    members = [Member(user, organisation_id) for user in home]
    members += [Member(user, organisation_id, membership) for user, membership in added]
    return sorted(
        (member for member in members if member.active or not active),
        key=lambda member: member.username,
    )


async def member_in(
    session: AsyncSession, organisation_id: int, username: str, *, active: bool = True
) -> Member | None:
    """The person, as the organisation sees them; None if they do not work there (or, with
    active=True, no longer may)."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        return None
    if user.organisation_id == organisation_id:
        member = Member(user, organisation_id)
    else:
        membership = await session.scalar(
            select(Membership).where(
                Membership.user_id == user.id, Membership.organisation_id == organisation_id
            )
        )
        if membership is None:
            return None
        member = Member(user, organisation_id, membership)
    return member if member.active or not active else None


async def workplaces_of(session: AsyncSession, user: User) -> list[tuple[Organisation, Member]]:
    """Every organisation the person may work in now, their home one first."""
    home = await session.get_one(Organisation, user.organisation_id)
    found = [(home, Member(user, home.id))]
    rows = await session.execute(
        select(Organisation, Membership)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.user_id == user.id, Membership.ended_at.is_(None))
        .order_by(Organisation.code)
    )
    found += [
        (organisation, Member(user, organisation.id, membership))
        for organisation, membership in rows
    ]
    return [(organisation, member) for organisation, member in found if member.active]


def team_usernames(organisation_id: int, team: str) -> Select[tuple[str]]:
    """The usernames in a team of the organisation, members and former members included (a
    leaver's cases stay visible to the team that covers them until they are reassigned)."""
    home = select(User.username).where(User.organisation_id == organisation_id, User.team == team)
    added = (
        select(User.username)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, Membership.team == team)
    )
    return select(union(home, added).subquery().c.username)

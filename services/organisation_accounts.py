"""An organisation's accounts, managed by its own admins: list, add (the person gets a
set-password link by mail), change roles and scope, deactivate and reactivate, send a new link;
and members, people of another organisation added here with roles of their own (a shared HR
service's advisor; records/memberships.py).

Only an admin of the organisation may; another organisation's account is answered as if it did
not exist (404). Every change is audited, in the organisation where it was made, with who made
it and from where. Nothing is ever deleted: a leaver is deactivated, and every token, session
and calendar-feed URL of theirs is refused from their next request (services/signin.py,
services/calendar_feed.py ask `active`).

A member's name, address, password and account belong to their home organisation: here they
are given roles and scope, and their membership is ended or restored (`active`); deactivating
the account itself, at home, ends every membership at once.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.cases import find_staff
from records.database import Database
from records.memberships import Member, member_in, members_of, workplaces_of
from records.models import Case, Membership, Organisation, User, utcnow
from services.access import Principal, party_to_case
from services.account_mail import INVITE, RESET, LinkMail, MailResult, link_mail, send_link_mail
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.user_admin import (
    NO_PASSWORD,
    NewAccount,
    check_email,
    check_full_name,
    check_new_account,
    check_roles,
    end_access,
    new_link,
)
from settings import Settings

ACCOUNT_ADMINS = frozenset({"admin"})
MAX_DIVISIONS = 50


@dataclass(frozen=True)
class AccountDetail:
    username: str
    full_name: str
    email: str
    roles: tuple[str, ...]
    team: str | None
    divisions: tuple[str, ...]
    staff_employee_id: str | None
    active: bool
    # False until the person has chosen a password from their link.
    password_set: bool
    created_at: datetime
    # False: a member from another organisation, whose name, address and password are kept
    # there; `active` then says whether their membership here is in force.
    home: bool = True


@dataclass(frozen=True)
class AccountFilter:
    role: str | None = None
    team: str | None = None
    active: bool | None = None
    q: str | None = None  # part of the username, name or email address


@dataclass(frozen=True)
class NewMember:
    username: str
    full_name: str
    email: str
    roles: tuple[str, ...]
    team: str | None = None
    divisions: tuple[str, ...] = ()
    staff_employee_id: str | None = None


@dataclass(frozen=True)
class NewMembership:
    """A person of another organisation, named by their username *and* address (both must
    match, so a guess tells an admin nothing about another organisation's accounts)."""

    username: str
    email: str
    roles: tuple[str, ...]
    team: str | None = None
    divisions: tuple[str, ...] = ()
    staff_employee_id: str | None = None


@dataclass(frozen=True)
class AccountChanges:
    """What a PATCH changes; None leaves a field as it is. An empty team or staff record
    clears it."""

    full_name: str | None = None
    email: str | None = None
    roles: tuple[str, ...] | None = None
    team: str | None = None
    divisions: tuple[str, ...] | None = None
    staff_employee_id: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class Invitation:
    account: AccountDetail
    mail: MailResult


def detail_of(member: Member) -> AccountDetail:
    user = member.user
    return AccountDetail(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        roles=tuple(member.roles),
        team=member.team,
        divisions=tuple(member.divisions),
        staff_employee_id=member.staff_employee_id,
        active=member.active,
        password_set=user.password_hash != NO_PASSWORD,
        created_at=user.created_at if member.membership is None else member.membership.created_at,
        home=member.home,
    )


def _team(team: str | None) -> str | None:
    if team is None or not team.strip():
        return None
    if len(team.strip()) > 80:
        raise Invalid("A team name must be at most 80 characters.")
    return team.strip()


def _divisions(divisions: tuple[str, ...]) -> list[str]:
    names = sorted({name.strip() for name in divisions if name.strip()})
    if len(names) > MAX_DIVISIONS:
        raise Invalid(f"A manager may manage at most {MAX_DIVISIONS} divisions.")
    too_long = [name for name in names if len(name) > 120]
    if too_long:
        raise Invalid(f"The division name {too_long[0][:40]!r}… is longer than 120 characters.")
    return names


async def account_in(session: AsyncSession, organisation_id: int, username: str) -> Member:
    """The organisation's account or member (active or not); another organisation's is the
    same 404 as none."""
    member = await member_in(session, organisation_id, username, active=False)
    if member is None:
        raise NotFound(f"There is no account {username!r} in your organisation.")
    return member


def _kept_at_home(member: Member, what: str) -> None:
    if not member.home:
        raise Conflict(
            f"{member.username} is a member from another organisation: their {what} is kept "
            "by their own organisation's administrators."
        )


@dataclass
class OrganisationAccounts:
    database: Database
    settings: Settings
    principal: Principal
    client_address: str | None = None

    def require_admin(self) -> None:
        if not self.principal.has_any(ACCOUNT_ADMINS):
            raise Forbidden("Only an administrator of your organisation can manage accounts.")

    def _audit(
        self, session: AsyncSession, action: str, user: User | Member, **detail: object
    ) -> None:
        append_audit(
            session,
            organisation_id=self.principal.organisation_id,
            username=self.principal.username,
            action=action,
            client_address=self.client_address,
            detail={"account": user.username, **detail},
        )

    async def find(self, wanted: AccountFilter) -> list[AccountDetail]:
        """Its accounts and members, by username. An organisation's people number hundreds,
        not millions: filtered here, where a member's roles and team are (on their
        membership) as much as a home account's."""
        self.require_admin()
        needle = (wanted.q or "").strip().lower()
        async with self.database.sessions() as session:
            everyone = await members_of(session, self.principal.organisation_id, active=False)
            return [
                detail_of(member)
                for member in everyone
                if (wanted.role is None or wanted.role in member.roles)
                and (not wanted.team or member.team == wanted.team)
                and (wanted.active is None or member.active == wanted.active)
                and (
                    not needle
                    or any(
                        needle in text.lower()
                        for text in (member.username, member.user.full_name, member.user.email)
                    )
                )
            ]

    async def get(self, username: str) -> AccountDetail:
        self.require_admin()
        async with self.database.sessions() as session:
            return detail_of(await account_in(session, self.principal.organisation_id, username))

    async def teams(self) -> list[str]:
        """The teams the organisation's accounts are in, for the page's filter."""
        self.require_admin()
        async with self.database.sessions() as session:
            everyone = await members_of(session, self.principal.organisation_id, active=False)
            return sorted({member.team for member in everyone if member.team})

    async def create(self, member: NewMember) -> Invitation:
        """Add the account with no password; its owner gets a set-password link by mail."""
        self.require_admin()
        username, email = member.username.strip(), member.email.strip()
        roles = check_new_account(
            NewAccount(username, "", member.roles, member.full_name, email, None)
        )
        team, divisions = _team(member.team), _divisions(member.divisions)
        try:
            async with self.database.transaction() as session:
                if await session.scalar(select(User.id).where(User.username == username)):
                    raise Conflict(f"The username {username!r} is already taken.")
                await self._check_email_free(session, email, None)
                user = User(
                    organisation_id=self.principal.organisation_id,
                    username=username,
                    password_hash=NO_PASSWORD,
                    roles=list(roles),
                    full_name=member.full_name.strip(),
                    email=email,
                    team=team,
                    divisions=divisions,
                )
                session.add(user)
                await session.flush()
                linked = (member.staff_employee_id or "").strip()
                if linked:
                    await self._link_staff(session, Member(user, user.organisation_id), linked)
                self._audit(
                    session,
                    "user.create",
                    user,
                    roles=list(roles),
                    team=team,
                    divisions=divisions,
                    staff_employee_id=user.staff_employee_id,
                )
                mail = await self._issue_link(session, user, INVITE)
                account = detail_of(Member(user, user.organisation_id))
        except IntegrityError as error:
            # Another request took the username between our check and the insert.
            raise Conflict(f"The username {username!r} is already taken.") from error
        return Invitation(account, await send_link_mail(self.database, self.settings, mail))

    async def add_membership(self, wanted: NewMembership) -> AccountDetail:
        """Give a person of another organisation roles here (or restore an ended membership
        with these roles). They choose this organisation when they sign in or in the page
        header; nothing of it is visible while they work in another."""
        self.require_admin()
        organisation_id = self.principal.organisation_id
        roles = list(check_roles(wanted.roles))
        team, divisions = _team(wanted.team), _divisions(wanted.divisions)
        async with self.database.transaction() as session:
            user = await session.scalar(select(User).where(User.username == wanted.username))
            # An unknown name, a wrong address and a deactivated account answer alike.
            if (
                user is None
                or not user.active
                or user.email.strip().lower() != wanted.email.strip().lower()
            ):
                raise NotFound(
                    f"There is no active account {wanted.username!r} with the address "
                    f"{wanted.email}."
                )
            if user.organisation_id == organisation_id:
                raise Conflict(f"{user.username} is already an account of your organisation.")
            membership = await session.scalar(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.organisation_id == organisation_id
                )
            )
            if membership is not None and membership.ended_at is None:
                raise Conflict(f"{user.username} is already a member of your organisation.")
            await self._check_email_free(session, user.email, user.id)
            if membership is None:
                membership = Membership(
                    user_id=user.id,
                    organisation_id=organisation_id,
                    created_by=self.principal.username,
                )
                session.add(membership)
            membership.roles, membership.team, membership.divisions = roles, team, divisions
            membership.staff_employee_id, membership.ended_at = None, None
            await session.flush()
            member = Member(user, organisation_id, membership)
            if wanted.staff_employee_id and wanted.staff_employee_id.strip():
                await self._link_staff(session, member, wanted.staff_employee_id.strip())
            self._audit(
                session,
                "user.membership_add",
                user,
                roles=roles,
                team=team,
                divisions=divisions,
                staff_employee_id=membership.staff_employee_id,
            )
            return detail_of(member)

    async def send_link(self, username: str) -> MailResult:
        """A new set-password link by mail; the earlier ones stop working."""
        self.require_admin()
        async with self.database.transaction() as session:
            member = await account_in(session, self.principal.organisation_id, username)
            _kept_at_home(member, "password")
            user = member.user
            if not user.active:
                raise Conflict(
                    f"{username} is deactivated; reactivate the account before sending a link."
                )
            kind = RESET if user.password_hash != NO_PASSWORD else INVITE
            mail = await self._issue_link(session, user, kind)
        return await send_link_mail(self.database, self.settings, mail)

    async def _issue_link(self, session: AsyncSession, user: User, kind: str) -> LinkMail:
        link = await new_link(session, user, self.settings.public_url)
        organisation = await session.get_one(Organisation, user.organisation_id)
        self._audit(
            session,
            "user.set_password_link",
            user,
            kind=kind,
            sent_to=user.email,
            expires_at=link.expires_at.isoformat(),
        )
        return link_mail(kind, user, organisation.name, link)

    async def update(self, username: str, changes: AccountChanges) -> AccountDetail:
        """Apply the changes all together, or none of them (the first problem is answered)."""
        self.require_admin()
        async with self.database.transaction() as session:
            member = await account_in(session, self.principal.organisation_id, username)
            user, place = member.user, member.place
            changed: dict[str, dict[str, Any]] = {}

            def record(name: str, before: object, after: object) -> None:
                if before != after:
                    changed[name] = {"before": before, "after": after}

            if changes.full_name is not None:
                full_name = check_full_name(changes.full_name)
                if full_name != user.full_name:
                    _kept_at_home(member, "name")
                record("full_name", user.full_name, full_name)
                user.full_name = full_name
            if changes.email is not None:
                email = check_email(changes.email.strip())
                if email.lower() != user.email.lower():
                    _kept_at_home(member, "address")
                    await self._check_email_free(session, email, user.id)
                record("email", user.email, email)
                user.email = email
            if changes.roles is not None:
                roles = list(check_roles(changes.roles))
                if "admin" in member.roles and "admin" not in roles:
                    await self._check_admin_stays(session, member, "take the admin role from")
                record("roles", member.roles, roles)
                place.roles = roles
            if changes.team is not None:
                team = _team(changes.team)
                record("team", member.team, team)
                place.team = team
            if changes.divisions is not None:
                divisions = _divisions(changes.divisions)
                record("divisions", member.divisions, divisions)
                place.divisions = divisions
            if changes.staff_employee_id is not None:
                before = member.staff_employee_id
                wanted = changes.staff_employee_id.strip() or None
                if wanted != before:
                    if wanted is None:
                        place.staff_employee_id = None
                    else:
                        await self._link_staff(session, member, wanted)
                record("staff_employee_id", before, place.staff_employee_id)
            if changed:
                self._audit(session, "user.update", user, changes=changed)
            if changes.active is not None and changes.active != member.active:
                if member.membership is not None:
                    await self._set_membership(session, member, member.membership, changes.active)
                elif changes.active:
                    user.active = True
                    self._audit(session, "user.reactivate", user)
                else:
                    await self._deactivate(session, member)
            return detail_of(member)

    async def _set_membership(
        self, session: AsyncSession, member: Member, membership: Membership, active: bool
    ) -> None:
        """End a member's membership here (their account, at home, is untouched), or restore
        it."""
        if active:
            if not member.user.active:
                raise Conflict(
                    f"{member.username}'s account is deactivated by their own organisation; "
                    "only its administrators can reactivate it."
                )
            membership.ended_at = None
            self._audit(session, "user.membership_restore", member)
            return
        if member.username == self.principal.username:
            raise Conflict("You cannot end your own membership; ask another administrator.")
        if "admin" in member.roles:
            await self._check_admin_stays(session, member, "end the membership of")
        membership.ended_at = utcnow()
        self._audit(session, "user.membership_end", member)

    async def _deactivate(self, session: AsyncSession, member: Member) -> None:
        user = member.user
        if user.username == self.principal.username:
            raise Conflict("You cannot deactivate your own account; ask another administrator.")
        # Deactivation ends every membership too: no organisation they administer may be left
        # without an administrator, their home one or another.
        for _, workplace in await workplaces_of(session, user):
            if "admin" in workplace.roles:
                await self._check_admin_stays(session, workplace, "deactivate")
        # Their tokens, sessions and any link mailed before must not let them back in.
        await end_access(session, user, utcnow())
        self._audit(session, "user.deactivate", user)

    async def _check_admin_stays(self, session: AsyncSession, member: Member, doing: str) -> None:
        """The organisation keeps at least one active admin, or nobody could manage it."""
        others = await members_of(session, member.organisation_id)
        if not any("admin" in other.roles for other in others if other.user.id != member.user.id):
            raise Conflict(
                f"You cannot {doing} {member.username}: they are the organisation's last active "
                "administrator. Make someone else an administrator first."
            )

    async def _check_email_free(
        self, session: AsyncSession, email: str, user_id: int | None
    ) -> None:
        """One account per address in an organisation (its members too): a reset link and
        single sign-on find a person by it."""
        everyone = await members_of(session, self.principal.organisation_id, active=False)
        other = next(
            (
                member.username
                for member in everyone
                if member.user.email.lower() == email.lower() and member.user.id != user_id
            ),
            None,
        )
        if other is not None:
            raise Conflict(f"The address {email} is already the address of the account {other}.")

    async def _link_staff(self, session: AsyncSession, member: Member, employee_id: str) -> None:
        """Link the account (here) to its owner's staff record in this organisation's
        directory: the conflict rule (services/access.py) then keeps every case they are a
        party to from them."""
        if len(employee_id) > 40:
            raise Invalid("An employee number is at most 40 characters.")
        organisation_id = member.organisation_id
        if await find_staff(session, organisation_id, employee_id) is None:
            raise Invalid(f"There is no member of staff with the employee number {employee_id}.")
        everyone = await members_of(session, organisation_id, active=False)
        other = next(
            (
                each.username
                for each in everyone
                if each.staff_employee_id == employee_id and each.user.id != member.user.id
            ),
            None,
        )
        if other is not None:
            raise Conflict(f"The staff record {employee_id} is already linked to {other}.")
        # They may not keep handling a case they are a party to (as assignment refuses it).
        handled = await session.scalar(
            select(Case.id)
            .where(
                Case.organisation_id == organisation_id,
                Case.advisor == member.username,
                Case.status == "open",
                party_to_case(employee_id),
            )
            .order_by(Case.id)
        )
        if handled is not None:
            raise Conflict(
                f"{member.username} handles case {handled}, to which {employee_id} is a party: "
                "reassign it before linking the staff record."
            )
        member.place.staff_employee_id = employee_id

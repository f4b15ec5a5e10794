"""An organisation's accounts, managed by its own admins: list, add (the person gets a
set-password link by mail), change roles and scope, deactivate and reactivate, send a new link.

Only an admin of the organisation may; another organisation's account is answered as if it did
not exist (404). Every change is audited with who made it and from where. Nothing is ever
deleted: a leaver is deactivated, and every token, session and calendar-feed URL of theirs is
refused from their next request (services/signin.py, services/calendar_feed.py ask `active`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.cases import find_staff
from records.database import Database
from records.models import Case, Organisation, User, utcnow
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
    end_links,
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


def detail_of(user: User) -> AccountDetail:
    return AccountDetail(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        roles=tuple(user.roles),
        team=user.team,
        divisions=tuple(user.divisions or ()),
        staff_employee_id=user.staff_employee_id,
        active=user.active,
        password_set=user.password_hash != NO_PASSWORD,
        created_at=user.created_at,
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


async def account_in(session: AsyncSession, organisation_id: int, username: str) -> User:
    """The organisation's account; another organisation's is the same 404 as none."""
    user = await session.scalar(
        select(User).where(User.username == username, User.organisation_id == organisation_id)
    )
    if user is None:
        raise NotFound(f"There is no account {username!r} in your organisation.")
    return user


@dataclass
class OrganisationAccounts:
    database: Database
    settings: Settings
    principal: Principal
    client_address: str | None = None

    def require_admin(self) -> None:
        if not self.principal.has_any(ACCOUNT_ADMINS):
            raise Forbidden("Only an administrator of your organisation can manage accounts.")

    def _audit(self, session: AsyncSession, action: str, user: User, **detail: object) -> None:
        append_audit(
            session,
            organisation_id=self.principal.organisation_id,
            username=self.principal.username,
            action=action,
            client_address=self.client_address,
            detail={"account": user.username, **detail},
        )

    async def find(self, wanted: AccountFilter) -> list[AccountDetail]:
        self.require_admin()
        query = select(User).where(User.organisation_id == self.principal.organisation_id)
        if wanted.team:
            query = query.where(User.team == wanted.team)
        if wanted.active is not None:
            query = query.where(User.active.is_(wanted.active))
        if wanted.q and wanted.q.strip():
            pattern = f"%{wanted.q.strip().lower()}%"
            query = query.where(
                or_(
                    func.lower(User.username).like(pattern),
                    func.lower(User.full_name).like(pattern),
                    func.lower(User.email).like(pattern),
                )
            )
        async with self.database.sessions() as session:
            users = await session.scalars(query.order_by(User.username))
            # roles is a JSON list, which SQLite and PostgreSQL query differently: filter here.
            return [
                detail_of(user)
                for user in users
                if wanted.role is None or wanted.role in user.roles
            ]

    async def get(self, username: str) -> AccountDetail:
        self.require_admin()
        async with self.database.sessions() as session:
            return detail_of(await account_in(session, self.principal.organisation_id, username))

    async def teams(self) -> list[str]:
        """The teams the organisation's accounts are in, for the page's filter."""
        self.require_admin()
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(User.team)
                .where(
                    User.organisation_id == self.principal.organisation_id, User.team.is_not(None)
                )
                .distinct()
                .order_by(User.team)
            )
            return [team for team in rows if team]

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
                if member.staff_employee_id and member.staff_employee_id.strip():
                    await self._link_staff(session, user, member.staff_employee_id.strip())
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
                account = detail_of(user)
        except IntegrityError as error:
            # Another request took the username between our check and the insert.
            raise Conflict(f"The username {username!r} is already taken.") from error
        return Invitation(account, await send_link_mail(self.database, self.settings, mail))

    async def send_link(self, username: str) -> MailResult:
        """A new set-password link by mail; the earlier ones stop working."""
        self.require_admin()
        async with self.database.transaction() as session:
            user = await account_in(session, self.principal.organisation_id, username)
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
            user = await account_in(session, self.principal.organisation_id, username)
            changed: dict[str, dict[str, Any]] = {}

            def record(name: str, before: object, after: object) -> None:
                if before != after:
                    changed[name] = {"before": before, "after": after}

            if changes.full_name is not None:
                full_name = check_full_name(changes.full_name)
                record("full_name", user.full_name, full_name)
                user.full_name = full_name
            if changes.email is not None:
                email = check_email(changes.email.strip())
                if email.lower() != user.email.lower():
                    await self._check_email_free(session, email, user.id)
                record("email", user.email, email)
                user.email = email
            if changes.roles is not None:
                roles = list(check_roles(changes.roles))
                if "admin" in user.roles and "admin" not in roles:
                    await self._check_admin_stays(session, user, "take the admin role from")
                record("roles", list(user.roles), roles)
                user.roles = roles
            if changes.team is not None:
                team = _team(changes.team)
                record("team", user.team, team)
                user.team = team
            if changes.divisions is not None:
                divisions = _divisions(changes.divisions)
                record("divisions", list(user.divisions or ()), divisions)
                user.divisions = divisions
            if changes.staff_employee_id is not None:
                before = user.staff_employee_id
                wanted = changes.staff_employee_id.strip() or None
                if wanted != before:
                    if wanted is None:
                        user.staff_employee_id = None
                    else:
                        await self._link_staff(session, user, wanted)
                record("staff_employee_id", before, user.staff_employee_id)
            if changed:
                self._audit(session, "user.update", user, changes=changed)
            if changes.active is not None and changes.active != user.active:
                if changes.active:
                    user.active = True
                    self._audit(session, "user.reactivate", user)
                else:
                    await self._deactivate(session, user)
            return detail_of(user)

    async def _deactivate(self, session: AsyncSession, user: User) -> None:
        if user.username == self.principal.username:
            raise Conflict("You cannot deactivate your own account; ask another administrator.")
        if "admin" in user.roles:
            await self._check_admin_stays(session, user, "deactivate")
        user.active = False
        # A link mailed before the deactivation must not let them back in.
        await end_links(session, user.id, utcnow())
        self._audit(session, "user.deactivate", user)

    async def _check_admin_stays(self, session: AsyncSession, user: User, doing: str) -> None:
        """The organisation keeps at least one active admin, or nobody could manage it."""
        others = await session.scalars(
            select(User).where(
                User.organisation_id == user.organisation_id,
                User.active.is_(True),
                User.id != user.id,
            )
        )
        if not any("admin" in other.roles for other in others):
            raise Conflict(
                f"You cannot {doing} {user.username}: they are the organisation's last active "
                "administrator. Make someone else an administrator first."
            )

    async def _check_email_free(
        self, session: AsyncSession, email: str, user_id: int | None
    ) -> None:
        """One account per address in an organisation: a reset link and single sign-on find
        a person by it."""
        query = select(User.username).where(
            User.organisation_id == self.principal.organisation_id,
            func.lower(User.email) == email.lower(),
        )
        if user_id is not None:
            query = query.where(User.id != user_id)
        other = await session.scalar(query)
        if other is not None:
            raise Conflict(f"The address {email} is already the address of the account {other}.")

    async def _link_staff(self, session: AsyncSession, user: User, employee_id: str) -> None:
        """Link the account to its owner's staff record: the conflict rule (services/access.py)
        then keeps every case they are a party to from them."""
        if len(employee_id) > 40:
            raise Invalid("An employee number is at most 40 characters.")
        if await find_staff(session, user.organisation_id, employee_id) is None:
            raise Invalid(f"There is no member of staff with the employee number {employee_id}.")
        other = await session.scalar(
            select(User.username).where(
                User.organisation_id == user.organisation_id,
                User.staff_employee_id == employee_id,
                User.id != user.id,
            )
        )
        if other is not None:
            raise Conflict(f"The staff record {employee_id} is already linked to {other}.")
        # They may not keep handling a case they are a party to (as assignment refuses it).
        handled = await session.scalar(
            select(Case.id)
            .where(
                Case.organisation_id == user.organisation_id,
                Case.advisor == user.username,
                Case.status == "open",
                party_to_case(employee_id),
            )
            .order_by(Case.id)
        )
        if handled is not None:
            raise Conflict(
                f"{user.username} handles case {handled}, to which {employee_id} is a party: "
                "reassign it before linking the staff record."
            )
        user.staff_employee_id = employee_id

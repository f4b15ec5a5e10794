"""Accounts, administered: add one (the first admin of a new install, later anyone an
organisation's admin invites), give one roles in another organisation (a membership), list
them, set a password, deactivate.

Shared by `ercase users` and, through services/organisation_accounts.py, the admin API and
pages. No administrator ever needs to know a user's password: an account added without one
gets a single-use, expiring set-password link (only its sha256 is stored). Every change is
audited with who made it.
"""

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.memberships import Member, members_of
from records.models import Membership, Organisation, SetPasswordLink, User, utcnow
from records.passwords import hash_password
from records.people import ROLES
from services.errors import Conflict, Invalid, NotFound
from services.organisations import organisation_by_code
from services.password_policy import check_password

# Long enough to reach someone on leave over a weekend, short enough that a forwarded mail
# is soon worthless.
LINK_LIFETIME = timedelta(days=3)
# Not an argon2 hash, so no password ever verifies against it (records/passwords.py).
NO_PASSWORD = "!no-password-set"  # nosec B105
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class NewAccount:
    username: str
    organisation: str  # its code
    roles: tuple[str, ...]
    full_name: str
    email: str
    # None: the person sets their own through a set-password link.
    password: str | None = None


@dataclass(frozen=True)
class AccountView:
    username: str
    organisation: str
    full_name: str
    email: str
    roles: tuple[str, ...]
    active: bool
    # False: a member from another organisation, with these roles here.
    home: bool = True


@dataclass(frozen=True)
class AddedAccount:
    account: AccountView
    # The one-time link when no password was given; shown once, never stored readable.
    set_password_link: str | None


def _view(member: Member, organisation: Organisation) -> AccountView:
    return AccountView(
        member.username,
        organisation.code,
        member.user.full_name,
        member.user.email,
        tuple(member.roles),
        member.active,
        member.home,
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_full_name(full_name: str) -> str:
    if not full_name.strip() or len(full_name) > 200:
        raise Invalid("The person's full name must be 1 to 200 characters.")
    return full_name.strip()


def check_email(email: str) -> str:
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise Invalid(f"{email!r} is not an email address.")
    return email


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles, each known and once, in the order given."""
    roles = tuple(dict.fromkeys(roles))
    if not roles:
        raise Invalid(f"Give the account at least one role: {', '.join(ROLES)}.")
    for role in roles:
        if role not in ROLES:
            raise Invalid(f"Unknown role {role!r}: the roles are {', '.join(ROLES)}.")
    return roles


def check_new_account(account: NewAccount) -> tuple[str, ...]:
    """The account's roles, each known and once; Invalid names the first problem."""
    if not USERNAME.fullmatch(account.username):
        raise Invalid(
            f"The username {account.username!r} is not allowed: use up to 80 letters, digits, "
            "dots, hyphens, underscores or @, starting with a letter or digit."
        )
    check_full_name(account.full_name)
    check_email(account.email)
    roles = check_roles(account.roles)
    if account.password is not None:
        check_password(account.password, username=account.username, email=account.email)
    return roles


async def _user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"There is no account with the username {username!r}.")
    return user


@dataclass(frozen=True)
class IssuedLink:
    url: str  # holds the token: mail it or show it once, never store it
    link_id: int
    expires_at: datetime


async def new_link(
    session: AsyncSession, user: User, public_url: str, now: datetime | None = None
) -> IssuedLink:
    """A new single-use link for `user`, valid for LINK_LIFETIME; earlier ones stop working."""
    now = now or utcnow()
    await end_links(session, user.id, now)
    token = secrets.token_urlsafe(32)
    link = SetPasswordLink(
        user_id=user.id,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(link)
    await session.flush()
    return IssuedLink(f"{public_url.rstrip('/')}/set-password/{token}", link.id, link.expires_at)


async def issue_set_password_link(
    session: AsyncSession, user: User, public_url: str, now: datetime | None = None
) -> str:
    return (await new_link(session, user, public_url, now)).url


async def end_access(session: AsyncSession, user: User, now: datetime) -> None:
    """Deactivate: refused from the next request, every token and session issued so far ended
    for good (reactivating does not bring them back), and open set-password links spent."""
    user.active = False
    user.sessions_valid_after = now
    user.calendar_token = None  # a new feed URL after any reactivation, never the old one
    await end_links(session, user.id, now)


async def end_links(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(SetPasswordLink)
        .where(SetPasswordLink.user_id == user_id, SetPasswordLink.used_at.is_(None))
        .values(used_at=now)
    )


def _audit(
    session: AsyncSession, user: User, action: str, actor: str | None, **detail: object
) -> None:
    append_audit(
        session,
        organisation_id=user.organisation_id,
        username=actor,
        action=action,
        detail={"account": user.username, **detail},
    )


@dataclass
class UserAdmin:
    """Account administration; `actor` is who is doing it (None: the command line)."""

    database: Database
    public_url: str
    actor: str | None = None

    async def add(self, account: NewAccount) -> AddedAccount:
        roles = check_new_account(account)
        try:
            async with self.database.transaction() as session:
                organisation = await organisation_by_code(session, account.organisation)
                if await session.scalar(select(User.id).where(User.username == account.username)):
                    raise Conflict(f"The username {account.username!r} is already taken.")
                user = User(
                    organisation_id=organisation.id,
                    username=account.username,
                    password_hash=(
                        NO_PASSWORD if account.password is None else hash_password(account.password)
                    ),
                    roles=list(roles),
                    full_name=account.full_name.strip(),
                    email=account.email,
                )
                session.add(user)
                await session.flush()
                link = None
                if account.password is None:
                    link = await issue_set_password_link(session, user, self.public_url)
                _audit(session, user, "user.create", self.actor, roles=list(roles))
                return AddedAccount(_view(Member(user, organisation.id), organisation), link)
        except IntegrityError as error:
            # Another process took the username between our check and the insert.
            raise Conflict(f"The username {account.username!r} is already taken.") from error

    async def add_membership(
        self, username: str, organisation_code: str, roles: Iterable[str]
    ) -> AccountView:
        """Give the account roles in another organisation (or restore an ended membership
        there with these roles); audited in that organisation."""
        checked = list(check_roles(roles))
        async with self.database.transaction() as session:
            organisation = await organisation_by_code(session, organisation_code)
            user = await _user(session, username)
            if not user.active:
                raise Conflict(f"{username} is deactivated; reactivate the account first.")
            if user.organisation_id == organisation.id:
                raise Conflict(f"{username} is already an account of {organisation.code}.")
            membership = await session.scalar(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.organisation_id == organisation.id
                )
            )
            if membership is not None and membership.ended_at is None:
                raise Conflict(f"{username} is already a member of {organisation.code}.")
            if membership is None:
                membership = Membership(
                    user_id=user.id, organisation_id=organisation.id, created_by=self.actor
                )
                session.add(membership)
            membership.roles, membership.ended_at = checked, None
            await session.flush()
            append_audit(
                session,
                organisation_id=organisation.id,
                username=self.actor,
                action="user.membership_add",
                detail={"account": username, "roles": checked},
            )
            return _view(Member(user, organisation.id, membership), organisation)

    async def list(self, organisation_code: str) -> list[AccountView]:
        """The organisation's accounts and members, by username."""
        async with self.database.sessions() as session:
            organisation = await organisation_by_code(session, organisation_code)
            everyone = await members_of(session, organisation.id, active=False)
            return [_view(member, organisation) for member in everyone]

    async def set_password(self, username: str, password: str) -> None:
        async with self.database.transaction() as session:
            user = await _user(session, username)
            check_password(password, username=user.username, email=user.email)
            user.password_hash = hash_password(password)
            await end_links(session, user.id, utcnow())
            _audit(session, user, "user.set_password", self.actor)

    async def account_for_link(self, token: str) -> str:
        """The username a set-password link is for, while it still works (else NotFound)."""
        async with self.database.sessions() as session:
            return (await _linked_user(session, token, utcnow())).username

    async def set_password_from_link(self, token: str, password: str) -> str:
        """The link's owner sets their password; the link then never works again."""
        now = utcnow()
        async with self.database.transaction() as session:
            user = await _linked_user(session, token, now)
            check_password(password, username=user.username, email=user.email)
            user.password_hash = hash_password(password)
            await end_links(session, user.id, now)
            _audit(session, user, "user.set_password", user.username, via="link")
            return user.username

    async def deactivate(self, username: str) -> bool:
        """Refuse the account from its next request on; False if it was already inactive.

        Nothing of theirs is deleted; their open set-password links stop working.
        """
        async with self.database.transaction() as session:
            user = await _user(session, username)
            if not user.active:
                return False
            await end_access(session, user, utcnow())
            _audit(session, user, "user.deactivate", self.actor)
            return True


async def _linked_user(session: AsyncSession, token: str, now: datetime) -> User:
    link = await session.scalar(
        select(SetPasswordLink).where(SetPasswordLink.token_hash == _token_hash(token))
    )
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise NotFound(
            "This set-password link has expired or was already used; ask an administrator "
            "for a new one."
        )
    user = await session.get_one(User, link.user_id)
    if not user.active:
        raise NotFound("This account is deactivated; ask an administrator.")
    return user


async def active_account(session: AsyncSession, username: str) -> User | None:
    """The account a token or web session names, if it may still act: None once deactivated
    (or removed), whatever token or session it holds, so deactivation takes effect at once."""
    user = await session.scalar(select(User).where(User.username == username))
    return user if user is not None and user.active else None

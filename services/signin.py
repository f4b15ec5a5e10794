"""Signing in, hardened: lockout after repeated failures (per account and client address), a
rate limit per client address and per account, answers that take as long for an unknown name
as for a real one, and revocable tokens (each carries an id, `jti`; signing out records it as
revoked). A person with roles in more than one organisation signs in to one of them (their
home one unless they name another); a token or session stands for that one only."""

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.memberships import Member, member_in
from records.models import Organisation, RevokedToken, SignInAttempt, User, utcnow
from records.passwords import hash_password, verify_password
from records.people import create_user, get_or_create_organisation
from services.access import Principal, principal_of
from services.errors import ServiceError
from services.user_admin import active_account
from settings import Settings


class SignInRefused(ServiceError):
    status = 401


class RetryLater(ServiceError):
    """Refused for a while: the reply carries Retry-After (seconds)."""

    def __init__(self, detail: str, retry_after: float):
        super().__init__(detail)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}


class TooManyAttempts(RetryLater):
    status = 429


class AccountLocked(RetryLater):
    status = 423


WRONG = "The username or password is wrong."


@dataclass
class SignIn:
    database: Database
    settings: Settings

    async def authenticate(
        self, username: str, password: str, address: str | None, organisation: str | None = None
    ) -> Member:
        """The active user these credentials name, in the organisation whose code is given
        (their home one without it); refusals are SignInRefused, 429 or 423. An organisation
        they do not work in is refused as a wrong password is, so the answer does not say
        which organisations an account belongs to."""
        now = utcnow()
        window = now - timedelta(minutes=self.settings.sign_in_rate_window_minutes)
        async with self.database.transaction() as session:
            await self._refuse_busy_address(session, address, window, now)
            await self._refuse_locked(session, username, address, now)
            await self._refuse_attacked_account(session, username, address, window, now)
            user = await session.scalar(select(User).where(User.username == username))
            # An unknown name is checked against a dummy hash, so it takes as long to refuse as
            # a real one: the time of the answer does not say which usernames exist.
            verified = verify_password(user.password_hash if user else _dummy_hash(), password)
            member = None
            if user is not None and user.active and verified:
                member = await _working_in(session, user, organisation)
            ok = member is not None
            session.add(
                SignInAttempt(
                    username=username,
                    client_address=address,
                    at=now,
                    outcome="ok" if ok else "failed",
                )
            )
            if not ok:
                append_audit(
                    session,
                    organisation_id=user.organisation_id if user else None,
                    username=username,
                    action="auth.sign_in_failed",
                    client_address=address,
                )
        if member is None:
            raise SignInRefused(WRONG)
        return member

    async def _refuse_busy_address(
        self, session: AsyncSession, address: str | None, window: datetime, now: datetime
    ) -> None:
        """One address may fail sign_in_rate_limit times per window, whatever the names."""
        limit = self.settings.sign_in_rate_limit
        failures = list(
            await session.scalars(
                select(SignInAttempt.at)
                .where(_from(address), SignInAttempt.outcome == "failed", SignInAttempt.at > window)
                .order_by(SignInAttempt.at)
            )
        )
        if len(failures) >= limit:
            # Free again once the oldest failure that counts leaves the window.
            raise TooManyAttempts(
                "Too many failed sign-ins from your address; wait before trying again.",
                self._until_out_of_window(failures[-limit], now),
            )

    async def _refuse_locked(
        self, session: AsyncSession, username: str, address: str | None, now: datetime
    ) -> None:
        """Locked from this address while its last N attempts at the account all failed and the
        last is within the lockout; the owner signing in from elsewhere is not locked out."""
        limit = self.settings.sign_in_max_failures
        recent = list(
            await session.scalars(
                select(SignInAttempt)
                .where(SignInAttempt.username == username, _from(address))
                .order_by(SignInAttempt.at.desc(), SignInAttempt.id.desc())
                .limit(limit)
            )
        )
        if len(recent) < limit or any(attempt.outcome != "failed" for attempt in recent):
            return
        until = recent[0].at + timedelta(minutes=self.settings.sign_in_lockout_minutes)
        if until > now:
            raise AccountLocked(
                f"This account is locked after {limit} failed sign-ins; try again later or "
                "ask an administrator.",
                (until - now).total_seconds(),
            )

    async def _refuse_attacked_account(
        self,
        session: AsyncSession,
        username: str,
        address: str | None,
        window: datetime,
        now: datetime,
    ) -> None:
        """An account failed from many addresses at once: only addresses it has signed in from
        before may go on trying it until the window passes."""
        limit = self.settings.sign_in_account_limit
        failures = list(
            await session.scalars(
                select(SignInAttempt.at)
                .where(
                    SignInAttempt.username == username,
                    SignInAttempt.outcome == "failed",
                    SignInAttempt.at > window,
                )
                .order_by(SignInAttempt.at)
            )
        )
        if len(failures) < limit:
            return
        known = await session.scalar(
            select(SignInAttempt.id)
            .where(
                SignInAttempt.username == username,
                _from(address),
                SignInAttempt.outcome == "ok",
            )
            .limit(1)
        )
        if known is None:
            raise TooManyAttempts(
                "Too many failed sign-ins to this account; sign in from a device you have used "
                "before, or wait before trying again.",
                self._until_out_of_window(failures[-limit], now),
            )

    def _until_out_of_window(self, failure: datetime, now: datetime) -> float:
        window = timedelta(minutes=self.settings.sign_in_rate_window_minutes)
        return (failure + window - now).total_seconds()


async def _working_in(session: AsyncSession, user: User, organisation: str | None) -> Member | None:
    if organisation is None:
        return await member_in(session, user.organisation_id, user.username)
    organisation_id = await session.scalar(
        select(Organisation.id).where(Organisation.code == organisation)
    )
    if organisation_id is None:
        return None
    return await member_in(session, organisation_id, user.username)


def _from(address: str | None) -> ColumnElement[bool]:
    if address is None:
        return SignInAttempt.client_address.is_(None)
    return SignInAttempt.client_address == address


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


async def revoke(database: Database, jti: str, expires_at: datetime) -> None:
    """End a token or session before its expiry; rows of long-expired tokens are pruned."""
    async with database.transaction() as session:
        await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
        if await session.get(RevokedToken, jti) is None:
            session.add(RevokedToken(jti=jti, expires_at=expires_at))


async def record_sign_out(
    database: Database,
    principal: Principal,
    jti: str,
    expires_at: datetime,
    client_address: str | None,
) -> None:
    """Revoke this bearer token (refused from now on) and audit the sign-out."""
    await revoke(database, jti, expires_at)
    async with database.transaction() as session:
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="auth.sign_out",
            client_address=client_address,
        )


async def accounts_matching(
    database: Database,
    email: str | None,
    username: str | None,
    create_in: str | None,
    full_name: str,
) -> list[User]:
    """The accounts an identity provider's person matches, by email or username (the caller
    refuses anything but one). With `create_in` (an organisation's code) and an email, a
    person matching none gets an account there, with no roles."""
    matches = [User.email == email] if email else []
    if username:
        matches.append(User.username == username)
    async with database.transaction() as session:
        users = list(await session.scalars(select(User).where(or_(*matches))))
        if not users and create_in and email:
            organisation = await get_or_create_organisation(session, create_in, create_in)
            user = await create_user(
                session,
                organisation,
                username or email,
                hash_password(secrets.token_urlsafe(32)),
                [],
                full_name,
                email,
            )
            users = [user]
    return users


async def signed_in_principal(
    database: Database,
    jti: str,
    username: str,
    organisation_id: int | None = None,
    issued_at: datetime | None = None,
) -> Principal | None:
    """Who a token or web session (by its id) stands for, in the organisation it was issued
    for (None: their home one); None once it is revoked, the account is gone or inactive, it
    was issued before the account was last deactivated (`issued_at` None: as old as can be),
    or their membership of that organisation has ended. The API and the web pages both ask
    here."""
    async with database.sessions() as session:
        if await revoked(session, jti):
            return None
        user = await active_account(session, username)
        if user is None:
            return None
        cutoff = user.sessions_valid_after
        if cutoff is not None and (issued_at is None or issued_at <= cutoff):
            return None
        member = await member_in(session, organisation_id or user.organisation_id, username)
    return None if member is None else principal_of(member.user, member.membership)


async def revoked(session: AsyncSession, jti: str) -> bool:
    found = await session.scalar(
        select(func.count()).select_from(RevokedToken).where(RevokedToken.jti == jti)
    )
    return bool(found)

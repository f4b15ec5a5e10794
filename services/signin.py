"""Signing in, hardened: lockout after repeated failures, a rate limit per client address,
and revocable tokens (each carries an id, `jti`; signing out records it as revoked)."""

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.models import RevokedToken, SignInAttempt, User, utcnow
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

    async def authenticate(self, username: str, password: str, address: str | None) -> User:
        """The active user these credentials name; refusals are SignInRefused, 429 or 423."""
        now = utcnow()
        settings = self.settings
        async with self.database.transaction() as session:
            window = now - timedelta(minutes=settings.sign_in_rate_window_minutes)
            from_address = select(SignInAttempt.at).where(
                SignInAttempt.client_address == address,
                SignInAttempt.outcome == "failed",
                SignInAttempt.at > window,
            )
            failures = list(await session.scalars(from_address.order_by(SignInAttempt.at)))
            if len(failures) >= settings.sign_in_rate_limit:
                # Free again once the oldest failure that counts leaves the window.
                free_at = failures[-settings.sign_in_rate_limit] + timedelta(
                    minutes=settings.sign_in_rate_window_minutes
                )
                raise TooManyAttempts(
                    "Too many failed sign-ins from your address; wait before trying again.",
                    (free_at - now).total_seconds(),
                )
            locked_until = await self._locked_until(username, now)
            if locked_until is not None:
                raise AccountLocked(
                    f"This account is locked after {settings.sign_in_max_failures} failed "
                    "sign-ins; try again later or ask an administrator.",
                    (locked_until - now).total_seconds(),
                )
            user = await session.scalar(select(User).where(User.username == username))
            ok = user is not None and user.active and verify_password(user.password_hash, password)
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
        if not ok or user is None:
            raise SignInRefused(WRONG)
        return user

    async def _locked_until(self, username: str, now: datetime) -> datetime | None:
        """Locked while the last N attempts all failed and the last is within the lockout."""
        limit = self.settings.sign_in_max_failures
        async with self.database.sessions() as session:
            recent = list(
                await session.scalars(
                    select(SignInAttempt)
                    .where(SignInAttempt.username == username)
                    .order_by(SignInAttempt.at.desc(), SignInAttempt.id.desc())
                    .limit(limit)
                )
            )
        if len(recent) < limit or any(attempt.outcome != "failed" for attempt in recent):
            return None
        until = recent[0].at + timedelta(minutes=self.settings.sign_in_lockout_minutes)
        return until if until > now else None


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


async def signed_in_principal(database: Database, jti: str, username: str) -> Principal | None:
    """Who a token or web session (by its id) stands for; None once it is revoked, or the
    account is gone or inactive. The API and the web pages both ask here."""
    async with database.sessions() as session:
        if await revoked(session, jti):
            return None
        user = await active_account(session, username)
    return None if user is None else principal_of(user)


async def revoked(session: AsyncSession, jti: str) -> bool:
    found = await session.scalar(
        select(func.count()).select_from(RevokedToken).where(RevokedToken.jti == jti)
    )
    return bool(found)

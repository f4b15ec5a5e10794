"""The signed-in person's own account: reading it, and how reminders reach them."""

from sqlalchemy import select

from records.audit import append_audit
from records.database import Database
from records.models import User
from services.access import Principal
from services.errors import NotFound


async def own_account(database: Database, username: str) -> User:
    async with database.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("Your account no longer exists.")
    return user


async def set_mail_preference(database: Database, principal: Principal, preference: str) -> User:
    """immediate: every reminder as it falls due; digest: folded into the daily digest."""
    async with database.transaction() as session:
        user = await session.scalar(select(User).where(User.username == principal.username))
        if user is None:
            raise NotFound("Your account no longer exists.")
        user.mail_preference = preference
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="user.mail_preference",
            detail={"mail_preference": preference},
        )
    return user

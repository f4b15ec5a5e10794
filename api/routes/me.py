"""The signed-in person's own account: who they are, and how reminders reach them."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from api.deps import CurrentUser, get_database
from records.database import Database
from records.models import AuditEntry, User
from services.errors import NotFound

router = APIRouter(prefix="/api/me", tags=["me"])
Db = Annotated[Database, Depends(get_database)]


class MeOut(BaseModel):
    username: str
    full_name: str
    email: str
    roles: list[str]
    # immediate: every reminder as it falls due; digest: reminders folded into the daily
    # digest (breaches and escalations always come at once).
    mail_preference: str


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mail_preference: Literal["immediate", "digest"]


async def _own_account(database: Database, username: str) -> User:
    async with database.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("Your account no longer exists.")
    return user


def _out(user: User) -> MeOut:
    return MeOut(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        roles=user.roles,
        mail_preference=user.mail_preference,
    )


@router.get("")
async def who_am_i(principal: CurrentUser, database: Db) -> MeOut:
    return _out(await _own_account(database, principal.username))


@router.patch("")
async def set_preferences(body: PreferencesIn, principal: CurrentUser, database: Db) -> MeOut:
    async with database.transaction() as session:
        user = await session.scalar(select(User).where(User.username == principal.username))
        if user is None:
            raise NotFound("Your account no longer exists.")
        user.mail_preference = body.mail_preference
        session.add(
            AuditEntry(
                organisation_id=principal.organisation_id,
                username=principal.username,
                action="user.mail_preference",
                detail={"mail_preference": body.mail_preference},
            )
        )
    return _out(user)

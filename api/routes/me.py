"""The signed-in person's own account: who they are, and how reminders reach them."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, get_database
from records.database import Database
from records.models import User
from services.accounts import own_account, set_mail_preference

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
    return _out(await own_account(database, principal.username))


@router.patch("")
async def set_preferences(body: PreferencesIn, principal: CurrentUser, database: Db) -> MeOut:
    user = await set_mail_preference(database, principal, body.mail_preference)
    return _out(user)

"""The signed-in person's own account: who they are, where they may work (and where this token
works), and how reminders reach them."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, get_database
from records.database import Database
from records.models import User
from services.access import Principal
from services.accounts import own_account, set_mail_preference
from services.workplaces import Workplace, workplaces

router = APIRouter(prefix="/api/me", tags=["me"])
Db = Annotated[Database, Depends(get_database)]


class OrganisationOut(BaseModel):
    code: str
    name: str
    roles: list[str]
    # Their own organisation (the one their account belongs to), not one they were added to.
    home: bool
    # The one this token works in.
    current: bool

    @classmethod
    def of(cls, place: Workplace) -> "OrganisationOut":
        return cls(
            code=place.code,
            name=place.name,
            roles=list(place.roles),
            home=place.home,
            current=place.current,
        )


class MeOut(BaseModel):
    username: str
    full_name: str
    email: str
    # Their roles in the organisation this token works in.
    roles: list[str]
    organisation: str
    # Every organisation they may work in; a token for another is asked for with its code
    # (POST /api/auth/token, `organisation`).
    organisations: list[OrganisationOut]
    # immediate: every reminder as it falls due; digest: reminders folded into the daily
    # digest (breaches and escalations always come at once).
    mail_preference: str


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mail_preference: Literal["immediate", "digest"]


async def _out(database: Database, principal: Principal, user: User) -> MeOut:
    places = await workplaces(database, principal)
    return MeOut(
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        roles=sorted(principal.roles),
        organisation=next(place.code for place in places if place.current),
        organisations=[OrganisationOut.of(place) for place in places],
        mail_preference=user.mail_preference,
    )


@router.get("")
async def who_am_i(principal: CurrentUser, database: Db) -> MeOut:
    return await _out(database, principal, await own_account(database, principal.username))


@router.patch("")
async def set_preferences(body: PreferencesIn, principal: CurrentUser, database: Db) -> MeOut:
    user = await set_mail_preference(database, principal, body.mail_preference)
    return await _out(database, principal, user)

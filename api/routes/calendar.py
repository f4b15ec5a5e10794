"""Calendar feeds: an advisor's deadlines at a private, revocable URL that calendar apps poll.

The feed itself takes no bearer token (Outlook and Google cannot send one): the random token
in its URL is the credential, so it is shown only to its owner and can be replaced at once.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from api.deps import CurrentUser, get_database, get_settings
from records.database import Database
from services.calendar_feed import feed_for_token, feed_token, feed_url, revoke_token
from services.errors import NotFound
from settings import Settings

router = APIRouter(tags=["calendar"])

Db = Annotated[Database, Depends(get_database)]
Config = Annotated[Settings, Depends(get_settings)]


class CalendarFeedOut(BaseModel):
    url: str
    webcal_url: str  # the same feed, for calendar apps that subscribe on a click


def _feed_out(settings: Settings, token: str) -> CalendarFeedOut:
    url = feed_url(settings.public_url, token)
    return CalendarFeedOut(url=url, webcal_url="webcal://" + url.split("://", 1)[1])


@router.get("/api/me/calendar")
async def my_calendar_feed(
    principal: CurrentUser, database: Db, settings: Config
) -> CalendarFeedOut:
    """Your feed's URL; the first call creates it."""
    return _feed_out(settings, await feed_token(database, principal, fresh=False))


@router.post("/api/me/calendar/token")
async def replace_calendar_token(
    principal: CurrentUser, database: Db, settings: Config
) -> CalendarFeedOut:
    """A new URL for your feed; the old one stops working at once."""
    return _feed_out(settings, await feed_token(database, principal, fresh=True))


@router.delete("/api/me/calendar/token", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_calendar_token(principal: CurrentUser, database: Db) -> None:
    """No feed URL at all until you ask for one again."""
    await revoke_token(database, principal)


@router.get("/calendar/{token}.ics", include_in_schema=False)
async def calendar_feed(token: str, request: Request, database: Db, settings: Config) -> Response:
    feed = await feed_for_token(
        database, token, settings.public_url, request.client.host if request.client else None
    )
    if feed is None:
        raise NotFound("There is no calendar feed at this address; it may have been replaced.")
    return Response(
        feed,
        media_type="text/calendar; charset=utf-8",
        # The URL is a secret: keep the feed out of shared caches.
        headers={"Cache-Control": "private, no-store"},
    )

"""The web session: a signed cookie naming the user and the organisation they are working in,
and the CSRF token every form must echo.

The cookie is a JWT signed with settings.secret_key under its own audience, so an API bearer
token can never pass for a session (nor a session for a token). It is HttpOnly (no script
reads it), SameSite=Lax (other sites' forms do not carry it) and Secure outside dev mode.
Each session, signed in or not, holds a random CSRF token; every POST must send it back in
the `csrf_token` form field, which another site cannot read and so cannot forge.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from api.deps import get_database, get_settings
from api.security import ALGORITHM
from services.access import Principal
from services.signin import signed_in_principal
from services.workplaces import workplaces
from settings import Settings

COOKIE = "ercase_session"
AUDIENCE = "ercase-web"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class WebSession:
    username: str | None
    csrf: str
    # The session's id, so signing out revokes this cookie even if a copy of it survives.
    jti: str = ""
    # The organisation they work in (its id); None: their home one.
    organisation_id: int | None = None
    # When it began (a cookie from before this was kept: None); a deactivation ends it.
    issued_at: datetime | None = None


class SignInRequired(Exception):
    """No valid session: the page sends the person to sign in, then back."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token: refused, nothing done."""


def read_session(request: Request) -> WebSession | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        claims = jwt.decode(
            token,
            get_settings(request).secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "csrf", "aud", "jti"]},
        )
    except jwt.PyJWTError:
        return None
    username, csrf, jti = claims.get("sub"), claims.get("csrf"), claims.get("jti")
    organisation = claims.get("org")
    if not isinstance(csrf, str) or not isinstance(jti, str):
        return None
    if username is not None and not isinstance(username, str):
        return None
    if organisation is not None and type(organisation) is not int:
        return None
    issued = claims.get("iat")
    issued_at = datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) else None
    return WebSession(username, csrf, jti, organisation, issued_at)


def new_session(username: str | None, organisation_id: int | None = None) -> WebSession:
    """A session with a fresh CSRF token; a new one at each sign-in, sign-out and change of
    organisation."""
    return WebSession(
        username,
        secrets.token_urlsafe(32),
        secrets.token_hex(16),
        organisation_id,
        datetime.now(UTC),
    )


def write_session(response: Response, settings: Settings, session: WebSession) -> None:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, object] = {
        "aud": AUDIENCE,
        "csrf": session.csrf,
        "jti": session.jti,
        "exp": datetime.now(UTC) + lifetime,
    }
    if session.username is not None:
        claims["sub"] = session.username
    if session.organisation_id is not None:
        claims["org"] = session.organisation_id
    if session.issued_at is not None:
        claims["iat"] = session.issued_at.timestamp()  # to the microsecond, as tokens
    response.set_cookie(
        COOKIE,
        jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM),
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=not settings.dev,
        path="/",
    )


async def web_user(request: Request) -> Principal:
    """The signed-in person, or SignInRequired; the account must still exist and be active."""
    session = read_session(request)
    if session is None or session.username is None:
        raise SignInRequired
    database = get_database(request)
    principal = await signed_in_principal(
        database, session.jti, session.username, session.organisation_id, session.issued_at
    )
    if principal is None:
        raise SignInRequired
    # The layout shows who is signed in, where they work (with a switcher for someone who
    # works in more than one organisation) and puts the CSRF token into every form.
    request.state.principal = principal
    request.state.workplaces = await workplaces(database, principal)
    request.state.csrf = session.csrf
    return principal


WebUser = Annotated[Principal, Depends(web_user)]


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    session = read_session(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise CsrfRefused
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]

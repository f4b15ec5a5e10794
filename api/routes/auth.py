"""Sign-in: the OAuth2 password form gives a bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, get_database, get_settings
from api.schemas import Token
from api.security import TokenClaims, create_access_token
from records.database import Database
from services.signin import SignIn, record_sign_out
from settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token")
async def issue_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    database: Annotated[Database, Depends(get_database)],
    settings: Annotated[Settings, Depends(get_settings)],
    organisation: Annotated[
        str | None,
        Form(
            max_length=40,
            description="The code of the organisation to work in with this token; without "
            "it, your own.",
        ),
    ] = None,
) -> Token:
    """401 for wrong credentials, or an organisation you do not work in; 429 after too many
    failures from one address, 423 while the account is locked after repeated failures (both
    with Retry-After, in seconds)."""
    address = request.client.host if request.client else None
    member = await SignIn(database, settings).authenticate(
        form.username, form.password, address, organisation or None
    )
    return Token(
        access_token=create_access_token(
            member.username,
            settings.secret_key,
            settings.access_token_minutes,
            member.organisation_id,
        )
    )


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    request: Request,
    principal: CurrentUser,
    database: Annotated[Database, Depends(get_database)],
) -> Response:
    """Revoke the bearer token this request carries; it is refused from now on."""
    claims: TokenClaims = request.state.token_claims
    await record_sign_out(
        database,
        principal,
        claims.jti,
        claims.expires_at,
        request.client.host if request.client else None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

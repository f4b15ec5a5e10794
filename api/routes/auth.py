"""Sign-in: the OAuth2 password form gives a bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api.deps import get_database, get_settings
from api.schemas import Token
from api.security import create_access_token
from records.database import Database
from records.models import User
from records.passwords import verify_password
from settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token")
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    database: Annotated[Database, Depends(get_database)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Token:
    async with database.sessions() as session:
        user = await session.scalar(select(User).where(User.username == form.username))
    if user is None or not user.active or not verify_password(user.password_hash, form.password):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "The username or password is wrong.")
    return Token(
        access_token=create_access_token(
            user.username, settings.secret_key, settings.access_token_minutes
        )
    )

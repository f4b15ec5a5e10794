"""Dependencies: settings, the database, the Temporal client, and the current user."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from temporalio.client import Client

from api.security import token_claims
from records.database import Database
from services.access import Principal, principal_of
from services.cases import CaseCommands
from services.errors import Unavailable
from services.signin import revoked
from services.user_admin import active_account
from settings import Settings
from temporal_client import connect

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


class TemporalConnection:
    """Connects on first use, so the API starts (and /readyz can say why) while Temporal is down."""

    def __init__(self, settings: Settings, database: Database):
        self._settings = settings
        self._database = database
        self._client: Client | None = None

    async def __call__(self) -> Client:
        if self._client is None:
            try:
                self._client = await connect(self._settings, self._database)
            except RuntimeError as error:
                raise Unavailable(f"The case engine is not reachable: {error}") from error
        return self._client


async def get_current_user(
    request: Request,
    token: Annotated[str, Depends(oauth2_scheme)],
) -> Principal:
    settings = get_settings(request)
    claims = token_claims(token, settings.secret_key)
    unauthorised = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "Sign in again: your access token is missing, invalid or expired.",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if claims is None:
        raise unauthorised
    async with get_database(request).sessions() as session:
        if await revoked(session, claims.jti):
            raise unauthorised
        user = await active_account(session, claims.username)
    if user is None:
        raise unauthorised
    # Signing out revokes this token: the route reads it from here.
    request.state.token_claims = claims
    return principal_of(user)


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_role(principal: Principal, roles: frozenset[str], doing: str) -> None:
    if not principal.has_any(roles):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Your role does not allow you to {doing}.")


def get_case_commands(request: Request, principal: CurrentUser) -> CaseCommands:
    return CaseCommands(
        database=get_database(request),
        client=request.app.state.temporal,
        task_queue=get_settings(request).task_queue,
        principal=principal,
        client_address=request.client.host if request.client else None,
    )


Cases = Annotated[CaseCommands, Depends(get_case_commands)]

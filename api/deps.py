"""Dependencies: settings, the database, the Temporal client, the current user, and the case
services for them."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from temporalio.client import Client

from api.security import token_claims
from records.database import Database
from services.access import Principal
from services.case_context import CaseContext
from services.case_opening import CaseOpening
from services.case_people import CasePeople
from services.case_queries import CaseQueries
from services.case_records import CaseRecords
from services.case_steps import CaseSteps
from services.errors import Unavailable
from services.signin import signed_in_principal
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
    principal = await signed_in_principal(
        get_database(request),
        claims.jti,
        claims.username,
        claims.organisation_id,
        claims.issued_at,
    )
    if principal is None:
        raise unauthorised
    # Signing out revokes this token: the route reads it from here.
    request.state.token_claims = claims
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_role(principal: Principal, roles: frozenset[str], doing: str) -> None:
    if not principal.has_any(roles):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Your role does not allow you to {doing}.")


def case_context(request: Request, principal: Principal) -> CaseContext:
    """The case services' view of this request; the web pages build theirs here too."""
    return CaseContext(
        database=get_database(request),
        client=request.app.state.temporal,
        task_queue=get_settings(request).task_queue,
        principal=principal,
        client_address=request.client.host if request.client else None,
    )


def get_case_queries(request: Request, principal: CurrentUser) -> CaseQueries:
    return CaseQueries(case_context(request, principal))


def get_case_opening(request: Request, principal: CurrentUser) -> CaseOpening:
    return CaseOpening(case_context(request, principal))


def get_case_steps(request: Request, principal: CurrentUser) -> CaseSteps:
    return CaseSteps(case_context(request, principal))


def get_case_records(request: Request, principal: CurrentUser) -> CaseRecords:
    return CaseRecords(case_context(request, principal))


def get_case_people(request: Request, principal: CurrentUser) -> CasePeople:
    return CasePeople(case_context(request, principal))


Queries = Annotated[CaseQueries, Depends(get_case_queries)]
Opening = Annotated[CaseOpening, Depends(get_case_opening)]
Steps = Annotated[CaseSteps, Depends(get_case_steps)]
Records = Annotated[CaseRecords, Depends(get_case_records)]
People = Annotated[CasePeople, Depends(get_case_people)]

"""Signing in and out of the web pages, with the same accounts and passwords as the API, and
choosing which organisation to work in (someone with roles in more than one)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import get_database, get_settings
from api.web.errors import WebRoute
from api.web.nav import home_for
from api.web.render import render
from api.web.session import (
    CheckedForm,
    SignInRequired,
    WebUser,
    new_session,
    read_session,
    web_user,
    write_session,
)
from services.access import principal_of
from services.signin import RetryLater, SignIn, SignInRefused, revoke
from services.workplaces import choose_workplace

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another site's address (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def sign_in_page(
    request: Request, next_path: str, username: str = "", error: str = "", status: int = 200
) -> Response:
    session = read_session(request)
    fresh = session is None
    if fresh:
        # A visitor without a session gets one (no one signed in) so the form has a CSRF token.
        session = new_session(None)
    assert session is not None
    request.state.csrf = session.csrf
    context = {
        "next": next_path,
        "username": username,
        "error": error,
        "signed_out": "signed-out" in request.query_params,
    }
    response = render(request, "sign_in.html", context, status)
    if fresh:
        write_session(response, get_settings(request), session)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    try:
        principal = await web_user(request)
    except SignInRequired:
        return RedirectResponse("/sign-in", status_code=303)
    return RedirectResponse(home_for(principal), status_code=303)


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    return sign_in_page(request, safe_next(next) or "")


@router.post("/sign-in")
async def sign_in(
    request: Request,
    form: CheckedForm,
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    del form  # checked for its CSRF token; the fields come as parameters
    address = request.client.host if request.client else None
    sign_in_guard = SignIn(get_database(request), get_settings(request))
    try:
        member = await sign_in_guard.authenticate(username.strip(), password, address)
    except (SignInRefused, RetryLater) as refused:
        page = sign_in_page(
            request, safe_next(next) or "", username, refused.detail, refused.status
        )
        page.headers.update(getattr(refused, "headers", {}))
        return page
    principal = principal_of(member.user, member.membership)
    response = RedirectResponse(safe_next(next) or home_for(principal), status_code=303)
    # A new session at sign-in: a token planted before it (session fixation) is worth nothing.
    write_session(
        response, get_settings(request), new_session(member.username, member.organisation_id)
    )
    return response


@router.post("/organisation")
async def choose_organisation(
    request: Request,
    principal: WebUser,
    form: CheckedForm,
    organisation: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Work in another of one's organisations: a new session for it, the old one revoked (a
    page still open for the old organisation then asks to sign in, never mixes the two)."""
    del form
    database, settings = get_database(request), get_settings(request)
    address = request.client.host if request.client else None
    chosen = await choose_workplace(database, principal, organisation.strip(), address)
    ended = read_session(request)
    if ended is not None:
        expires = datetime.now(UTC) + timedelta(minutes=settings.access_token_minutes)
        await revoke(database, ended.jti, expires)
    response = RedirectResponse("/", status_code=303)
    write_session(response, settings, new_session(principal.username, chosen))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, form: CheckedForm) -> Response:
    del form
    # The old cookie is revoked, not only replaced: a copy kept elsewhere is refused too.
    ended = read_session(request)
    if ended is not None and ended.username is not None:
        expires = datetime.now(UTC) + timedelta(minutes=get_settings(request).access_token_minutes)
        await revoke(get_database(request), ended.jti, expires)
    response = RedirectResponse("/sign-in?signed-out", status_code=303)
    write_session(response, get_settings(request), new_session(None))
    return response

"""The page a set-password link opens: the person chooses their own password (no administrator
ever knows it), once, before the link expires. Referrer-Policy: no-referrer (set on every
response) keeps the token in the address out of other sites' logs."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from api.deps import get_database, get_settings
from api.web.errors import WebRoute
from api.web.render import render
from api.web.session import CheckedForm, new_session, read_session, write_session
from services.password_policy import MIN_LENGTH, WeakPassword
from services.user_admin import UserAdmin

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _admin(request: Request) -> UserAdmin:
    return UserAdmin(get_database(request), get_settings(request).public_url)


def _form(request: Request, username: str, error: str = "", status: int = 200) -> Response:
    session = read_session(request)
    fresh = session is None
    # Whoever opens the link may have no session yet: one (no one signed in) for its CSRF token.
    session = session or new_session(None)
    request.state.csrf = session.csrf
    context = {"username": username, "error": error, "min_length": MIN_LENGTH, "done": False}
    response = render(request, "set_password.html", context, status)
    if fresh:
        write_session(response, get_settings(request), session)
    return response


@router.get("/set-password/{token}")
async def set_password_form(request: Request, token: str) -> Response:
    return _form(request, await _admin(request).account_for_link(token))


@router.post("/set-password/{token}")
async def set_password(
    request: Request,
    token: str,
    form: CheckedForm,
    password: Annotated[str, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    del form  # checked for its CSRF token; the fields come as parameters
    admin = _admin(request)
    username = await admin.account_for_link(token)
    if password != confirm:
        return _form(request, username, "The two passwords are not the same.", 422)
    try:
        await admin.set_password_from_link(token, password)
    except WeakPassword as weak:
        return _form(request, username, weak.detail, 422)
    return render(request, "set_password.html", {"username": username, "done": True})

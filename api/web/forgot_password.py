"""/forgot-password, from the sign-in page: a set-password link by mail, through the same
service as POST /api/auth/forgot-password — the same answer for any address, the mail sent
after the answer, and the same rate limit per client address."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import get_database, get_settings
from api.web.errors import WebRoute
from api.web.render import render
from api.web.session import CheckedForm, new_session, read_session, write_session
from services.account_mail import send_link_mail
from services.password_reset import ANSWER, request_password_reset
from services.signin import RetryLater

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _page(request: Request, error: str = "", status: int = 200) -> Response:
    session = read_session(request)
    fresh = session is None
    # Whoever asks is not signed in: a session (no one in it) holds the form's CSRF token.
    session = session or new_session(None)
    request.state.csrf = session.csrf
    context = {"answer": ANSWER if "sent" in request.query_params else "", "error": error}
    response = render(request, "forgot_password.html", context, status)
    if fresh:
        write_session(response, get_settings(request), session)
    return response


@router.get("/forgot-password")
async def forgot_password_form(request: Request) -> Response:
    return _page(request)


@router.post("/forgot-password")
async def forgot_password(
    request: Request,
    form: CheckedForm,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    del form  # checked for its CSRF token; the field comes as a parameter
    database, settings = get_database(request), get_settings(request)
    address = request.client.host if request.client else None
    try:
        mails = await request_password_reset(database, settings, email, address)
    except RetryLater as refused:
        page = _page(request, refused.detail, refused.status)
        page.headers.update(refused.headers)
        return page
    for mail in mails:
        background.add_task(send_link_mail, database, settings, mail)
    # FastAPI runs `background` (the mail) once this answer has gone.
    return RedirectResponse("/forgot-password?sent", status_code=303)

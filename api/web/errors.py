"""How web pages answer what goes wrong: sign in again, a refused form, or a page in words.

The app's ServiceError handler answers JSON for the API; web routes use WebRoute, which turns
the same refusals into HTML pages with the same status codes.
"""

from collections.abc import Callable, Coroutine
from contextlib import suppress
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.web.render import render
from api.web.session import CsrfRefused, SignInRequired, web_user
from services.errors import Forbidden, ServiceError


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/sign-in?next={quote(target, safe='')}"
    if request.headers.get("HX-Request"):
        # htmx would follow a redirect inside the page; this makes the whole page go.
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def problem_page(request: Request, status: int, title: str, detail: str) -> Response:
    context = {"title": title, "detail": detail, "back": _came_from(request)}
    return render(request, "problem.html", context, status)


def _came_from(request: Request) -> str | None:
    """The page of this site the person came from, to offer the way back (never elsewhere)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return None
    back = referer.path + (f"?{referer.query}" if referer.query else "")
    return None if back == request.url.path or back.startswith("//") else back


TITLES = {
    403: "Not allowed",
    404: "Not found",
    405: "Not a page",
    409: "Not possible now",
    422: "Check the form",
    500: "Something went wrong",
}
# Paths a program reads: their errors stay JSON ({"detail": ...}), as docs/api.md promises.
MACHINE_PATHS = ("/api/", "/api", "/healthz", "/readyz", "/openapi.json", "/calendar/", "/docs")


def is_page(request: Request) -> bool:
    """Whether a person's browser asked for this path (so an error is a page, not JSON)."""
    path = request.url.path
    return not any(path == p or path.startswith(p.rstrip("/") + "/") for p in MACHINE_PATHS)


def _page_above(request: Request) -> str | None:
    """The nearest path above this one that a GET is served on: the page a form was sent from
    (/cases/X for /cases/X/notes, /team for /team/reassign), or None."""
    parts = request.url.path.rstrip("/").split("/")
    for end in range(len(parts) - 1, 0, -1):
        path = "/".join(parts[:end]) or "/"
        scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.routes):
            return path
    return None


async def http_error_page(request: Request, error: Exception) -> Response:
    """404, 405 and the like from routing: a page in the layout for people, JSON for programs.

    A GET of an address only a form posts to (a refused form's page reloaded, a bookmark)
    goes to the page that form is on."""
    assert isinstance(error, HTTPException)  # registered for HTTPException only
    if not is_page(request):
        return await http_exception_handler(request, error)
    if error.status_code == 405 and request.method in ("GET", "HEAD"):
        above = _page_above(request)
        if above is not None:
            return RedirectResponse(above, status_code=303)
    with suppress(SignInRequired):
        await web_user(request)  # so the page shows who is signed in and their menu
    detail = {
        404: "There is no page at this address. Check it, or start again from your start page.",
        405: "This address only takes a form sent from one of ercase's pages; nothing was done.",
    }.get(error.status_code, str(error.detail))
    title = TITLES.get(error.status_code, "Something is wrong")
    return problem_page(request, error.status_code, title, detail)


def invalid_form_page(request: Request, detail: str) -> Response:
    """A form whose fields could not be read at all (a value longer than the form allows)."""
    return problem_page(
        request, 422, TITLES[422], f"{detail}. Nothing was done: go back and check the form."
    )


def unexpected_page(request: Request) -> Response:
    return problem_page(
        request,
        500,
        TITLES[500],
        "Something went wrong on our side, and nothing was changed. Go back and try again; "
        "if it happens again, tell the ercase administrator the time it happened.",
    )


def install_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error_page)


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except CsrfRefused:
                return problem_page(
                    request,
                    403,
                    "Form expired",
                    "This form was not sent from a page of this session (or the session "
                    "ended), so nothing was done. Go back, reload the page and try again.",
                )
            except ServiceError as error:
                title = TITLES.get(error.status, "Something is wrong")
                return problem_page(request, error.status, title, error.detail)

        return handle


def require(principal_roles: frozenset[str], allowed: frozenset[str], doing: str) -> None:
    if not principal_roles & allowed:
        raise Forbidden(f"Your role does not allow you to {doing}.")

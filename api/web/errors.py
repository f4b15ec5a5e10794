"""How web pages answer what goes wrong: sign in again, a refused form, or a page in words.

The app's ServiceError handler answers JSON for the API; web routes use WebRoute, which turns
the same refusals into HTML pages with the same status codes.
"""

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.web.render import render
from api.web.session import CsrfRefused, SignInRequired
from services.errors import Forbidden, ServiceError


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/sign-in?next={quote(target, safe='')}"
    if request.headers.get("HX-Request"):
        # htmx would follow a redirect inside the page; this makes the whole page go.
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def problem_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(request, "problem.html", {"title": title, "detail": detail}, status)


TITLES = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 422: "Check the form"}


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

"""The web application: server-rendered pages (Jinja2 + htmx) over the same services as the API."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import (
    attendance,
    auth,
    case_import,
    cases,
    errors,
    forgot_password,
    oidc,
    organisation_settings,
    overview,
    policies,
    reports,
    set_password,
    staff_admin,
    team,
    users_admin,
)

STATIC = Path(__file__).parent.parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages and the static files (htmx, the style sheet) to the app."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install_error_pages(app)
    for module in (
        auth,
        oidc,
        cases,
        attendance,
        team,
        overview,
        policies,
        reports,
        set_password,
        staff_admin,
        case_import,
        users_admin,
        forgot_password,
        organisation_settings,
    ):
        app.include_router(module.router)

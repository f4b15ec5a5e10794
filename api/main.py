"""The FastAPI application: routers by resource, errors as sentences, never a 500 for bad input."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import web
from api.access_log import install_access_log_filter
from api.api_docs import install_api_docs
from api.deps import TemporalConnection
from api.nul_guard import RefuseNul
from api.routes import (
    absences,
    access,
    auth,
    bundle,
    calendar,
    cases,
    codec,
    dev,
    documents,
    forgot_password,
    governance,
    health,
    letters,
    me,
    notes,
    organisation,
    policies,
    reports,
    staff,
    staff_import,
    time_entries,
    users,
)
from api.security_headers import SecurityHeaders
from api.web import errors as web_errors
from records.database import Database
from services.errors import ServiceError
from services.retention import reapply_shreds
from settings import Settings, get_settings

log = logging.getLogger("ercase.api")


def _field(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _problem(item: dict[str, Any]) -> dict[str, str]:
    """One validation problem as {path, message}, in words for whoever sent the request."""
    location = tuple(item.get("loc", ()))
    if item.get("type") == "json_invalid":
        # pydantic's location here is a character offset, not a field.
        reason = (item.get("ctx") or {}).get("error", "")
        offset = location[-1] if location else 0
        return {
            "path": "body",
            "message": f"the body is not valid JSON ({reason} at character {offset})",
        }
    if location == ("body",) and isinstance(item.get("input"), bytes):
        # A body sent with a Content-Type other than JSON reaches validation as raw bytes.
        return {"path": "body", "message": "send the body as JSON (Content-Type: application/json)"}
    return {"path": _field(location), "message": item.get("msg", "invalid")}


def _document_errors_as_sent(app: FastAPI) -> None:
    """The schema's 422 body is what invalid_request sends, not FastAPI's default shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["HTTPValidationError"] = {
                "title": "HTTPValidationError",
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {"type": "string"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "path": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.database = Database(settings.database_url)
        app.state.temporal = TemporalConnection(settings, app.state.database)
        # A database restored from a backup older than a purge must not serve the purged case
        # for a moment; the worker, which reaches the engine, also ends their workflows.
        await reapply_shreds(
            app.state.database,
            settings.documents_dir,
            settings.shred_ledger,
            None,
            datetime.now(UTC),
        )
        yield
        await app.state.database.dispose()

    # The docs pages are dev-only and served from our own static files (api/api_docs.py).
    app = FastAPI(title="ercase", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    if settings.dev:
        install_api_docs(app)
    install_access_log_filter()

    app.add_middleware(RefuseNul)  # inside SecurityHeaders, so its refusals carry them too
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, error: ServiceError) -> JSONResponse:
        body: dict[str, object] = {"detail": error.detail}
        if hasattr(error, "errors"):
            body["errors"] = error.errors
        return JSONResponse(body, status_code=error.status, headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = [_problem(item) for item in error.errors()]
        first = problems[0] if problems else {"path": "body", "message": "invalid"}
        detail = f"{first['path']}: {first['message']}"
        if web_errors.is_page(request):
            return web_errors.invalid_form_page(request, detail)
        if len(problems) > 1:
            detail += f" (and {len(problems) - 1} more problem(s); see errors)"
        return JSONResponse(
            {"detail": detail, "errors": problems},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error", exc_info=error)
        if web_errors.is_page(request):
            return web_errors.unexpected_page(request)
        return JSONResponse(
            {"detail": "Something went wrong on our side; nothing was changed. Try again."},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    for router in (auth.router, cases.router, staff.router, policies.router, health.router):
        app.include_router(router)
    for router in (notes.router, documents.router, letters.router, time_entries.router):
        app.include_router(router)
    app.include_router(bundle.router)
    app.include_router(reports.router)
    app.include_router(access.router)
    web.install(app)
    _document_errors_as_sent(app)
    app.include_router(calendar.router)
    app.include_router(me.router)
    app.include_router(governance.router)
    app.include_router(codec.router)
    app.include_router(absences.router)
    app.include_router(staff_import.router)
    app.include_router(users.router)
    app.include_router(forgot_password.router)
    app.include_router(organisation.router)
    if settings.dev:
        app.include_router(dev.router)
    return app

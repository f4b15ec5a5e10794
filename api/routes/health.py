"""Liveness and readiness."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.service import RPCError

from api.deps import get_database
from services.errors import Unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await get_database(request).ping()
        checks["database"] = "ok"
    except Exception as error:  # any failure here means "not ready", and says why
        checks["database"] = f"unreachable: {type(error).__name__}"
    try:
        client = await request.app.state.temporal()
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except (Unavailable, RuntimeError, RPCError) as error:
        checks["temporal"] = f"unreachable: {error}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks}, 200 if ready else 503
    )

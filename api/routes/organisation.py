"""The signed-in person's organisation: its own settings, GET and PATCH under /settings."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from api.deps import CurrentUser, get_database, get_settings
from services.organisation_settings import OrganisationSettingsService

router = APIRouter(prefix="/api/organisation", tags=["organisation"])


def get_service(request: Request, principal: CurrentUser) -> OrganisationSettingsService:
    return OrganisationSettingsService(get_database(request), get_settings(request), principal)


Service = Annotated[OrganisationSettingsService, Depends(get_service)]


@router.get("/settings")
async def read_settings(service: Service) -> dict[str, Any]:
    """The organisation's settings as they apply now; `defaults` names those it has not set,
    which take the environment's values. Admins and HR directors."""
    return (await service.read()).as_json()


@router.patch("/settings")
async def change_settings(
    service: Service,
    changes: Annotated[
        dict[str, Any],
        Body(
            examples=[{"holiday_region": "scotland", "foi_threshold": 10, "risk_weights": None}],
        ),
    ],
) -> dict[str, Any]:
    """Change some settings (a setting given as null goes back to the environment's value);
    admins only. All or nothing: each refused field is named in `errors`. A new
    holiday_region applies to cases opened from now on; running cases keep theirs."""
    return (await service.change(changes)).as_json()

"""The case bundle: one PDF of the case for a hearing panel, an appeal or a tribunal."""

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import CurrentUser, case_context, get_settings
from services.access import Principal
from services.case_bundle import CaseBundles

router = APIRouter(prefix="/api/cases", tags=["documents"])


def case_bundles(request: Request, principal: Principal) -> CaseBundles:
    return CaseBundles(case_context(request, principal), get_settings(request).documents_dir)


async def bundle_download(request: Request, principal: Principal, case_id: str) -> Response:
    """The bundle as a download a browser never renders in the page, kept in no cache."""
    bundle = await case_bundles(request, principal).produce(case_id)
    return Response(
        bundle.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'{case_id} bundle.pdf')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/{case_id}/bundle", response_class=Response)
async def case_bundle(case_id: str, request: Request, principal: CurrentUser) -> Response:
    return await bundle_download(request, principal, case_id)

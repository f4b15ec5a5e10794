"""POST /api/auth/forgot-password: a set-password link by mail, answered the same whether or not
an account has the address. The mail goes after the answer, so how long it takes tells nothing."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status

from api.deps import get_database, get_settings
from api.schemas_users import Answer, ForgotPasswordIn
from records.database import Database
from services.account_mail import send_link_mail
from services.password_reset import ANSWER, request_password_reset
from settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED)
async def forgot_password(
    request: Request,
    body: ForgotPasswordIn,
    background: BackgroundTasks,
    database: Annotated[Database, Depends(get_database)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Answer:
    """202 with the same sentence for any address; 429 (with Retry-After) when this client
    address has asked too often, as for sign-in."""
    address = request.client.host if request.client else None
    for mail in await request_password_reset(database, settings, body.email, address):
        background.add_task(send_link_mail, database, settings, mail)
    return Answer(detail=ANSWER)

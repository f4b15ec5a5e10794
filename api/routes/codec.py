"""A codec server for the Temporal UI: authorised people read sealed payloads in it.

Temporal's remote codec protocol: POST /api/codec/decode (and /encode) with
`{"payloads": [Payload as protobuf JSON, data and metadata base64]}` and the namespace in
`X-Namespace`; the answer has the same shape. The UI calls it from its own origin
(ERCASE_TEMPORAL_UI_ORIGIN, allowed by CORS, with credentials), signed in with the web
session cookie or an API bearer token. Admins and auditors only; every call is audited, and
a case's payloads open only for people who may see that case (services/access.py). A purged
case's key is gone, so its payloads answer 410.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.security.utils import get_authorization_scheme_param
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from pydantic import BaseModel
from temporalio.api.common.v1 import Payloads

from api.deps import get_current_user, get_database, get_settings
from api.web.session import SignInRequired, web_user
from codec import EncryptionCodec, sealed_case
from records.case_keys import KeyDestroyed
from services.access import Principal
from services.codec_access import decodable_cases

router = APIRouter(prefix="/api/codec", tags=["codec"])
CODEC_READERS = frozenset({"admin", "auditor"})


class PayloadsBody(BaseModel):
    payloads: list[dict[str, Any]]


async def codec_user(request: Request) -> Principal:
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() == "bearer" and token:
        principal = await get_current_user(request, token)
    else:
        try:
            principal = await web_user(request)
        except SignInRequired:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "Sign in to ercase to read sealed payloads."
            ) from None
    if not principal.has_any(CODEC_READERS):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Only an administrator or an auditor can read payloads."
        )
    return principal


def _cors(request: Request, response: Response) -> None:
    origin = request.headers.get("Origin")
    if origin and origin == get_settings(request).temporal_ui_origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"


@router.options("/{operation}", include_in_schema=False)
async def preflight(request: Request, operation: str) -> Response:
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _cors(request, response)
    if "Access-Control-Allow-Origin" in response.headers:
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = (
            "Content-Type, X-Namespace, Authorization"
        )
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _payloads(body: PayloadsBody) -> Payloads:
    try:
        return ParseDict({"payloads": body.payloads}, Payloads())
    except ParseError as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"payloads: not Temporal payloads ({error})"
        ) from None


async def _codec(request: Request, namespace: str | None) -> EncryptionCodec:
    if namespace is not None and namespace != get_settings(request).temporal_namespace:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"This codec serves no namespace '{namespace}'."
        )
    codec = (await request.app.state.temporal()).data_converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    return codec


@router.post("/decode")
async def decode(
    request: Request,
    response: Response,
    body: PayloadsBody,
    principal: Annotated[Principal, Depends(codec_user)],
    x_namespace: Annotated[str | None, Header()] = None,
) -> dict[str, list[dict[str, Any]]]:
    _cors(request, response)
    payloads = _payloads(body)
    codec = await _codec(request, x_namespace)
    cases = sorted({case for p in payloads.payloads if (case := sealed_case(p)) is not None})
    theirs = await decodable_cases(
        get_database(request),
        principal,
        cases,
        len(payloads.payloads),
        request.client.host if request.client else None,
    )
    if unknown := [case for case in cases if case not in theirs]:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"There is no case {unknown[0]} that you can see."
        )
    try:
        decoded = await codec.decode(payloads.payloads)
    except KeyDestroyed as destroyed:
        raise HTTPException(status.HTTP_410_GONE, str(destroyed).capitalize() + ".") from None
    return MessageToDict(Payloads(payloads=decoded))


@router.post("/encode")
async def encode(
    request: Request,
    response: Response,
    body: PayloadsBody,
    principal: Annotated[Principal, Depends(codec_user)],
    x_namespace: Annotated[str | None, Header()] = None,
) -> dict[str, list[dict[str, Any]]]:
    """Seal what someone types in the UI (e.g. a signal's input): with the master key."""
    _cors(request, response)
    codec = await _codec(request, x_namespace)
    encoded = await codec.encode(_payloads(body).payloads)
    return MessageToDict(Payloads(payloads=encoded))

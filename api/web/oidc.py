"""Single sign-on through OpenID Connect: the authorization-code flow with PKCE.

GET /sign-in/oidc sends the browser to the provider with a fresh state, nonce and PKCE
challenge, kept in a short-lived signed cookie; the provider sends it back to
/sign-in/oidc/callback, which exchanges the code (with the verifier), checks the ID token's
signature against the provider's JWKS, its `iss`, `aud`, `exp` and `nonce`, and signs in the
ercase user whose email or username the token names. Someone ercase does not know is refused
with a page saying so, unless ERCASE_OIDC_CREATE_USERS_IN names the organisation for them.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import get_database, get_settings
from api.security import ALGORITHM
from api.web.auth import sign_in_page
from api.web.errors import WebRoute
from api.web.nav import home_for
from api.web.session import new_session, write_session
from services.access import Principal, principal_of
from services.signin import accounts_matching
from settings import Settings

router = APIRouter(route_class=WebRoute, include_in_schema=False)
COOKIE = "ercase_oidc"
AUDIENCE = "ercase-oidc"
FLOW_LIFETIME = timedelta(minutes=10)
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "PS256"]
TIMEOUT = 10.0


class Refused(Exception):
    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.message, self.status = message, status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _redirect_url(settings: Settings) -> str:
    return settings.oidc_redirect_url or f"{settings.public_url}/sign-in/oidc/callback"


async def _discovery(settings: Settings) -> dict[str, Any]:
    assert settings.oidc_issuer is not None
    url = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        reply = await http.get(url)
    reply.raise_for_status()
    document: dict[str, Any] = reply.json()
    return document


@router.get("/sign-in/oidc")
async def start(request: Request) -> Response:
    settings = get_settings(request)
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return sign_in_page(request, "", error="Single sign-on is not set up here.", status=404)
    try:
        provider = await _discovery(settings)
    except httpx.HTTPError:
        return sign_in_page(
            request, "", error="The identity provider did not answer; try again.", status=503
        )
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": _redirect_url(settings),
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{provider['authorization_endpoint']}?{query}", status_code=303)
    flow = {
        "aud": AUDIENCE,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "exp": datetime.now(UTC) + FLOW_LIFETIME,
    }
    response.set_cookie(
        COOKIE,
        jwt.encode(flow, settings.secret_key, algorithm=ALGORITHM),
        max_age=int(FLOW_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: Lax carries it
        secure=not settings.dev,
        path="/sign-in/oidc",
    )
    return response


@router.get("/sign-in/oidc/callback")
async def callback(request: Request) -> Response:
    settings = get_settings(request)
    try:
        principal = await _signed_in(request, settings)
    except Refused as refused:
        response = sign_in_page(request, "", error=refused.message, status=refused.status)
    else:
        response = RedirectResponse(home_for(principal), status_code=303)
        write_session(
            response, settings, new_session(principal.username, principal.organisation_id)
        )
    response.delete_cookie(COOKIE, path="/sign-in/oidc")
    return response


async def _signed_in(request: Request, settings: Settings) -> Principal:
    if not settings.oidc_issuer or not settings.oidc_client_id:
        raise Refused("Single sign-on is not set up here.", 404)
    params = request.query_params
    if "error" in params:
        raise Refused(f"The identity provider refused the sign-in ({params['error']}).")
    try:
        flow = jwt.decode(
            request.cookies.get(COOKIE, ""),
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "state", "nonce", "verifier"]},
        )
    except jwt.PyJWTError:
        raise Refused("The sign-in took too long or was started elsewhere; start again.") from None
    if not hmac.compare_digest(str(params.get("state", "")), str(flow["state"])):
        raise Refused("The sign-in's state did not match; start again.")
    claims = await _id_token_claims(settings, str(params.get("code", "")), flow)
    return await _user_for(request, settings, claims)


async def _id_token_claims(settings: Settings, code: str, flow: dict[str, Any]) -> dict[str, Any]:
    try:
        provider = await _discovery(settings)
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            token_reply = await http.post(
                provider["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": _redirect_url(settings),
                    "client_id": settings.oidc_client_id,
                    "client_secret": settings.oidc_client_secret or "",
                    "code_verifier": flow["verifier"],
                },
            )
            jwks_reply = await http.get(provider["jwks_uri"])
    except httpx.HTTPError:
        raise Refused("The identity provider did not answer; try again.", 503) from None
    id_token = token_reply.json().get("id_token") if token_reply.status_code == 200 else None
    if not isinstance(id_token, str):
        raise Refused("The identity provider did not accept the sign-in; start again.")
    try:
        keys = jwt.PyJWKSet.from_dict(jwks_reply.json())
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next(k for k in keys.keys if kid is None or k.key_id == kid)
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=SIGNING_ALGORITHMS,
            audience=settings.oidc_client_id,
            issuer=settings.oidc_issuer,
            options={"require": ["iss", "aud", "exp", "sub", "nonce"]},
        )
    except (jwt.PyJWTError, StopIteration, ValueError):
        raise Refused(
            "The identity provider's token could not be trusted; nobody signed in."
        ) from None
    if not hmac.compare_digest(str(claims["nonce"]), str(flow["nonce"])):
        raise Refused("The identity provider's token was not for this sign-in; start again.")
    return claims


async def _user_for(request: Request, settings: Settings, claims: dict[str, Any]) -> Principal:
    email = claims.get("email") if claims.get("email_verified", True) else None
    username = claims.get("preferred_username")
    email = email if isinstance(email, str) and email else None
    username = username if isinstance(username, str) and username else None
    if email is None and username is None:
        raise Refused("The identity provider gave neither an email nor a username.", 403)
    users = await accounts_matching(
        get_database(request),
        email,
        username,
        settings.oidc_create_users_in,
        str(claims.get("name") or email),
    )
    if len(users) > 1:
        raise Refused("More than one ercase account matches you; ask an administrator.", 403)
    if not users:
        raise Refused(
            "You are signed in with your organisation, but ercase has no account for you. "
            "Ask an ercase administrator to add you.",
            403,
        )
    [user] = users
    if not user.active:
        raise Refused("Your ercase account is not active; ask an administrator.", 403)
    # Their home organisation; one of their other organisations is chosen in the page header.
    return principal_of(user)

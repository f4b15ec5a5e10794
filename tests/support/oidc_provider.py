"""A small OpenID Connect provider on loopback, for the single sign-on tests.

Discovery, /authorize (signs in `next_user` at once and sends the browser back with a code),
/token (checks the PKCE verifier, answers an RS256 ID token) and /jwks. `flaw` spoils the
next ID token the way an attacker or a broken provider would.
"""

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, HTTPException
from fastapi.responses import RedirectResponse
from jwt.algorithms import RSAAlgorithm

from tests.support.ports import free_port

CLIENT_ID = "ercase-test"
CLIENT_SECRET = "provider-secret"


@dataclass
class Grant:
    claims: dict[str, Any]
    challenge: str
    redirect_uri: str


@dataclass
class Provider:
    issuer: str = ""
    next_user: dict[str, Any] = field(default_factory=dict)
    flaw: str | None = None  # bad_signature | wrong_audience | expired | wrong_nonce
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    grants: dict[str, Grant] = field(default_factory=dict)

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300}
        claims |= grant.claims
        key = self.key
        if self.flaw == "bad_signature":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif self.flaw == "wrong_audience":
            claims["aud"] = "another-application"
        elif self.flaw == "expired":
            claims["exp"] = now - 3600
        elif self.flaw == "wrong_nonce":
            claims["nonce"] = "a-nonce-from-another-sign-in"
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key"})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/authorize")
        async def authorize(
            client_id: str,
            redirect_uri: str,
            state: str,
            nonce: str,
            code_challenge: str,
            code_challenge_method: str,
        ) -> RedirectResponse:
            assert client_id == CLIENT_ID and code_challenge_method == "S256"
            code = secrets.token_urlsafe(16)
            claims = {"sub": secrets.token_hex(8), "nonce": nonce, **self.next_user}
            self.grants[code] = Grant(claims, code_challenge, redirect_uri)
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

        @app.post("/token")
        async def token(
            code: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
            client_id: Annotated[str, Form()],
            client_secret: Annotated[str, Form()],
            redirect_uri: Annotated[str, Form()],
        ) -> dict[str, str]:
            grant = self.grants.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                grant is None
                or challenge != grant.challenge
                or (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET)
                or redirect_uri != grant.redirect_uri
            ):
                raise HTTPException(400, "invalid_grant")
            return {"id_token": self.id_token(grant), "token_type": "Bearer"}

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}

        return app


class RunningProvider:
    """The provider served by uvicorn in a thread on a free loopback port."""

    def __init__(self) -> None:
        port = free_port()
        self.provider = Provider(issuer=f"http://127.0.0.1:{port}")
        config = uvicorn.Config(
            self.provider.app(), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self.provider

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

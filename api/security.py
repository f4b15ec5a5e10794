"""Access tokens: signed JWTs naming the user and the organisation they work in with it
(`org`, its id), each with an id (jti) so it can be revoked."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    username: str
    jti: str
    expires_at: datetime
    # None in a token from before organisations were named: the person's home one.
    organisation_id: int | None = None
    # When it was issued (None if it does not say): a deactivation ends every earlier one.
    issued_at: datetime | None = None


def create_access_token(
    username: str, secret_key: str, minutes: int, organisation_id: int | None = None
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": username,
        # To the microsecond (RFC 7519 allows a fractional NumericDate): a deactivation and a
        # sign-in after the reactivation may fall in the same second.
        "iat": now.timestamp(),
        "exp": now + timedelta(minutes=minutes),
        "jti": secrets.token_hex(16),
    }
    if organisation_id is not None:
        claims["org"] = organisation_id
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def token_claims(token: str, secret_key: str) -> TokenClaims | None:
    """What a valid, unexpired token says; None for anything else (revocation is checked
    by the caller, against the database)."""
    try:
        claims = jwt.decode(
            token, secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "jti"]}
        )
    except jwt.PyJWTError:
        return None
    subject, jti, organisation = claims.get("sub"), claims.get("jti"), claims.get("org")
    if not isinstance(subject, str) or not isinstance(jti, str):
        return None
    if organisation is not None and (type(organisation) is not int):
        return None
    issued = claims.get("iat")
    issued_at = datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) else None
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    return TokenClaims(subject, jti, expires_at, organisation, issued_at)

"""Access tokens: signed JWTs naming the user; passwords are checked with argon2id."""

from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


def create_access_token(username: str, secret_key: str, minutes: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": username, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def username_from_token(token: str, secret_key: str) -> str | None:
    """The username a valid, unexpired token names; None for anything else."""
    try:
        claims = jwt.decode(
            token, secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None

"""Sign-in that an attacker cannot turn against its users (issue 22, point 14).

- Timing: an unknown username is checked against a dummy hash, so it is refused after the same
  password-hashing work as a real one (188 ms against 7 ms before).
- Lockout: five failures lock an account *from the address they came from*; a stranger's five
  wrong guesses no longer lock its owner out for 15 minutes.
- A guessing attack spread over many addresses: after ERCASE_SIGN_IN_ACCOUNT_LIMIT failures of
  one account in the window, only addresses it has signed in from before may try it.
- X-Forwarded-For is believed only from ERCASE_TRUSTED_PROXIES: a header rotated from loopback
  neither escapes the per-address rate limit nor writes a made-up address into the audit log.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from api.main import create_app
from cli import proxy_options
from records.database import Database
from records.models import AuditEntry
from services import signin
from tests.support.configuration import settings_for
from tests.support.people import add_people
from tests.support.stack import ApiStack, client_at, serving


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/token", data={"username": username, "password": password})


async def test_an_unknown_username_costs_the_same_password_check_as_a_real_one(
    api_stack: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Count the password checks rather than time them: the work is the argon2 verification.
    checked: list[str] = []
    real_verify = signin.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(signin, "verify_password", counting_verify)
    for username in ("alice", "nobody-at-all"):
        assert (await sign_in(api_stack.http, username, "wrong")).status_code == 401
    assert len(checked) == 2
    assert all(hashed.startswith("$argon2") for hashed in checked)


async def test_a_strangers_failures_lock_only_the_strangers_address(api_stack: ApiStack) -> None:
    async with api_stack.client_at("203.0.113.9") as stranger:
        for _ in range(5):
            assert (await sign_in(stranger, "bob", "guess")).status_code == 401
        locked = await sign_in(stranger, "bob", "demo")
        assert locked.status_code == 423 and "locked after 5" in locked.json()["detail"]
    # bob, at his own desk, signs in at once.
    async with api_stack.client_at("192.0.2.20") as bobs_desk:
        assert (await sign_in(bobs_desk, "bob", "demo")).status_code == 200


async def test_an_account_attacked_from_many_addresses_admits_only_known_addresses(
    sqlite_database: Database,
) -> None:
    await add_people(sqlite_database)
    app = create_app(settings_for(sqlite_database, sign_in_account_limit=6))
    async with LifespanManager(app):
        async with client_at(app, "192.0.2.20") as alices_desk:
            assert (await sign_in(alices_desk, "alice", "demo")).status_code == 200
        # Six addresses, one wrong guess each: none is locked, but the account is under attack.
        for number in range(6):
            async with client_at(app, f"198.51.100.{number}") as attacker:
                assert (await sign_in(attacker, "alice", "guess")).status_code == 401
        async with client_at(app, "198.51.100.77") as new_attacker:
            refused = await sign_in(new_attacker, "alice", "demo")
            assert refused.status_code == 429
            assert "device you have used before" in refused.json()["detail"]
            assert int(refused.headers["retry-after"]) > 0
        async with client_at(app, "192.0.2.20") as alices_desk:
            assert (await sign_in(alices_desk, "alice", "demo")).status_code == 200


@asynccontextmanager
async def served(database: Database, trusted_proxies: str) -> AsyncIterator[str]:
    """The API under a real uvicorn with the options `ercase api` passes it."""
    settings = settings_for(database, sign_in_rate_limit=3, trusted_proxies=trusted_proxies)
    app = create_app(settings)
    async with serving(app, log_level="warning", **proxy_options(settings)) as base:
        yield base


async def failed_addresses(database: Database) -> list[str | None]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth.sign_in_failed")
        )
        return [row.client_address for row in rows]


async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    sqlite_database: Database,
) -> None:
    await add_people(sqlite_database)
    async with (
        served(sqlite_database, trusted_proxies="") as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        for number in range(3):
            forged = {"X-Forwarded-For": f"10.9.9.{number}"}
            reply = await client.post(
                "/api/auth/token", data={"username": "x", "password": "y"}, headers=forged
            )
            assert reply.status_code == 401
        forged = {"X-Forwarded-For": "10.9.9.200"}
        reply = await client.post(
            "/api/auth/token", data={"username": "alice", "password": "demo"}, headers=forged
        )
        assert reply.status_code == 429  # the connection's address, whatever the header says
    assert await failed_addresses(sqlite_database) == ["127.0.0.1"] * 3

    async with (
        served(sqlite_database, trusted_proxies="127.0.0.1") as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        behind_proxy = {"X-Forwarded-For": "10.1.2.3"}
        reply = await client.post(
            "/api/auth/token", data={"username": "x", "password": "y"}, headers=behind_proxy
        )
        assert reply.status_code == 401
    assert (await failed_addresses(sqlite_database))[-1] == "10.1.2.3"

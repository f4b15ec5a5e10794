"""Single sign-on through OpenID Connect, against a small provider on loopback.

The browser's part is played by two httpx clients: one on the ercase app (keeping its cookies),
one following the provider's redirect back, as a browser would.
"""

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from records.models import User
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, RunningProvider
from tests.support.stack import ApiStack

SITE = "https://ercase.test"


@pytest.fixture
def provider(api_stack: ApiStack) -> Iterator[Provider]:
    with RunningProvider() as running:
        settings = api_stack.settings
        settings.oidc_issuer = running.issuer
        settings.oidc_client_id, settings.oidc_client_secret = CLIENT_ID, CLIENT_SECRET
        settings.oidc_redirect_url = f"{SITE}/sign-in/oidc/callback"
        yield running


async def sign_in(api_stack: ApiStack, state: str | None = None) -> httpx.Response:
    started = await api_stack.http.get(f"{SITE}/sign-in/oidc")
    assert started.status_code == 303, started.text
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(started.headers["location"])
    back = at_provider.headers["location"]
    if state is not None:
        back = back.replace(query["state"][0], state)
    return await api_stack.http.get(back)


def signed_in(reply: httpx.Response) -> bool:
    return reply.status_code == 303 and "ercase_session" in reply.headers.get("set-cookie", "")


async def test_known_people_sign_in_by_email_or_username(
    api_stack: ApiStack, provider: Provider
) -> None:
    provider.next_user = {"email": "alice@north.example", "preferred_username": "a.advisor"}
    reply = await sign_in(api_stack)
    assert signed_in(reply), reply.text
    assert reply.headers["location"] == "/cases"
    cases = await api_stack.http.get(f"{SITE}/cases")
    assert cases.status_code == 200 and "alice" in cases.text.lower()

    provider.next_user = {"preferred_username": "mark"}
    assert signed_in(await sign_in(api_stack))


async def test_unknown_people_are_refused_unless_a_setting_creates_them(
    api_stack: ApiStack, provider: Provider
) -> None:
    provider.next_user = {"email": "nina@north.example", "name": "Nina New"}
    reply = await sign_in(api_stack)
    assert reply.status_code == 403
    assert "ercase has no account for you" in reply.text
    async with api_stack.database.sessions() as session:
        assert await session.scalar(select(User).where(User.email == "nina@north.example")) is None

    api_stack.settings.oidc_create_users_in = "RXA"
    assert signed_in(await sign_in(api_stack))
    async with api_stack.database.sessions() as session:
        nina = await session.scalar(select(User).where(User.email == "nina@north.example"))
    assert nina is not None and (nina.full_name, nina.roles) == ("Nina New", [])


@pytest.mark.parametrize(
    ("flaw", "message"),
    [
        ("bad_signature", "could not be trusted"),
        ("wrong_audience", "could not be trusted"),
        ("expired", "could not be trusted"),
        ("wrong_nonce", "was not for this sign-in"),
    ],
)
async def test_untrustworthy_tokens_sign_nobody_in(
    api_stack: ApiStack, provider: Provider, flaw: str, message: str
) -> None:
    provider.next_user = {"email": "alice@north.example"}
    provider.flaw = flaw
    reply = await sign_in(api_stack)
    assert reply.status_code == 401
    assert message in reply.text
    assert not signed_in(reply)


async def test_a_callback_with_another_state_is_refused(
    api_stack: ApiStack, provider: Provider
) -> None:
    provider.next_user = {"email": "alice@north.example"}
    reply = await sign_in(api_stack, state="forged-state")
    assert reply.status_code == 401
    assert "state did not match" in reply.text

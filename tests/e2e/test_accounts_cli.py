"""`ercase organisations` and `ercase users`: the first administrator of a fresh install,
on SQLite and PostgreSQL. Every refusal is one sentence, a non-zero exit, and changes nothing
(each table the commands touch is compared before and after)."""

import asyncio
import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import create_engine, select, text, update

import cli
from api.main import create_app
from records.database import Database, sync_url
from records.migrate import upgrade
from records.models import SetPasswordLink, User, utcnow
from records.passwords import verify_password
from services.errors import NotFound
from services.organisations import add_organisation
from services.user_admin import NewAccount, UserAdmin
from settings import get_settings
from tests.support.configuration import make_settings
from tests.support.keys import TEST_PAYLOAD_KEY

TABLES = ("organisations", "users", "set_password_links", "audit_log")
ERCASE = Path(sys.executable).parent / "ercase"
PUBLIC_URL = "https://er.example.nhs.uk"


@dataclass
class Ran:
    code: int
    out: str
    err: str


class Ercase:
    """`ercase ...` in this process (quick), with this test's database and keys."""

    def __init__(self, url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any):
        self.url, self.monkeypatch, self.capsys = url, monkeypatch, capsys
        for name, value in environment(url).items():
            monkeypatch.setenv(name, value)

    def __call__(self, *args: str, stdin: str = "") -> Ran:
        get_settings.cache_clear()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        code: int | str | None = 0
        try:
            cli.main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        finally:
            get_settings.cache_clear()
        captured = self.capsys.readouterr()
        if isinstance(code, str):  # SystemExit("sentence") prints it and exits 1
            return Ran(1, captured.out, code)
        return Ran(code or 0, captured.out, captured.err)

    def refused(self, *args: str, stdin: str = "", saying: str) -> None:
        """Refused in one sentence naming the problem, and the database exactly as before."""
        before = snapshot(self.url)
        ran = self(*args, stdin=stdin)
        assert ran.code != 0, ran
        assert saying in ran.err, ran.err
        assert len(ran.err.strip().splitlines()) == 1 and "Traceback" not in ran.err, ran.err
        assert snapshot(self.url) == before


def environment(url: str) -> dict[str, str]:
    return {
        "ERCASE_DATABASE_URL": url,
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": "test-secret-key-of-enough-length-for-hs256",
        "ERCASE_PUBLIC_URL": PUBLIC_URL,
        "ERCASE_DEV": "false",
    }


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return {
                table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
                for table in TABLES
            }
    finally:
        engine.dispose()


def unused_links(url: str, username: str) -> int:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            query = text(
                "SELECT count(*) FROM set_password_links JOIN users ON users.id = user_id "
                "WHERE username = :username AND used_at IS NULL"
            )
            return int(connection.execute(query, {"username": username}).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def ercase(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Iterator[Ercase]:
    command = Ercase(database_url, monkeypatch, capsys)
    assert command("migrate").code == 0
    assert command("organisations", "add", "RXX", "East Example NHS Trust").code == 0
    yield command


def test_organisations_add_and_list(ercase: Ercase) -> None:
    added = ercase("organisations", "add", "S08", "NHS Example Scotland", "--holidays", "scotland")
    assert added.code == 0 and "S08 (NHS Example Scotland, scotland bank holidays)" in added.out
    listed = ercase("organisations", "list")
    assert listed.out.splitlines() == [
        "RXX\tEast Example NHS Trust\tengland-and-wales",
        "S08\tNHS Example Scotland\tscotland",
    ]
    ercase.refused("organisations", "add", "RXX", "Again", saying="already exists")
    ercase.refused(
        "organisations", "add", "RYY", "Y", "--holidays", "wales", saying="bank-holiday region"
    )
    ercase.refused("organisations", "add", "R X", "Spaced", saying="not an organisation code")
    ercase.refused("organisations", "add", "RYY", " ", saying="name must be")


def test_users_add_with_a_password_and_every_refusal(ercase: Ercase) -> None:
    ran = ercase(
        "users", "add", "root", "--organisation", "RXX", "--role", "admin", "--role", "auditor",
        "--name", "Ann Admin", "--email", "ann@example.nhs.uk", "--password-stdin",
        stdin="three random words here\n",
    )  # fmt: skip
    assert ran.code == 0 and "added root to RXX (admin, auditor)" in ran.out, ran
    assert "set-password" not in ran.out
    base = ["users", "add", "bob", "--name", "Bob Bell", "--email", "bob@example.nhs.uk"]
    role = ["--organisation", "RXX", "--role", "advisor"]
    ercase.refused(*base, "--organisation", "RZZ", "--role", "advisor", saying="no organisation")
    ercase.refused("users", "add", "root", *role, "--name", "A", "--email", "a@b.uk",
                   saying="already taken")  # fmt: skip
    ercase.refused(*base, "--organisation", "RXX", "--role", "boss", saying="Unknown role 'boss'")
    for weak, why in [
        ("short one\n", "too short"),
        ("password1234\n", "most common"),
        ("Password2026!\n", "most common"),
        ("Qwertyuiop!!\n", "most common"),
        ("aaaaaaaaaaaaaaaa\n", "most common"),
        ("bob@example.nhs.uk\n", "username or email"),
    ]:
        ercase.refused(*base, *role, "--password-stdin", stdin=weak, saying=why)
    ercase.refused("users", "add", "bob", *role, "--name", "Bob", "--email", "not-an-address",
                   saying="not an email address")  # fmt: skip
    ercase.refused("users", "add", "bad name", *role, "--name", "B", "--email", "b@b.uk",
                   saying="not allowed")  # fmt: skip


def test_users_add_without_a_password_prints_a_single_use_link(ercase: Ercase) -> None:
    ran = ercase(
        "users", "add", "alex", "--organisation", "RXX", "--role", "advisor",
        "--name", "Alex Advisor", "--email", "alex@example.nhs.uk",
    )  # fmt: skip
    assert ran.code == 0, ran
    link = ran.out.strip().splitlines()[-1]
    assert link.startswith(f"{PUBLIC_URL}/set-password/")
    token = link.rsplit("/", 1)[1]
    state = snapshot(ercase.url)
    # Only the token's hash is kept, and no password works until the person sets one.
    assert token not in repr(state["set_password_links"])

    async def redeem() -> None:
        database = Database(ercase.url)
        admin = UserAdmin(database, PUBLIC_URL)
        try:
            async with database.sessions() as session:
                user = await session.scalar(select(User).where(User.username == "alex"))
                assert user is not None
                assert not verify_password(user.password_hash, "")
            with pytest.raises(NotFound):
                await admin.set_password_from_link("not-the-token", "a long passphrase here")
            assert await admin.set_password_from_link(token, "a long passphrase here") == "alex"
            with pytest.raises(NotFound):  # single use
                await admin.set_password_from_link(token, "another long passphrase")
            async with database.sessions() as session:
                user = await session.scalar(select(User).where(User.username == "alex"))
                assert user is not None
                assert verify_password(user.password_hash, "a long passphrase here")
        finally:
            await database.dispose()

    asyncio.run(redeem())


def test_a_set_password_link_expires(ercase: Ercase) -> None:
    ran = ercase(
        "users", "add", "late", "--organisation", "RXX", "--role", "manager",
        "--name", "Lee Late", "--email", "lee@example.nhs.uk",
    )  # fmt: skip
    token = ran.out.strip().rsplit("/", 1)[1]

    async def redeem_after_expiry() -> None:
        database = Database(ercase.url)
        try:
            async with database.transaction() as session:
                await session.execute(
                    update(SetPasswordLink).values(expires_at=utcnow() - timedelta(seconds=1))
                )
            with pytest.raises(NotFound, match="expired"):
                await UserAdmin(database, PUBLIC_URL).set_password_from_link(
                    token, "a long passphrase here"
                )
        finally:
            await database.dispose()

    asyncio.run(redeem_after_expiry())


def test_users_list_set_password_and_deactivate(ercase: Ercase) -> None:
    for username in ("zoe", "adam"):
        ran = ercase(
            "users", "add", username, "--organisation", "RXX", "--role", "advisor",
            "--name", username.title(), "--email", f"{username}@example.nhs.uk",
        )  # fmt: skip
        assert ran.code == 0, ran
    assert ercase("users", "list", "--organisation", "RXX").out.splitlines() == [
        "adam\tAdam\tadam@example.nhs.uk\tadvisor\tactive",
        "zoe\tZoe\tzoe@example.nhs.uk\tadvisor\tactive",
    ]
    ercase.refused("users", "list", "--organisation", "RZZ", saying="no organisation")

    ran = ercase("users", "set-password", "zoe", "--password-stdin", stdin="zoe's own phrase\n")
    assert ran.code == 0 and "password set for zoe" in ran.out
    # Setting a password ends the link she was sent.
    assert unused_links(ercase.url, "zoe") == 0 and unused_links(ercase.url, "adam") == 1
    ercase.refused("users", "set-password", "zoe", "--password-stdin", stdin="123456789012\n",
                   saying="most common")  # fmt: skip
    ercase.refused("users", "set-password", "nobody", "--password-stdin",
                   stdin="a long passphrase here\n", saying="no account")  # fmt: skip

    ran = ercase("users", "deactivate", "adam")
    assert ran.code == 0 and "deactivated adam" in ran.out
    assert unused_links(ercase.url, "adam") == 0
    assert (
        "adam\tAdam\tadam@example.nhs.uk\tadvisor\tdeactivated"
        in ercase("users", "list", "--organisation", "RXX").out
    )
    before = snapshot(ercase.url)
    again = ercase("users", "deactivate", "adam")
    assert again.code == 0 and "already deactivated" in again.out
    assert snapshot(ercase.url) == before
    ercase.refused("users", "deactivate", "nobody", saying="no account")


def test_account_commands_refuse_a_database_not_migrated(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    ercase = Ercase(database_url, monkeypatch, capsys)
    ran = ercase("users", "list", "--organisation", "RXX")
    assert ran.code == 1 and "run `ercase migrate` first" in ran.err, ran


async def test_the_first_admin_signs_in_and_deactivation_refuses_them_at_once(
    database_url: str,
) -> None:
    """`ercase users` through the console script itself; then the API and the pages."""
    env = {**environment(database_url), "PATH": str(ERCASE.parent)}

    def ercase(*args: str, stdin: str = "") -> str:
        ran = subprocess.run(
            [str(ERCASE), *args], input=stdin, capture_output=True, text=True, env=env,
            timeout=60, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    await asyncio.to_thread(upgrade, database_url)
    database = Database(database_url)
    try:
        await add_organisation(database, "RXX", "East Example NHS Trust")
    finally:
        await database.dispose()
    await asyncio.to_thread(
        ercase,
        "users", "add", "root", "--organisation", "RXX", "--role", "admin",
        "--name", "Ann Admin", "--email", "ann@example.nhs.uk", "--password-stdin",
        stdin="three random words here\n",
    )  # fmt: skip
    app = create_app(make_settings(database_url))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        reply = await http.post(
            "/api/auth/token", data={"username": "root", "password": "three random words here"}
        )
        assert reply.status_code == 200, reply.text
        bearer = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        assert (await http.get("/api/me", headers=bearer)).status_code == 200
        page = await http.get("/sign-in")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        cookie = {"Cookie": f"ercase_session={page.cookies['ercase_session']}"}
        signed_in = await http.post(
            "/sign-in",
            headers=cookie,
            data={"username": "root", "password": "three random words here", "csrf_token": csrf},
        )
        assert signed_in.status_code == 303, signed_in.text
        session = {"Cookie": f"ercase_session={signed_in.cookies['ercase_session']}"}
        assert (await http.get("/policies", headers=session)).status_code == 200

        await asyncio.to_thread(ercase, "users", "deactivate", "root")

        assert (await http.get("/api/me", headers=bearer)).status_code == 401
        refused = await http.get("/policies", headers=session)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/sign-in")


async def test_the_link_opens_a_page_where_the_person_sets_their_password(
    database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    database = Database(database_url)
    try:
        await add_organisation(database, "RXX", "East Example NHS Trust")
        added = await UserAdmin(database, PUBLIC_URL).add(
            NewAccount("alex", "RXX", ("advisor",), "Alex Advisor", "alex@example.nhs.uk")
        )
    finally:
        await database.dispose()
    assert added.set_password_link is not None
    path = added.set_password_link.removeprefix(PUBLIC_URL)
    app = create_app(make_settings(database_url))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        page = await http.get(path)
        assert page.status_code == 200 and "alex" in page.text
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        cookie = {"Cookie": f"ercase_session={page.cookies['ercase_session']}"}

        async def post(password: str, confirm: str) -> httpx.Response:
            form = {"password": password, "confirm": confirm, "csrf_token": csrf}
            return await http.post(path, headers=cookie, data=form)

        assert (await http.post(path, data={"password": "x", "confirm": "x"})).status_code == 403
        mismatch = await post("a long passphrase here", "a long passphrase there")
        assert mismatch.status_code == 422 and "not the same" in mismatch.text
        weak = await post("letmein12345", "letmein12345")
        assert weak.status_code == 422 and "most common" in weak.text
        done = await post("a long passphrase here", "a long passphrase here")
        assert done.status_code == 200 and "is set" in done.text
        signed_in = await http.post(
            "/api/auth/token", data={"username": "alex", "password": "a long passphrase here"}
        )
        assert signed_in.status_code == 200
        # Used once, the link opens nothing.
        assert (await http.get(path)).status_code == 404
        assert (await post("another long phrase", "another long phrase")).status_code == 404

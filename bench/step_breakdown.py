"""Where a step's and an opening's milliseconds go: bench.step_latency, with the parts timed.

Wraps the functions a step and an opening pass through (the access check, the engine round
trip, the recording activity, the opening's transactions and start) with a wall clock, runs
bench.step_latency as it is, then prints the p50 of each part beside its figures. Wall time,
not CPU: at ten openings at a time a part's time includes waiting for the shared process.

    .venv/bin/python -m bench.step_breakdown [--steps 300] [--opens 300]
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/an_empty_database
"""

import argparse
import asyncio
import functools
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

from activities.recording import RecordingActivities
from activities.types import CaseEventRecord
from bench import step_latency
from services.case_context import CaseContext
from services.case_opening import CaseOpening
from services.case_steps import CaseSteps

PARTS: list[tuple[type, str, str]] = [
    (CaseSteps, "_step", "step: the service, access check to audit"),
    (CaseContext, "visible", "step: one access check (twice a step)"),
    (CaseSteps, "_execute", "step: the engine round trip (update, activity, reply)"),
    (CaseOpening, "_open_together", "opening: the service, checks to audit"),
    (CaseOpening, "_check_and_number", "opening: checks, reference and key transaction"),
    (CaseOpening, "_start_all", "opening: start_workflow"),
]


RECORDING_OPENING = "opening: the recording activity's transaction"
RECORDING_STEP = "step: the recording activity's transaction"


def timing(
    original: Callable[..., Coroutine[Any, Any, Any]], into: Callable[..., list[float]]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """`original`, adding its wall time in ms to the list `into(*its arguments)` names."""

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            into(*args, **kwargs).append((time.perf_counter() - started) * 1000)

    return timed


def main(steps: int, opens: int, database_url: str) -> None:
    times: dict[str, list[float]] = defaultdict(list)
    for owner, name, label in PARTS:
        setattr(
            owner, name, timing(getattr(owner, name), lambda *_, label=label, **__: times[label])
        )

    def recording(_: RecordingActivities, record: CaseEventRecord) -> list[float]:
        return times[RECORDING_OPENING if record.kind == "opened" else RECORDING_STEP]

    RecordingActivities._record = timing(RecordingActivities._record, recording)  # type: ignore[method-assign]
    asyncio.run(step_latency.main(steps, opens, 1, 5.0, database_url))
    print("parts, wall time")
    for label in [*(label for _, _, label in PARTS), RECORDING_STEP, RECORDING_OPENING]:
        if measured := times[label]:
            print(f"    {label}: n={len(measured)}, p50 {statistics.median(measured):.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--opens", type=int, default=300)
    parser.add_argument("--database-url", required=True)
    arguments = parser.parse_args()
    main(arguments.steps, arguments.opens, arguments.database_url)

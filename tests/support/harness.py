"""A disciplinary case in the time-skipping server with its real activities: a real database
(SQLite) and a real SMTP server receive what it records and sends. Shared by workflow tests."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.types import CaseSnapshot
from policies.calendar import DEFAULT_REGION
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition
from records.database import Database
from records.models import CaseEvent
from tests.support.configuration import make_settings
from tests.support.database import insert_case_row
from tests.support.people import add_people
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually
from worker import build_worker
from workflows import WORKFLOW_FOR_CASE_TYPE
from workflows.types import CaseInput

POLICY = shipped_policies()["disciplinary"]


class Harness:
    def __init__(
        self, env: WorkflowEnvironment, db: Database, smtp: SmtpServer, org_id: int, task_queue: str
    ):
        self.env, self.db, self.smtp = env, db, smtp
        self.org_id, self.task_queue = org_id, task_queue

    async def open_case(
        self,
        policy: PolicyDefinition = POLICY,
        *,
        opened_at: datetime | None = None,
        holiday_region: str = DEFAULT_REGION,
    ) -> tuple[WorkflowHandle[Any, CaseSnapshot], datetime]:
        """Open a case of the policy's type (disciplinary unless told), its row first; now,
        unless `opened_at` says when (a later instant: its clocks start from there)."""
        case_id = f"{policy.reference_prefix}-T-{uuid.uuid4().hex[:6]}"
        opened_at = opened_at or await self.env.get_current_time()
        await insert_case_row(self.db, case_id, self.org_id, opened_at, policy)
        handle = await self.env.client.start_workflow(
            WORKFLOW_FOR_CASE_TYPE[policy.case_type],  # started by name, as the API does
            CaseInput(
                case_id,
                self.org_id,
                policy,
                1,
                opened_at,
                "alice",
                "routine",
                holiday_region=holiday_region,
            ),
            id=f"case-{case_id}",
            task_queue=self.task_queue,
            result_type=CaseSnapshot,
            execution_timeout=timedelta(days=800),
        )
        self.case_id = case_id

        async def opened_is_recorded() -> bool:
            return [event.kind for event in await self.events()] == ["opened"]

        await eventually(opened_is_recorded, 10)
        return handle, opened_at

    async def events(self, kind: str | None = None) -> list[CaseEvent]:
        async with self.db.sessions() as session:
            query = select(CaseEvent).where(CaseEvent.case_id == self.case_id)
            if kind:
                query = query.where(CaseEvent.kind == kind)
            return list(await session.scalars(query.order_by(CaseEvent.seq)))

    def mail_to(self, event: str) -> list[str]:
        """Every recipient of the messages received for this case and event kind (one each)."""
        return sorted(
            recipient
            for recipients, message in self.smtp.messages
            if message["X-Ercase-Case"] == self.case_id and message["X-Ercase-Event"] == event
            for recipient in recipients
        )


@asynccontextmanager
async def running_harness(
    time_skipping_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[Harness]:
    """The test people in the database and a worker with the real activities on its own queue."""
    people = await add_people(sqlite_database)
    settings = make_settings("sqlite://", smtp_port=smtp_server.port)
    task_queue = f"test-{uuid.uuid4()}"
    worker = build_worker(
        time_skipping_env.client,
        sqlite_database,
        settings,
        task_queue,
        workflow_failure_exception_types=[Exception],  # a bug fails the test, not retries
    )
    harness = Harness(
        time_skipping_env, sqlite_database, smtp_server, people.organisation.id, task_queue
    )
    async with worker:
        yield harness


# The structured Just Culture record every formal disciplinary route asks for.
JUST_CULTURE = {
    "jc_deliberate_harm": "No",
    "jc_health": "No",
    "jc_foresight": "Yes",
    "jc_substitution": "No",
    "jc_mitigation": "Short-staffed ward that week",
}


def at_instants(actual: list[datetime], expected: list[datetime]) -> bool:
    """Timers fire at their instant give or take the server's few milliseconds."""
    return len(actual) == len(expected) and all(
        abs(got - want) < timedelta(seconds=1) for got, want in zip(actual, expected, strict=True)
    )

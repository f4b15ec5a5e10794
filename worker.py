"""The Temporal worker: runs the case workflows and their activities."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.attendance import AttendanceActivities
from activities.linking import LinkingActivities
from activities.mail import NotificationActivities
from activities.recording import RecordingActivities
from activities.reports import ReportActivities
from activities.retention import RetentionActivities
from policies.calendar import LONDON
from records.database import Database
from records.migrate import upgrade
from schedules import ensure_schedules
from services.retention import reapply_shreds
from settings import Settings, get_settings
from temporal_client import case_keys_of, connect, with_case_keys
from workflows.attendance import AttendanceMonitor
from workflows.cases import WORKFLOWS
from workflows.digests import DailyDigest, WeeklyReport
from workflows.retention import RetentionPurge


def build_worker(
    client: Client, database: Database, settings: Settings, task_queue: str, **options: Any
) -> Worker:
    recording = RecordingActivities(database)
    linking = LinkingActivities(database)
    notifications = NotificationActivities(database, settings)
    reports = ReportActivities(database, settings)
    retention = RetentionActivities(database, settings)
    attendance = AttendanceActivities(database)
    return Worker(
        client if case_keys_of(client) is not None else with_case_keys(client, settings, database),
        task_queue=task_queue,
        workflows=[*WORKFLOWS, DailyDigest, WeeklyReport, RetentionPurge, AttendanceMonitor],
        activities=[
            recording.record_case_event,
            linking.open_linked_case,
            notifications.send_case_notification,
            notifications.mark_mail_undelivered,
            reports.list_digest_recipients,
            reports.send_digest,
            reports.list_report_organisations,
            reports.send_weekly_report,
            retention.purge_expired_cases,
            attendance.open_attendance_case,
            attendance.find_open_sickness_case,
        ],
        **options,
    )


Result = TypeVar("Result")


async def when_reachable(
    what: str, attempt: Callable[[], Awaitable[Result]], patience: float
) -> Result:
    """Retry `attempt` while the database or Temporal is not answering, for `patience` seconds.

    A worker restarted while PostgreSQL or the Temporal server is itself restarting must wait
    for them, not exit: the chaos run found a worker that died that way, leaving every case's
    clock stopped until someone noticed.
    """
    give_up_at = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return await attempt()
        except (OperationalError, RPCError, RuntimeError) as error:
            if time.monotonic() + delay > give_up_at:
                raise
            logging.warning("%s is not answering yet (%s); trying again", what, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def run_worker(settings: Settings) -> None:
    patience = settings.startup_patience_seconds
    await when_reachable(
        "the database", lambda: asyncio.to_thread(upgrade, settings.database_url), patience
    )
    database = Database(settings.database_url)
    client = await when_reachable("Temporal", lambda: connect(settings, database), patience)

    async def engine() -> Client:
        return client

    # Purged cases that a restored database backup brought back are purged again first.
    await when_reachable(
        "the database",
        lambda: reapply_shreds(
            database, settings.documents_dir, settings.shred_ledger, engine, datetime.now(UTC)
        ),
        patience,
    )
    await when_reachable(
        "Temporal",
        lambda: ensure_schedules(client, settings.task_queue, datetime.now(LONDON).date()),
        patience,
    )
    logging.info("worker polling %s at %s", settings.task_queue, settings.temporal_address)
    try:
        await build_worker(
            client,
            database,
            settings,
            settings.task_queue,
            max_cached_workflows=settings.worker_cached_workflows,
            max_concurrent_workflow_tasks=settings.worker_workflow_tasks,
        ).run()
    finally:
        await database.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run_worker(get_settings()))

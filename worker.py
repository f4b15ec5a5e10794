"""The Temporal worker: runs the case workflows and their activities."""

import asyncio
import logging
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.mail import NotificationActivities
from activities.recording import RecordingActivities
from records.database import Database
from records.migrate import upgrade
from settings import Settings, get_settings
from temporal_client import connect
from workflows.disciplinary import DisciplinaryCase

WORKFLOWS = [DisciplinaryCase]


def build_worker(
    client: Client, database: Database, settings: Settings, task_queue: str, **options: Any
) -> Worker:
    recording = RecordingActivities(database)
    notifications = NotificationActivities(database, settings)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[recording.record_case_event, notifications.send_case_notification],
        **options,
    )


async def run_worker(settings: Settings) -> None:
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    client = await connect(settings)
    logging.info("worker polling %s at %s", settings.task_queue, settings.temporal_address)
    try:
        await build_worker(client, database, settings, settings.task_queue).run()
    finally:
        await database.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run_worker(get_settings()))

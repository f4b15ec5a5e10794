"""Is a worker serving the task queue? Asked before work that would otherwise wait for ever
on one (the demo seed takes steps, which are Temporal Updates a worker must run)."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

# A polling worker renews its long poll at least once a minute; a poller not seen for longer
# than this has stopped (the server keeps listing it for a few minutes after).
POLLER_FRESHNESS = timedelta(seconds=90)


async def worker_polling(client: Client, task_queue: str) -> bool:
    reply = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    seen_since = datetime.now(UTC) - POLLER_FRESHNESS
    return any(
        poller.last_access_time.ToDatetime(tzinfo=UTC) > seen_since for poller in reply.pollers
    )


async def wait_for_worker(client: Client, task_queue: str, patience: float) -> bool:
    """True once a worker polls `task_queue`; False if none has within `patience` seconds."""
    give_up_at = time.monotonic() + patience
    while not await worker_polling(client, task_queue):
        if time.monotonic() >= give_up_at:
            return False
        await asyncio.sleep(0.5)
    return True

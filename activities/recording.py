"""Writing each change of a case's process state to the read model, idempotently.

What is written is records/projection.py's; this activity waits for a row not there yet.
"""

import asyncio
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import RECORD_CASE_EVENT, CaseEventRecord
from records.database import Database
from records.projection import NoRowYet, record_event

# The API starts a case's workflow before it commits the case's row (services/case_opening.py),
# so the first event can arrive a moment before the row: wait for it here, briefly, rather
# than fail the attempt and wait for Temporal's first retry (a second later).
ROW_WAIT_SECONDS = 5.0
ROW_POLL_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2)


class RecordingActivities:
    def __init__(self, database: Database):
        self._database = database

    @activity.defn(name=RECORD_CASE_EVENT)
    async def record_case_event(self, record: CaseEventRecord) -> bool:
        """Store the event and move the case's projection on; False if it was already stored."""
        give_up_at = time.monotonic() + ROW_WAIT_SECONDS
        attempt = 0
        while True:
            try:
                return await self._record(record)
            except NoRowYet:
                pause = ROW_POLL_SECONDS[min(attempt, len(ROW_POLL_SECONDS) - 1)]
                if time.monotonic() + pause > give_up_at:
                    # Temporal retries with backoff. A row whose opening failed never comes;
                    # the API then terminates the workflow.
                    raise ApplicationError(
                        f"case {record.case_id} is not in the database yet"
                    ) from None
                attempt += 1
                await asyncio.sleep(pause)

    async def _record(self, record: CaseEventRecord) -> bool:
        return await record_event(self._database, record)

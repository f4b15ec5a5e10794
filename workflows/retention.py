"""The daily retention purge, started by a Temporal Schedule (see schedules.py).

The work is in activities/retention.py; this only gives it the run's instant and retries it.
"""

from datetime import datetime, timedelta

from temporalio import workflow

PURGE_EXPIRED_CASES = "purge_expired_cases"
PURGE_TIMEOUT = timedelta(minutes=30)


@workflow.defn
class RetentionPurge:
    @workflow.run
    async def run(self) -> int:
        """How many cases were purged."""
        as_of: datetime = workflow.now()
        purged: int = await workflow.execute_activity(
            PURGE_EXPIRED_CASES, as_of, start_to_close_timeout=PURGE_TIMEOUT, result_type=int
        )
        return purged

"""The retention purge as an activity: each case purged in its own transaction, so a retry
after a crash carries on where it stopped (purged cases are not due any more)."""

from datetime import datetime

from temporalio import activity
from temporalio.client import Client

from records.database import Database
from services.retention import purge_expired_cases
from settings import Settings
from workflows.retention import PURGE_EXPIRED_CASES


class RetentionActivities:
    def __init__(self, database: Database, settings: Settings):
        self._database = database
        self._settings = settings

    @activity.defn(name=PURGE_EXPIRED_CASES)
    async def purge_expired_cases(self, as_of: datetime) -> int:
        async def client() -> Client:
            return activity.client()

        purged = await purge_expired_cases(
            self._database,
            self._settings.documents_dir,
            self._settings.shred_ledger,
            client,
            as_of,
        )
        activity.logger.info("retention purge: %d case(s) purged", len(purged))
        return len(purged)

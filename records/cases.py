"""Queries about cases: references, the current policy of a case type, filtered lists."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from policies.calendar import LONDON, due_instant
from policies.case_clock import decision_due
from policies.case_state import CaseState
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition, duration
from records.models import (
    Base,
    Case,
    CaseEvent,
    Note,
    Organisation,
    OutboxMessage,
    PolicyVersion,
    ReferenceCounter,
    Staff,
)

PAGE_SIZE = 50


def _insert_unless_present(session: AsyncSession, model: type[Base], **values: Any) -> Executable:
    """INSERT … ON CONFLICT DO NOTHING, in the dialect of the session's database."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    return insert(model).values(**values).on_conflict_do_nothing()


async def allocate_reference(session: AsyncSession, prefix: str, year: int) -> str:
    """The next readable reference, e.g. DIS-2026-0007.

    The counter row is created if missing without failing when a concurrent opener creates it
    first; the UPDATE's row lock then serialises concurrent openers.
    """
    await session.execute(
        _insert_unless_present(session, ReferenceCounter, prefix=prefix, year=year, last=0)
    )
    number = await session.scalar(
        update(ReferenceCounter)
        .where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    )
    return f"{prefix}-{year}-{number:04d}"


async def current_policy(
    session: AsyncSession, organisation_id: int, case_type: str
) -> tuple[PolicyDefinition, int] | None:
    """The newest published version for the organisation; the shipped one becomes version 1."""
    row = await session.scalar(
        select(PolicyVersion)
        .where(
            PolicyVersion.organisation_id == organisation_id, PolicyVersion.case_type == case_type
        )
        .order_by(PolicyVersion.version.desc())
        .limit(1)
    )
    if row is not None:
        return PolicyDefinition.model_validate(row.definition), row.version
    shipped = shipped_policies().get(case_type)
    if shipped is None:
        return None
    # A concurrent first use may store the same version 1 first; that is not an error.
    await session.execute(
        _insert_unless_present(
            session,
            PolicyVersion,
            organisation_id=organisation_id,
            case_type=case_type,
            version=1,
            definition=shipped.model_dump(mode="json"),
            author="ercase",
            change_note="Shipped definition",
        )
    )
    return shipped, 1


async def policy_version(
    session: AsyncSession, organisation_id: int, case_type: str, version: int | None = None
) -> PolicyVersion | None:
    """One stored version, or the newest when `version` is None."""
    # Makes sure the shipped definition is stored as version 1 before anyone reads it.
    await current_policy(session, organisation_id, case_type)
    query = select(PolicyVersion).where(
        PolicyVersion.organisation_id == organisation_id, PolicyVersion.case_type == case_type
    )
    if version is not None:
        query = query.where(PolicyVersion.version == version)
    return await session.scalar(query.order_by(PolicyVersion.version.desc()).limit(1))


async def policy_history(
    session: AsyncSession, organisation_id: int, case_type: str
) -> list[PolicyVersion]:
    await current_policy(session, organisation_id, case_type)
    rows = await session.scalars(
        select(PolicyVersion)
        .where(
            PolicyVersion.organisation_id == organisation_id,
            PolicyVersion.case_type == case_type,
        )
        .order_by(PolicyVersion.version)
    )
    return list(rows)


@dataclass
class NewCase:
    """Everything a new case row needs; its projection starts from the policy's own clocks."""

    reference: str
    organisation_id: int
    policy: PolicyDefinition
    policy_version: int
    staff: Staff
    summary: str
    risk: str
    advisor: str
    opened_by: str
    opened_at: datetime
    stage_key: str
    stage_started_at: datetime
    # The organisation's bank-holiday region now (holiday_region_of): the case keeps it.
    holiday_region: str
    parent_case_id: str | None = None
    origin: str | None = None


async def holiday_region_of(session: AsyncSession, organisation_id: int) -> str:
    """The organisation's bank-holiday region, which a case opened now runs on."""
    region = await session.scalar(
        select(Organisation.holiday_region).where(Organisation.id == organisation_id)
    )
    assert region is not None, f"organisation {organisation_id} exists (its user or case does)"
    return region


def new_case_row(new: NewCase) -> Case:
    """The row of a case about to start; its workflow's first recording brings it up to date."""
    stage = new.policy.stage(new.stage_key)
    started = new.stage_started_at
    state = CaseState(new.opened_at, stage.key, started, new.advisor)
    return Case(
        id=new.reference,
        organisation_id=new.organisation_id,
        case_type=new.policy.case_type,
        policy_version=new.policy_version,
        employee_id=new.staff.employee_id,
        summary=new.summary,
        risk=new.risk,
        advisor=new.advisor,
        division=new.staff.division,
        department=new.staff.department,
        opened_by=new.opened_by,
        holiday_region=new.holiday_region,
        parent_case_id=new.parent_case_id,
        origin=new.origin,
        status="open",
        stage_key=stage.key,
        stage_name=stage.name,
        stage_started_at=started,
        stage_due_at=due_instant(started, duration(stage.due), new.holiday_region)
        if stage.due
        else None,
        due_at=due_instant(new.opened_at, duration(new.policy.target), new.holiday_region)
        if new.policy.target
        else None,
        opened_at=new.opened_at,
        decision_due_at=decision_due(state, new.policy),
        actions=[action.key for action in stage.actions],
    )


async def find_staff(session: AsyncSession, organisation_id: int, employee_id: str) -> Staff | None:
    return await session.scalar(
        select(Staff).where(
            Staff.organisation_id == organisation_id, Staff.employee_id == employee_id
        )
    )


@dataclass
class CaseFilters:
    # open, paused or closed; None (or the API's "all"): every status.
    status: str | None = None
    case_type: str | None = None
    advisor: str | None = None
    division: str | None = None
    breached: bool | None = None
    due_before: datetime | None = None
    # Words that must each appear in the reference, the employee number, the employee's name
    # or the summary.
    q: str | None = None
    page: int = 1
    # Cases with (or without) mail that never reached someone: a person must act on those.
    undelivered: bool | None = None
    # Days in London, both ends included.
    opened_from: date | None = None
    opened_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None


# A search's words beyond these are not looked for: each one is a condition on every case.
MAX_SEARCH_WORDS = 10


def search_words(text: str | None) -> list[str]:
    """The distinct words of a search, lower case, in order."""
    return list(dict.fromkeys((text or "").lower().split()))


def _like(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches_word(word: str) -> ColumnElement[bool]:
    pattern = _like(word)
    named = (
        select(Staff.id)
        .where(
            Staff.organisation_id == Case.organisation_id,
            Staff.employee_id == Case.employee_id,
            func.lower(Staff.name).like(pattern, escape="\\"),
        )
        .exists()
    )
    return or_(
        func.lower(Case.id).like(pattern, escape="\\"),
        func.lower(Case.employee_id).like(pattern, escape="\\"),
        func.lower(Case.summary).like(pattern, escape="\\"),
        named,
    )


def _from_day(day: date) -> datetime:
    """The first instant of a London day."""
    return datetime.combine(day, time(), LONDON)


def _within(column: Any, first: date | None, last: date | None) -> list[ColumnElement[bool]]:
    conditions = []
    if first is not None:
        conditions.append(column >= _from_day(first))
    if last is not None:
        conditions.append(column < _from_day(last + timedelta(days=1)))
    return conditions


def filtered(query: Select[Case], filters: CaseFilters) -> Select[Case]:
    for column, value in (
        (Case.status, filters.status),
        (Case.case_type, filters.case_type),
        (Case.advisor, filters.advisor),
        (Case.division, filters.division),
        (Case.breached, filters.breached),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.due_before is not None:
        query = query.where(Case.stage_due_at < filters.due_before)
    if filters.undelivered is not None:
        with_undelivered = Case.id.in_(
            select(OutboxMessage.case_id).where(OutboxMessage.status == "undelivered")
        )
        query = query.where(with_undelivered if filters.undelivered else ~with_undelivered)
    query = query.where(
        *_within(Case.opened_at, filters.opened_from, filters.opened_to),
        *_within(Case.closed_at, filters.closed_from, filters.closed_to),
    )
    for word in search_words(filters.q)[:MAX_SEARCH_WORDS]:
        query = query.where(_matches_word(word))
    return query


async def list_page(
    session: AsyncSession, scope: Select[Case], filters: CaseFilters
) -> tuple[list[Case], int]:
    query = filtered(scope, filters)
    # The total rides on every row of the page, so both come from one statement: two
    # statements could see a case change in between (its clock breaching, say) and report a
    # page that disagrees with its own total.
    rows = (
        await session.execute(
            query.add_columns(func.count().over().label("total"))
            .order_by(Case.stage_due_at.is_(None), Case.stage_due_at, Case.id)
            .offset((filters.page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    ).all()
    if rows:
        return [row[0] for row in rows], int(rows[0].total)
    # A page past the end has no rows to carry the total.
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return [], total


async def undelivered_counts(session: AsyncSession, case_ids: list[str]) -> dict[str, int]:
    """How many messages about each case were given up on (missing ids: none)."""
    rows = await session.execute(
        select(OutboxMessage.case_id, func.count())
        .where(OutboxMessage.status == "undelivered", OutboxMessage.case_id.in_(case_ids))
        .group_by(OutboxMessage.case_id)
    )
    return {str(case_id): count for case_id, count in rows}


async def timeline(session: AsyncSession, case_id: str) -> tuple[list[CaseEvent], list[Note]]:
    events = await session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
    )
    notes = await session.scalars(
        select(Note).where(Note.case_id == case_id).order_by(Note.created_at)
    )
    return list(events), list(notes)


async def linked_cases(session: AsyncSession, case_id: str) -> list[Case]:
    """The cases this one opened (an investigation for a disciplinary, an appeal)."""
    rows = await session.scalars(
        select(Case).where(Case.parent_case_id == case_id).order_by(Case.opened_at, Case.id)
    )
    return list(rows)

"""Day-to-day and by-dimension KPIs: cases opened, closed and open; how long they took, whole
and per stage; how many were on time and how late the rest were; suspensions.

Every query takes `scope`, a condition on `Case` made by services.access, so a report never
sees another organisation's cases. A window is [start, end): "opened" counts cases opened in
it, "closed" and the durations count cases closed in it, "open now" counts every case not
closed at the time of asking. The month dimension is the month (UTC) of the date each measure
is about: opening for opened and open now, closing for closed, leaving a stage for stages.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from records.models import Case, Organisation, StageInterval
from records.reporting.sql import (
    Key,
    at,
    days_between,
    elapsed_days,
    inline_percentiles,
    is_sqlite,
    month_of,
    percentiles,
)
from records.reporting.table import Column, CrossTab, Report

DIMENSIONS = ("organisation", "division", "department", "case_type", "advisor", "month")
COUNTED = ("opened", "closed", "open_now")
# The dimensions a stay in a stage carries itself; the others are its case's.
STAY_DIMENSIONS = ("organisation", "month")
# Shown for a case with no division or department in the staff directory.
NONE = "(none)"


class ReportError(ValueError):
    """A report asked for with parameters that cannot work; the message says which."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    now: datetime

    def notes(self) -> list[str]:
        return [
            f"Window: from {self.start.date().isoformat()} up to (not including) "
            f"{self.end.date().isoformat()}; "
            f"open cases as at {self.now.isoformat(timespec='minutes')}."
        ]


def parse_group_by(text: str | None) -> list[str]:
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise ReportError(
            f"group_by: '{unknown[0]}' is not a dimension; use any of {', '.join(DIMENSIONS)}."
        )
    if len(set(names)) != len(names):
        raise ReportError("group_by: each dimension may be named once.")
    return names


def dimension(session: AsyncSession, name: str, dated: Any) -> ColumnElement[Any]:
    # Constants are inlined (literal_column), not bound: PostgreSQL only matches a GROUP BY
    # expression to the selected one when both are written the same, parameters included.
    none: ColumnElement[str] = literal_column(f"'{NONE}'")
    expressions: dict[str, Any] = {
        "organisation": Case.organisation_id,
        "division": func.coalesce(Case.division, none),
        "department": func.coalesce(Case.department, none),
        "case_type": Case.case_type,
        "advisor": Case.advisor,
    }
    if name == "month":
        return month_of(session, dated).label(name)
    return expressions[name].label(name)


def case_of_stay() -> ColumnElement[bool]:
    """Joins a stay to its case. The organisation is named twice so that a report scoped to
    one organisation's cases is also scoped to its stays, and reads them by their index."""
    return and_(
        Case.id == StageInterval.case_id, Case.organisation_id == StageInterval.organisation_id
    )


def stay_dimension(session: AsyncSession, name: str, dated: Any) -> ColumnElement[Any]:
    if name == "organisation":
        return StageInterval.organisation_id.label(name)
    return dimension(session, name, dated)


def scoped_stays(
    query: Select[Any],
    scope: ColumnElement[bool],
    stays: ColumnElement[bool],
    group_by: list[str],
) -> Select[Any]:
    """`query` over stays limited by `stays` (the report's scope, on stays), joined to their
    cases (and `scope`) only when a dimension needs them: a national figure over millions of
    stays then reads one index rather than every case too."""
    query = query.select_from(StageInterval).where(stays)
    if any(name not in STAY_DIMENSIONS for name in group_by):
        query = query.join(Case, case_of_stay()).where(scope)
    return query


def _in(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= at(window.start), column < at(window.end))


def opened_in(window: Window) -> ColumnElement[bool]:
    """The cases a report's "opened" counts."""
    return _in(Case.opened_at, window)


def closed_in(window: Window) -> ColumnElement[bool]:
    """The cases a report's "closed" counts (and its durations and timeliness are about)."""
    return and_(Case.status == "closed", _in(Case.closed_at, window))


def not_closed() -> ColumnElement[bool]:
    """The cases a report's "open now" counts: open or paused, whenever they were opened."""
    return Case.status != "closed"


def within_weeks(sqlite: bool, weeks: int) -> ColumnElement[bool]:
    """A closed case that took no more than `weeks` weeks (7 calendar days each, its last day
    included) from opening to closing."""
    return days_open_of(sqlite) <= weeks * 7


def days_open_of(sqlite: bool) -> ColumnElement[float]:
    return elapsed_days(sqlite, Case.closed_at, Case.opened_at)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def _organisation_names(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Organisation ids become their names (reports are read by people)."""
    ids = {row["organisation"] for row in rows if "organisation" in row}
    if not ids:
        return
    names = {
        key: value
        for key, value in await session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
        )
    }
    for row in rows:
        if "organisation" in row:
            row["organisation"] = names.get(row["organisation"], row["organisation"])


def _sorted(rows: dict[Key, dict[str, Any]]) -> list[dict[str, Any]]:
    return [rows[key] for key in sorted(rows, key=lambda key: tuple(str(part) for part in key))]


async def kpis(
    session: AsyncSession,
    scope: ColumnElement[bool],
    window: Window,
    group_by: list[str],
    weeks: int | None = None,
) -> Report:
    """The day-to-day figures; with `weeks`, also how many of the cases closed in the window
    took no more than that many weeks (for "what share finished within 6 weeks")."""

    def dims(dated: Any) -> list[ColumnElement[Any]]:
        return [dimension(session, name, dated) for name in group_by]

    blank = {
        "opened": 0,
        "closed": 0,
        "open_now": 0,
        "breached_now": 0,
        "median_days_open": None,
        "p90_days_open": None,
        "with_target": 0,
        "on_time": 0,
        "on_time_rate": None,
        "late": 0,
        "late_days_mean": None,
        "late_days_max": None,
    }
    if weeks is not None:
        blank.update(within_weeks=0, within_weeks_rate=None)
    rows: dict[Key, dict[str, Any]] = {}

    def row(key: Key) -> dict[str, Any]:
        return rows.setdefault(key, {**dict(zip(group_by, key, strict=True)), **blank})

    opened = dims(Case.opened_at)
    for *key, count in await session.execute(
        select(*opened, func.count()).where(scope, opened_in(window)).group_by(*opened)
    ):
        row(tuple(key))["opened"] = count

    still_open = dims(Case.opened_at)
    for *key, count, breached in await session.execute(
        select(*still_open, func.count(), _count_if(Case.breached.is_(True)))
        .where(scope, not_closed())
        .group_by(*still_open)
    ):
        row(tuple(key)).update(open_now=count, breached_now=breached)

    closed = dims(Case.closed_at)
    late_by = case(
        (Case.closed_at > Case.due_at, days_between(session, Case.closed_at, Case.due_at))
    )
    days_open = days_open_of(is_sqlite(session))
    inline = inline_percentiles(session, days_open, (0.5, 0.9))
    # Without weeks, a constant in its place keeps the columns where the loop reads them.
    within = _count_if(within_weeks(is_sqlite(session), weeks)) if weeks else func.count()
    closed_query = select(
        *closed,
        func.count(),
        _count_if(Case.due_at.is_not(None)),
        _count_if(Case.closed_at <= Case.due_at),
        func.avg(late_by),
        func.max(late_by),
        within,
        *inline,
    ).where(scope, closed_in(window))
    for found_row in await session.execute(closed_query.group_by(*closed)):
        group = tuple(found_row[: len(closed)])
        count, with_target, on_time, late_mean, late_max, quick = found_row[
            len(closed) : len(closed) + 6
        ]
        if weeks is not None:
            row(group).update(within_weeks=quick, within_weeks_rate=_rate(quick, count))
        row(group).update(
            closed=count,
            with_target=with_target,
            on_time=on_time,
            on_time_rate=_rate(on_time, with_target),
            late=with_target - on_time,
            late_days_mean=_days(late_mean),
            late_days_max=_days(late_max),
        )
        if inline:
            median, p90 = found_row[-2:]
            row(group).update(median_days_open=_days(median), p90_days_open=_days(p90))
    if not inline:
        durations = select(*closed, days_open.label("value")).where(scope, closed_in(window))
        for group_key, (median, p90) in (
            await percentiles(session, durations, group_by, "value", (0.5, 0.9))
        ).items():
            row(group_key).update(median_days_open=_days(median), p90_days_open=_days(p90))

    found = _sorted(rows)
    await _organisation_names(session, found)
    return Report(
        "Cases: opened, closed, open now, duration and timeliness",
        [Column(name, "dimension") for name in group_by]
        + [
            Column("opened", "count"),
            Column("closed", "count"),
            Column("open_now", "count"),
            Column("breached_now", "count"),
            Column("median_days_open", "figure", "closed"),
            Column("p90_days_open", "figure", "closed"),
            Column("with_target", "count", parts=("on_time", "late")),
            Column("on_time", "count"),
            Column("on_time_rate", "figure", "with_target", inputs=("on_time",)),
            Column("late", "count"),
            Column("late_days_mean", "figure", "late"),
            Column("late_days_max", "figure", "late"),
        ]
        + (
            [
                Column("within_weeks", "count"),
                Column("within_weeks_rate", "figure", "closed", inputs=("within_weeks",)),
            ]
            if weeks is not None
            else []
        ),
        found,
        [
            *window.notes(),
            "Days open: closing minus opening, in calendar days, for cases closed in the window.",
            "On time: closed by the whole-case target as last moved by pauses; late days are "
            "how long after it.",
            *(
                [
                    f"Within {weeks} weeks: cases closed in the window no more than "
                    f"{weeks * 7} calendar days after they were opened; the rate is of all "
                    "cases closed in the window."
                ]
                if weeks is not None
                else []
            ),
        ],
    )


async def stages(
    session: AsyncSession,
    scope: ColumnElement[bool],
    stays: ColumnElement[bool],
    window: Window,
    group_by: list[str],
) -> Report:
    """Each stage's stays that ended in the window: how long, and how many met the stage's
    deadline (a case closed on time can still have a late step). `stays` is `scope` on stays."""
    dims = [stay_dimension(session, name, StageInterval.ended_at) for name in group_by]
    stage = StageInterval.key.label("stage")
    groups = [*dims, stage]
    ended = and_(StageInterval.kind == "stage", _in(StageInterval.ended_at, window))
    late_by = case(
        (
            StageInterval.ended_at > StageInterval.due_at,
            days_between(session, StageInterval.ended_at, StageInterval.due_at),
        )
    )
    days_in = days_between(session, StageInterval.ended_at, StageInterval.started_at)
    inline = inline_percentiles(session, days_in, (0.5, 0.9))
    query = scoped_stays(
        select(
            *groups,
            func.count(),
            _count_if(StageInterval.due_at.is_not(None)),
            _count_if(StageInterval.ended_at <= StageInterval.due_at),
            func.avg(late_by),
            func.max(late_by),
            *inline,
        ).where(ended),
        scope,
        stays,
        group_by,
    ).group_by(*groups)
    rows: dict[Key, dict[str, Any]] = {}
    names = [*group_by, "stage"]
    for found_row in await session.execute(query):
        key = tuple(found_row[: len(groups)])
        count, with_due, on_time, late_mean, late_max = found_row[len(groups) : len(groups) + 5]
        median, p90 = found_row[-2:] if inline else (None, None)
        rows[key] = {
            **dict(zip(names, key, strict=True)),
            "ended": count,
            "median_days": _days(median),
            "p90_days": _days(p90),
            "with_due": with_due,
            "on_time": on_time,
            "on_time_rate": _rate(on_time, with_due),
            "late": with_due - on_time,
            "late_days_mean": _days(late_mean),
            "late_days_max": _days(late_max),
        }
    if not inline:
        durations = scoped_stays(
            select(*groups, days_in.label("value")).where(ended), scope, stays, group_by
        )
        for group_key, (median, p90) in (
            await percentiles(session, durations, names, "value", (0.5, 0.9))
        ).items():
            rows[group_key].update(median_days=_days(median), p90_days=_days(p90))
    for row in rows.values():
        row.update(open_overdue=0, open_overdue_days_max=None)
    # A stay still running past its deadline has not ended, so the figures above never see
    # it: an investigation nine days late and still open would leave the rate at 100%. Read
    # from the case row, whose stage deadline has moved with every pause; a paused case's
    # clock is stopped, so it is not counted as running late.
    # Only "now" is known of a stay still running, so a window that ended before now has none.
    reaches_now = window.end > window.now
    open_dims = [dimension(session, name, Case.stage_started_at) for name in group_by]
    open_groups = [*open_dims, Case.stage_key.label("stage")]
    overdue_by = days_between(session, at(window.now), Case.stage_due_at)
    overdue: Any = (
        await session.execute(
            select(*open_groups, func.count(), func.max(overdue_by))
            .where(scope, Case.status == "open", Case.stage_due_at < at(window.now))
            .group_by(*open_groups)
        )
        if reaches_now
        else []
    )
    for *group, count, longest in overdue:
        row = rows.setdefault(
            tuple(group),
            {
                **dict(zip(names, group, strict=True)),
                "ended": 0,
                "median_days": None,
                "p90_days": None,
                "with_due": 0,
                "on_time": 0,
                "on_time_rate": None,
                "late": 0,
                "late_days_mean": None,
                "late_days_max": None,
            },
        )
        row.update(open_overdue=count, open_overdue_days_max=_days(longest))
    for row in rows.values():
        row["due_so_far"] = row["with_due"] + row["open_overdue"]
        row["on_time_rate_so_far"] = _rate(row["on_time"], row["due_so_far"])
    found = _sorted(rows)
    await _organisation_names(session, found)
    return Report(
        "Stages: time in each stage and its deadline",
        [Column(name, "dimension") for name in names]
        + [
            Column("ended", "count"),
            Column("median_days", "figure", "ended"),
            Column("p90_days", "figure", "ended"),
            Column("with_due", "count", parts=("on_time", "late")),
            Column("on_time", "count"),
            Column("on_time_rate", "figure", "with_due", inputs=("on_time",)),
            Column("late", "count"),
            Column("late_days_mean", "figure", "late"),
            Column("late_days_max", "figure", "late"),
            Column("open_overdue", "count"),
            Column("open_overdue_days_max", "figure", "open_overdue"),
            Column("due_so_far", "count", parts=("on_time", "late", "open_overdue")),
            Column("on_time_rate_so_far", "figure", "due_so_far", inputs=("on_time",)),
        ],
        found,
        [
            *window.notes(),
            "A stay in a stage counts when it ended (the case moved on or closed) in the window; "
            "on time: by the stage's deadline as last moved by pauses.",
            "Open overdue: stays still running (case open, not paused) past their deadline now, "
            "whenever they began (none for a window that ended before today); the on-time rate "
            "so far counts them as late.",
        ],
    )


async def suspensions(
    session: AsyncSession,
    scope: ColumnElement[bool],
    stays: ColumnElement[bool],
    window: Window,
    group_by: list[str],
) -> Report:
    """Suspensions from work lifted in the window (how long they lasted) and those still running.
    `stays` is `scope` on stays."""
    rows: dict[Key, dict[str, Any]] = {}
    blank = {
        "lifted": 0,
        "median_days": None,
        "p90_days": None,
        "max_days": None,
        "current": 0,
        "current_max_days": None,
    }

    def row(key: Key) -> dict[str, Any]:
        return rows.setdefault(key, {**dict(zip(group_by, key, strict=True)), **blank})

    lifted_dims = [stay_dimension(session, name, StageInterval.ended_at) for name in group_by]
    length = days_between(session, StageInterval.ended_at, StageInterval.started_at)
    lifted = and_(StageInterval.kind == "suspension", _in(StageInterval.ended_at, window))
    for *key, count, longest in await session.execute(
        scoped_stays(
            select(*lifted_dims, func.count(), func.max(length)).where(lifted),
            scope,
            stays,
            group_by,
        ).group_by(*lifted_dims)
    ):
        row(tuple(key)).update(lifted=count, max_days=_days(longest))
    source = scoped_stays(
        select(*lifted_dims, length.label("value")).where(lifted), scope, stays, group_by
    )
    for group_key, (median, p90) in (
        await percentiles(session, source, group_by, "value", (0.5, 0.9))
    ).items():
        row(group_key).update(median_days=_days(median), p90_days=_days(p90))

    current_dims = [stay_dimension(session, name, StageInterval.started_at) for name in group_by]
    so_far = days_between(session, at(window.now), StageInterval.started_at)
    current = and_(StageInterval.kind == "suspension", StageInterval.ended_at.is_(None))
    for *key, count, longest in await session.execute(
        scoped_stays(
            select(*current_dims, func.count(), func.max(so_far)).where(current),
            scope,
            stays,
            group_by,
        ).group_by(*current_dims)
    ):
        row(tuple(key)).update(current=count, current_max_days=_days(longest))
    found = _sorted(rows)
    await _organisation_names(session, found)
    return Report(
        "Suspensions from work: how long",
        [Column(name, "dimension") for name in group_by]
        + [
            Column("lifted", "count"),
            Column("median_days", "figure", "lifted"),
            Column("p90_days", "figure", "lifted"),
            Column("max_days", "figure", "lifted"),
            Column("current", "count"),
            Column("current_max_days", "figure", "current"),
        ],
        found,
        [*window.notes(), "Lifted: suspensions that ended in the window; current: not yet lifted."],
    )


def counted(measure: str, window: Window) -> ColumnElement[bool]:
    """The cases one of the crosstab's measures counts."""
    return {"opened": opened_in(window), "closed": closed_in(window), "open_now": not_closed()}[
        measure
    ]


async def crosstab(
    session: AsyncSession,
    scope: ColumnElement[bool],
    window: Window,
    rows_by: str,
    columns_by: str,
    measure: str,
) -> CrossTab:
    """One count (opened, closed or open now) by two dimensions, for a table with totals."""
    if measure not in COUNTED:
        raise ReportError(f"measure: use one of {', '.join(COUNTED)}.")
    if rows_by == columns_by:
        raise ReportError("rows and columns must be two different dimensions.")
    parse_group_by(f"{rows_by},{columns_by}")
    dated = Case.closed_at if measure == "closed" else Case.opened_at
    condition = counted(measure, window)
    first, second = dimension(session, rows_by, dated), dimension(session, columns_by, dated)
    found = list(
        await session.execute(
            select(first, second, func.count()).where(scope, condition).group_by(first, second)
        )
    )
    cells = [{rows_by: a, columns_by: b, "n": n} for a, b, n in found]
    for name in (rows_by, columns_by):
        if name == "organisation":
            named = [{"organisation": cell[name]} for cell in cells]
            await _organisation_names(session, named)
            for cell, label in zip(cells, named, strict=True):
                cell[name] = label["organisation"]
    row_labels = sorted({str(cell[rows_by]) for cell in cells})
    column_labels = sorted({str(cell[columns_by]) for cell in cells})
    counts = [[0] * len(column_labels) for _ in row_labels]
    for cell in cells:
        counts[row_labels.index(str(cell[rows_by]))][column_labels.index(str(cell[columns_by]))] = (
            cell["n"]
        )
    return CrossTab(
        f"Cases {measure.replace('_', ' ')} by {rows_by} and {columns_by}",
        rows_by,
        columns_by,
        row_labels,
        column_labels,
        counts,
        window.notes(),
    )

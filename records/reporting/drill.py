"""The cases behind one count of a report: the conditions on `Case` that pick out exactly the
cases a report's cell counted, so a page can link every number to the list behind it.

Each condition is the report's own (kpis' `opened_in`, `closed_in`, `not_closed`, …), so a
count and its list cannot drift apart. A count of stays (a stage's stays, suspensions) lists
the cases those stays belong to: a case with two such stays counts twice and is listed once.
Reports whose counts are not of cases (the equality standards count people and headcount)
have no drill-down here.
"""

from dataclasses import dataclass, field

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from records.models import Case, CaseClosure, Staff, StageInterval, TimeEntry
from records.reporting.causes import NOT_RECORDED
from records.reporting.kpis import (
    NONE,
    ReportError,
    Window,
    _in,
    closed_in,
    counted,
    not_closed,
    opened_in,
    within_weeks,
)
from records.reporting.sql import at

# The values a row of a report can be picked out by, as the drill-down link names them.
CASE_DIMENSIONS = ("division", "department", "case_type", "advisor")
ROW_VALUES = (*CASE_DIMENSIONS, "stage", "root_cause", "manager", "employee", "activity_code")
# Each report's counts of cases (or of stays, listed as their cases), by column name.
MEASURES: dict[str, tuple[str, ...]] = {
    "kpis": (
        "opened",
        "closed",
        "open_now",
        "breached_now",
        "with_target",
        "on_time",
        "late",
        "within_weeks",
    ),
    "crosstab": ("opened", "closed", "open_now"),
    "stages": ("ended", "with_due", "on_time", "late", "open_overdue", "due_so_far"),
    "suspensions": ("lifted", "current"),
    "workload": ("open_cases", "urgent"),
    "root-causes": ("cases",),
    "repeats": ("cases",),
    "cost": ("cases",),
}


@dataclass(frozen=True)
class Cell:
    """One count of one report: which report, which of its counts, and its row's values."""

    report: str
    measure: str
    values: dict[str, str] = field(default_factory=dict)
    weeks: int | None = None


def _dimension_is(name: str, value: str) -> ColumnElement[bool]:
    """As kpis.dimension groups: no division or department is the row "(none)"."""
    column = {
        "division": Case.division,
        "department": Case.department,
        "case_type": Case.case_type,
        "advisor": Case.advisor,
    }[name]
    if name in ("division", "department") and value == NONE:
        return column.is_(None)
    return column == value


def _stays(kind: str, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The case has a stay of this kind matching every condition."""
    return (
        select(StageInterval.id)
        .where(
            StageInterval.case_id == Case.id,
            StageInterval.organisation_id == Case.organisation_id,
            StageInterval.kind == kind,
            *conditions,
        )
        .exists()
    )


def _led_by(manager: str) -> ColumnElement[bool]:
    """The employee's line manager in the staff directory is `manager`."""
    return (
        select(Staff.id)
        .where(
            Staff.organisation_id == Case.organisation_id,
            Staff.employee_id == Case.employee_id,
            Staff.line_manager_id == manager,
        )
        .exists()
    )


def _kpis(measure: str, window: Window, sqlite: bool, weeks: int | None) -> ColumnElement[bool]:
    closed = closed_in(window)
    with_target = and_(closed, Case.due_at.is_not(None))
    conditions = {
        "opened": opened_in(window),
        "closed": closed,
        "open_now": not_closed(),
        "breached_now": and_(not_closed(), Case.breached.is_(True)),
        "with_target": with_target,
        "on_time": and_(closed, Case.closed_at <= Case.due_at),
        "late": and_(with_target, Case.closed_at > Case.due_at),
    }
    if measure == "within_weeks":
        if weeks is None:
            raise ReportError("weeks: say within how many weeks.")
        return and_(closed, within_weeks(sqlite, weeks))
    return conditions[measure]


def _stages(measure: str, window: Window, stage: str | None) -> ColumnElement[bool]:
    if stage is None:
        raise ReportError("stage: say which stage's count this is.")
    ended = [StageInterval.key == stage, _in(StageInterval.ended_at, window)]
    due = StageInterval.due_at.is_not(None)
    # As the report: only "now" is known of a stay still running.
    overdue = (
        and_(Case.status == "open", Case.stage_key == stage, Case.stage_due_at < at(window.now))
        if window.end > window.now
        else false()
    )
    with_due = _stays("stage", *ended, due)
    conditions = {
        "ended": _stays("stage", *ended),
        "with_due": with_due,
        "on_time": _stays("stage", *ended, StageInterval.ended_at <= StageInterval.due_at),
        "late": _stays("stage", *ended, due, StageInterval.ended_at > StageInterval.due_at),
        "open_overdue": overdue,
        "due_so_far": or_(with_due, overdue),
    }
    return conditions[measure]


def _root_cause(window: Window, values: dict[str, str]) -> ColumnElement[bool]:
    code = values.get("root_cause")
    if code is None:
        raise ReportError("root_cause: say which root cause's count this is.")
    closure = aliased(CaseClosure)
    recorded = select(closure.case_id).where(
        closure.case_id == Case.id, closure.root_cause.is_not(None)
    )
    cause = (
        ~recorded.exists()
        if code == NOT_RECORDED
        else recorded.where(closure.root_cause == code).exists()
    )
    manager = values.get("manager")
    led = [] if manager is None else [_led_by(manager) if manager != NONE else ~_has_manager()]
    return and_(closed_in(window), cause, *led)


def _has_manager() -> ColumnElement[bool]:
    return (
        select(Staff.id)
        .where(
            Staff.organisation_id == Case.organisation_id,
            Staff.employee_id == Case.employee_id,
            Staff.line_manager_id.is_not(None),
        )
        .exists()
    )


def _time_recorded(window: Window, activity_code: str | None) -> ColumnElement[bool]:
    """The case has time recorded on a day in the window (of this activity, if named)."""
    code = [] if activity_code is None else [TimeEntry.activity_code == activity_code]
    return (
        select(TimeEntry.id)
        .where(
            TimeEntry.case_id == Case.id,
            TimeEntry.worked_on >= window.start.date(),
            TimeEntry.worked_on < window.end.date(),
            *code,
        )
        .exists()
    )


def cases_behind(cell: Cell, window: Window, sqlite: bool) -> list[ColumnElement[bool]]:
    """The conditions on `Case` of the cases one count of a report counted (within the
    report's own scope, which the caller adds as the reader's visible cases)."""
    values = cell.values
    unknown = sorted(set(values) - set(ROW_VALUES))
    if unknown:
        raise ReportError(f"{unknown[0]}: not something a report's row is picked out by.")
    conditions = [
        _dimension_is(name, value) for name, value in values.items() if name in CASE_DIMENSIONS
    ]
    measure = cell.measure
    if cell.report not in MEASURES:
        raise ReportError(f"The {cell.report} report's counts are not of cases.")
    if measure not in MEASURES[cell.report]:
        raise ReportError(
            f"measure: the {cell.report} report counts {', '.join(MEASURES[cell.report])}."
        )
    if cell.report == "kpis":
        conditions.append(_kpis(measure, window, sqlite, cell.weeks))
    elif cell.report == "crosstab":
        conditions.append(counted(measure, window))
    elif cell.report == "stages":
        conditions.append(_stages(measure, window, values.get("stage")))
    elif cell.report == "suspensions":
        conditions.append(
            _stays("suspension", _in(StageInterval.ended_at, window))
            if measure == "lifted"
            else _stays("suspension", StageInterval.ended_at.is_(None))
        )
    elif cell.report == "workload":
        urgent = [Case.risk == "urgent"] if measure == "urgent" else []
        conditions += [not_closed(), *urgent]
    elif cell.report == "root-causes":
        conditions.append(_root_cause(window, values))
    elif cell.report == "repeats":
        if "employee" in values:
            conditions += [opened_in(window), Case.employee_id == values["employee"]]
        elif "manager" in values:
            conditions += [opened_in(window), _led_by(values["manager"])]
        else:
            raise ReportError("Say whose repeat cases: an employee or a manager's team.")
    else:  # cost
        conditions.append(_time_recorded(window, values.get("activity_code")))
    return conditions

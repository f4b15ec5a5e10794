"""Root causes recorded at closure, top causes by division or manager, and repeat cases."""

from typing import Any

from sqlalchemy import and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from records.models import Case, CaseClosure, RootCauseCode, Staff
from records.reporting.kpis import NONE, ReportError, Window, _in
from records.reporting.table import Column, Report

CAUSE_GROUPS = ("division", "manager")
NOT_RECORDED = "(not recorded)"


def _staff_join() -> ColumnElement[bool]:
    return and_(
        Staff.organisation_id == Case.organisation_id, Staff.employee_id == Case.employee_id
    )


async def root_causes(
    session: AsyncSession, scope: ColumnElement[bool], window: Window, by: str
) -> Report:
    """Cases closed in the window by root cause, within each division or line manager, the
    commonest cause first."""
    if by not in CAUSE_GROUPS:
        raise ReportError(f"by: use one of {', '.join(CAUSE_GROUPS)}.")
    none: ColumnElement[str] = literal_column(f"'{NONE}'")
    group = (
        func.coalesce(Case.division, none)
        if by == "division"
        else func.coalesce(Staff.line_manager_id, none)
    ).label(by)
    cause = func.coalesce(CaseClosure.root_cause, literal_column(f"'{NOT_RECORDED}'")).label(
        "root_cause"
    )
    query = (
        select(group, cause, func.count())
        .select_from(Case)
        .outerjoin(CaseClosure, CaseClosure.case_id == Case.id)
        .outerjoin(Staff, _staff_join())
        .where(scope, Case.status == "closed", _in(Case.closed_at, window))
        .group_by(group, cause)
    )
    found = list(await session.execute(query))
    labels = {
        key: value
        for key, value in await session.execute(
            select(RootCauseCode.code, RootCauseCode.label).where(
                RootCauseCode.code.in_({c for _, c, _ in found})
            )
        )
    }
    rows: list[dict[str, Any]] = [
        {by: group_value, "root_cause": code, "label": labels.get(code, ""), "cases": count}
        for group_value, code, count in found
    ]
    rows.sort(key=lambda row: (str(row[by]), -int(row["cases"]), str(row["root_cause"])))
    return Report(
        f"Root causes of cases closed, by {by}",
        [
            Column(by, "dimension"),
            Column("root_cause", "dimension"),
            Column("label", "dimension"),
            Column("cases", "count"),
        ],
        rows,
        [*window.notes(), "Manager: the employee's line manager in the staff directory."],
    )


async def repeats(
    session: AsyncSession, scope: ColumnElement[bool], window: Window, minimum: int = 2
) -> Report:
    """Employees, and line managers' teams, with `minimum` or more cases opened in the window."""
    opened = and_(scope, _in(Case.opened_at, window))
    rows: list[dict[str, Any]] = []
    for employee, count, types in await session.execute(
        select(Case.employee_id, func.count(), func.count(func.distinct(Case.case_type)))
        .where(opened)
        .group_by(Case.employee_id)
        .having(func.count() >= minimum)
    ):
        rows.append(
            {"who": "employee", "id": employee, "cases": count, "people": 1, "case_types": types}
        )
    team = Staff.line_manager_id
    for manager, count, people, types in await session.execute(
        select(
            team,
            func.count(),
            func.count(func.distinct(Case.employee_id)),
            func.count(func.distinct(Case.case_type)),
        )
        .select_from(Case)
        .join(Staff, _staff_join())
        .where(opened, team.is_not(None))
        .group_by(team)
        .having(func.count() >= minimum)
    ):
        rows.append(
            {"who": "team", "id": manager, "cases": count, "people": people, "case_types": types}
        )
    rows.sort(key=lambda row: (row["who"], -row["cases"], row["id"]))
    return Report(
        "Repeat cases: the same employee, or the same line manager's team",
        [
            Column("who", "dimension"),
            Column("id", "dimension"),
            Column("cases", "count"),
            Column("people", "count"),
            Column("case_types", "figure", "cases"),
        ],
        rows,
        [
            *window.notes(),
            f"Listed with {minimum} or more cases opened in the window; a team is "
            "the staff with the same line manager (id: the manager's employee id).",
        ],
    )


def check_code(code: str) -> str:
    code = code.strip()
    if not code or len(code) > 40 or not all(ch.isalnum() or ch in "_-" for ch in code):
        raise ReportError("code: use 1 to 40 letters, digits, '-' or '_'.")
    return code

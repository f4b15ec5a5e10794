"""Workload (open cases weighted by complexity) and cost (time entries at hourly rates)."""

from typing import Any

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from records.models import Case, Membership, TimeEntry, User
from records.reporting.kpis import ReportError, Window, _organisation_names, dimension
from records.reporting.table import Column, Report

COST_DIMENSIONS = (
    "case",
    "case_type",
    "division",
    "department",
    "advisor",
    "activity_code",
    "organisation",
)


def _weight(weights: dict[str, float], column: Any) -> ColumnElement[float]:
    """A weight per value of `column`, 1 for values not listed; inlined so GROUP BY matches."""
    whens: list[tuple[ColumnElement[bool], ColumnElement[float]]] = [
        (column == literal_column(f"'{key}'"), literal_column(repr(float(value))))
        for key, value in sorted(weights.items())
        if key.isidentifier()
    ]
    if not whens:
        return literal_column("1.0")
    return case(*whens, else_=literal_column("1.0"))


async def workload(
    session: AsyncSession,
    scope: ColumnElement[bool],
    type_weights: dict[str, float],
    risk_weights: dict[str, float],
) -> Report:
    """Per advisor: open cases, urgent ones, and their weight (type weight times risk weight)."""
    weight = _weight(type_weights, Case.case_type) * _weight(risk_weights, Case.risk)
    rows = [
        {
            "advisor": advisor,
            "open_cases": count,
            "urgent": urgent,
            "weighted": round(float(total), 2),
        }
        for advisor, count, urgent, total in await session.execute(
            select(
                Case.advisor,
                func.count(),
                func.coalesce(func.sum(case((Case.risk == "urgent", 1), else_=0)), 0),
                func.sum(weight),
            )
            .where(scope, Case.status != "closed")
            .group_by(Case.advisor)
        )
    ]
    rows.sort(key=lambda row: (-row["weighted"], row["advisor"]))
    described = ", ".join(f"{key} {value:g}" for key, value in sorted(type_weights.items()))
    risks = ", ".join(f"{key} {value:g}" for key, value in sorted(risk_weights.items()))
    return Report(
        "Workload: open cases per advisor, weighted by complexity",
        [
            Column("advisor", "dimension"),
            Column("open_cases", "count"),
            Column("urgent", "count"),
            Column("weighted", "figure", "open_cases"),
        ],
        rows,
        [
            f"Weight of a case: its type's weight ({described}; others 1) times its risk's "
            f"weight ({risks})."
        ],
    )


def parse_cost_group_by(text: str | None) -> list[str]:
    names = [name.strip() for name in (text or "case_type").split(",") if name.strip()]
    for name in names:
        if name not in COST_DIMENSIONS:
            raise ReportError(
                f"group_by: '{name}' is not a dimension of cost; use any of "
                f"{', '.join(COST_DIMENSIONS)}."
            )
    if len(set(names)) != len(names):
        raise ReportError("group_by: each dimension may be named once.")
    return names


async def cost(
    session: AsyncSession,
    scope: ColumnElement[bool],
    window: Window,
    group_by: list[str],
    hourly_rates: dict[str, float],
) -> Report:
    """Time recorded in the window (by the date worked) and its cost, grouped as asked.

    A person's time is costed at the highest rate among their roles in the case's
    organisation (a member of several has other roles in each); time by someone with no rated
    role is shown as unrated minutes, at no cost, rather than guessed.
    """
    columns: dict[str, Any] = {
        "case": Case.id.label("case"),
        "activity_code": TimeEntry.activity_code.label("activity_code"),
    }
    dims: list[ColumnElement[Any]] = [
        columns[name] if name in columns else dimension(session, name, TimeEntry.worked_on)
        for name in group_by
    ]
    query = (
        select(
            *dims,
            Case.organisation_id,
            TimeEntry.username,
            TimeEntry.case_id,
            func.sum(TimeEntry.minutes),
        )
        .join(Case, Case.id == TimeEntry.case_id)
        .where(
            scope,
            and_(
                TimeEntry.worked_on >= window.start.date(), TimeEntry.worked_on < window.end.date()
            ),
        )
        # A case is in one organisation: grouping by it too splits no group.
        .group_by(*dims, Case.organisation_id, TimeEntry.username, TimeEntry.case_id)
    )
    found = list(await session.execute(query))
    usernames = {row[-3] for row in found}
    home = select(User.username, User.organisation_id, User.roles).where(
        User.username.in_(usernames)
    )
    added = (
        select(User.username, Membership.organisation_id, Membership.roles)
        .join(Membership, Membership.user_id == User.id)
        .where(User.username.in_(usernames))
    )
    roles: dict[tuple[str, int], list[str]] = {}
    for query_roles in (home, added):
        for username, organisation_id, held in await session.execute(query_roles):
            roles[(username, organisation_id)] = held
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    cases: dict[tuple[Any, ...], set[str]] = {}
    for *values, organisation_id, username, case_id, minutes in found:
        key = tuple(values)
        row = rows.setdefault(
            tuple(key),
            {
                **dict(zip(group_by, key, strict=True)),
                "minutes": 0,
                "unrated_minutes": 0,
                "cost": 0.0,
            },
        )
        cases.setdefault(key, set()).add(case_id)
        held = roles.get((username, organisation_id), [])
        rates = [hourly_rates[role] for role in held if role in hourly_rates]
        row["minutes"] += minutes
        if rates:
            row["cost"] += minutes / 60 * max(rates)
        else:
            row["unrated_minutes"] += minutes
    for key, row in rows.items():
        row["cases"] = len(cases[key])
    result = [rows[key] for key in sorted(rows, key=lambda key: tuple(str(part) for part in key))]
    for row in result:
        row["hours"] = round(row["minutes"] / 60, 2)
        row["cost"] = round(row["cost"], 2)
    await _organisation_names(session, result)
    rates_text = ", ".join(f"{role} £{rate:g}" for role, rate in sorted(hourly_rates.items()))
    return Report(
        "Cost of time recorded on cases",
        [Column(name, "dimension") for name in group_by]
        + [
            Column("cases", "count"),
            Column("minutes", "figure", "cases"),
            Column("hours", "figure", "cases"),
            Column("unrated_minutes", "figure", "cases"),
            Column("cost", "figure", "cases"),
        ],
        result,
        [
            *window.notes(),
            f"Hourly rates: {rates_text}; a person's time at the highest rate of their roles.",
        ],
    )

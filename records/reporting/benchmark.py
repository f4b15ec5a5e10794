"""Open cases against the history of their type: how old, at what percentile, when likely done."""

from bisect import bisect_left
from datetime import timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from records.models import Case
from records.reporting.kpis import Window
from records.reporting.sql import days_between
from records.reporting.table import Column, Report

OUTLIER = 90.0


def position(history: list[float], age: float) -> tuple[float | None, float | None]:
    """(percentile of `age` among the sorted closed durations, predicted total days).

    Percentile: the share of closed cases of the type that took less time than this case has
    already been open. Prediction: the median of the closed cases that lasted at least as long
    as this one so far (a case already 40 days old will not close at the overall median of 20);
    None when no closed case lasted that long.
    """
    if not history:
        return None, None
    shorter = bisect_left(history, age)
    percentile = round(100 * shorter / len(history), 1)
    longer = history[shorter:]
    return percentile, (median(longer) if longer else None)


async def open_case_benchmark(
    session: AsyncSession, scope: ColumnElement[bool], window: Window, limit: int
) -> Report:
    durations = days_between(session, Case.closed_at, Case.opened_at)
    history: dict[str, list[float]] = {}
    for case_type, days in await session.execute(
        select(Case.case_type, durations)
        .where(scope, Case.status == "closed")
        .order_by(Case.case_type, durations)
    ):
        history.setdefault(case_type, []).append(float(days))
    rows: list[dict[str, Any]] = []
    for case_id, case_type, opened_at, stage, advisor in await session.execute(
        select(Case.id, Case.case_type, Case.opened_at, Case.stage_name, Case.advisor).where(
            scope, Case.status != "closed"
        )
    ):
        age = (window.now - opened_at).total_seconds() / 86400
        percentile, predicted = position(history.get(case_type, []), age)
        rows.append(
            {
                "case_id": case_id,
                "case_type": case_type,
                "stage": stage,
                "advisor": advisor,
                "age_days": round(age, 1),
                "closed_of_type": len(history.get(case_type, [])),
                "percentile": percentile,
                "outlier": percentile is not None and percentile >= OUTLIER,
                "predicted_completion": None
                if predicted is None
                else (opened_at + timedelta(days=predicted)).date().isoformat(),
            }
        )
    rows.sort(key=lambda row: (-(row["percentile"] or 0), -row["age_days"], row["case_id"]))
    return Report(
        "Open cases against the history of their type, outliers first",
        [
            Column("case_id", "dimension"),
            Column("case_type", "dimension"),
            Column("stage", "dimension"),
            Column("advisor", "dimension"),
            Column("age_days", "figure"),
            Column("closed_of_type", "figure"),
            Column("percentile", "figure"),
            Column("outlier", "figure"),
            Column("predicted_completion", "figure"),
        ],
        rows[:limit],
        [
            f"Percentile: share of closed cases of the same type (all time) that took less time "
            f"than this case's age; {OUTLIER:g} or more is an outlier.",
            "Predicted completion: opening plus the median duration of closed cases of the type "
            "that lasted at least this long; blank when none did.",
            f"{len(rows)} open case(s); {min(len(rows), limit)} shown.",
        ],
    )

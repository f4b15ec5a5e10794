"""The absence feed: sickness episodes from the e-rostering system, and the attendance record.

Episodes arrive as JSON (`POST /api/absences`) or as the CSV an e-roster exports
(`POST /api/absences/import`). Every row is checked before anything is written; a bad row is
named by its line (CSV) or item (JSON) and then nothing of the file is written. An episode's
key is (employee, first day): the same file twice adds nothing, and a later file with the
last day of an open episode updates it. Once written, each employee's attendance monitor is
given their episodes as the records now hold them (workflows/attendance.py).
"""

import csv
import io
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from policies.attendance import Episode, figures, period_days, spells
from policies.calendar import LONDON, count_working_days
from records.audit import append_audit
from records.cases import current_policy, holiday_region_of
from records.database import Database
from records.models import Absence, AttendanceTrigger, Case, Staff
from services.access import CASE_READERS, STAFF_EDITORS, Principal, visible_cases
from services.errors import Forbidden, Invalid, NotFound, RowsInvalid, Unavailable
from services.rows import ParsedRows, read_rows
from workflows import attendance_workflow_id
from workflows.types import AbsenceFeed, AttendanceEpisode, AttendanceInput

COLUMNS = ("employee_id", "first_day", "last_day", "reason")
REQUIRED = ("employee_id", "first_day", "reason")
MAX_ROWS = 20_000
REASON_MAX = 200
LOOK_BACK_DAYS = 800
"""Episodes older than this are not sent to the monitor: past every rolling period a policy
would sensibly set (about two years)."""
MONITOR = "AttendanceMonitor"


@dataclass(frozen=True)
class AbsenceRow:
    employee_id: str
    first_day: date
    last_day: date | None
    reason: str


ParsedAbsences = ParsedRows[AbsenceRow]


@dataclass
class Recorded:
    created: int
    updated: int
    unchanged: int
    employees: list[str]


def _column(name: str) -> str:
    """An e-roster's header as a column name: 'Employee ID' → employee_id."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def _day(value: str, column: str) -> date:
    """An ISO date (2030-01-14) or a UK one (14/01/2030), as e-roster exports write them."""
    text = value.strip()
    try:
        if "/" in text:
            return datetime.strptime(text, "%d/%m/%Y").date()
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(
            f"{column} '{value}' is not a date such as 2030-01-14 or 14/01/2030"
        ) from None


def _row(row: dict[str, Any]) -> AbsenceRow:
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        raise Invalid(f"unknown column(s): {', '.join(unknown)}")
    values = {key: "" if value is None else str(value).strip() for key, value in row.items()}
    missing = [column for column in REQUIRED if not values.get(column)]
    if missing:
        raise Invalid(f"missing {', '.join(missing)}")
    if len(values["employee_id"]) > 40:
        raise Invalid("employee_id is longer than 40 characters")
    if len(values["reason"]) > REASON_MAX:
        raise Invalid(f"reason is longer than {REASON_MAX} characters")
    first = _day(values["first_day"], "first_day")
    last = _day(values["last_day"], "last_day") if values.get("last_day") else None
    if last is not None and last < first:
        raise Invalid(f"last_day {last.isoformat()} is before first_day {first.isoformat()}")
    return AbsenceRow(values["employee_id"], first, last, values["reason"])


def _labelled(rows: list[tuple[str, dict[str, Any]]]) -> ParsedAbsences:
    return read_rows(rows, _row, max_rows=MAX_ROWS, noun="absences")


def parse_csv(text: str) -> ParsedAbsences:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    header = next(reader, None)
    columns = [_column(name) for name in header or []]
    if not set(REQUIRED) <= set(columns):
        raise Invalid(
            "The first line must name the columns: employee_id, first_day, last_day, reason."
        )
    rows: list[tuple[str, dict[str, Any]]] = []
    for values in reader:
        label = f"line {reader.line_num}"
        if len(values) > len(columns):
            rows.append((label, {"(more values than columns)": values[len(columns) :]}))
        elif any(value.strip() for value in values):
            rows.append((label, dict(zip(columns, values, strict=False))))
    return _labelled(rows)


def parse_json(body: object) -> ParsedAbsences:
    """One absence (an object) or a list of them."""
    items = body if isinstance(body, list) else [body]
    return _labelled(
        [
            (f"item {number}", item if isinstance(item, dict) else {"not an object": item})
            for number, item in enumerate(items, start=1)
        ]
    )


def parse_json_text(text: str) -> ParsedAbsences:
    try:
        return parse_json(json.loads(text))
    except (json.JSONDecodeError, RecursionError):
        raise Invalid("The body is not valid JSON.") from None


def _london_today() -> date:
    return datetime.now(LONDON).date()


@dataclass
class AbsenceCommands:
    database: Database
    client: Callable[[], Awaitable[Client]]
    task_queue: str
    principal: Principal

    async def record(self, parsed: ParsedAbsences, source: str) -> Recorded:
        """Write every episode or none; then tell each employee's monitor."""
        if not self.principal.has_any(STAFF_EDITORS):
            raise Forbidden("Your role cannot record absences.")
        organisation_id = self.principal.organisation_id
        today = _london_today()
        async with self.database.transaction() as session:
            known = set(
                await session.scalars(
                    select(Staff.employee_id).where(
                        Staff.organisation_id == organisation_id,
                        Staff.employee_id.in_({row.employee_id for _, row in parsed.rows}),
                    )
                )
            )
            problems = [*parsed.problems]
            seen: dict[tuple[str, date], tuple[str, AbsenceRow]] = {}
            for label, row in parsed.rows:
                problem = None
                earlier = seen.get((row.employee_id, row.first_day))
                if row.employee_id not in known:
                    problem = f"there is no member of staff with id '{row.employee_id}'"
                elif row.first_day > today:
                    problem = f"first_day {row.first_day.isoformat()} is in the future"
                elif earlier is not None and earlier[1] != row:
                    problem = (
                        f"the absence of {row.employee_id} from {row.first_day.isoformat()} is "
                        f"also on {earlier[0]}, differently"
                    )
                if problem:
                    problems.append({"row": label, "message": problem})
                else:
                    seen[(row.employee_id, row.first_day)] = (label, row)
            if problems:
                raise RowsInvalid(sorted(problems, key=lambda problem: _row_order(problem["row"])))
            result = await self._upsert(session, [row for _, row in seen.values()], source)
            append_audit(
                session,
                organisation_id=organisation_id,
                username=self.principal.username,
                action=f"absences.{source}",
                detail={
                    "created": result.created,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                },
            )
        await self._tell_monitors(result.employees)
        return result

    async def _upsert(self, session: AsyncSession, rows: list[AbsenceRow], source: str) -> Recorded:
        organisation_id = self.principal.organisation_id
        existing = {
            (absence.employee_id, absence.first_day): absence
            for absence in await session.scalars(
                select(Absence).where(
                    Absence.organisation_id == organisation_id,
                    Absence.employee_id.in_({row.employee_id for row in rows}),
                )
            )
        }
        created = updated = 0
        now = datetime.now(UTC)
        for row in rows:
            absence = existing.get((row.employee_id, row.first_day))
            if absence is None:
                session.add(
                    Absence(
                        organisation_id=organisation_id,
                        employee_id=row.employee_id,
                        first_day=row.first_day,
                        last_day=row.last_day,
                        reason=row.reason,
                        source=source,
                        recorded_by=self.principal.username,
                        created_at=now,
                        updated_at=now,
                    )
                )
                created += 1
            elif (absence.last_day, absence.reason) != (row.last_day, row.reason):
                absence.last_day, absence.reason = row.last_day, row.reason
                absence.source, absence.recorded_by = source, self.principal.username
                absence.updated_at = now
                updated += 1
        # Every employee in the file is told, changed or not: sending a file again also
        # repairs a monitor that could not be told the first time.
        employees = sorted({row.employee_id for row in rows})
        return Recorded(created, updated, len(rows) - created - updated, employees)

    async def _tell_monitors(self, employees: Sequence[str]) -> None:
        """Give each employee's monitor their episodes as now recorded (starting it if new)."""
        if not employees:
            return
        organisation_id = self.principal.organisation_id
        since = _london_today() - timedelta(days=LOOK_BACK_DAYS)
        async with self.database.transaction() as session:
            found = await current_policy(session, organisation_id, "sickness")
            triggers = found[0].triggers if found else None
            if found is None or triggers is None:
                return  # this organisation's sickness policy sets no triggers
            stages = [stage.key for stage in found[0].stages]
            region = await holiday_region_of(session, organisation_id)
            rows = await session.scalars(
                select(Absence)
                .where(
                    Absence.organisation_id == organisation_id,
                    Absence.employee_id.in_(employees),
                    or_(Absence.last_day.is_(None), Absence.last_day >= since),
                )
                .order_by(Absence.first_day)
            )
            episodes: dict[str, list[AttendanceEpisode]] = {employee: [] for employee in employees}
            for absence in rows:
                episodes[absence.employee_id].append(
                    AttendanceEpisode(absence.first_day, absence.last_day)
                )
        try:
            client = await self.client()
            for employee in employees:
                await client.start_workflow(
                    MONITOR,
                    AttendanceInput(organisation_id, employee),
                    id=attendance_workflow_id(organisation_id, employee),
                    task_queue=self.task_queue,
                    start_signal="feed",
                    start_signal_args=[AbsenceFeed(episodes[employee], triggers, stages, region)],
                )
        except (RPCError, Unavailable) as error:
            raise Unavailable(
                "The absences were saved, but attendance monitoring could not be told "
                "(the case engine did not answer); send the same absences again later."
            ) from error

    async def attendance(self, employee_id: str) -> dict[str, Any]:
        """The employee's absence record, figures, triggers fired, and open sickness case."""
        if not self.principal.has_any(CASE_READERS):
            raise Forbidden("Your role cannot read attendance records.")
        organisation_id = self.principal.organisation_id
        today = _london_today()
        async with self.database.transaction() as session:
            staff = await session.scalar(
                select(Staff).where(
                    Staff.organisation_id == organisation_id, Staff.employee_id == employee_id
                )
            )
            if staff is None:
                raise NotFound(f"There is no member of staff {employee_id} that you can see.")
            absences = list(
                await session.scalars(
                    select(Absence)
                    .where(
                        Absence.organisation_id == organisation_id,
                        Absence.employee_id == employee_id,
                    )
                    .order_by(Absence.first_day)
                )
            )
            fired = list(
                await session.scalars(
                    select(AttendanceTrigger)
                    .where(
                        AttendanceTrigger.organisation_id == organisation_id,
                        AttendanceTrigger.employee_id == employee_id,
                    )
                    .order_by(AttendanceTrigger.fired_on, AttendanceTrigger.id)
                )
            )
            open_case = await session.scalar(
                select(Case.id)
                .where(
                    Case.organisation_id == organisation_id,
                    Case.employee_id == employee_id,
                    Case.case_type == "sickness",
                    Case.status != "closed",
                )
                .order_by(Case.opened_at.desc())
                .limit(1)
            )
            # Only the cases this reader may see are listed (as in GET /api/cases).
            cases = list(
                await session.scalars(
                    visible_cases(self.principal)
                    .where(Case.employee_id == employee_id, Case.case_type == "sickness")
                    .order_by(Case.opened_at)
                )
            )
            opened_by_trigger = {
                origin
                for origin in await session.scalars(
                    select(Case.origin).where(
                        Case.organisation_id == organisation_id,
                        Case.origin.in_({trigger.origin for trigger in fired}),
                    )
                )
            }
            found = await current_policy(session, organisation_id, "sickness")
            region = await holiday_region_of(session, organisation_id)
            append_audit(
                session,
                organisation_id=organisation_id,
                username=self.principal.username,
                action="attendance.read",
                detail={"employee_id": employee_id},
            )
        episodes = [Episode(absence.first_day, absence.last_day) for absence in absences]
        # A case this reader may not see (restricted, another team's, one they are a party to)
        # is not named here either: its reference is withheld, as GET /api/cases/{id} is a 404.
        seen = {case.id for case in cases}

        def shown(case_id: str | None) -> str | None:
            return case_id if case_id in seen else None

        return {
            "employee_id": employee_id,
            "name": staff.name,
            "division": staff.division,
            "department": staff.department,
            "as_of": today.isoformat(),
            "absences": [
                {
                    "first_day": absence.first_day.isoformat(),
                    "last_day": absence.last_day.isoformat() if absence.last_day else None,
                    "reason": absence.reason,
                    "source": absence.source,
                    "working_days": count_working_days(
                        absence.first_day, min(absence.last_day or today, today), region
                    ),
                }
                for absence in absences
            ],
            "figures": _figures(episodes, found[0].triggers if found else None, today, region),
            "triggers_fired": [
                {
                    "trigger": trigger.trigger,
                    "fired_on": trigger.fired_on.isoformat(),
                    "case_id": shown(trigger.case_id),
                    "outcome": _outcome(trigger, opened_by_trigger),
                    "reason": trigger.reason,
                    **trigger.figures,
                }
                for trigger in fired
            ],
            "open_case": shown(open_case),
            "sickness_cases": [
                {
                    "id": case.id,
                    "status": case.status,
                    "stage_key": case.stage_key,
                    "stage_name": case.stage_name,
                    "opened_at": case.opened_at.isoformat(),
                    "closed_at": case.closed_at.isoformat() if case.closed_at else None,
                    "opened_by": case.opened_by,
                }
                for case in cases
            ],
        }


def _outcome(trigger: AttendanceTrigger, opened_by_trigger: set[str | None]) -> str:
    """What became of the trigger; worked out for rows written before it was recorded."""
    if trigger.outcome is not None:
        return trigger.outcome
    if trigger.case_id is None:
        return "not_opened"
    return "opened" if trigger.origin in opened_by_trigger else "attached"


def _figures(episodes: list[Episode], triggers: Any, today: date, region: str) -> dict[str, Any]:
    """Today's figures over each trigger's own rolling period, beside its threshold (working
    days in the organisation's region)."""
    merged = spells(episodes)
    result: dict[str, Any] = {}
    if triggers is None:
        return result
    for name in ("episodes", "days_lost"):
        trigger = getattr(triggers, name)
        if trigger is not None:
            numbers = figures(merged, today, period_days(trigger.within), region=region)
            result[name] = {
                "period_start": numbers.period_start.isoformat(),
                "value": numbers.spells if name == "episodes" else numbers.working_days_lost,
                "threshold": trigger.count,
            }
    if triggers.bradford is not None:
        numbers = figures(merged, today, period_days(triggers.bradford.within), region=region)
        result["bradford"] = {
            "period_start": numbers.period_start.isoformat(),
            "spells": numbers.spells,
            "working_days_lost": numbers.working_days_lost,
            "value": numbers.bradford,
            "threshold": triggers.bradford.score,
        }
    current = next((spell for spell in merged if spell.open_on(today)), None)
    if current is not None:
        result["current_spell"] = {
            "first_day": current.first_day.isoformat(),
            "days_off": (today - current.first_day).days + 1,
            "long_term_from": (
                current.first_day + timedelta(days=triggers.long_term.from_day - 1)
            ).isoformat()
            if triggers.long_term
            else None,
        }
    return result


def _row_order(label: str) -> tuple[str, int]:
    """Sort "line 10" after "line 9"."""
    word, _, number = label.rpartition(" ")
    return (word, int(number)) if number.isdigit() else (label, 0)

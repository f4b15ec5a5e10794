"""Reports for the API and the web pages: who may see which, over which window, in which shape.

Scoping is services.access's `report_scope`; the figures are records.reporting's queries.
"""

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from records.audit import append_audit
from records.database import Database
from records.models import Case, RootCauseCode, Staff, StageInterval
from records.organisation_settings import OrganisationSettings, organisation_settings
from records.reporting import benchmark, causes, effort, equality, kpis, sql
from records.reporting.kpis import ReportError, Window
from records.reporting.table import CrossTab, Report
from services.access import ROOT_CAUSE_EDITORS, Principal, report_scope
from services.errors import Forbidden, Invalid, NotFound
from settings import Settings

REPORTS = (
    "kpis",
    "stages",
    "suspensions",
    "workload",
    "cost",
    "root-causes",
    "repeats",
    "benchmark",
    "wres",
    "wdes",
    "crosstab",
)
LONGEST_WINDOW = timedelta(days=366 * 10)
# Reports whose rows are cases, people or advisors: never across organisations (a national view
# is aggregates only, and published only with small numbers suppressed, as an FOI answer is).
ROW_LEVEL_REPORTS = frozenset({"workload", "cost", "repeats", "benchmark"})
# Reports whose standard names the cases they count (WRES: disciplinary investigations).
FIXED_CASE_TYPES = frozenset({"wres", "wdes"})


@dataclass
class ReportParameters:
    group_by: str | None = None
    start: date | None = None
    end: date | None = None
    national: bool = False
    window: str = equality.DEFAULT_WINDOW  # the standards' two-year rolling average
    by: str = "division"
    rows: str = "division"
    columns: str = "case_type"
    measure: str = "opened"
    limit: int = 100
    # KPIs: also count the cases closed within this many weeks of opening.
    weeks: int | None = None
    # Only cases of this type (every report with cases of more than one type).
    case_type: str | None = None


def window_of(parameters: ReportParameters, now: datetime) -> Window:
    """[from, to) in whole UTC days; by default the 365 days up to and including today."""
    end = parameters.end or (now.date() + timedelta(days=1))
    start = parameters.start or (end - timedelta(days=365))
    if start >= end:
        raise Invalid("from must be before to.")
    if end - start > LONGEST_WINDOW:
        raise Invalid("A report window may be at most ten years long.")
    return Window(datetime.combine(start, time(), UTC), datetime.combine(end, time(), UTC), now)


def of_case_type(
    case_type: str, scope: ColumnElement[bool], stays: ColumnElement[bool]
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The scopes on cases and on stays narrowed to one case type. A stay is narrowed through
    its own case (an alias, so a report that joins the stays' cases too is not confused)."""
    if not case_type or len(case_type) > 60:
        raise Invalid("case_type: give a case type's key of 1 to 60 characters.")
    own = aliased(Case)
    typed = (
        select(own.id)
        .where(
            own.id == StageInterval.case_id,
            own.organisation_id == StageInterval.organisation_id,
            own.case_type == case_type,
        )
        .exists()
    )
    return and_(scope, Case.case_type == case_type), and_(stays, typed)


@dataclass
class Reports:
    database: Database
    settings: Settings
    principal: Principal
    client_address: str | None = None

    async def run(
        self,
        name: str,
        parameters: ReportParameters,
        now: datetime | None = None,
        output: str = "json",
    ) -> Report | CrossTab:
        """The report, for this person's scope; each run is audited with what was asked and
        how it left (`output`: json, csv or foi), since a report can list cases and people."""
        if name not in REPORTS:
            raise NotFound(f"There is no report '{name}'; the reports are: {', '.join(REPORTS)}.")
        scope = report_scope(self.principal, parameters.national)
        if parameters.national and name in ROW_LEVEL_REPORTS:
            raise Forbidden(
                f"The {name} report lists cases or people, so it has no national view: nobody "
                "outside an organisation sees its rows."
            )
        if parameters.national and output != "foi":
            raise Invalid(
                "National figures are published only with small numbers suppressed: ask for "
                "them with foi=true."
            )
        # The same limit on the staff directory and on stays in stages, read without their cases.
        staff_scope, stays_scope = (
            (true(), true())
            if parameters.national
            else (
                Staff.organisation_id == self.principal.organisation_id,
                StageInterval.organisation_id == self.principal.organisation_id,
            )
        )
        if parameters.case_type is not None and name in FIXED_CASE_TYPES:
            raise Invalid(
                f"The {name} figure is defined on one process of its own (see the standard), "
                "so it takes no case_type."
            )
        if parameters.case_type is not None:
            scope, stays_scope = of_case_type(parameters.case_type, scope, stays_scope)
        window = window_of(parameters, now or datetime.now(UTC))

        def grouped() -> list[str]:
            return kpis.parse_group_by(parameters.group_by)

        # Each report with the organisation's own settings (its weights and rates).
        runs: dict[
            str, Callable[[AsyncSession, OrganisationSettings], Awaitable[Report | CrossTab]]
        ] = {
            "kpis": lambda s, own: kpis.kpis(s, scope, window, grouped(), parameters.weeks),
            "stages": lambda s, own: kpis.stages(s, scope, stays_scope, window, grouped()),
            "suspensions": lambda s, own: kpis.suspensions(
                s, scope, stays_scope, window, grouped()
            ),
            "workload": lambda s, own: effort.workload(
                s, scope, own.case_type_weights, own.risk_weights
            ),
            "cost": lambda s, own: effort.cost(
                s,
                scope,
                window,
                effort.parse_cost_group_by(parameters.group_by),
                own.hourly_rates,
            ),
            "root-causes": lambda s, own: causes.root_causes(s, scope, window, parameters.by),
            "repeats": lambda s, own: causes.repeats(s, scope, window),
            "benchmark": lambda s, own: benchmark.open_case_benchmark(
                s, scope, window, parameters.limit
            ),
            "wres": lambda s, own: equality.relative_likelihood(
                s, scope, staff_scope, equality.WRES3, window.end.date(), parameters.window
            ),
            "wdes": lambda s, own: equality.relative_likelihood(
                s, scope, staff_scope, equality.WDES3, window.end.date(), parameters.window
            ),
            "crosstab": lambda s, own: kpis.crosstab(
                s, scope, window, parameters.rows, parameters.columns, parameters.measure
            ),
        }
        try:
            async with self.database.sessions() as session:
                # The principal's organisation's own weights and rates, national reports too.
                own = await organisation_settings(
                    session, self.principal.organisation_id, self.settings
                )
                await sql.prepare(session)
                found = await runs[name](session, own)
        except ReportError as error:
            raise Invalid(str(error)) from error
        asked = {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(parameters).items()
        }
        async with self.database.transaction() as session:
            append_audit(
                session,
                organisation_id=self.principal.organisation_id,
                username=self.principal.username,
                action="report.read",
                client_address=self.client_address,
                detail={"report": name, "output": output, "parameters": asked},
            )
        return found

    async def foi_threshold(self) -> int:
        """Counts below this are shown as * in the organisation's FOI answers."""
        async with self.database.sessions() as session:
            own = await organisation_settings(
                session, self.principal.organisation_id, self.settings
            )
            return own.foi_threshold


@dataclass
class RootCauses:
    """The root-cause codes a policy owner maintains for their organisation."""

    database: Database
    principal: Principal

    async def list(self) -> list[RootCauseCode]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(RootCauseCode)
                .where(RootCauseCode.organisation_id == self.principal.organisation_id)
                .order_by(RootCauseCode.code)
            )
            return list(rows)

    async def save(self, code: str, label: str, active: bool = True) -> RootCauseCode:
        """Add a code, or change its label or retire it (codes in use are never deleted)."""
        if not self.principal.has_any(ROOT_CAUSE_EDITORS):
            raise Forbidden("Only a policy owner may change the root-cause codes.")
        try:
            code = causes.check_code(code)
        except ReportError as error:
            raise Invalid(str(error)) from error
        if not label.strip() or len(label) > 200:
            raise Invalid("label: give a label of 1 to 200 characters.")
        async with self.database.transaction() as session:
            row = await session.scalar(
                select(RootCauseCode).where(
                    RootCauseCode.organisation_id == self.principal.organisation_id,
                    RootCauseCode.code == code,
                )
            )
            if row is None:
                row = RootCauseCode(organisation_id=self.principal.organisation_id, code=code)
                session.add(row)
            row.label, row.active = label.strip(), active
            append_audit(
                session,
                organisation_id=self.principal.organisation_id,
                username=self.principal.username,
                action="root_cause.save",
                detail={"code": code, "label": row.label, "active": active},
            )
        return row


async def check_root_cause(session: AsyncSession, organisation_id: int, code: object) -> None:
    """A closing step's root cause must be one of the organisation's active codes."""
    known = await session.scalar(
        select(RootCauseCode.code).where(
            RootCauseCode.organisation_id == organisation_id,
            RootCauseCode.code == str(code),
            RootCauseCode.active.is_(True),
        )
    )
    if known is None:
        raise Invalid(
            f"root_cause: '{code}' is not one of your organisation's root-cause codes "
            "(see GET /api/reports/root-causes)."
        )

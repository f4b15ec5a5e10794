"""Reading cases: one (audited), a page, the work lists, and what the case page shows."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from policies.schema import PolicyDefinition
from records.cases import (
    MAX_SEARCH_WORDS,
    CaseFilters,
    filtered,
    find_staff,
    linked_cases,
    list_page,
    policy_version,
    search_words,
    timeline,
    undelivered_counts,
)
from records.models import Case, CaseEvent, Note, Staff, User
from services import text_limits
from services.access import visible_cases
from services.case_context import CaseContext
from services.case_people import advisors_of
from services.errors import Invalid, NotFound


def check_filters(filters: CaseFilters) -> None:
    """A search that can be run as asked, or Invalid saying what to change."""
    if filters.q is not None and len(filters.q) > text_limits.SEARCH:
        raise Invalid(
            f"The search is {len(filters.q):,} characters long; search with at most "
            f"{text_limits.SEARCH}."
        )
    if len(search_words(filters.q)) > MAX_SEARCH_WORDS:
        raise Invalid(f"Search with at most {MAX_SEARCH_WORDS} words.")
    for what, first, last in (
        ("Opened", filters.opened_from, filters.opened_to),
        ("Closed", filters.closed_from, filters.closed_to),
    ):
        if first is not None and last is not None and first > last:
            raise Invalid(
                f"{what} from {first.isoformat()} is after {what.lower()} to "
                f"{last.isoformat()}; give the earlier day first."
            )


@dataclass(frozen=True)
class CaseHistory:
    """What was done in a case: its events and notes, the cases it opened, mail undelivered."""

    events: list[CaseEvent]
    notes: list[Note]
    linked_cases: list[Case]
    undelivered: int


@dataclass(frozen=True)
class CaseQueries:
    context: CaseContext

    async def read(self, case_id: str) -> Case:
        """A case for display; every read is audited."""
        async with self.context.database.transaction() as session:
            case = await self.context.visible(session, case_id)
            self.context.audit(session, "case.read", case_id)
            return case

    async def page(self, filters: CaseFilters) -> tuple[list[Case], int]:
        """A page of the visible cases matching; audited with the search and what it showed."""
        check_filters(filters)
        async with self.context.database.transaction() as session:
            items, total = await list_page(session, visible_cases(self.context.principal), filters)
            self._audit_listing(session, filters, items)
            return items, total

    async def matching(
        self, filters: CaseFilters, *conditions: ColumnElement[bool], limit: int = 5000
    ) -> Sequence[Case]:
        """Every visible case that matches, unpaged (up to `limit`): work lists, dashboards."""
        check_filters(filters)
        query = filtered(visible_cases(self.context.principal), filters).where(*conditions)
        async with self.context.database.transaction() as session:
            rows = list(
                await session.scalars(
                    query.order_by(Case.stage_due_at.is_(None), Case.stage_due_at, Case.id).limit(
                        limit
                    )
                )
            )
            self._audit_listing(session, filters, rows)
            return rows

    def _audit_listing(
        self, session: AsyncSession, filters: CaseFilters, shown: Sequence[Case]
    ) -> None:
        """A list shows each case's summary and subject: who saw which, found by what search."""
        asked = {
            name: _plain(value)
            for name, value in asdict(filters).items()
            if value not in (None, "", [], ())
        }
        self.context.audit(
            session, "cases.list", None, {"filters": asked, "cases": [case.id for case in shown]}
        )

    async def advisors(self) -> Sequence[User]:
        """The active advisors of this person's organisation (its members too), by name."""
        async with self.context.database.transaction() as session:
            advisors = await advisors_of(session, self.context.principal.organisation_id)
            return sorted((person.user for person in advisors), key=lambda user: user.full_name)

    async def pinned_policy(self, case: Case) -> PolicyDefinition:
        """The version of its policy the case runs under (read with the case, access checked)."""
        async with self.context.database.transaction() as session:
            row = await policy_version(
                session, case.organisation_id, case.case_type, case.policy_version
            )
        if row is None:
            raise NotFound(f"The policy of case {case.id} cannot be found.")
        return PolicyDefinition.model_validate(row.definition)

    async def history(self, case_id: str) -> CaseHistory:
        """What was done in a case just read (access checked by that read)."""
        async with self.context.database.sessions() as session:
            events, notes = await timeline(session, case_id)
            counts = await undelivered_counts(session, [case_id])
            children = await linked_cases(session, case_id)
        return CaseHistory(events, notes, children, counts.get(case_id, 0))

    async def undelivered(self, case_ids: Sequence[str]) -> dict[str, int]:
        """How many messages about each case could not be delivered."""
        async with self.context.database.sessions() as session:
            return await undelivered_counts(session, list(case_ids))

    async def subject(self, case: Case) -> Staff | None:
        """The member of staff a case is about (None once purged)."""
        async with self.context.database.sessions() as session:
            return await find_staff(session, case.organisation_id, case.employee_id)


def _plain(value: Any) -> Any:
    """A filter's value as the audit's JSON holds it."""
    return value.isoformat() if isinstance(value, date | datetime) else value

"""Letters generated from a case: offered by its policy version, filled from what ercase knows.

A letter is a template of the case's own policy version (`letters.templates`), offered at
the case's current stage or after the step just taken. Its placeholders are filled from the
case (the people, the organisation, every field its steps recorded) and from dates ercase
computes (`policies/letter_dates.py`). A placeholder the case cannot fill refuses the
letter, naming it. Saved, the letter is a case document like any upload
(`services/documents.py`: checked, stored, audited) with an audit row of its own naming the
template; it never reaches the case's workflow, so its words never enter Temporal history,
and nothing here logs them.
"""

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policies.calendar import LONDON
from policies.letter_dates import (
    after_duration,
    last_day_of_period,
    latest_sending_day,
    period_after,
)
from policies.schema import CLOSED, LetterTemplate, PolicyDefinition, duration
from records.cases import find_staff, policy_version, timeline
from records.models import Case, CaseEvent, CaseParty, Document, Organisation, User
from services.access import CASE_WORKERS
from services.case_context import CaseContext
from services.documents import CaseDocuments
from services.errors import Forbidden, Invalid, NotFound
from services.letter_render import FilledLetter, fill, letter_pdf, letter_text, letter_value

LetterFormat = Literal["pdf", "docx"]
FORMATS: tuple[LetterFormat, ...] = ("pdf", "docx")
SHIPPED_TEMPLATES = Path(__file__).resolve().parent.parent / "policies" / "letters"
STEP_EVENTS = ("advanced", "closed", "recurring_recorded")


def letter_date_text(day: date) -> str:
    """How a letter writes a date: 18 May 2026."""
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class LetterPreview:
    template: LetterTemplate
    text: str
    missing: list[str]


@dataclass(frozen=True)
class _CaseFile:
    """What a letter may say about one case, read in one transaction."""

    case: Case
    policy: PolicyDefinition
    events: list[CaseEvent]
    values: dict[str, Any]


def offered_templates(
    policy: PolicyDefinition, case: Case, events: Sequence[CaseEvent]
) -> list[LetterTemplate]:
    """The templates offered now: at the case's stage (while open), or after its latest step."""
    steps = [event for event in events if event.kind in STEP_EVENTS]
    last_step = str(steps[-1].detail.get("action")) if steps else None
    in_stage = case.stage_key if case.status != CLOSED else None
    return [
        template
        for template in policy.letters.templates
        if (in_stage is not None and in_stage in template.stages) or last_step in template.after
    ]


def recorded_fields(
    policy: PolicyDefinition, events: Sequence[CaseEvent]
) -> tuple[dict[str, Any], dict[str, date]]:
    """Every field the case's steps recorded (the latest value of each, dates written as a
    letter writes them), and the day each was last recorded."""
    values: dict[str, Any] = {}
    recorded_on: dict[str, date] = {}
    for event in events:
        data = event.detail.get("data")
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            if value in (None, ""):
                continue
            declared = policy.fields.get(key)
            text = str(value)
            if declared is not None and declared.type == "date":
                with contextlib.suppress(ValueError):  # a date a step checked; kept as written
                    text = letter_date_text(date.fromisoformat(text))
            values[key] = letter_value(text)
            recorded_on[key] = event.at.astimezone(LONDON).date()
    return values, recorded_on


def _window_opened(
    case: Case, policy: PolicyDefinition, events: Sequence[CaseEvent]
) -> date | None:
    """The day the employee's time to appeal began, if it has."""
    window = policy.letters.appeal_window
    if window is not None:
        entered = [e for e in events if e.kind == "advanced" and e.detail.get("to") == window]
        return entered[-1].at.astimezone(LONDON).date() if entered else None
    if policy.appeal is not None and case.closed_at is not None:
        return case.closed_at.astimezone(LONDON).date()
    return None


def computed_dates(
    policy: PolicyDefinition,
    case: Case,
    events: Sequence[CaseEvent],
    recorded_on: dict[str, date],
    fields: dict[str, Any],
    today: date,
) -> dict[str, str]:
    """The dates ercase works out for a letter; one it cannot work out is left out."""
    dates = {"letter_date": today, "opened_on": case.opened_at.astimezone(LONDON).date()}
    # The appeal window: the linked appeal's `within`, or the clock of the appeal stage.
    window = None
    if policy.letters.appeal_window is not None:
        window = policy.stage(policy.letters.appeal_window).due
    elif policy.appeal is not None:
        window = policy.appeal.within
    if window is not None:
        opened = _window_opened(case, policy, events) or today
        # On the case's own calendar (its organisation's region when it opened).
        dates["appeal_deadline"] = after_duration(opened, duration(window), case.holiday_region)
    if policy.letters.decision_period is not None:
        dates["decision_date"] = last_day_of_period(
            dates["opened_on"], policy.letters.decision_period
        )
    warnings = policy.letters.warnings
    sanction = fields.get(warnings.field) if warnings is not None else None
    if warnings is not None and sanction is not None and str(sanction) in warnings.expire_after:
        decided = recorded_on[warnings.field]
        dates["warning_expiry"] = period_after(decided, warnings.expire_after[str(sanction)])
    notice = _notice_date(policy, events, case.holiday_region)
    if notice is not None:
        dates["notice_date"] = notice
    return {name: letter_date_text(day) for name, day in dates.items()}


def _notice_date(policy: PolicyDefinition, events: Sequence[CaseEvent], region: str) -> date | None:
    """The last day to send the letter for the latest meeting a step set with notice."""
    for event in reversed(events):
        data = event.detail.get("data")
        action_key = event.detail.get("action")
        if not isinstance(data, dict) or event.kind not in STEP_EVENTS:
            continue
        for stage in policy.stages:
            action = stage.action(str(action_key))
            if action is None or action.notice is None:
                continue
            try:
                meeting = date.fromisoformat(str(data.get(action.notice.field)))
            except ValueError:
                continue
            return latest_sending_day(meeting, duration(action.notice.at_least), region)
    return None


def template_problems(policy: PolicyDefinition, folder: Path) -> list[str]:
    """Each template the definition names that is not in `folder` or cannot be filled, in a
    sentence naming where it is named (checked when a version is published)."""
    problems = []
    for index, template in enumerate(policy.letters.templates):
        where = f"letters.templates[{index}].file"
        path = folder / template.file
        if not path.is_file():
            problems.append(f"{where}: there is no template '{template.file}' in the folder")
            continue
        try:
            fill(path.read_bytes(), {}, template.file)
        except Invalid as refused:
            problems.append(f"{where}: {refused.detail}")
    return problems


@dataclass(frozen=True)
class CaseLetters:
    """The letters of the cases one signed-in person may see."""

    context: CaseContext
    documents: CaseDocuments
    templates_dir: Path = SHIPPED_TEMPLATES

    async def offered(self, case_id: str) -> list[LetterTemplate]:
        async with self.context.database.transaction() as session:
            file = await self._case_file(session, case_id)
            self.context.audit(session, "case.letters.read", case_id)
        return offered_templates(file.policy, file.case, file.events)

    async def preview(self, case_id: str, key: str) -> LetterPreview:
        """The letter filled in, as text, and the placeholders the case cannot fill."""
        template, filled = await self._fill(case_id, key, "case.letter.preview")
        return LetterPreview(template, letter_text(filled.docx), filled.missing)

    async def generate(self, case_id: str, key: str, format: str) -> Document:
        """The letter saved as a case document, in the format asked for."""
        if format not in FORMATS:
            raise Invalid("format must be 'pdf' or 'docx'.")
        # A case this person may not see is a 404 before any question of role (not a 403).
        async with self.context.database.transaction() as session:
            await self.context.visible(session, case_id)
        if not self.context.principal.has_any(CASE_WORKERS):
            raise Forbidden("Your role cannot add letters to cases.")
        template, filled = await self._fill(case_id, key, None)
        if filled.missing:
            raise Invalid(
                f"The letter '{template.name}' needs what case {case_id} does not record yet: "
                f"{', '.join(filled.missing)}. Record them with the case's steps first."
            )
        content = letter_pdf(filled.docx) if format == "pdf" else filled.docx
        document = await self.documents.add(case_id, f"{case_id} {template.name}.{format}", content)
        async with self.context.database.transaction() as session:
            self.context.audit(
                session,
                "case.letter.generate",
                case_id,
                {"template": template.key, "format": format, "document": document.id},
            )
        return document

    async def _fill(
        self, case_id: str, key: str, audit: str | None
    ) -> tuple[LetterTemplate, FilledLetter]:
        async with self.context.database.transaction() as session:
            file = await self._case_file(session, case_id)
            offered = offered_templates(file.policy, file.case, file.events)
            template = next((t for t in offered if t.key == key), None)
            if template is None:
                names = ", ".join(t.key for t in offered) or "none"
                raise Invalid(
                    f"'{key}' is not a letter offered at this point of case {case_id} "
                    f"(offered now: {names})."
                )
            if audit is not None:
                self.context.audit(session, audit, case_id, {"template": key})
        return template, fill(self._template_bytes(template), file.values, template.file)

    def _template_bytes(self, template: LetterTemplate) -> bytes:
        path = self.templates_dir / template.file
        if not path.is_file():
            raise Invalid(
                f"The letter template '{template.file}' is missing from the templates folder."
            )
        return path.read_bytes()

    async def _case_file(self, session: AsyncSession, case_id: str) -> _CaseFile:
        case = await self.context.visible(session, case_id)
        row = await policy_version(
            session, case.organisation_id, case.case_type, case.policy_version
        )
        if row is None:
            raise NotFound(f"The policy of case {case_id} cannot be found.")
        policy = PolicyDefinition.model_validate(row.definition)
        events, _ = await timeline(session, case_id)
        values = await self._people(session, case)
        fields, recorded_on = recorded_fields(policy, events)
        today = datetime.now(LONDON).date()
        values = {
            **fields,
            **values,
            **computed_dates(policy, case, events, recorded_on, fields, today),
        }
        values.update(reference=case.id, case_type_name=policy.name, stage_name=case.stage_name)
        if case.summary:
            values["summary"] = letter_value(case.summary)
        return _CaseFile(case, policy, events, values)

    async def _people(self, session: AsyncSession, case: Case) -> dict[str, Any]:
        """The employee, their line manager, the advisor, the organisation and the parties."""
        values: dict[str, Any] = {}
        organisation = await session.get(Organisation, case.organisation_id)
        values["organisation_name"] = organisation.name if organisation else None
        staff = await find_staff(session, case.organisation_id, case.employee_id)
        values["employee_id"] = case.employee_id
        if staff is not None:
            values.update(
                employee_name=staff.name,
                employee_email=staff.email,
                employee_position=staff.position,
                employee_department=staff.department,
                employee_division=staff.division,
            )
            if staff.line_manager_id:
                manager = await find_staff(session, case.organisation_id, staff.line_manager_id)
                values["line_manager_name"] = manager.name if manager else None
        advisor = await session.scalar(
            select(User).where(
                User.organisation_id == case.organisation_id, User.username == case.advisor
            )
        )
        if advisor is not None:
            values.update(advisor_name=advisor.full_name, advisor_email=advisor.email)
        parties = await session.scalars(
            select(CaseParty).where(CaseParty.case_id == case.id).order_by(CaseParty.id)
        )
        named: dict[str, list[str]] = {"complainant": [], "witness": []}
        for party in parties:
            person = await find_staff(session, case.organisation_id, party.employee_id)
            named.setdefault(party.role, []).append(
                person.name if person and person.name else party.employee_id
            )
        values["complainants"] = ", ".join(named["complainant"]) or None
        values["witnesses"] = ", ".join(named["witness"]) or None
        values["parent_reference"] = case.parent_case_id
        # None is "not known": the template's placeholder for it is then missing, never blank.
        return {name: value for name, value in values.items() if value not in (None, "")}

"""A dry run of bringing in cases already under way: the case each row would become.

Every row goes through the checks a real import makes (services/case_opening.py
`CaseOpening.check`), so a row the preview accepts is one the import accepts, and each bad
row is named by its line or item with the reason. Nothing is written: no reference is
drawn, no key made, no workflow started.

The deadlines come from the case clock (policies/case_clock.py) on the state the case's
workflow starts from, and what is already due is what the workflow's first pass fires: a
preview shows the ER lead which breaches are recorded, and which mails go out, the moment
the import is committed.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from policies import case_clock
from services.case_opening import CaseOpening, CheckedCase, OpenCase, row_order
from services.errors import Conflict, Invalid

BREACHES = {"stage_breach": "stage", "target_breach": "case"}


@dataclass(frozen=True)
class StagePreview:
    key: str
    name: str
    started_at: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class Breach:
    """A deadline already passed: recorded on the case as soon as it is imported."""

    deadline: str  # "stage" or "case" (the whole case's target)
    due_at: datetime


@dataclass(frozen=True)
class MailAtOnce:
    """A mail the case's clock owes as soon as it starts (a reminder, a breach's escalation)."""

    kind: str  # the mail's template: reminder | breach | escalation | ...
    roles: list[str]
    about: str  # the stage's name, or "whole case"
    due_at: datetime | None


@dataclass(frozen=True)
class CasePreview:
    row: str  # "line 3" (CSV) or "item 2" (JSON)
    case_type: str
    policy_version: int
    employee_id: str
    employee_name: str | None
    summary: str
    risk: str
    advisor: str
    opened_at: datetime
    stage: StagePreview
    due_at: datetime | None  # the whole case's deadline
    breached: bool
    breaches: list[Breach]
    mail_at_once: list[MailAtOnce]


@dataclass
class ImportPreview:
    """What an import would bring in; `errors` name the rows that stop it."""

    dry_run: bool = True
    valid: int = 0
    cases: list[CasePreview] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def preview_of(label: str, checked: CheckedCase, now: datetime) -> CasePreview:
    """The case as its workflow will start it at `now`, and what its first pass fires."""
    policy = checked.policy
    # The state CaseProcess.__init__ builds from the case's CaseInput.
    started = checked.case_input(reference=label)
    state = case_clock.starting_state(
        policy,
        opened_at=started.opened_at,
        stage_key=started.start_stage,
        stage_started_at=started.stage_started_at,
        advisor=started.advisor,
        holiday_region=started.holiday_region,
    )
    stage_due = case_clock.stage_due(state, policy, now)
    case_due = case_clock.case_due(state, policy, now)
    breached = case_clock.breached(state, policy, now)
    breaches: list[Breach] = []
    mail: list[MailAtOnce] = []
    # As the workflow's _fire_due_items does: each item fires once, in order.
    for item in case_clock.due_items(state, policy, now):
        state.done.add(item.key)
        if item.kind in BREACHES:
            breaches.append(Breach(BREACHES[item.kind], item.at))
        announced = case_clock.announcement(item, state, policy, now)
        if announced is not None and announced.notice is not None:
            notice = announced.notice
            mail.append(MailAtOnce(notice.kind, notice.roles, notice.subject_stage, notice.due_at))
    return CasePreview(
        row=label,
        case_type=policy.case_type,
        policy_version=checked.policy_version,
        employee_id=checked.staff.employee_id,
        employee_name=checked.staff.name,
        summary=checked.summary,
        risk=checked.risk,
        advisor=checked.advisor,
        opened_at=checked.opened_at,
        stage=StagePreview(
            checked.stage.key, checked.stage.name, checked.stage_started_at, stage_due
        ),
        due_at=case_due,
        breached=breached,
        breaches=breaches,
        mail_at_once=mail,
    )


async def preview_import(
    opening: CaseOpening, rows: list[tuple[str, OpenCase]], unreadable: list[dict[str, str]]
) -> ImportPreview:
    """Check every row as the import would, and say what each good one would become.

    `unreadable` are the rows the file's reader refused; they are reported with the rest.
    """
    opening.context.require_worker()
    now = datetime.now(UTC)
    preview = ImportPreview()
    problems = [*unreadable]
    alongside: list[tuple[str, CheckedCase]] = []
    async with opening.context.database.sessions() as session:
        for label, request in rows:
            try:
                checked = await opening.check(session, request, now, alongside)
            except (Invalid, Conflict) as refused:
                problems.append({"row": label, "message": refused.detail})
                continue
            alongside.append((label, checked))
            preview.cases.append(preview_of(label, checked, now))
    preview.valid = len(preview.cases)
    preview.errors = sorted(problems, key=lambda problem: row_order(problem["row"]))
    return preview

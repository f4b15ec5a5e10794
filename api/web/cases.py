"""Case pages: the work list, one case with everything done in it, and opening a case."""

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse, RedirectResponse

from api.deps import case_context, get_settings
from api.routes.bundle import bundle_download
from api.routes.documents import attachment, case_documents, read_upload
from api.routes.letters import case_letters
from api.routes.time_entries import case_time
from api.web.casefile import action_forms, field_errors, humanise
from api.web.errors import WebRoute, require
from api.web.render import render
from api.web.session import CheckedForm, WebUser
from api.web.urgency import by_urgency
from policies.calendar import LONDON
from policies.loader import shipped_policies
from records.cases import CaseFilters
from records.models import Case
from services import text_limits
from services.access import CASE_READERS, CASE_WORKERS, Principal
from services.case_chronology import NOTE_KINDS, history, stage_visits
from services.case_opening import CaseOpening, OpenCase
from services.case_queries import CaseQueries
from services.case_records import CaseRecords
from services.case_steps import CaseSteps
from services.document_kinds import ALLOWED_KINDS
from services.errors import Invalid, ServiceError
from services.time_entries import ACTIVITY_CODES, NewTimeEntry

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# Sentences shown after a step succeeded; only these, so no text from a link reaches the page.
DONE = {
    "opened": "The case is open and its clock is running.",
    "step": "Done: the step is recorded.",
    "paused": "The clock is paused.",
    "resumed": "The clock is running again; its deadlines moved by the time it was paused.",
    "note": "Note added.",
    "document": "Document uploaded.",
    "time": "Time recorded.",
    "letter": "Letter saved: it is in the documents.",
}


def done(case_id: str, what: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?done={what}{anchor}", status_code=303)


# ---- the work list ---------------------------------------------------------------------


# The work list's status choices: its own work (open or paused) unless asked otherwise.
STATUSES = {
    "": "Open or paused",
    "open": "Open",
    "paused": "Paused",
    "closed": "Closed",
    "all": "Any status",
}
DATE_FILTERS = {
    "opened_from": "Opened from",
    "opened_to": "Opened to",
    "closed_from": "Closed from",
    "closed_to": "Closed to",
}


def filter_day(name: str, text: str) -> date | None:
    """A day from the filters' date input (empty: no limit)."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            f"{DATE_FILTERS[name]}: give a date such as 2026-05-04, or leave it empty."
        ) from None


@router.get("/cases")
async def work_list(
    request: Request,
    principal: WebUser,
    case_type: str = "",
    stage: str = "",
    risk: str = "",
    q: str = "",
    scope: str = "",
    status: str = "",
    opened_from: str = "",
    opened_to: str = "",
    closed_from: str = "",
    closed_to: str = "",
) -> Response:
    require(principal.roles, CASE_READERS, "see cases")
    is_advisor = "advisor" in principal.roles
    mine = is_advisor and scope != "all"
    sent = {
        "opened_from": opened_from,
        "opened_to": opened_to,
        "closed_from": closed_from,
        "closed_to": closed_to,
    }
    chosen = {"case_type": case_type, "stage": stage, "risk": risk, "q": q, "scope": scope}
    chosen |= {"status": status if status in STATUSES else "", **sent}
    conditions: list[Any] = []
    if chosen["status"] == "":
        conditions.append(Case.status.in_(("open", "paused")))
    if stage:
        conditions.append(Case.stage_key == stage)
    if risk in ("urgent", "routine"):
        conditions.append(Case.risk == risk)
    cases: list[Case] = []
    problem = ""
    try:
        filters = CaseFilters(
            status=chosen["status"] if chosen["status"] not in ("", "all") else None,
            case_type=case_type or None,
            advisor=principal.username if mine else None,
            q=q.strip() or None,
            opened_from=filter_day("opened_from", opened_from),
            opened_to=filter_day("opened_to", opened_to),
            closed_from=filter_day("closed_from", closed_from),
            closed_to=filter_day("closed_to", closed_to),
        )
        reader = case_context(request, principal)
        cases = list(await CaseQueries(reader).matching(filters, *conditions))
    except Invalid as error:
        problem = error.detail
    rows = by_urgency(cases, datetime.now(UTC))
    policies = shipped_policies()
    stages = sorted(
        {(s.key, s.name) for policy in policies.values() for s in policy.stages}, key=lambda s: s[1]
    )
    context = {
        "title": "My cases" if mine else "Cases",
        "rows": rows,
        "case_types": {key: policy.name for key, policy in policies.items()},
        "stages": stages,
        "statuses": STATUSES,
        "date_filters": DATE_FILTERS,
        "chosen": chosen,
        "problem": problem,
        "is_advisor": is_advisor,
        "mine": mine,
    }
    # The filters ask htmx for just the rows, so typing in the search box keeps its focus.
    if request.headers.get("HX-Target") == "case-rows":
        return render(request, "_case_rows.html", context, 422 if problem else 200)
    return render(request, "cases.html", context, 422 if problem else 200)


# ---- one case ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NotDone:
    """A refused step whose form is no longer on the page: why, and the text to copy."""

    reason: str
    typed: list[tuple[str, str]]


async def case_page(
    request: Request,
    principal: Principal,
    case_id: str,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    not_done: NotDone | None = None,
) -> Response:
    """The case page; `errors` by form (an action key, 'pause', 'note', …) then by field;
    `not_done`, a refused step whose form the page no longer shows, with what was typed."""
    queries = CaseQueries(case_context(request, principal))
    case = await queries.read(case_id)
    policy = await queries.pinned_policy(case)
    past = await queries.history(case_id)
    events, notes = past.events, past.notes
    staff = await queries.subject(case)
    documents = await case_documents(request, principal).list(case_id)
    time_entries = await case_time(request, principal).list(case_id)
    letters = case_letters(request, principal)
    offered = await letters.offered(case_id)
    chosen = request.query_params.get("letter", "")[:60]
    preview, preview_error = None, None
    if chosen:
        try:
            preview = await letters.preview(case_id, chosen)
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            preview_error = error.detail
    now = datetime.now(UTC)
    context = {
        "title": f"Case {case.id}",
        "case": case,
        "policy": policy,
        "staff": staff,
        "linked_cases": past.linked_cases,
        "urgency": by_urgency([case], now)[0][1],
        "visits": stage_visits(case, policy, events, now),
        "forms": action_forms(case, policy),
        "history": history(events, notes, policy, documents),
        "documents": documents,
        "time_entries": time_entries,
        "letters": offered,
        "letter_preview": preview,
        "letter_error": preview_error or (errors or {}).get("letter", {}).get(""),
        "chosen_letter": chosen,
        "time_total": sum(entry.minutes for entry in time_entries),
        "activity_codes": ACTIVITY_CODES,
        "note_kinds": NOTE_KINDS,
        "allowed_kinds": ALLOWED_KINDS,
        "max_mb": get_settings(request).document_max_mb,
        "can_work": principal.has_any(CASE_WORKERS),
        "errors": errors or {},
        "values": values or {},
        "not_done": not_done,
        "note_max": text_limits.NOTE,
        "request_id": secrets.token_urlsafe(12),
        "done": DONE.get(request.query_params.get("done", "")),
        "today": now.astimezone(LONDON).date().isoformat(),
    }
    return render(request, "case.html", context, status)


@router.get("/cases/new")
async def new_case_form(request: Request, principal: WebUser) -> Response:
    return await new_case_page(request, principal, {}, {})


async def new_case_page(
    request: Request,
    principal: Principal,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    context = {
        "title": "New case",
        "case_types": {key: policy.name for key, policy in shipped_policies().items()},
        "advisors": await CaseQueries(case_context(request, principal)).advisors(),
        "values": values,
        "errors": errors,
        "is_advisor": "advisor" in principal.roles,
    }
    return render(request, "new_case.html", context, status)


# Which field of the new-case form a refusal is about, by the words it uses.
NEW_CASE_FIELDS = {
    "employee_id": ("member of staff", "employee"),
    "case_type": ("case type", "policy"),
    "advisor": ("advisor",),
    "summary": ("summary",),
    "risk": ("risk",),
}


@router.post("/cases/new")
async def open_case(
    request: Request,
    principal: WebUser,
    form: CheckedForm,
    case_type: Annotated[str, Form(max_length=60)] = "",
    employee_id: Annotated[str, Form(max_length=40)] = "",
    # Checked below, so that a summary too long is said beside it with the form kept.
    summary: Annotated[str, Form()] = "",
    risk: Annotated[str, Form(max_length=10)] = "routine",
    advisor: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    del form
    values = {
        "case_type": case_type,
        "employee_id": employee_id.strip(),
        "summary": summary,
        "risk": risk,
        "advisor": advisor,
    }
    try:
        text_limits.check_length("summary", "The summary", summary, text_limits.SUMMARY)
        case = await CaseOpening(case_context(request, principal)).open(
            OpenCase(case_type, employee_id.strip(), summary, risk, advisor or None)
        )
    except text_limits.TooLong as error:
        return await new_case_page(request, principal, values, {error.field: error.detail}, 422)
    except Invalid as error:
        field = next(
            (
                name
                for name, words in NEW_CASE_FIELDS.items()
                if any(w in error.detail for w in words)
            ),
            "",
        )
        return await new_case_page(request, principal, values, {field: error.detail}, 422)
    return done(case.id, "opened")


@router.get("/cases/{case_id}")
async def show_case(request: Request, case_id: str, principal: WebUser) -> Response:
    return await case_page(request, principal, case_id)


# Hidden fields every case form carries: not data of the step.
FORM_ONLY = ("csrf_token", "request_id", "seen_stage", "seen_status")


def step_data(form: CheckedForm) -> dict[str, str]:
    """The data fields of a form as typed (trimmed; never cut: see services/text_limits)."""
    return {
        name: value.strip()
        for name, value in form.items()
        if isinstance(value, str) and name not in FORM_ONLY
    }


def check_lengths(data: dict[str, str], limits: dict[str, tuple[str, int]]) -> None:
    """Refuse the first field over its limit (`limits`: field → (its name in words, limit));
    fields not named are a step's answers, each up to text_limits.STEP_FIELD."""
    for name, value in data.items():
        what, limit = limits.get(name, ("This answer", text_limits.STEP_FIELD))
        text_limits.check_length(name, what, value, limit)


def _form_shown(case: Case, form_key: str) -> bool:
    """Whether the case page as it is now still shows the form `form_key` was sent from."""
    if form_key in ("note", "document", "time"):
        return True
    if form_key == "pause":
        return case.status == "open"
    if form_key == "resume":
        return case.status == "paused"
    return case.status == "open" and form_key in case.actions


def _moved_on(case: Case, seen_stage: str, seen_status: str) -> str | None:
    """What changed since the page the form came from was drawn, in words, or None."""
    if seen_status and seen_status != case.status:
        if case.status == "closed":
            return "This case was closed since you opened it"
        if case.status == "paused":
            return f"The clock of this case was paused since you opened it ({case.paused_reason})"
        return "The clock of this case was started again since you opened it"
    if seen_stage and seen_stage != case.stage_key:
        return f"This case moved to {case.stage_name} since you opened it"
    return None


async def refused_step(
    request: Request,
    principal: Principal,
    case_id: str,
    form_key: str,
    error: ServiceError,
    values: dict[str, str],
    form: CheckedForm | None = None,
) -> Response:
    """The case page again, with the rule's words beside the field (or form) they concern and
    what was typed still in it. A form that the page no longer shows (another tab moved the case
    on) is refused at the top of the page, saying what changed, with the typed text to copy."""
    if error.status in (403, 404):
        raise error
    queries = CaseQueries(case_context(request, principal))
    case = await queries.read(case_id)
    fields = (await queries.pinned_policy(case)).fields
    if isinstance(error, text_limits.TooLong):
        errors = {form_key: {error.field: error.detail}}
    else:
        labels = {name: declared.label for name, declared in fields.items()}
        errors = {form_key: field_errors(error.detail, list(values), labels)}
    not_done = None
    if not _form_shown(case, form_key):
        seen = {name: str(form.get(name, "")) if form else "" for name in FORM_ONLY}
        moved = _moved_on(case, seen["seen_stage"], seen["seen_status"])
        reason = f"{moved}, so this was not done." if moved else error.detail
        typed = [
            (fields[name].label if name in fields else humanise(name), value)
            for name, value in values.items()
            if value
        ]
        not_done = NotDone(reason, typed)
    return await case_page(
        request,
        principal,
        case_id,
        errors=errors,
        values=values,
        status=error.status,
        not_done=not_done,
    )


def request_id_of(form: CheckedForm) -> str | None:
    value = form.get("request_id")
    return value[:100] if isinstance(value, str) and value else None


@router.post("/cases/{case_id}/actions/{action}")
async def take_action(
    request: Request, case_id: str, action: str, principal: WebUser, form: CheckedForm
) -> Response:
    data = step_data(form)
    try:
        check_lengths(data, {})
        await CaseSteps(case_context(request, principal)).act(
            case_id, action, data, request_id_of(form)
        )
    except ServiceError as error:
        return await refused_step(request, principal, case_id, action, error, data, form)
    return done(case_id, "step")


@router.post("/cases/{case_id}/pause")
async def pause(request: Request, case_id: str, principal: WebUser, form: CheckedForm) -> Response:
    data = step_data(form)
    try:
        check_lengths(data, {"reason": ("The reason", text_limits.PAUSE_REASON)})
        await CaseSteps(case_context(request, principal)).pause(
            case_id, data.get("reason", ""), request_id_of(form)
        )
    except ServiceError as error:
        return await refused_step(request, principal, case_id, "pause", error, data, form)
    return done(case_id, "paused")


@router.post("/cases/{case_id}/resume")
async def resume(request: Request, case_id: str, principal: WebUser, form: CheckedForm) -> Response:
    try:
        await CaseSteps(case_context(request, principal)).resume(case_id, request_id_of(form))
    except ServiceError as error:
        return await refused_step(request, principal, case_id, "resume", error, {}, form)
    return done(case_id, "resumed")


@router.post("/cases/{case_id}/notes")
async def add_note(
    request: Request, case_id: str, principal: WebUser, form: CheckedForm
) -> Response:
    data = step_data(form)
    kind, text = data.get("kind", "note"), data.get("text", "")
    try:
        if kind not in NOTE_KINDS:
            raise Invalid(f"kind: choose one of {', '.join(NOTE_KINDS)}.")
        if not text:
            raise Invalid("text: write the note before adding it.")
        check_lengths(data, {"text": ("The note", text_limits.NOTE), "kind": ("The kind", 20)})
        await CaseRecords(case_context(request, principal)).add_note(case_id, kind, text)
    except ServiceError as error:
        return await refused_step(request, principal, case_id, "note", error, data)
    return done(case_id, "note", "#notes")


@router.post("/cases/{case_id}/documents")
async def upload_document(
    request: Request,
    case_id: str,
    principal: WebUser,
    form: CheckedForm,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    del form
    try:
        if file is None or not file.filename:
            raise Invalid("file: choose the document to upload.")
        documents = case_documents(request, principal)
        await documents.add(case_id, file.filename, await read_upload(file, documents))
    except ServiceError as error:
        return await refused_step(request, principal, case_id, "document", error, {"file": ""})
    return done(case_id, "document", "#documents")


@router.post("/cases/{case_id}/letters")
async def save_letter(
    request: Request, case_id: str, principal: WebUser, form: CheckedForm
) -> Response:
    data = step_data(form)
    try:
        await case_letters(request, principal).generate(
            case_id, data.get("template", ""), data.get("format", "")
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        return await case_page(
            request, principal, case_id, errors={"letter": {"": error.detail}}, status=error.status
        )
    return done(case_id, "letter", "#documents")


@router.get("/cases/{case_id}/documents/{document_id}")
async def download_document(
    request: Request, case_id: str, document_id: int, principal: WebUser
) -> FileResponse:
    document, path = await case_documents(request, principal).open(case_id, document_id)
    return attachment(document, path)


@router.get("/cases/{case_id}/bundle")
async def download_bundle(request: Request, case_id: str, principal: WebUser) -> Response:
    return await bundle_download(request, principal, case_id)


@router.post("/cases/{case_id}/time")
async def add_time(
    request: Request, case_id: str, principal: WebUser, form: CheckedForm
) -> Response:
    data = step_data(form)
    try:
        try:
            worked_on = date.fromisoformat(data.get("worked_on", ""))
        except ValueError:
            raise Invalid("worked_on: give the date worked, e.g. 2026-05-04.") from None
        try:
            minutes = int(data.get("minutes", ""))
        except ValueError:
            raise Invalid("minutes: give the time spent as a whole number of minutes.") from None
        check_lengths(data, {"note": ("The note", text_limits.TIME_NOTE)})
        entry = NewTimeEntry(
            worked_on, minutes, data.get("activity_code", ""), data.get("note", "")
        )
        await case_time(request, principal).add(case_id, entry)
    except ServiceError as error:
        return await refused_step(request, principal, case_id, "time", error, data)
    return done(case_id, "time", "#time")


# ---- quick enquiry log -----------------------------------------------------------------


async def enquiry_page(
    request: Request,
    principal: Principal,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    filters = CaseFilters(advisor=principal.username if "advisor" in principal.roles else None)
    open_cases = await CaseQueries(case_context(request, principal)).matching(
        filters, Case.status.in_(("open", "paused"))
    )
    context = {
        "title": "Log an enquiry",
        "open_cases": open_cases,
        "values": values,
        "errors": errors,
        "logged": request.query_params.get("logged", ""),
    }
    return render(request, "enquiry.html", context, status)


@router.get("/enquiries/new")
async def enquiry_form(request: Request, principal: WebUser) -> Response:
    return await enquiry_page(request, principal, {"kind": "call"}, {})


ENQUIRY = "enquiry"


@router.post("/enquiries/new")
async def log_enquiry(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    """A call or email logged in a few keystrokes: as a note on its case, or, with no case
    given, as a new enquiry case (for the employee it is about) with the call as its first note."""
    data = step_data(form)
    case_id, kind = data.get("case_id", "").upper(), data.get("kind", "call")
    caller, text = data.get("caller", ""), data.get("text", "")
    employee_id = data.get("employee_id", "")
    errors: dict[str, str] = {}
    if kind not in ("call", "email", "meeting"):
        errors["kind"] = "Choose phone call, email or meeting."
    if not case_id and not employee_id:
        errors["case_id"] = "Give the case reference, or the employee id for a new enquiry."
    if not text:
        errors["text"] = "Write what was asked or said."
    for name, what, limit in (
        ("text", "What was asked or said", text_limits.NOTE),
        ("caller", "Who called or wrote", text_limits.CALLER),
    ):
        try:
            text_limits.check_length(name, what, data.get(name, ""), limit)
        except text_limits.TooLong as error:
            errors[name] = error.detail
    context = case_context(request, principal)
    if not errors:
        try:
            if not case_id:
                summary = text if len(text) <= 200 else text[:199] + "…"
                opening = CaseOpening(context)
                case_id = (await opening.open(OpenCase(ENQUIRY, employee_id, summary))).id
            await CaseRecords(context).add_note(
                case_id, kind, f"From {caller}: {text}" if caller else text
            )
        except ServiceError as error:
            about = "case_id" if error.status == 404 else ""
            about = "employee_id" if "staff" in error.detail else about
            errors[about] = error.detail
    if errors:
        return await enquiry_page(request, principal, data, errors, 422)
    return RedirectResponse(f"/enquiries/new?logged={case_id}", status_code=303)

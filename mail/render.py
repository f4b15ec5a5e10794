"""The wording of every mail: Jinja2 templates under mail/templates, text with an HTML twin."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from policies.calendar import LONDON

CASE_KINDS = (
    "assigned",
    "reminder",
    "breach",
    "escalation",
    "outcome_letter_due",
    "suspension_review",
)
# Mail about an account, not a case: the set-password link for a new account, and the one
# "forgot password?" sends. They take `full_name`, `username`, `organisation`, `link` and
# `expires_at`; the link is in the body only, never the subject (the outbox keeps subjects).
ACCOUNT_KINDS = ("account_invite", "password_reset")
MAIL_KINDS = (*CASE_KINDS, "digest", "weekly_report", *ACCOUNT_KINDS)
# A reminder before these stages' deadlines gets its own wording.
REMINDER_KIND_FOR_STAGE = {
    "outcome_letter": "outcome_letter_due",
    "suspension_review": "suspension_review",
}

SUBJECT_MAX = 300  # OutboxMessage.subject


def format_london(moment: datetime) -> str:
    """'Friday 4 December 2026, 23:59': how a deadline reads to people in the UK."""
    local = moment.astimezone(LONDON)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


def format_date(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y}"


_templates = Environment(
    loader=PackageLoader("mail", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_templates.filters["london"] = format_london
_templates.filters["day"] = format_date


@dataclass
class RenderedMail:
    subject: str
    text: str
    html: str


def case_mail_kind(event_kind: str, stage_key: str | None) -> str:
    """The mail kind for a case event: a reminder before some stages reads differently."""
    if event_kind == "reminder":
        return REMINDER_KIND_FOR_STAGE.get(stage_key or "", "reminder")
    return event_kind


def render_mail(kind: str, context: dict[str, Any]) -> RenderedMail:
    """Render `<kind>.txt` and `<kind>.html`.

    Case mail takes `case_id`, `stage` (a stage name or "whole case"), `due_at` (aware
    datetime or None), `level`, `told` (who this message goes to, in words) and `case_url`;
    the digest and the weekly report take what activities/reports.py gives them. The subject
    is set in the text template, so all the wording lives in templates.
    """
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind {kind!r}; expected one of {', '.join(MAIL_KINDS)}")
    text_module = _templates.get_template(f"{kind}.txt").make_module(context)
    # `{% set subject %}` in the text template exports it; a subject is one header line,
    # whatever the stage name holds.
    exported_subject = text_module.subject  # type: ignore[attr-defined]
    subject = " ".join(str(exported_subject).split())[:SUBJECT_MAX]
    html = _templates.get_template(f"{kind}.html").render(context, subject=subject)
    return RenderedMail(subject=subject, text=str(text_module).strip() + "\n", html=html)

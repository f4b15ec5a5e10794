"""The read model and the records the API owns (SQLAlchemy 2, SQLite and PostgreSQL alike).

Cases and case events are a projection of the workflows (written by activities);
users, staff, notes, policy versions, the audit log and the mail outbox are records.
"""

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; ercase stores aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Whose bank holidays its working days skip: england-and-wales, scotland or
    # northern-ireland (services/organisations.py names them).
    holiday_region: Mapped[str] = mapped_column(String(30), default="england-and-wales")
    # The organisation's own report figures and mail sender (records/organisation_settings.py);
    # None: not set, so the environment's value (settings.py) applies.
    case_type_weights: Mapped[dict[str, float] | None] = mapped_column(JSON)
    risk_weights: Mapped[dict[str, float] | None] = mapped_column(JSON)
    hourly_rates: Mapped[dict[str, float] | None] = mapped_column(JSON)
    foi_threshold: Mapped[int | None] = mapped_column(Integer)
    mail_sender_name: Mapped[str | None] = mapped_column(String(120))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(default=list)
    # "immediate" or "digest": how reminders reach this user (breaches are always immediate).
    mail_preference: Mapped[str] = mapped_column(String(20), default="immediate")
    # The secret in this user's private calendar-feed URL; replacing it revokes the old URL.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Tokens and web sessions issued up to this instant no longer count (set when the account
    # is deactivated, so a later reactivation does not revive them).
    sessions_valid_after: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Access scope (services/access.py): an advisor's team, the divisions a manager manages, and
    # the staff record of this person, so a case they are a party to is never shown to them.
    team: Mapped[str | None] = mapped_column(String(80))
    divisions: Mapped[list[str]] = mapped_column(default=list)
    staff_employee_id: Mapped[str | None] = mapped_column(String(40))


class Membership(Base):
    """A person's roles in an organisation other than their own (a shared service's advisor):
    their account's own row is their home organisation; each membership adds one more, with its
    own roles and scope, which they choose to work in (services/memberships.py). Ending one
    keeps the row (and its history), so the person's work there is still theirs."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(default=list)
    team: Mapped[str | None] = mapped_column(String(80))
    divisions: Mapped[list[str]] = mapped_column(default=list)
    # The person's staff record in this organisation's directory, if they have one there.
    staff_employee_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80))
    ended_at: Mapped[datetime | None]


class Staff(Base):
    """The staff directory: the employees cases are about."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("organisation_id", "employee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    employee_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    division: Mapped[str | None] = mapped_column(String(120))
    department: Mapped[str | None] = mapped_column(String(120))
    line_manager_id: Mapped[str | None] = mapped_column(String(40))
    band: Mapped[str | None] = mapped_column(String(20))
    ethnic_group: Mapped[str | None] = mapped_column(String(80))
    disability: Mapped[str | None] = mapped_column(String(40))
    # From the ESR staff-in-post extract (services/staff_import.py). A leaver keeps their row
    # (their cases and the equality figures still need them); left_on says since when.
    assignment_number: Mapped[str | None] = mapped_column(String(30))
    position: Mapped[str | None] = mapped_column(String(200))
    cost_centre: Mapped[str | None] = mapped_column(String(60))
    start_date: Mapped[date | None] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)


class PolicyVersion(Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("organisation_id", "case_type", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_type: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    author: Mapped[str] = mapped_column(String(80))
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferenceCounter(Base):
    """Hands out readable case references (DIS-2026-0007), one sequence per prefix and year."""

    __tablename__ = "reference_counters"

    prefix: Mapped[str] = mapped_column(String(5), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


# What reports group cases by, carried in the reporting indexes (PostgreSQL's INCLUDE) so that
# one organisation's figures are read from the index alone, not from a table page per case.
REPORTED = ["case_type", "division", "department", "advisor"]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index(
            "ix_cases_org_status",
            "organisation_id",
            "status",
            postgresql_include=[*REPORTED, "risk", "breached", "opened_at"],
        ),
        Index("ix_cases_org_advisor", "organisation_id", "advisor"),
    )

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    case_type: Mapped[str] = mapped_column(String(60))
    policy_version: Mapped[int] = mapped_column(Integer)
    employee_id: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    risk: Mapped[str] = mapped_column(String(10))
    advisor: Mapped[str] = mapped_column(String(80))
    division: Mapped[str | None] = mapped_column(String(120))
    department: Mapped[str | None] = mapped_column(String(120))
    opened_by: Mapped[str] = mapped_column(String(80))
    # The bank-holiday region its clocks were started with (its organisation's then), which
    # its workflow keeps for the case's whole life.
    holiday_region: Mapped[str] = mapped_column(String(30), default="england-and-wales")
    # A linked case: the disciplinary an investigation reports to, the case an appeal is about.
    parent_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # What opened a linked case (parent and step), so a retried opening finds it again.
    origin: Mapped[str | None] = mapped_column(String(80), unique=True)
    # The projection of the workflow's state, written by activities; last_seq orders writes.
    status: Mapped[str] = mapped_column(String(10), default="open")
    stage_key: Mapped[str] = mapped_column(String(60))
    stage_name: Mapped[str] = mapped_column(String(200))
    stage_started_at: Mapped[datetime]
    stage_due_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(Text)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Suspension (exclusion) from work: since when, and when its next review is due.
    suspended_since: Mapped[datetime | None]
    suspension_review_due: Mapped[datetime | None]
    # The end of a statutory decision period (flexible working, ERA 1996 s.80G(1B)).
    decision_due_at: Mapped[datetime | None]
    actions: Mapped[list[str]] = mapped_column(default=list)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Visible only to the people named in case_access (a manager or admin sets it).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseEvent(Base):
    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(80))
    stage_key: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20), default="note")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A file attached to a case; the bytes live under ERCASE_DOCUMENTS_DIR, never served."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimeEntry(Base):
    """Time spent on a case, with an activity code, for cost and workload reporting."""

    __tablename__ = "time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    username: Mapped[str] = mapped_column(String(80))
    worked_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    activity_code: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    username: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[str | None] = mapped_column(String(20))
    client_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The hash chain (records/audit.py fills these in at flush): position, and
    # sha256(previous hash + this row's canonical content).
    seq: Mapped[int | None] = mapped_column(Integer, unique=True, index=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class OutboxMessage(Base):
    """One row per (case, event, recipient): a retried send finds it and does not send twice."""

    __tablename__ = "mail_outbox"
    __table_args__ = (UniqueConstraint("case_id", "event_key", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    case_id: Mapped[str | None] = mapped_column(String(20), index=True)
    event_key: Mapped[str] = mapped_column(String(120))
    event_kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class CaseKey(Base):
    """A case's own data key, wrapped (AES-GCM) by the master key: crypto-shredding.

    Everything the engine holds about a case is sealed with this key. Destroying it (the
    wrapped key set to NULL) makes that history unreadable wherever a copy of it lies.
    Not a foreign key to cases: the engine may seal a case's payloads before its row commits.
    """

    __tablename__ = "case_keys"

    case_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None]


class LegalHold(Base):
    """A case on legal hold is never purged, whatever its retention period says."""

    __tablename__ = "legal_holds"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class CasePurge(Base):
    """A case whose personal data was destroyed at the end of its retention period."""

    __tablename__ = "case_purges"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)
    retention: Mapped[str] = mapped_column(String(20))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Absence(Base):
    """One episode of sickness absence, as the e-rostering system reported it.

    (organisation, employee, first day) is the episode's key: the same file imported twice
    adds nothing, and a later file that gives the last day of an open episode updates it.
    """

    __tablename__ = "absences"
    __table_args__ = (UniqueConstraint("organisation_id", "employee_id", "first_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    employee_id: Mapped[str] = mapped_column(String(40))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)  # None: still off
    reason: Mapped[str] = mapped_column(String(200))
    # Where it came from: "api", or "import" with the file's line, for a person tracing it.
    source: Mapped[str] = mapped_column(String(80))
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttendanceTrigger(Base):
    """A trigger of the sickness policy that fired for an employee, with the figures behind it.

    Written by attendance monitoring; (origin, trigger) makes writing it twice a no-op.
    """

    __tablename__ = "attendance_triggers"
    __table_args__ = (
        UniqueConstraint("origin", "trigger"),
        Index("ix_attendance_triggers_employee", "organisation_id", "employee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    employee_id: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(20))
    fired_on: Mapped[date] = mapped_column(Date)
    case_id: Mapped[str | None] = mapped_column(String(20))
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # opened | attached (to the sickness case already open) | not_opened (with the reason);
    # None on rows written before outcomes were kept.
    outcome: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(300))


class StageInterval(Base):
    """One stay of a case in a stage, or one suspension: written by the recording activity.

    Reports need per-stage figures (a case closed on time can hide a late step); the due time
    of each stay, as moved by pauses, is only known when the workflow records it, so it is kept
    here rather than derived from case events. An open stay has no `ended_at`.
    """

    __tablename__ = "stage_intervals"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "started_at"),
        Index(
            "ix_stage_intervals_ended",
            "kind",
            "ended_at",
            postgresql_include=["key", "started_at", "due_at", "organisation_id", "case_id"],
        ),
        # One organisation's (or every one's) stays ended (stages, suspensions lifted) or
        # entering a stage (WRES/WDES entrants) in a window; on PostgreSQL the figures are
        # read from the index alone.
        Index(
            "ix_stage_intervals_org_ended",
            "organisation_id",
            "kind",
            "ended_at",
            postgresql_include=["key", "started_at", "due_at", "case_id"],
        ),
        Index(
            "ix_stage_intervals_org_started",
            "organisation_id",
            "kind",
            "key",
            "started_at",
            postgresql_include=["case_id"],
        ),
        Index(
            "ix_stage_intervals_started",
            "kind",
            "key",
            "started_at",
            postgresql_include=["organisation_id", "case_id"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    # The case's organisation, copied so one organisation's stays are found without reading
    # every organisation's (a case never changes organisation). Filled from the case when a
    # writer leaves it out (see fill_organisation below).
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(12))  # "stage" | "suspension"
    key: Mapped[str] = mapped_column(String(60))  # the stage's key; "suspension"
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]


@event.listens_for(StageInterval, "before_insert")
def fill_organisation(_mapper: Mapper[Any], connection: Connection, stay: StageInterval) -> None:
    """A stay written without its organisation gets its case's (the case row exists first)."""
    if stay.organisation_id is None:
        stay.organisation_id = connection.scalar(
            select(Case.organisation_id).where(Case.id == stay.case_id)
        )


class RootCauseCode(Base):
    """The root-cause codes a policy owner maintains for an organisation; retired, never deleted."""

    __tablename__ = "root_cause_codes"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CaseClosure(Base):
    """The root cause recorded with the step that closed a case (the outcome is on the case)."""

    __tablename__ = "case_closures"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    root_cause: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime]


# Reports select one organisation's cases opened or closed in a window, or every
# organisation's (national figures).
Index(
    "ix_cases_org_opened",
    Case.organisation_id,
    Case.opened_at,
    postgresql_include=[*REPORTED, "employee_id"],
)
Index(
    "ix_cases_org_closed",
    Case.organisation_id,
    Case.closed_at,
    postgresql_include=[*REPORTED, "status", "opened_at", "due_at"],
)
Index("ix_cases_opened", Case.opened_at, postgresql_include=[*REPORTED, "organisation_id"])
Index(
    "ix_cases_closed",
    Case.closed_at,
    postgresql_include=[*REPORTED, "organisation_id", "status", "opened_at", "due_at"],
)


class AuditChain(Base):
    """The one row every audit append locks: how long the chain is and its last hash."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    length: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class CaseAccess(Base):
    """The people named on a restricted case: only they may see it."""

    __tablename__ = "case_access"
    __table_args__ = (UniqueConstraint("case_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    username: Mapped[str] = mapped_column(String(80))
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseParty(Base):
    """Someone a case is about or who takes part in it: complainant, witness (the subject and
    their line manager come from the case and the staff directory). A party never sees it."""

    __tablename__ = "case_parties"
    __table_args__ = (UniqueConstraint("case_id", "employee_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    employee_id: Mapped[str] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(20))
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInAttempt(Base):
    """Failed sign-ins, by account and by client address: lockout and rate limit read them."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_username_at", "username", "at"),
        Index("ix_sign_in_attempts_address_at", "client_address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    client_address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # "failed" counts towards lockout and the rate limit; "ok" ends an account's run of failures.
    outcome: Mapped[str] = mapped_column(String(10))


class RevokedToken(Base):
    """Access tokens and web sessions ended by signing out, kept until they would expire."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]


class SetPasswordLink(Base):
    """A single-use, expiring link to set an account's password; only its sha256 is kept, so
    a copy of the database opens no account."""

    __tablename__ = "set_password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class StaffImportMapping(Base):
    """An organisation's own names for the ESR extract's columns (records/esr.py has the
    shipped default); one row per organisation that has changed it."""

    __tablename__ = "staff_import_mappings"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    columns: Mapped[dict[str, Any]]
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

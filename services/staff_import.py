"""The staff directory from an ESR staff-in-post extract: previewed, then written all at once.

A dry run answers what would be added, changed (field by field) and marked as left, and
writes nothing. A real run writes all of it in one transaction or, if any line is bad,
nothing: every bad line is named by its number with the reason. Leavers (a leaving date in
the extract, or — when the caller says the extract is full — absent from it) keep their row,
marked with the date: their cases and the equality figures still need them.

An empty cell keeps what the directory holds (an export that leaves a column blank does not
wipe it), except the leaving date: someone in the extract with no leaving date is in post,
so a stored one is cleared (they came back).

50,000 rows must import in well under a minute (bench/staff_import.py): the organisation's
directory is read in one query, compared in memory, and written with two executemany
statements (one INSERT, one UPDATE by primary key), never row by row.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from policies.calendar import LONDON
from records.audit import append_audit
from records.database import Database
from records.esr import (
    FIELDS,
    REQUIRED,
    EsrRow,
    ExtractError,
    Value,
    checked_mapping,
    default_mapping,
    read_extract,
)
from records.models import Staff, StaffImportMapping, utcnow
from services.access import (
    DIRECTORY_EDITORS,
    STAFF_EDITORS,
    Principal,
    refuse_gained_access,
    visible_before_change,
)
from services.errors import Conflict, Forbidden, Invalid, RowsInvalid

MAX_ROWS = 100_000
# Changing how every later import reads the extract is an administrator's decision.
MAPPING_EDITORS = frozenset({"admin"})
UPDATABLE = tuple(name for name in FIELDS if name != REQUIRED)
_COLUMNS = [getattr(Staff, name) for name in UPDATABLE]


def _shown(value: Value) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Added:
    line: int
    employee_id: str
    name: str | None


@dataclass(frozen=True)
class Changed:
    line: int
    employee_id: str
    name: str | None
    changes: list[FieldChange]


@dataclass(frozen=True)
class Leaver:
    employee_id: str
    name: str | None
    left_on: date
    # The extract's line that gave the leaving date; none when absent from a full extract.
    line: int | None
    changes: list[FieldChange]


@dataclass
class ImportOutcome:
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    full: bool
    added: int = 0
    changed: int = 0
    left: int = 0
    unchanged: int = 0
    additions: list[Added] = field(default_factory=list)
    changes: list[Changed] = field(default_factory=list)
    leavers: list[Leaver] = field(default_factory=list)


@dataclass(frozen=True)
class MappingView:
    columns: dict[str, str]
    # "default": the shipped mapping; "organisation": this organisation's own.
    source: str
    fields: dict[str, str]  # each field's meaning, in words


@dataclass
class _Plan:
    outcome: ImportOutcome
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)


def _new_values(row: EsrRow, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored row with what the extract says on top (an empty cell keeps the stored value;
    a mapped, empty leaving date clears it)."""
    merged = dict(stored)
    for name, value in row.values.items():
        if name == REQUIRED:
            continue
        if value is not None or name == "left_on":
            merged[name] = value
    return merged


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(name, _shown(before[name]), _shown(after[name]))
        for name in UPDATABLE
        if before[name] != after[name]
    ]


def _plan(
    organisation_id: int,
    rows: list[EsrRow],
    stored: dict[str, tuple[int, dict[str, Any]]],
    full: bool,
    dry_run: bool,
    today: date,
) -> _Plan:
    plan = _Plan(ImportOutcome(dry_run=dry_run, full=full))
    outcome = plan.outcome
    for row in rows:
        known = stored.get(row.employee_id)
        if known is None:
            values: dict[str, Any] = {name: row.values.get(name) for name in UPDATABLE}
            plan.inserts.append(
                {"organisation_id": organisation_id, "employee_id": row.employee_id, **values}
            )
            outcome.additions.append(Added(row.line, row.employee_id, values["name"]))
            continue
        staff_id, before = known
        after = _new_values(row, before)
        changes = _changes(before, after)
        if not changes:
            outcome.unchanged += 1
            continue
        plan.updates.append({"id": staff_id, **after})
        if before["left_on"] is None and after["left_on"] is not None:
            outcome.leavers.append(
                Leaver(row.employee_id, after["name"], after["left_on"], row.line, changes)
            )
        else:
            outcome.changes.append(Changed(row.line, row.employee_id, after["name"], changes))
    if full:
        present = {row.employee_id for row in rows}
        for employee_id, (staff_id, before) in stored.items():
            if employee_id in present or before["left_on"] is not None:
                continue
            after = {**before, "left_on": today}
            plan.updates.append({"id": staff_id, **after})
            outcome.leavers.append(
                Leaver(employee_id, before["name"], today, None, _changes(before, after))
            )
    outcome.added = len(outcome.additions)
    outcome.changed = len(outcome.changes)
    outcome.left = len(outcome.leavers)
    return plan


async def _directory(
    session: AsyncSession, organisation_id: int
) -> dict[str, tuple[int, dict[str, Any]]]:
    """The organisation's directory as {employee id: (row id, field values)}, in one query."""
    result = await session.execute(
        select(Staff.id, Staff.employee_id, *_COLUMNS).where(
            Staff.organisation_id == organisation_id
        )
    )
    return {row[1]: (row[0], dict(zip(UPDATABLE, row[2:], strict=True))) for row in result}


async def _stored_mapping(session: AsyncSession, organisation_id: int) -> dict[str, str] | None:
    own = await session.get(StaffImportMapping, organisation_id)
    return None if own is None else checked_mapping(own.columns)


def _field_changes(changed: list[Changed | Leaver]) -> dict[str, dict[str, list[str | None]]]:
    """{employee id: {field: [before, after]}}, as the audit keeps every changed field."""
    return {
        change.employee_id: {field.field: [field.before, field.after] for field in change.changes}
        for change in changed
    }


@dataclass
class StaffImport:
    database: Database
    principal: Principal

    def _require(self, roles: frozenset[str], doing: str) -> None:
        if not self.principal.has_any(roles):
            raise Forbidden(f"Your role does not allow you to {doing}.")

    def may_import(self) -> None:
        """Refuse (403) someone who may not import, before their file is even read."""
        self._require(DIRECTORY_EDITORS, "change the staff directory")

    async def mapping(self) -> MappingView:
        self._require(STAFF_EDITORS, "see the staff import mapping")
        async with self.database.sessions() as session:
            own = await _stored_mapping(session, self.principal.organisation_id)
        return MappingView(
            columns=own or default_mapping(),
            source="default" if own is None else "organisation",
            fields={name: spec.label for name, spec in FIELDS.items()},
        )

    async def set_mapping(self, raw: object) -> MappingView:
        self._require(MAPPING_EDITORS, "change the staff import mapping")
        try:
            columns = checked_mapping(raw)
        except ExtractError as error:
            raise Invalid(str(error)) from None
        organisation_id = self.principal.organisation_id
        async with self.database.transaction() as session:
            own = await session.get(StaffImportMapping, organisation_id)
            if own is None:
                own = StaffImportMapping(organisation_id=organisation_id)
                session.add(own)
            own.columns = columns
            own.updated_by = self.principal.username
            own.updated_at = utcnow()
            append_audit(
                session,
                organisation_id=organisation_id,
                username=self.principal.username,
                action="staff.import_mapping",
                detail={"columns": columns},
            )
        return await self.mapping()

    async def run(self, text: str, *, dry_run: bool, full: bool) -> ImportOutcome:
        """Import (or, with dry_run, preview) an extract; RowsInvalid names every bad line."""
        self.may_import()
        organisation_id = self.principal.organisation_id
        today = datetime.now(LONDON).date()
        if dry_run:
            async with self.database.sessions() as session:
                rows = await self._rows(session, text)
                stored = await _directory(session, organisation_id)
            return _plan(organisation_id, rows, stored, full, dry_run, today).outcome
        try:
            async with self.database.transaction() as session:
                could_see = await visible_before_change(session, self.principal)
                rows = await self._rows(session, text)
                plan = _plan(
                    organisation_id,
                    rows,
                    await _directory(session, organisation_id),
                    full,
                    dry_run,
                    today,
                )
                if plan.inserts:
                    await session.execute(insert(Staff), plan.inserts)
                if plan.updates:
                    await session.execute(update(Staff), plan.updates)
                await refuse_gained_access(session, self.principal, could_see)
                outcome = plan.outcome
                append_audit(
                    session,
                    organisation_id=organisation_id,
                    username=self.principal.username,
                    action="staff.esr_import",
                    detail={
                        "rows": len(rows),
                        "full": full,
                        "added": outcome.added,
                        "changed": outcome.changed,
                        "left": outcome.left,
                        "unchanged": outcome.unchanged,
                        # Each changed field with its value before and after.
                        "changes": _field_changes([*outcome.changes, *outcome.leavers]),
                        "added_ids": [added.employee_id for added in outcome.additions],
                    },
                )
        except IntegrityError:
            # Only another import adding the same people at the same moment gets here.
            raise Conflict(
                "Another change to the staff directory happened at the same time; nothing "
                "was imported. Send the file again."
            ) from None
        return outcome

    async def _rows(self, session: AsyncSession, text: str) -> list[EsrRow]:
        mapping = await _stored_mapping(session, self.principal.organisation_id)
        try:
            extract = read_extract(text, mapping or default_mapping(), MAX_ROWS)
        except ExtractError as error:
            raise Invalid(str(error)) from None
        if extract.problems:
            raise RowsInvalid(
                [{"row": f"line {line}", "message": reason} for line, reason in extract.problems]
            )
        return extract.rows

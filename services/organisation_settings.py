"""An organisation's own settings: its admins change them, its HR directors read them.

Every change is checked field by field (each bad field answered with its own sentence, and
then nothing is written) and audited with the old and the new value. A setting given as None
goes back to the environment's value. A new bank-holiday region applies to the cases opened
from then on: a running case keeps the calendar it started with, so its history replays the
same (records/models.py, cases.holiday_region).
"""

import math
from dataclasses import dataclass
from typing import Any

from policies.calendar import REGIONS
from records.audit import append_audit
from records.database import Database
from records.models import Organisation
from records.organisation_settings import DEFAULTED, OrganisationSettings, settings_of
from records.people import ROLES
from services.access import Principal
from services.case_opening import RISKS
from services.errors import FieldsInvalid, Forbidden
from settings import Settings
from workflows import WORKFLOW_FOR_CASE_TYPE

SETTINGS_READERS = frozenset({"admin", "hr_director"})
SETTINGS_EDITORS = frozenset({"admin"})
SETTINGS = ("holiday_region", *DEFAULTED)
FOI_THRESHOLDS = range(1, 101)
SENDER_NAME_LENGTH = 120
# Above any real weight or hourly rate: a typo of a few zeros is refused, not costed.
LARGEST_FIGURE = 100_000
# Each map of figures: the keys it may hold, and what one key is called in a sentence.
FIGURE_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "case_type_weights": (tuple(sorted(WORKFLOW_FOR_CASE_TYPE)), "case type"),
    "risk_weights": (RISKS, "risk"),
    "hourly_rates": (ROLES, "role"),
}


@dataclass(frozen=True)
class SettingsView:
    code: str
    name: str
    settings: OrganisationSettings

    def as_json(self) -> dict[str, Any]:
        own = self.settings
        return {
            "organisation": self.code,
            "name": self.name,
            "holiday_region": own.holiday_region,
            "case_type_weights": own.case_type_weights,
            "risk_weights": own.risk_weights,
            "hourly_rates": own.hourly_rates,
            "foi_threshold": own.foi_threshold,
            "mail_sender_name": own.mail_sender_name,
            # The settings this organisation has not set: the environment's values apply.
            "defaults": [name for name in DEFAULTED if name not in own.own],
        }


def _figures(value: object, field: str, keys: tuple[str, ...], kind: str) -> dict[str, float]:
    """A map of known keys to non-negative numbers; a Problem naming the first bad entry."""
    if not isinstance(value, dict) or not value:
        raise Problem(f"{field} must map each {kind} to a number, e.g. {{{keys[0]!r}: 2}}.")
    figures: dict[str, float] = {}
    for key, figure in value.items():
        if key not in keys:
            raise Problem(f"{field}: {key!r} is not a {kind}; the {kind}s are {', '.join(keys)}.")
        if isinstance(figure, bool) or not isinstance(figure, int | float):
            raise Problem(f"{field}: the figure for {key} must be a number.")
        if isinstance(figure, float) and not math.isfinite(figure):
            raise Problem(f"{field}: the figure for {key} must be a number.")
        if figure < 0:
            raise Problem(f"{field}: the figure for {key} may not be negative.")
        if figure > LARGEST_FIGURE:
            raise Problem(f"{field}: the figure for {key} may be at most {LARGEST_FIGURE:,}.")
        figures[key] = float(figure)
    return figures


class Problem(Exception):
    """One setting's value is refused; the message is the sentence the admin sees."""


def _region(value: object) -> str:
    if value not in REGIONS:
        raise Problem(
            f"holiday_region: {value!r} is not a bank-holiday region; use one of "
            f"{', '.join(REGIONS)}."
        )
    assert isinstance(value, str)
    return value


def _threshold(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem("foi_threshold must be a whole number, such as 5.")
    if value not in FOI_THRESHOLDS:
        raise Problem(
            f"foi_threshold must be from {FOI_THRESHOLDS[0]} to {FOI_THRESHOLDS[-1]}: counts "
            "below it are shown as * in FOI answers."
        )
    return value


def _sender_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Problem("mail_sender_name must be a name, such as 'East Example NHS Trust HR'.")
    name = value.strip()
    if len(name) > SENDER_NAME_LENGTH:
        raise Problem(f"mail_sender_name may be at most {SENDER_NAME_LENGTH} characters.")
    # A header value: a line break would let the name add headers of its own.
    if any(not character.isprintable() for character in name):
        raise Problem("mail_sender_name may not hold line breaks or control characters.")
    return name


def checked(name: str, value: object) -> object:
    """The value to store for setting `name` (None: the environment's); Problem if refused."""
    if value is None:
        if name == "holiday_region":
            raise Problem("holiday_region cannot be left unset; use one of " + ", ".join(REGIONS))
        return None
    match name:
        case "holiday_region":
            return _region(value)
        case "case_type_weights" | "risk_weights" | "hourly_rates":
            return _figures(value, name, *FIGURE_KEYS[name])
        case "foi_threshold":
            return _threshold(value)
        case "mail_sender_name":
            return _sender_name(value)
    raise Problem(f"{name} is not a setting; the settings are {', '.join(SETTINGS)}.")


@dataclass(frozen=True)
class OrganisationSettingsService:
    database: Database
    defaults: Settings
    principal: Principal

    async def read(self) -> SettingsView:
        if not self.principal.has_any(SETTINGS_READERS):
            raise Forbidden("Only an admin or an HR director may see the organisation's settings.")
        async with self.database.sessions() as session:
            organisation = await session.get_one(Organisation, self.principal.organisation_id)
            return self._view(organisation)

    async def change(self, changes: dict[str, Any]) -> SettingsView:
        """Apply every change or none; each refused field is named with its reason."""
        if not self.principal.has_any(SETTINGS_EDITORS):
            raise Forbidden("Only an admin may change the organisation's settings.")
        values: dict[str, object] = {}
        problems: list[dict[str, str]] = []
        for name, value in changes.items():
            try:
                values[name] = checked(name, value)
            except Problem as problem:
                problems.append({"field": name, "message": str(problem)})
        if problems:
            raise FieldsInvalid(problems)
        async with self.database.transaction() as session:
            organisation = await session.get_one(
                Organisation, self.principal.organisation_id, with_for_update=True
            )
            before = settings_of(organisation, self.defaults)
            changed: dict[str, dict[str, object]] = {}
            for name, value in values.items():
                if getattr(organisation, name) == value:
                    continue
                setattr(organisation, name, value)
                after = getattr(settings_of(organisation, self.defaults), name)
                changed[name] = {"old": getattr(before, name), "new": after}
                if value is None:
                    changed[name]["default"] = True  # back to the environment's value
            if changed:
                append_audit(
                    session,
                    organisation_id=organisation.id,
                    username=self.principal.username,
                    action="organisation.settings",
                    detail={"changed": changed},
                )
            return self._view(organisation)

    def _view(self, organisation: Organisation) -> SettingsView:
        return SettingsView(
            organisation.code, organisation.name, settings_of(organisation, self.defaults)
        )

"""Each organisation's own settings, with the environment's values (settings.py) for those it
has not set: its bank-holiday region, the report weights and hourly rates, the FOI threshold
and the name its mail is sent under.

Read here (by the reports, the mail activities and the settings service) and written only by
services/organisation_settings.py, which checks and audits every change.
"""

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from records.models import Organisation
from settings import Settings

# The settings an organisation may leave unset (NULL): the environment's value applies.
T = TypeVar("T")
DEFAULTED = (
    "case_type_weights",
    "risk_weights",
    "hourly_rates",
    "foi_threshold",
    "mail_sender_name",
)


@dataclass(frozen=True)
class OrganisationSettings:
    holiday_region: str
    case_type_weights: dict[str, float]
    risk_weights: dict[str, float]
    hourly_rates: dict[str, float]
    foi_threshold: int
    mail_sender_name: str | None  # None: mail comes from the bare address (ERCASE_MAIL_FROM)
    # Which of DEFAULTED the organisation has set itself; the rest are the environment's.
    own: frozenset[str]


def settings_of(organisation: Organisation, defaults: Settings) -> OrganisationSettings:
    own = frozenset(name for name in DEFAULTED if getattr(organisation, name) is not None)
    return OrganisationSettings(
        holiday_region=organisation.holiday_region,
        case_type_weights=pick(organisation.case_type_weights, defaults.report_case_type_weights),
        risk_weights=pick(organisation.risk_weights, defaults.report_risk_weights),
        hourly_rates=pick(organisation.hourly_rates, defaults.report_hourly_rates),
        foi_threshold=pick(organisation.foi_threshold, defaults.foi_threshold),
        mail_sender_name=pick(organisation.mail_sender_name, defaults.mail_sender_name),
        own=own,
    )


async def organisation_settings(
    session: AsyncSession, organisation_id: int, defaults: Settings
) -> OrganisationSettings:
    organisation = await session.get_one(Organisation, organisation_id)
    return settings_of(organisation, defaults)


def pick(mine: T | None, default: T) -> T:
    return default if mine is None else mine

"""What the account endpoints take and give (/api/users, forgot-password): pydantic models at
the boundary; the service checks what needs the database (a taken username, a staff record)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.account_mail import MailResult
from services.case_handover import HandedOver, OpenCases
from services.organisation_accounts import (
    AccountChanges,
    NewMember,
    NewMembership,
)

Division = Annotated[str, Field(min_length=1, max_length=120)]
Role = Annotated[str, Field(min_length=1, max_length=40)]


class _Input(BaseModel):
    # Unknown fields are refused, so a misspelt field is an error and not silently ignored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserIn(_Input):
    username: str = Field(min_length=1, max_length=80)
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    roles: list[Role] = Field(min_length=1, max_length=6)
    team: str | None = Field(default=None, max_length=80)
    divisions: list[Division] = Field(default=[], max_length=50)
    staff_employee_id: str | None = Field(default=None, max_length=40)

    def member(self) -> NewMember:
        return NewMember(
            username=self.username,
            full_name=self.full_name,
            email=self.email,
            roles=tuple(self.roles),
            team=self.team,
            divisions=tuple(self.divisions),
            staff_employee_id=self.staff_employee_id,
        )


class MembershipIn(_Input):
    """A person of another organisation, by their username (in the path) and their address:
    both must match their account."""

    email: str = Field(min_length=3, max_length=320)
    roles: list[Role] = Field(min_length=1, max_length=6)
    team: str | None = Field(default=None, max_length=80)
    divisions: list[Division] = Field(default=[], max_length=50)
    staff_employee_id: str | None = Field(default=None, max_length=40)

    def membership(self, username: str) -> NewMembership:
        return NewMembership(
            username=username,
            email=self.email,
            roles=tuple(self.roles),
            team=self.team,
            divisions=tuple(self.divisions),
            staff_employee_id=self.staff_employee_id,
        )


class UserPatch(_Input):
    """Only the fields sent change; `team` or `staff_employee_id` null clears it."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=320)
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=6)
    team: str | None = Field(default=None, max_length=80)
    divisions: list[Division] | None = Field(default=None, max_length=50)
    staff_employee_id: str | None = Field(default=None, max_length=40)
    active: bool | None = None

    def changes(self) -> AccountChanges:
        sent = self.model_fields_set

        def cleared(name: str, value: str | None) -> str | None:
            # Sent as null: clear it ("" to the service); not sent: leave it.
            return (value or "") if name in sent else None

        return AccountChanges(
            full_name=self.full_name,
            email=self.email,
            roles=tuple(self.roles) if self.roles is not None else None,
            team=cleared("team", self.team),
            divisions=tuple(self.divisions) if self.divisions is not None else None,
            staff_employee_id=cleared("staff_employee_id", self.staff_employee_id),
            active=self.active,
        )


class UserOut(BaseModel):
    # Built from the service's AccountDetail with model_validate: the same fields, by name.
    model_config = ConfigDict(from_attributes=True)

    username: str
    full_name: str
    email: str
    roles: list[str]
    team: str | None
    divisions: list[str]
    staff_employee_id: str | None
    active: bool
    # False until the person has chosen a password from their link.
    password_set: bool
    created_at: datetime
    # False: a member from another organisation (their name, address and password are kept
    # there; `active` says whether their membership here is in force).
    home: bool


class UserList(BaseModel):
    items: list[UserOut]


class LinkMailOut(BaseModel):
    sent_to: str
    delivered: bool
    detail: str

    @classmethod
    def of(cls, result: MailResult) -> "LinkMailOut":
        return cls(sent_to=result.sent_to, delivered=result.delivered, detail=result.detail)


class InvitedOut(BaseModel):
    user: UserOut
    # The set-password link went by mail (never in this answer: no admin sees it).
    set_password_mail: LinkMailOut


class OpenCaseOut(BaseModel):
    id: str
    case_type: str
    stage_name: str
    stage_due_at: datetime | None
    risk: str
    breached: bool


class OpenCasesOut(BaseModel):
    items: list[OpenCaseOut]
    # Open cases of theirs you may not see (restricted, or you are a party): someone who
    # sees them must reassign them.
    hidden: int

    @classmethod
    def of(cls, cases: OpenCases) -> "OpenCasesOut":
        return cls(
            items=[OpenCaseOut(**vars(case)) for case in cases.items],
            hidden=cases.hidden,
        )


class ReassignIn(_Input):
    to: str = Field(min_length=1, max_length=80, description="The advisor who takes the cases.")


class ReassignedOut(BaseModel):
    to: str
    cases: list[str]
    hidden: int

    @classmethod
    def of(cls, handed: HandedOver) -> "ReassignedOut":
        return cls(to=handed.to, cases=handed.cases, hidden=handed.hidden)


class ForgotPasswordIn(_Input):
    email: str = Field(min_length=1, max_length=320)


class Answer(BaseModel):
    detail: str

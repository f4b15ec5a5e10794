"""What every case service is given for one request: who acts, from where, and what it reaches."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from records.audit import append_audit
from records.database import Database
from records.models import Case
from services.access import CASE_WORKERS, Principal, visible_case
from services.errors import Forbidden


@dataclass(frozen=True)
class CaseContext:
    database: Database
    client: Callable[[], Awaitable[Client]]
    task_queue: str
    principal: Principal
    client_address: str | None = None

    async def visible(self, session: AsyncSession, case_id: str) -> Case:
        return await visible_case(session, self.principal, case_id)

    def require_worker(self) -> None:
        if not self.principal.has_any(CASE_WORKERS):
            raise Forbidden("Your role cannot open or change cases.")

    def audit(
        self,
        session: AsyncSession,
        action: str,
        case_id: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit row for what this person did, from this request's address."""
        append_audit(
            session,
            action=action,
            organisation_id=self.principal.organisation_id,
            username=self.principal.username,
            case_id=case_id,
            client_address=self.client_address,
            detail=detail,
        )

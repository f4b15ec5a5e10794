"""Writing each change of a case's process state to the read model, idempotently."""

from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import RECORD_CASE_EVENT, CaseEventRecord
from records.database import Database
from records.models import Case, CaseEvent


class RecordingActivities:
    def __init__(self, database: Database):
        self._database = database

    @activity.defn(name=RECORD_CASE_EVENT)
    async def record_case_event(self, record: CaseEventRecord) -> bool:
        """Store the event and move the case's projection on; False if it was already stored."""
        try:
            async with self._database.transaction() as session:
                case = await session.get(Case, record.case_id, with_for_update=True)
                if case is None:
                    # The API commits the case row before it starts the workflow; give it time.
                    raise ApplicationError(f"case {record.case_id} is not in the database yet")
                known = await session.scalar(
                    select(CaseEvent.id).where(
                        CaseEvent.case_id == record.case_id, CaseEvent.seq == record.seq
                    )
                )
                if known is not None:
                    return False
                session.add(
                    CaseEvent(
                        case_id=record.case_id,
                        seq=record.seq,
                        kind=record.kind,
                        at=record.at,
                        actor=record.actor,
                        stage_key=record.stage_key,
                        detail=record.detail,
                    )
                )
                if record.seq > case.last_seq:
                    projection = asdict(record.snapshot)
                    if projection["policy_version"] is None:  # recorded by older workflow code
                        del projection["policy_version"]
                    for field, value in projection.items():
                        setattr(case, field, value)
                    case.last_seq = record.seq
        except IntegrityError:
            # A concurrent attempt stored the same (case, seq) first: that is the idempotent case.
            return False
        return True

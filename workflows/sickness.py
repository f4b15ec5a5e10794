"""The sickness absence case: staged short-term absence management and long-term sickness.

Stages, clocks and steps come from the pinned policy snapshot (policies/definitions/
sickness.yaml in the shipped version). Attendance monitoring (workflows/attendance.py)
opens these cases and tells an open one what happens next: a further trigger, a spell
reaching long-term sickness, or the employee's return to work. The stage's `moves_on`
says where each moves the case; leaving a stage ends its pending clocks (a return to work
cancels the occupational health referral and welfare contacts, and starts the
return-to-work interview's clock).
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import CaseSnapshot
    from workflows.case_process import CaseProcess
    from workflows.types import AttendanceEvent, CaseInput


@workflow.defn
class SicknessCase(CaseProcess):
    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        super().__init__(case)

    @workflow.run
    async def run(self, case: CaseInput) -> CaseSnapshot:
        return await self.run_case()

    @workflow.signal
    async def attendance(self, event: AttendanceEvent) -> None:
        async with self._lock:
            if self._state.status == "closed":
                return
            target = self._stage().moves_on.get(event.kind)  # type: ignore[call-overload]
            detail = {"event": event.kind, **event.detail}
            if target is None:
                await self._record("attendance_noted", None, detail)
                return
            detail.update({"from": self._state.stage_key, "to": target})
            self._enter_stage(target)
            await self._record("attendance_moved", None, detail)

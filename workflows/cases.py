"""Every case type's workflow class, made from one table (workflows.WORKFLOW_FOR_CASE_TYPE).

Each case type runs the same process (workflows/case_process.py) under its own workflow type
name; the stages, clocks and steps come from the pinned policy snapshot in its input
(policies/definitions/<case type>.yaml in the shipped version). Sickness adds the signal
attendance monitoring sends.

The classes are made when this module is imported, the same way every time, and bound to
module names: the workflow sandbox imports each class by its module and name.
"""

from typing import cast

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import CaseSnapshot
    from workflows import WORKFLOW_FOR_CASE_TYPE
    from workflows.types import AttendanceEvent, CaseInput

from workflows.case_process import CaseProcess


class CaseWorkflow(CaseProcess):
    """What each case type's class is: the shared process, started with the case's input."""

    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        super().__init__(case)

    async def run(self, case: CaseInput) -> CaseSnapshot:
        return await self.run_case()


class SicknessProcess(CaseWorkflow):
    """Attendance monitoring (workflows/attendance.py) opens sickness cases and tells an open
    one what happens next: a further trigger, a spell reaching long-term sickness, or the
    employee's return to work. The stage's `moves_on` says where each moves the case;
    leaving a stage ends its pending clocks (a return to work cancels the occupational
    health referral and welfare contacts, and starts the return-to-work interview's clock).
    """

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


# Case types whose process adds to the shared one; every other runs CaseWorkflow.
PROCESS_FOR_CASE_TYPE: dict[str, type[CaseWorkflow]] = {"sickness": SicknessProcess}


def define_case_workflow(name: str, process: type[CaseWorkflow]) -> type[CaseWorkflow]:
    """The workflow class `name` running `process`, with a run method of its own: Temporal
    ties a run method to one workflow definition, and wants it named as a method of a class
    its module holds (never a local)."""

    # `self` unannotated, as in a method: Temporal reads the input's type from the other
    # annotations, and @workflow.init's parameters must match these.
    async def run(self, case: CaseInput) -> CaseSnapshot:  # type: ignore[no-untyped-def]
        return await self.run_case()

    run.__qualname__ = f"{name}.run"
    members = {"__module__": __name__, "__qualname__": name, "run": workflow.run(run)}
    return workflow.defn(name=name)(type(name, (process,), members))


CASE_WORKFLOWS: dict[str, type[CaseWorkflow]] = {
    case_type: define_case_workflow(name, PROCESS_FOR_CASE_TYPE.get(case_type, CaseWorkflow))
    for case_type, name in WORKFLOW_FOR_CASE_TYPE.items()
}
WORKFLOWS: list[type[CaseWorkflow]] = list(CASE_WORKFLOWS.values())
globals().update({cls.__name__: cls for cls in WORKFLOWS})

# Typed names for the callers that start, step or signal a case by its methods.
DisciplinaryCase = CASE_WORKFLOWS["disciplinary"]
SicknessCase = cast(type[SicknessProcess], CASE_WORKFLOWS["sickness"])
assert issubclass(SicknessCase, SicknessProcess)

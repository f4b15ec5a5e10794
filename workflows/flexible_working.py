"""The statutory flexible working request: consultation, decision and appeal within two months.

The stages, clocks and steps all come from the pinned policy snapshot
(policies/definitions/flexible_working.yaml in the shipped version).
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import CaseSnapshot
    from workflows.case_process import CaseProcess
    from workflows.types import CaseInput


@workflow.defn
class FlexibleWorkingCase(CaseProcess):
    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        super().__init__(case)

    @workflow.run
    async def run(self, case: CaseInput) -> CaseSnapshot:
        return await self.run_case()

"""The employment tribunal claim: ET3 response, preliminary hearing, final hearing.

The stages, clocks and steps all come from the pinned policy snapshot
(policies/definitions/employment_tribunal.yaml in the shipped version).
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import CaseSnapshot
    from workflows.case_process import CaseProcess
    from workflows.types import CaseInput


@workflow.defn
class EmploymentTribunalCase(CaseProcess):
    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        super().__init__(case)

    @workflow.run
    async def run(self, case: CaseInput) -> CaseSnapshot:
        return await self.run_case()

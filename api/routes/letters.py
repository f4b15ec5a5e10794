"""Letters from a case: the templates offered now, and a letter saved as a case document."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, case_context, get_settings
from api.routes.documents import DocumentOut, case_documents
from services.access import Principal
from services.letters import CaseLetters

router = APIRouter(prefix="/api/cases", tags=["letters"])


def case_letters(request: Request, principal: Principal) -> CaseLetters:
    return CaseLetters(
        context=case_context(request, principal),
        documents=case_documents(request, principal),
        templates_dir=get_settings(request).letter_templates_dir,
    )


def _letters(request: Request, principal: CurrentUser) -> CaseLetters:
    return case_letters(request, principal)


Letters = Annotated[CaseLetters, Depends(_letters)]


class LetterOffered(BaseModel):
    key: str
    name: str


class LetterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(min_length=1, max_length=60)
    format: Literal["pdf", "docx"] = "pdf"


@router.get("/{case_id}/letters")
async def list_letters(case_id: str, letters: Letters) -> list[LetterOffered]:
    return [LetterOffered(key=t.key, name=t.name) for t in await letters.offered(case_id)]


@router.post("/{case_id}/letters", status_code=status.HTTP_201_CREATED)
async def generate_letter(case_id: str, body: LetterIn, letters: Letters) -> DocumentOut:
    return DocumentOut.of(await letters.generate(case_id, body.template, body.format))

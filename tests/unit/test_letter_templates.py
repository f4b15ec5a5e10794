"""Letter templates: the shipped ones are sound, a broken one is refused with a sentence, and
a placeholder the case cannot fill is named, never printed blank."""

import io
import zipfile
from pathlib import Path

import docx
import pytest
import yaml

from policies.loader import DEFINITIONS_DIR, shipped_policies
from policies.schema import PolicyInvalid, validate_policy
from services.errors import Invalid
from services.letter_render import fill, letter_text, letter_value
from services.letters import SHIPPED_TEMPLATES, template_problems
from tools.make_letter_templates import TEMPLATES, build


def docx_with(*paragraphs: str) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def a_zip_but_not_word() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


def test_every_shipped_policy_names_only_templates_that_are_there_and_sound() -> None:
    for case_type, policy in shipped_policies().items():
        assert template_problems(policy, SHIPPED_TEMPLATES) == [], case_type


def test_the_committed_templates_are_what_the_script_writes() -> None:
    for case_type, letters in TEMPLATES.items():
        for key, (title, paragraphs) in letters.items():
            path = SHIPPED_TEMPLATES / case_type / f"{key}.docx"
            assert path.read_bytes() == build(title, paragraphs), path


def test_every_template_the_script_writes_is_named_by_its_policy() -> None:
    named = {
        template.file
        for policy in shipped_policies().values()
        for template in policy.letters.templates
    }
    written = {
        str(path.relative_to(SHIPPED_TEMPLATES)) for path in SHIPPED_TEMPLATES.glob("*/*.docx")
    }
    assert named == written


def test_a_placeholder_without_a_value_is_named_and_a_tested_one_is_not() -> None:
    template = docx_with(
        "Dear {{ employee_name }},",
        "Your hearing is on {{ hearing_date }}.",
        "{% if warning_expiry %}Live until {{ warning_expiry }}.{% endif %}",
        "{{ summary }}",
    )
    filled = fill(
        template, {"employee_name": "Priya <Patel> & Co", "summary": letter_value("a\nb")}, "t"
    )
    assert filled.missing == ["hearing_date"]
    text = letter_text(filled.docx)
    assert "Dear Priya <Patel> & Co," in text
    assert "Live until" not in text
    assert "a\nb" in text


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (docx_with("Dear {{ employee_name }"), "cannot be used: unexpected '}'"),
        (docx_with("{% if x %}never closed"), "cannot be used"),
        (b"not a word document", "is not a Word document (.docx)"),
        (a_zip_but_not_word(), "is not a Word document (.docx)"),
    ],
)
def test_a_broken_template_is_refused_with_a_sentence(content: bytes, words: str) -> None:
    with pytest.raises(Invalid) as refused:
        fill(content, {}, "disciplinary/broken.docx")
    assert "'disciplinary/broken.docx'" in refused.value.detail
    assert words in refused.value.detail


def test_publishing_checks_the_template_files(tmp_path: Path) -> None:
    policy = shipped_policies()["grievance"]
    (tmp_path / "grievance").mkdir()
    (tmp_path / "grievance" / "meeting_invitation.docx").write_bytes(docx_with("{{ a }"))
    (tmp_path / "grievance" / "outcome.docx").write_bytes(docx_with("{{ a }}"))
    problems = template_problems(policy, tmp_path)
    assert problems[0].startswith("letters.templates[0].file: The letter template")
    assert problems[1:] == [
        "letters.templates[2].file: there is no template 'grievance/appeal_outcome.docx' in "
        "the folder"
    ]


def test_the_letters_block_is_checked_across_fields() -> None:
    data = yaml.safe_load((DEFINITIONS_DIR / "disciplinary.yaml").read_text())
    data["letters"]["templates"] += [
        {"key": "outcome", "name": "Again", "stages": ["hearing"], "file": "d/x.docx"},
        {
            "key": "later",
            "name": "Later",
            "stages": ["nowhere"],
            "after": ["no_such_step"],
            "file": "d/y.docx",
        },
        {"key": "never", "name": "Never", "file": "Bad Name.doc"},
    ]
    data["letters"]["warnings"]["expire_after"]["Verbal warning"] = "P6M"
    data["letters"]["appeal_window"] = "assessmentx"
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(data)
    found = {error.path: error.message for error in invalid.value.errors}
    assert "not a template file name" in found["letters.templates[6].file"]
    assert found == found | {
        "letters.templates[4].key": "duplicate letter key 'outcome' (already used by templates[2])",
    }
    assert "unknown stage 'nowhere'" in found["letters.templates[5].stages[0]"]
    assert "'no_such_step' is not the key" in found["letters.templates[5].after[0]"]
    assert (
        "'Verbal warning' is not one of the choices"
        in found["letters.warnings.expire_after.Verbal warning"]
    )
    assert "unknown stage 'assessmentx'" in found["letters.appeal_window"]

"""The side routes that reveal a case answer only for the cases the caller may see.

Subject access and the Temporal UI's codec used to check only role and organisation (issue 22,
points 1 and 2): an admin not named on a restricted case, a witness, the subject's line manager
and the subject himself could read a case the case routes hide from them. Both now ask the one
rule, services/access.py `visible_cases`.

The people: Priya (E1001) is the subject of three cases, all opened by alice —
  plain:      nothing special;
  restricted: restricted to bob and nina (an admin named on it);
  witnessed:  Sam (E1002) is recorded as a witness.
Lena (E2001) is Priya's line manager.
"""

import io
import json
import zipfile

from temporalio.testing import WorkflowEnvironment

from records.people import create_user, get_or_create_organisation
from tests.api.test_retention import as_json, history_payloads
from tests.support.people import DEMO_HASH
from tests.support.stack import ApiStack

# The extra accounts: who they are, their roles, and the staff record each is linked to.
ACCOUNTS = (
    ("wendy", ["hr_director"], "E1002"),  # the witness on the witnessed case
    ("lena", ["admin"], "E2001"),  # Priya's line manager
    ("adam", ["admin"], None),  # an admin named on nothing
    ("nina", ["admin"], None),  # an admin named on the restricted case
    ("priya", ["auditor"], "E1001"),  # the subject, who happens to be an auditor
)


async def priyas_cases(stack: ApiStack) -> dict[str, str]:
    async with stack.database.transaction() as session:
        org = await get_or_create_organisation(session, "RXA", "North Trust")
        for username, roles, employee_id in ACCOUNTS:
            await create_user(
                session,
                org,
                username,
                DEMO_HASH,
                roles,
                username.title(),
                f"{username}@north.example",
                staff_employee_id=employee_id,
            )
    alice, mark = await stack.token("alice"), await stack.token("mark")
    cases: dict[str, str] = {}
    for kind in ("plain", "restricted", "witnessed"):
        opened = await stack.http.post(
            "/api/cases",
            json={"case_type": "disciplinary", "employee_id": "E1001", "summary": f"{kind} case"},
            headers=alice,
        )
        assert opened.status_code == 201, opened.text
        cases[kind] = opened.json()["id"]
    restricted = await stack.http.put(
        f"/api/cases/{cases['restricted']}/restriction",
        json={"restricted": True, "people": ["bob", "nina"]},
        headers=mark,
    )
    assert restricted.status_code == 200, restricted.text
    witness = await stack.http.post(
        f"/api/cases/{cases['witnessed']}/parties",
        json={"employee_id": "E1002", "role": "witness"},
        headers=alice,
    )
    assert witness.status_code == 201, witness.text
    return cases


async def export_for(stack: ApiStack, username: str) -> zipfile.ZipFile:
    reply = await stack.http.get(
        "/api/staff/E1001/subject-access", headers=await stack.token(username)
    )
    assert reply.status_code == 200, reply.text
    return zipfile.ZipFile(io.BytesIO(reply.content))


def exported_summaries(archive: zipfile.ZipFile) -> list[str]:
    return [case["summary"] for case in json.loads(archive.read("cases.json"))]


def withheld(archive: zipfile.ZipFile) -> dict[str, int]:
    """withheld.json as {first word of the reason: count}."""
    return {
        entry["reason"].split()[0]: entry["cases"]
        for entry in json.loads(archive.read("withheld.json"))
    }


async def test_subject_access_exports_only_what_the_requester_may_see(api_stack: ApiStack) -> None:
    await priyas_cases(api_stack)

    # Hannah (HR director, no staff record): everything but the case restricted to others.
    hannah = await export_for(api_stack, "hannah")
    assert exported_summaries(hannah) == ["plain case", "witnessed case"]
    assert withheld(hannah) == {"it": 1}  # "it is restricted to the people named on it"
    readme = hannah.read("README.txt").decode()
    assert "Withheld from this export (1)" in readme
    assert "one of the people named on the case must export it" in readme
    assert "restricted case" not in readme  # the withheld case's content stays out

    # Wendy is the witness: her own evidence's case is withheld as well as the restricted one.
    wendy = await export_for(api_stack, "wendy")
    assert exported_summaries(wendy) == ["plain case"]
    assert withheld(wendy) == {"it": 1, "you": 1}

    # Lena is Priya's line manager: a party to every case about Priya (the restricted one
    # included, counted once, as a party).
    lena = await export_for(api_stack, "lena")
    assert exported_summaries(lena) == []
    assert withheld(lena) == {"you": 3}

    # Nina, named on the restricted case, exports all three.
    nina = await export_for(api_stack, "nina")
    assert sorted(exported_summaries(nina)) == ["plain case", "restricted case", "witnessed case"]
    assert json.loads(nina.read("withheld.json")) == []


async def test_the_codec_decodes_only_payloads_of_cases_the_reader_may_see(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> None:
    cases = await priyas_cases(api_stack)
    http = api_stack.http

    async def decode(username: str, kind: str) -> int:
        payloads = as_json(await history_payloads(dev_server_env, cases[kind]))
        reply = await http.post(
            "/api/codec/decode", json=payloads, headers=await api_stack.token(username)
        )
        return reply.status_code

    # An admin not named on the restricted case: as if it did not exist; the others open.
    assert await decode("adam", "restricted") == 404
    assert await decode("adam", "plain") == 200
    assert await decode("nina", "restricted") == 200
    # The subject, an auditor, cannot decode his own case; the subject's line manager neither.
    assert await decode("priya", "plain") == 404
    assert await decode("lena", "witnessed") == 404

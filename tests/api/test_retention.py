"""Records governance on the real stack: legal hold, the retention purge (crypto-shredding),
the codec endpoint the Temporal UI calls, and subject access requests.

Cases are opened through the API (so the engine holds their sealed history), then their rows
are closed with closing dates long past, as years of running would leave them.
"""

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from codec import CASE, ENCODING, sealed_case
from policies.loader import shipped_policies
from records.case_keys import KeyDestroyed
from records.models import AuditEntry, Case, CaseEvent, CaseKey, CasePurge, Note
from records.people import create_user, get_or_create_organisation
from services.retention import PURGED, purge_expired_cases
from tests.api.test_sealed_history import sealed_payloads
from tests.support.database import case_database, insert_case_row
from tests.support.keys import TEST_PAYLOAD_KEY
from tests.support.people import DEMO_HASH, add_people
from tests.support.stack import ApiStack
from workflows import workflow_id
from workflows.types import CaseInput

PAUSE_REASON = "Bramblecote occupational health referral for Ottoline Vasquez-Hale"
OTHER_REASON = "Pennywhistle counselling sessions arranged"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOW = datetime.now(UTC)


async def add_auditor(api_stack: ApiStack) -> dict[str, str]:
    async with api_stack.database.transaction() as session:
        org = await get_or_create_organisation(session, "RXA", "North Trust")
        await create_user(
            session, org, "audrey", DEMO_HASH, ["auditor"], "Audrey", "a@north.example"
        )
    return await api_stack.token("audrey")


async def open_paused(api_stack: ApiStack, employee_id: str, reason: str) -> str:
    alice = await api_stack.token("alice")
    opened = await api_stack.http.post(
        "/api/cases",
        json={
            "case_type": "disciplinary",
            "employee_id": employee_id,
            "summary": f"About {reason}",
        },
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["id"]
    paused = await api_stack.http.post(
        f"/api/cases/{case_id}/pause", json={"reason": reason}, headers=alice
    )
    assert paused.status_code == 200, paused.text
    return case_id


async def close_long_ago(api_stack: ApiStack, case_id: str, years: int) -> None:
    async with api_stack.database.transaction() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        case.status, case.closed_at = "closed", NOW - timedelta(days=365 * years + 2)


async def history_payloads(env: WorkflowEnvironment, case_id: str) -> list[Payload]:
    history = await env.client.get_workflow_handle(workflow_id(case_id)).fetch_history()
    return sealed_payloads(history.events)


async def start_input(env: WorkflowEnvironment, case_id: str) -> list[Payload]:
    """The raw input of the history's WorkflowExecutionStarted event, as the engine keeps it."""
    history = await env.client.get_workflow_handle(workflow_id(case_id)).fetch_history()
    started = history.events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    return list(started.workflow_execution_started_event_attributes.input.payloads)


def as_json(payloads: list[Payload]) -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


async def test_purge_destroys_personal_data_and_the_key_but_keeps_the_counts(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    api_stack.settings.documents_dir = tmp_path / "documents"
    http, alice, mark = (
        api_stack.http,
        await api_stack.token("alice"),
        await api_stack.token("mark"),
    )
    auditor = await add_auditor(api_stack)
    expired = await open_paused(api_stack, "E1001", PAUSE_REASON)
    held = await open_paused(api_stack, "E1002", OTHER_REASON)
    recent = await open_paused(api_stack, "E1002", OTHER_REASON)
    note = await http.post(f"/api/cases/{expired}/notes", json={"text": "Ottoline"}, headers=alice)
    assert note.status_code == 201, note.text
    uploaded = await http.post(
        f"/api/cases/{expired}/documents", files={"file": ("letter.pdf", PDF)}, headers=alice
    )
    assert uploaded.status_code == 201, uploaded.text
    [stored] = list((tmp_path / "documents").iterdir())
    # Disciplinary records are kept six years after closure (the shipped policy).
    await close_long_ago(api_stack, expired, 7)
    await close_long_ago(api_stack, held, 7)
    await close_long_ago(api_stack, recent, 5)

    # The engine's history is sealed with each case's own key; with it, the codec opens it.
    payloads = await history_payloads(dev_server_env, expired)
    # Every payload, the start input (ids and policy) included, is sealed with the case's key.
    assert {sealed_case(p) for p in payloads} == {expired}
    [case_input] = await dev_server_env.client.data_converter.decode(
        await start_input(dev_server_env, expired), [CaseInput]
    )
    assert (case_input.case_id, case_input.policy.case_type) == (expired, "disciplinary")
    assert all(p.metadata["encoding"] == ENCODING for p in payloads)
    before = await http.post("/api/codec/decode", json=as_json(payloads), headers=auditor)
    assert before.status_code == 200, before.text
    assert any(
        PAUSE_REASON.encode() in base64.b64decode(p["data"]) for p in before.json()["payloads"]
    )

    # Legal hold: managers, auditors and admins; advisors may not; a reason is required.
    hold_url = f"/api/cases/{held}/legal-hold"
    refused = await http.post(hold_url, json={"reason": "Tribunal claim"}, headers=alice)
    assert refused.status_code == 403
    assert (await http.post(hold_url, json={"reason": ""}, headers=mark)).status_code == 422
    placed = await http.post(hold_url, json={"reason": "Tribunal claim 2301234/2026"}, headers=mark)
    assert placed.status_code == 200, placed.text
    assert (await http.get(hold_url, headers=mark)).json()[
        "reason"
    ] == "Tribunal claim 2301234/2026"

    async def client() -> Client:
        return dev_server_env.client

    documents, ledger = api_stack.settings.documents_dir, api_stack.settings.shred_ledger
    dry = await purge_expired_cases(
        api_stack.database, documents, ledger, client, NOW, dry_run=True
    )
    assert [(item.case_id, item.retention) for item in dry] == [(expired, "P6Y")]
    assert dry[0].counts == {"documents": 1, "notes": 1, "events": 2, "time_entries": 0}
    assert stored.exists()

    purged = await purge_expired_cases(api_stack.database, documents, ledger, client, NOW)
    assert [item.case_id for item in purged] == [expired]
    assert not stored.exists()
    async with api_stack.database.sessions() as session:
        case = await session.get(Case, expired)
        assert case is not None
        assert (case.summary, case.employee_id, case.paused_reason) == (PURGED, "", None)
        # What anonymous reports count is kept.
        assert (case.case_type, case.division, case.status) == (
            "disciplinary",
            "Medicine",
            "closed",
        )
        events = list(await session.scalars(select(CaseEvent).where(CaseEvent.case_id == expired)))
        assert [e.kind for e in events] == ["opened", "paused"]
        assert PAUSE_REASON not in json.dumps([e.detail for e in events])
        assert list(await session.scalars(select(Note).where(Note.case_id == expired))) == []
        key = await session.get(CaseKey, expired)
        assert key is not None and key.wrapped_key is None and key.destroyed_at is not None
        assert await session.get(CasePurge, held) is None
        [audit] = await session.scalars(select(AuditEntry).where(AuditEntry.action == "case.purge"))
        assert (audit.case_id, audit.detail["documents"], audit.detail["notes"]) == (expired, 1, 1)
    described = await dev_server_env.client.get_workflow_handle(workflow_id(expired)).describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED

    # The raw history fetched again from the server: still there, and now unreadable to all.
    payloads = await history_payloads(dev_server_env, expired)
    assert all(PAUSE_REASON.encode() not in p.data for p in payloads)
    with pytest.raises(KeyDestroyed):
        await dev_server_env.client.data_converter.decode(payloads[1:2])
    # The start input too: the engine's WorkflowExecutionStarted event can no longer be read.
    with pytest.raises(KeyDestroyed):
        await dev_server_env.client.data_converter.decode(
            await start_input(dev_server_env, expired), [CaseInput]
        )
    after = await http.post("/api/codec/decode", json=as_json(payloads), headers=auditor)
    assert after.status_code == 410
    assert "destroyed" in after.json()["detail"]
    # Other cases still open: the one on hold, and the one within its retention period.
    for other in (held, recent):
        theirs = await history_payloads(dev_server_env, other)
        opened = await http.post("/api/codec/decode", json=as_json(theirs), headers=auditor)
        assert opened.status_code == 200, opened.text
        assert any(
            OTHER_REASON.encode() in base64.b64decode(p["data"]) for p in opened.json()["payloads"]
        )

    # A purge run again finds nothing more; the hold lifted (with a reason), it is purged too.
    assert await purge_expired_cases(api_stack.database, documents, ledger, client, NOW) == []
    lifted = await http.post(f"{hold_url}/clear", json={"reason": "Claim settled"}, headers=mark)
    assert lifted.status_code == 200, lifted.text
    again = await purge_expired_cases(api_stack.database, documents, ledger, client, NOW)
    assert [item.case_id for item in again] == [held]


async def test_the_codec_endpoint_round_trips_for_admins_and_auditors_only(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> None:
    http = api_stack.http
    auditor = await add_auditor(api_stack)
    case_id = await open_paused(api_stack, "E1001", PAUSE_REASON)
    payloads = await history_payloads(dev_server_env, case_id)
    body = as_json(payloads)

    for who, status in (("alice", 403), ("hannah", 403)):
        reply = await http.post("/api/codec/decode", json=body, headers=await api_stack.token(who))
        assert reply.status_code == status
    assert (await http.post("/api/codec/decode", json=body)).status_code == 401
    other_namespace = {**auditor, "X-Namespace": "elsewhere"}
    assert (
        await http.post("/api/codec/decode", json=body, headers=other_namespace)
    ).status_code == 404
    broken = {"payloads": [{"data": "not base64!"}]}
    assert (await http.post("/api/codec/decode", json=broken, headers=auditor)).status_code == 422

    headers = {**auditor, "X-Namespace": "default", "Origin": "http://localhost:8233"}
    decoded = await http.post("/api/codec/decode", json=body, headers=headers)
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
    plain = decoded.json()["payloads"]
    assert all(base64.b64decode(p["metadata"]["encoding"]) != ENCODING for p in plain)
    [started] = [p for p in plain if b'"case_id"' in base64.b64decode(p["data"])][:1]
    assert json.loads(base64.b64decode(started["data"]))["case_id"] == case_id

    encoded = await http.post("/api/codec/encode", json={"payloads": plain[:1]}, headers=headers)
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert CASE not in sealed["metadata"]  # typed in the UI: sealed with the master key
    again = await http.post("/api/codec/decode", json=encoded.json(), headers=headers)
    assert again.json()["payloads"] == plain[:1]

    preflight = await http.options(
        "/api/codec/decode",
        headers={"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "X-Namespace" in preflight.headers["Access-Control-Allow-Headers"]
    stranger = await http.options("/api/codec/decode", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers
    async with api_stack.database.sessions() as session:
        audits = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "codec.decode"))
        )
    # One row per decode that got through: who, and which case's payloads.
    assert [(a.username, a.case_id) for a in audits] == [("audrey", case_id), ("audrey", None)]


async def test_subject_access_returns_everything_held_about_one_employee(
    api_stack: ApiStack,
) -> None:
    http = api_stack.http
    case_id = await open_paused(api_stack, "E1001", PAUSE_REASON)
    note = await http.post(
        f"/api/cases/{case_id}/notes",
        json={"text": "Called Priya"},
        headers=await api_stack.token("alice"),
    )
    assert note.status_code == 201
    await open_paused(api_stack, "E1002", OTHER_REASON)  # someone else's case stays out
    url = "/api/staff/E1001/subject-access"

    assert (await http.get(url, headers=await api_stack.token("alice"))).status_code == 403
    hannah = await api_stack.token("hannah")
    assert (await http.get("/api/staff/E9999/subject-access", headers=hannah)).status_code == 404
    reply = await http.get(url, headers=hannah)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    assert sorted(archive.namelist()) == [
        "README.txt",
        "cases.csv",
        "cases.json",
        "staff.json",
        "withheld.json",
    ]
    assert json.loads(archive.read("staff.json"))["name"] == "Priya Patel"
    [case] = json.loads(archive.read("cases.json"))
    assert case["id"] == case_id and case["summary"] == f"About {PAUSE_REASON}"
    assert [entry["kind"] for entry in case["timeline"]] == ["opened", "paused"]
    assert case["timeline"][1]["detail"]["reason"] == PAUSE_REASON
    assert [n["text"] for n in case["notes"]] == ["Called Priya"]
    assert case_id in archive.read("README.txt").decode()
    assert archive.read("cases.csv").decode().splitlines()[1].startswith(f"{case_id},disciplinary")
    async with api_stack.database.sessions() as session:
        [audit] = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "staff.subject_access")
        )
    assert (audit.username, audit.detail["employee_id"]) == ("hannah", "E1001")


def test_ercase_retention_purge_dry_run_lists_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ercase.db"

    async def prepare() -> None:
        async with case_database(url) as db:
            people = await add_people(db)
            policy = shipped_policies()["disciplinary"]
            for case_id, years in (("DIS-2019-0001", 7), ("DIS-2021-0002", 5)):
                closed = NOW - timedelta(days=365 * years + 2)
                await insert_case_row(db, case_id, people.organisation.id, closed, policy)
                async with db.transaction() as session:
                    case = await session.get(Case, case_id)
                    assert case is not None
                    case.status, case.closed_at = "closed", closed

    asyncio.run(prepare())
    environment = {
        **os.environ,
        "ERCASE_DATABASE_URL": url,
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": "test-secret-key-of-enough-length-for-hs256",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli", "retention", "purge", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("would purge DIS-2019-0001 (disciplinary, closed ")
    assert lines[0].endswith("kept P6Y): 0 documents, 0 notes, 0 events, 0 time_entries")
    assert lines[1:] == ["1 case(s) would purge"]

    async def still_there() -> str:
        async with case_database(url) as db, db.sessions() as session:
            case = await session.get(Case, "DIS-2019-0001")
            assert case is not None
            return case.summary

    assert asyncio.run(still_there()) != PURGED

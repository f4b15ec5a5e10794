"""Sensitive data stays sealed (decision 6): Temporal's history holds no readable personal data.

A case is worked through the API; its raw history, read by a client without our codec, must
show none of what people typed, and every payload in it must be encrypted.
"""

import base64
import logging
import os
from collections.abc import Iterable, Iterator

import pytest
from cryptography.exceptions import InvalidTag
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from codec import ENCODING, EncryptionCodec
from tests.support.harness import JUST_CULTURE
from tests.support.keys import TEST_PAYLOAD_KEY
from tests.support.stack import ApiStack
from workflows import workflow_id
from workflows.types import CaseInput

EMPLOYEE_NAME = "Priya Patel"
SUMMARY = "Quartzwillow allegation: badge cloning at the Ravensmoor car park"
TERMS_OF_REFERENCE = "Establish whether Tamberlake shift swaps were falsified"
INVESTIGATING_OFFICER = "Dr Obadiah Fennimore-Quist"
PAUSE_REASON = "Occupational health referral for Juniper-Vale anxiety episode"
NOTE_TEXT = "Phoned Marisol Okonkwo-Brandt about the Larkspur hearing bundle"

SECRETS = (
    EMPLOYEE_NAME,
    SUMMARY,
    TERMS_OF_REFERENCE,
    INVESTIGATING_OFFICER,
    PAUSE_REASON,
    NOTE_TEXT,
)


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (single, repeated or map fields)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:  # a scalar or an enum
            continue
        if field.message_type.GetOptions().map_entry:
            children: list[object] = list(value.values())
        elif isinstance(value, Message):
            children = [value]
        else:  # a repeated field
            children = list(value)
        for child in children:
            if isinstance(child, Message):
                yield from payloads_in(child)


def is_patch_record(event: HistoryEvent) -> bool:
    """What `workflow.patched` writes: a marker and the TemporalChangeVersion search attribute.

    The SDK core writes both (the patch id, as plain JSON), not the data converter, so they
    never pass the codec; they hold nothing but the patch ids named in workflows/.
    """
    if event.HasField("marker_recorded_event_attributes"):
        return event.marker_recorded_event_attributes.marker_name == "core_patch"
    if event.HasField("upsert_workflow_search_attributes_event_attributes"):
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        return set(fields.indexed_fields) == {"TemporalChangeVersion"}
    return False


def sealed_payloads(events: Iterable[HistoryEvent]) -> list[Payload]:
    """Every payload of a history that went through the data converter."""
    return [p for event in events if not is_patch_record(event) for p in payloads_in(event)]


async def test_the_raw_history_holds_no_readable_personal_data(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    # The canary: every log line of the API and the worker (both in this process) is kept.
    caplog.set_level(logging.DEBUG)
    alice = await api_stack.token("alice")
    http = api_stack.http
    opened = await http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": SUMMARY},
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    steps = [
        (
            f"/api/cases/{case_id}/actions/refer_to_investigation",
            {
                "data": {
                    "terms_of_reference": TERMS_OF_REFERENCE,
                    "investigating_officer": INVESTIGATING_OFFICER,
                    **JUST_CULTURE,
                }
            },
            200,
        ),
        (f"/api/cases/{case_id}/pause", {"reason": PAUSE_REASON}, 200),
        (f"/api/cases/{case_id}/notes", {"text": NOTE_TEXT}, 201),
    ]
    for path, body, expected in steps:
        response = await http.post(path, json=body, headers=alice)
        assert response.status_code == expected, response.text
    read = await http.get(f"/api/cases/{case_id}", headers=alice)
    assert read.json()["paused_reason"] == PAUSE_REASON
    assert [entry["kind"] for entry in read.json()["timeline"]] == [
        "opened",
        "advanced",
        "paused",
        "note.note",
    ]

    # Someone with access to Temporal but not to the key: the default converter, no codec.
    raw = await Client.connect(api_stack.settings.temporal_address, namespace="default")
    history = await raw.get_workflow_handle(workflow_id(case_id)).fetch_history()
    as_json = history.to_json()

    payloads = sealed_payloads(history.events)
    # Start input, update inputs and results, activity inputs and results at least.
    assert len(payloads) >= 8
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCODING
    for secret in SECRETS:
        assert secret not in as_json
        # JSON shows payload data as base64; look in the bytes themselves too.
        assert all(secret.encode() not in payload.data for payload in payloads)
    # Nor in what the engine shows without opening payloads: workflow id, search attributes.
    described = await raw.get_workflow_handle(workflow_id(case_id)).describe()
    assert described.id == f"case-{case_id}"
    shown = f"{described.id} {described.raw_description.workflow_execution_info}"
    assert all(secret not in shown for secret in SECRETS)
    # Nor in the logs of the API and the worker.
    assert caplog.records, "the logs were not captured"
    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert [secret for secret in SECRETS if secret in logged] == []
    with pytest.raises(KeyError, match="binary/encrypted"):
        await raw.data_converter.decode(list(payloads[:1]))

    # Those with the key still read it: the first event's input is the case.
    started = history.events[0]
    assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    started_input = started.workflow_execution_started_event_attributes.input.payloads
    [case_input] = await dev_server_env.client.data_converter.decode(started_input, [CaseInput])
    assert isinstance(case_input, CaseInput)
    assert case_input.case_id == case_id


# ---- the codec on its own ------------------------------------------------------------


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_the_codec_round_trips_and_hides_the_data() -> None:
    codec = EncryptionCodec(TEST_PAYLOAD_KEY)
    original = [plain(EMPLOYEE_NAME), plain(SUMMARY)]

    sealed = await codec.encode(original)

    assert [payload.metadata["encoding"] for payload in sealed] == [ENCODING, ENCODING]
    assert all(
        b"Priya" not in payload.data and b"json/plain" not in payload.data for payload in sealed
    )
    assert sealed[0].data != (await codec.encode(original[:1]))[0].data  # a fresh nonce each time
    assert await codec.decode(sealed) == original


async def test_a_payload_sealed_with_another_key_is_refused() -> None:
    ours = EncryptionCodec(TEST_PAYLOAD_KEY)
    theirs = EncryptionCodec(base64.b64encode(os.urandom(32)).decode())
    [sealed] = await theirs.encode([plain(EMPLOYEE_NAME)])

    with pytest.raises(ValueError, match="another key"):
        await ours.decode([sealed])

    # Even claiming our key's id does not get it through: the authentication tag fails.
    sealed.metadata["encryption-key-id"] = ours.key_id
    with pytest.raises(InvalidTag):
        await ours.decode([sealed])


async def test_tampered_ciphertext_is_refused() -> None:
    codec = EncryptionCodec(TEST_PAYLOAD_KEY)
    [sealed] = await codec.encode([plain(EMPLOYEE_NAME)])
    flipped = bytearray(sealed.data)
    flipped[len(flipped) // 2] ^= 0x01
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(flipped))

    with pytest.raises(InvalidTag):
        await codec.decode([tampered])
    assert await codec.decode([sealed]) == [plain(EMPLOYEE_NAME)]

"""Sealed payloads: every Temporal payload is encrypted with AES-256-GCM before it leaves us.

Temporal's history then holds no readable personal data. A case's payloads are sealed with
that case's own key (records/case_keys.py), chosen from the workflow the SDK says a payload
belongs to (its serialization context); destroying the case key then makes the case's history
unreadable everywhere, backups of Temporal's database included. Payloads that belong to no
case (the digests, the reports) are sealed with the master key, ERCASE_PAYLOAD_KEY.

Each payload says in its metadata which key sealed it (`encryption-case` and the case key's
id, or the master key's fingerprint), so any holder of the keys can open it without knowing
which workflow it came from: the Temporal UI's codec server sends payloads alone.
"""

import base64
import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from workflows import workflow_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

ENCODING = b"binary/encrypted"
NONCE_BYTES = 12
KEY_ID = "encryption-key-id"
CASE = "encryption-case"
CASE_WORKFLOW_PREFIX = workflow_id("")


class KeyStore(Protocol):
    async def make(self, session: "AsyncSession", case_ids: Iterable[str]) -> None:
        """Make opening cases' keys in the opening's transaction; they seal the start input."""

    async def sealing_key(self, case_id: str) -> tuple[str, bytes] | None:
        """The case's key id and key; None to seal with the master key instead."""

    async def opening_key(self, case_id: str, key_id: str) -> bytes: ...


def case_of_workflow(workflow_id: str | None) -> str | None:
    """The case a workflow runs (see workflows.workflow_id), or None for one that runs none."""
    if workflow_id and workflow_id.startswith(CASE_WORKFLOW_PREFIX):
        return workflow_id.removeprefix(CASE_WORKFLOW_PREFIX)
    return None


def sealed_case(payload: Payload) -> str | None:
    """The case whose key sealed this payload, if any."""
    case = payload.metadata.get(CASE)
    return case.decode() if case is not None else None


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(
        self, key_base64: str, case_keys: KeyStore | None = None, case_id: str | None = None
    ):
        key = base64.b64decode(key_base64)
        self._key_base64 = key_base64
        self._aes = AESGCM(key)
        # A short fingerprint, not the key: lets a reader tell which key a payload needs.
        self.key_id = hashlib.sha256(key).hexdigest()[:16].encode()
        self.case_keys = case_keys
        self._case_id = case_id

    def with_context(self, context: SerializationContext) -> "EncryptionCodec":
        """The same codec for one workflow's payloads: a case's are sealed with its own key."""
        case_id = case_of_workflow(getattr(context, "workflow_id", None))
        if self.case_keys is None or case_id == self._case_id:
            return self
        return EncryptionCodec(self._key_base64, self.case_keys, case_id)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:  # nothing to seal: no need to look the case's key up
            return []
        case_key = None
        if self.case_keys is not None and self._case_id is not None:
            case_key = await self.case_keys.sealing_key(self._case_id)
        if case_key is not None:
            key_id, key = case_key
            aes = AESGCM(key)
            metadata = {KEY_ID: key_id.encode(), CASE: str(self._case_id).encode()}
        else:
            aes, metadata = self._aes, {KEY_ID: self.key_id}
        return [
            Payload(
                metadata={"encoding": ENCODING, **metadata},
                data=_encrypt(aes, payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        # Within this one call, each key is looked up once however many payloads it sealed.
        openers: dict[tuple[str | None, bytes], AESGCM] = {}
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            which = (sealed_case(payload), payload.metadata.get(KEY_ID, b""))
            if which not in openers:
                openers[which] = await self._opener(*which)
            decoded.append(Payload.FromString(_decrypt(openers[which], payload.data)))
        return decoded

    async def _opener(self, case_id: str | None, key_id: bytes) -> AESGCM:
        if case_id is None:
            if key_id != self.key_id:
                raise ValueError("payload was encrypted with another key")
            return self._aes
        if self.case_keys is None:
            raise ValueError(f"payload was sealed with the key of case {case_id}; no key store")
        return AESGCM(await self.case_keys.opening_key(case_id, key_id.decode()))


def _encrypt(aes: AESGCM, data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aes.encrypt(nonce, data, None)


def _decrypt(aes: AESGCM, data: bytes) -> bytes:
    return aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)

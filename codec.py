"""Sealed payloads: every Temporal payload is encrypted with AES-256-GCM before it leaves us.

Temporal's history then holds no readable personal data. The key comes from
ERCASE_PAYLOAD_KEY; its id travels with each payload so keys can be rotated later.
"""

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, key_base64: str):
        key = base64.b64decode(key_base64)
        self._aes = AESGCM(key)
        # A short fingerprint, not the key: lets a reader tell which key a payload needs.
        self.key_id = hashlib.sha256(key).hexdigest()[:16].encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING, "encryption-key-id": self.key_id},
                data=self._encrypt(payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            if payload.metadata.get("encryption-key-id") != self.key_id:
                raise ValueError("payload was encrypted with another key")
            decoded.append(Payload.FromString(self._decrypt(payload.data)))
        return decoded

    def _encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aes.encrypt(nonce, data, None)

    def _decrypt(self, data: bytes) -> bytes:
        return self._aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)

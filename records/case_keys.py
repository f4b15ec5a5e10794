"""Per-case data keys: made on first use, wrapped by the master key, destroyed at the purge.

A case key is 32 random bytes, stored only wrapped (AES-GCM under the master key, bound to
the case id) in `case_keys`. Nothing caches an unwrapped key beyond one codec call, so a key
destroyed by one process (the purge) is refused at once by every other (API, worker).
"""

import base64
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from records.database import Database
from records.models import CaseKey

NONCE_BYTES = 12


class KeyDestroyed(ValueError):
    """The case's key was destroyed (retention purge): what it sealed can never be read."""


class CaseKeys:
    def __init__(self, database: Database, master_key_base64: str):
        self._database = database
        self._master = AESGCM(base64.b64decode(master_key_base64))
        # Cases being opened by this process: their start input is sealed with the master key,
        # as their key cannot be written while the opening transaction holds the database.
        self._opening: set[str] = set()

    @contextmanager
    def master_sealed(self, case_ids: Iterable[str]) -> Iterator[None]:
        """While cases open: the start input (ids and policy, no personal data) is sealed with
        the master key. Their own key is made by the first payload sealed afterwards."""
        opening = set(case_ids) - self._opening
        self._opening |= opening
        try:
            yield
        finally:
            self._opening -= opening

    async def sealing_key(self, case_id: str) -> tuple[str, bytes] | None:
        """The case's key id and key, made on first use; None while the case is opening."""
        if case_id in self._opening:
            return None
        found = await self._stored(case_id)
        if found is not None:
            return found
        key = secrets.token_bytes(32)
        row = CaseKey(
            case_id=case_id, key_id=secrets.token_hex(8), wrapped_key=self._wrap(case_id, key)
        )
        try:
            async with self._database.transaction() as session:
                session.add(row)
        except IntegrityError:  # another process made it first: theirs is the key
            found = await self._stored(case_id)
            assert found is not None
            return found
        return row.key_id, key

    async def opening_key(self, case_id: str, key_id: str) -> bytes:
        found = await self._stored(case_id)
        if found is None or found[0] != key_id:
            raise ValueError(f"there is no key {key_id} for case {case_id}")
        return found[1]

    async def _stored(self, case_id: str) -> tuple[str, bytes] | None:
        # Read on every codec call (see the module's docstring), so kept to one plain
        # statement: no ORM session, whose bookkeeping cost more than the query.
        async with self._database.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(CaseKey.key_id, CaseKey.wrapped_key, CaseKey.destroyed_at).where(
                        CaseKey.case_id == case_id
                    )
                )
            ).first()
        if row is None:
            return None
        key_id, wrapped_key, destroyed_at = row
        if wrapped_key is None:
            raise KeyDestroyed(
                f"the key of case {case_id} was destroyed on "
                f"{destroyed_at:%d %B %Y}; its sealed data can no longer be read"
            )
        return key_id, self._unwrap(case_id, wrapped_key)

    def _wrap(self, case_id: str, key: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._master.encrypt(nonce, key, case_id.encode())
        return base64.b64encode(sealed).decode()

    def _unwrap(self, case_id: str, wrapped: str) -> bytes:
        data = base64.b64decode(wrapped)
        return self._master.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], case_id.encode())


async def destroy_case_key(session: AsyncSession, case_id: str, now: datetime) -> bool:
    """Destroy a case's key for good (crypto-shredding); False if it had none left."""
    row = await session.scalar(select(CaseKey).where(CaseKey.case_id == case_id))
    if row is None:
        # Mark the case as shredded anyway, so no process makes it a fresh key later.
        session.add(CaseKey(case_id=case_id, key_id="", wrapped_key=None, destroyed_at=now))
        return False
    if row.wrapped_key is None:
        return False
    row.wrapped_key = None
    row.destroyed_at = now.astimezone(UTC)
    return True

"""Per-case data keys: made with the case's row, wrapped by the master key, destroyed at the purge.

A case key is 32 random bytes, stored only wrapped (AES-GCM under the master key, bound to
the case id) in `case_keys`. Nothing caches an unwrapped key beyond one codec call (but the
opening process, until the case's row commits), so a key destroyed by one process (the purge)
is refused at once by every other (API, worker).
"""

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from records.database import Database
from records.models import CaseKey

NONCE_BYTES = 12
# How long a reader waits for the key of a case another process is still opening.
OPENING_WAIT_SECONDS = 5.0
OPENING_POLL_SECONDS = 0.05


class KeyDestroyed(ValueError):
    """The case's key was destroyed (retention purge): what it sealed can never be read."""


class CaseKeys:
    def __init__(self, database: Database, master_key_base64: str):
        self._database = database
        self._master = AESGCM(base64.b64decode(master_key_base64))
        # Keys of the cases this process is opening, until their rows commit: the engine seals
        # their start input before another session could read the key.
        self._opening: dict[str, tuple[str, bytes]] = {}

    @asynccontextmanager
    async def made_with(
        self, session: AsyncSession, case_ids: Iterable[str]
    ) -> AsyncIterator[None]:
        """Make the opening cases' keys in the opening's own transaction, so their start input
        is sealed with them too: a key commits with its case's row, or neither does (an opening
        that fails leaves no key, and the start input it sealed can never be read)."""
        ids = list(case_ids)
        # A reference just drawn may have a key already: made by a process left under it by an
        # opening that failed (see CaseCommands._start_one). The case takes over that key.
        kept = set(await session.scalars(select(CaseKey.case_id).where(CaseKey.case_id.in_(ids))))
        made = {}
        for case_id in (case_id for case_id in ids if case_id not in kept):
            row, key = self._new_key(case_id)
            session.add(row)
            made[case_id] = (row.key_id, key)
        # Written before any workflow starts: a worker sealing for the case meanwhile waits on
        # this row's lock, then finds it, instead of making a second key.
        await session.flush()
        self._opening |= made
        try:
            yield
        finally:
            for case_id in made:
                self._opening.pop(case_id, None)

    async def sealing_key(self, case_id: str) -> tuple[str, bytes] | None:
        """The case's key id and key, made (and committed) here if the case has none yet: a case
        a workflow opens (a linked case, a sickness case of the attendance monitor), whose
        start the parent's worker seals with the child's key before the engine starts it; and a
        case opened by an older version, whose start input was sealed with the master key."""
        if case_id in self._opening:
            return self._opening[case_id]
        found = await self._stored(case_id)
        if found is not None:
            return found
        row, key = self._new_key(case_id)
        try:
            async with self._database.transaction() as session:
                session.add(row)
        except IntegrityError:  # another process made it first: theirs is the key
            found = await self._stored(case_id)
            assert found is not None
            return found
        return row.key_id, key

    async def opening_key(self, case_id: str, key_id: str) -> bytes:
        opening = self._opening.get(case_id)
        if opening is not None and opening[0] == key_id:
            return opening[1]
        found = await self._stored(case_id)
        waited = 0.0
        while found is None and waited < OPENING_WAIT_SECONDS:
            # Another process may be opening the case: the engine hands its start to a worker
            # a moment before the opening commits the key with the case's row.
            await asyncio.sleep(OPENING_POLL_SECONDS)
            waited += OPENING_POLL_SECONDS
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

    def _new_key(self, case_id: str) -> tuple[CaseKey, bytes]:
        key = secrets.token_bytes(32)
        row = CaseKey(
            case_id=case_id, key_id=secrets.token_hex(8), wrapped_key=self._wrap(case_id, key)
        )
        return row, key

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

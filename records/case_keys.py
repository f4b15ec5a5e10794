"""Per-case data keys: made with the case's row, wrapped by the master key, destroyed at the purge.

A case key is 32 random bytes, stored only wrapped (AES-GCM under the master key, bound to
the case id) in `case_keys`. A step seals and opens about eight payloads of its case within a
fraction of a second (the API's request and reply, the workflow's activations, the
activity's input and result), so each process remembers an unwrapped key for a few seconds
(ERCASE_CASE_KEY_CACHE_SECONDS) rather than read it from the database eight times. A key
destroyed by the retention purge is forgotten at once by every key store of the purging
process; the other processes (API, workers) refuse it once their few seconds have passed.
"""

import base64
import os
import secrets
import time
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from records.database import Database
from records.models import CaseKey

NONCE_BYTES = 12
# Past this many remembered keys, the expired ones are dropped (a busy worker's many cases).
REMEMBERED_BEFORE_SWEEP = 10_000


class KeyDestroyed(ValueError):
    """The case's key was destroyed (retention purge): what it sealed can never be read."""


class CaseKeys:
    def __init__(self, database: Database, master_key_base64: str, cache_seconds: float = 5.0):
        self._database = database
        self._master = AESGCM(base64.b64decode(master_key_base64))
        self._cache_seconds = cache_seconds
        # case id -> (remembered until, on the monotonic clock; key id; key)
        self._remembered: dict[str, tuple[float, str, bytes]] = {}
        _STORES.add(self)

    async def make(self, session: AsyncSession, case_ids: Iterable[str]) -> None:
        """Make the opening cases' keys in the opening's own transaction: a key commits with its
        case's reference, before the workflow starts, so the start input is sealed with it."""
        ids = list(case_ids)
        # A reference just drawn may have a key already: made by a process left under it by an
        # opening that failed (see services/case_opening.py, _start_one). The case takes over
        # that key.
        kept = set(await session.scalars(select(CaseKey.case_id).where(CaseKey.case_id.in_(ids))))
        made = [self._new_key(case_id) for case_id in ids if case_id not in kept]
        session.add_all(row for row, _ in made)

        def remember(_: Session) -> None:  # only once committed: until then it is no one's key
            for row, key in made:
                self._remember(row.case_id, row.key_id, key)

        event.listen(session.sync_session, "after_commit", remember, once=True)

    async def sealing_key(self, case_id: str) -> tuple[str, bytes] | None:
        """The case's key id and key, made (and committed) here if the case has none yet: a case
        a workflow opens (a linked case, a sickness case of the attendance monitor), whose
        start the parent's worker seals with the child's key before the engine starts it; and a
        case opened by an older version, whose start input was sealed with the master key."""
        found = self._recalled(case_id) or await self._stored(case_id)
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
        return self._remember(case_id, row.key_id, key)

    async def opening_key(self, case_id: str, key_id: str) -> bytes:
        # Every key commits before anything is sealed with it (see `make` and `sealing_key`),
        # so a key not found is one that never was: a failed opening's.
        found = self._recalled(case_id)
        if found is None or found[0] != key_id:
            found = await self._stored(case_id)
        if found is None or found[0] != key_id:
            raise ValueError(f"there is no key {key_id} for case {case_id}")
        return found[1]

    def _recalled(self, case_id: str) -> tuple[str, bytes] | None:
        remembered = self._remembered.get(case_id)
        if remembered is None or remembered[0] < time.monotonic():
            return None
        return remembered[1], remembered[2]

    def _remember(self, case_id: str, key_id: str, key: bytes) -> tuple[str, bytes]:
        now = time.monotonic()
        if len(self._remembered) > REMEMBERED_BEFORE_SWEEP:
            self._remembered = {
                case: entry for case, entry in self._remembered.items() if entry[0] >= now
            }
        if self._cache_seconds > 0:
            self._remembered[case_id] = (now + self._cache_seconds, key_id, key)
        return key_id, key

    def forget(self, case_id: str) -> None:
        self._remembered.pop(case_id, None)

    async def _stored(self, case_id: str) -> tuple[str, bytes] | None:
        # One plain statement: no ORM session, whose bookkeeping cost more than the query.
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
        return self._remember(case_id, key_id, self._unwrap(case_id, wrapped_key))

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


# Every key store of this process, so that a purge here makes them all forget the key.
_STORES: "weakref.WeakSet[CaseKeys]" = weakref.WeakSet()


def _forget_when_committed(session: AsyncSession, case_id: str) -> None:
    """Once the destruction commits (not before: a reader meanwhile would remember the key
    again), no key store of this process holds the key any longer."""

    def forget(_: Session) -> None:
        for store in list(_STORES):
            store.forget(case_id)

    event.listen(session.sync_session, "after_commit", forget, once=True)


async def destroy_case_key(session: AsyncSession, case_id: str, now: datetime) -> bool:
    """Destroy a case's key for good (crypto-shredding); False if it had none left."""
    _forget_when_committed(session, case_id)
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

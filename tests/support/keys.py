"""The payload key every test seals with, and the case keys of the running test's database."""

import base64
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from records.case_keys import CaseKeys

# A fixed key for tests, so a failing test's payloads can be decoded when debugging.
TEST_PAYLOAD_KEY = base64.b64encode(bytes(range(32))).decode()


class CurrentTestKeys:
    """The case keys in the running test's database, for the clients of the shared servers.

    The Temporal servers outlive a test's database; their clients read and make each case's
    key where the test's worker and API do. Outside a test (recording histories) there is no
    database, and every payload is sealed with the master key.
    """

    store: CaseKeys | None = None

    async def make(self, session: AsyncSession, case_ids: Iterable[str]) -> None:
        if self.store is not None:
            await self.store.make(session, case_ids)

    async def sealing_key(self, case_id: str) -> tuple[str, bytes] | None:
        return None if self.store is None else await self.store.sealing_key(case_id)

    async def opening_key(self, case_id: str, key_id: str) -> bytes:
        if self.store is None:
            raise ValueError(f"no test database holds the key of case {case_id}")
        return await self.store.opening_key(case_id, key_id)


TEST_KEYS = CurrentTestKeys()

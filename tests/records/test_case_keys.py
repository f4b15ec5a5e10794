"""A case's key is made in the opening's transaction: it commits with the case, or not at all.

Each process remembers a key it has read for a few seconds; the purge's destruction is
refused at once by the purging process and within those seconds by any other. Key stores
stand for processes, on both databases.
"""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from records.case_keys import CaseKeys, KeyDestroyed, destroy_case_key
from records.database import Database
from records.models import CaseKey
from tests.support.keys import TEST_PAYLOAD_KEY

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


async def opened(database: Database, case_id: str) -> tuple[str, bytes]:
    """Open a case's key as an opening does; the key id and key every process then seals with."""
    opener = CaseKeys(database, TEST_PAYLOAD_KEY)
    async with database.transaction() as session:
        await opener.make(session, [case_id])
    sealing = await opener.sealing_key(case_id)
    assert sealing is not None
    return sealing


async def destroyed_elsewhere(database: Database, case_id: str) -> None:
    """The purge run by another process: this process's key stores are not told."""
    async with database.transaction() as session:
        await session.execute(
            update(CaseKey)
            .where(CaseKey.case_id == case_id)
            .values(wrapped_key=None, destroyed_at=NOW)
        )


async def test_a_key_commits_with_the_opening_and_every_process_seals_with_it(
    database: Database,
) -> None:
    key_id, key = await opened(database, "DIS-2026-0001")
    worker = CaseKeys(database, TEST_PAYLOAD_KEY)
    assert await worker.sealing_key("DIS-2026-0001") == (key_id, key)
    assert await worker.opening_key("DIS-2026-0001", key_id) == key
    with pytest.raises(ValueError, match="there is no key"):
        await worker.opening_key("DIS-2026-0001", "another-key-id")


async def test_an_opening_that_fails_leaves_no_key(database: Database) -> None:
    opener = CaseKeys(database, TEST_PAYLOAD_KEY)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await opener.make(session, ["DIS-2026-0002"])
            raise RuntimeError("the checks refused the opening")
    async with database.sessions() as session:
        assert await session.get(CaseKey, "DIS-2026-0002") is None
    with pytest.raises(ValueError, match="there is no key"):
        await opener.opening_key("DIS-2026-0002", "any-key-id")


async def test_the_purging_process_refuses_a_destroyed_key_at_once(database: Database) -> None:
    key_id, _ = await opened(database, "DIS-2026-0003")
    api, worker = CaseKeys(database, TEST_PAYLOAD_KEY), CaseKeys(database, TEST_PAYLOAD_KEY)
    await api.opening_key("DIS-2026-0003", key_id)  # remembered by both
    await worker.sealing_key("DIS-2026-0003")
    async with database.transaction() as session:
        assert await destroy_case_key(session, "DIS-2026-0003", NOW)
    for store in (api, worker):
        with pytest.raises(KeyDestroyed):
            await store.opening_key("DIS-2026-0003", key_id)
        with pytest.raises(KeyDestroyed):
            await store.sealing_key("DIS-2026-0003")


async def test_another_process_refuses_a_destroyed_key_once_its_seconds_pass(
    database: Database,
) -> None:
    key_id, key = await opened(database, "DIS-2026-0004")
    long_memory = CaseKeys(database, TEST_PAYLOAD_KEY, cache_seconds=60)
    short_memory = CaseKeys(database, TEST_PAYLOAD_KEY, cache_seconds=0.2)
    no_memory = CaseKeys(database, TEST_PAYLOAD_KEY, cache_seconds=0)
    for store in (long_memory, short_memory, no_memory):
        assert await store.opening_key("DIS-2026-0004", key_id) == key

    await destroyed_elsewhere(database, "DIS-2026-0004")
    # Within its seconds a process still opens what it was working on ...
    assert await long_memory.opening_key("DIS-2026-0004", key_id) == key
    # ... and once they have passed refuses it, as one that remembers nothing does at once.
    await asyncio.sleep(0.3)
    for store in (short_memory, no_memory):
        with pytest.raises(KeyDestroyed):
            await store.opening_key("DIS-2026-0004", key_id)
        with pytest.raises(KeyDestroyed):
            await store.sealing_key("DIS-2026-0004")

"""A case's key is made in the opening's transaction: it commits with the case, or not at all.

Another process (the worker) may be handed the case's start before that commit; it waits for
the key rather than failing. Two key stores stand for two processes, on both databases.
"""

import asyncio

import pytest

from records import case_keys
from records.case_keys import CaseKeys
from records.database import Database
from records.models import CaseKey
from tests.conftest import TEST_PAYLOAD_KEY


async def test_a_key_commits_with_the_opening_and_a_reader_waits_for_it(
    database: Database,
) -> None:
    opener, worker = CaseKeys(database, TEST_PAYLOAD_KEY), CaseKeys(database, TEST_PAYLOAD_KEY)
    async with database.transaction() as session, opener.made_with(session, ["DIS-2026-0001"]):
        sealing = await opener.sealing_key("DIS-2026-0001")
        assert sealing is not None
        key_id, key = sealing
        reading = asyncio.create_task(worker.opening_key("DIS-2026-0001", key_id))
        await asyncio.sleep(0.5)
        # Not committed yet: the other process cannot have it, and keeps waiting.
        assert not reading.done()
    assert await asyncio.wait_for(reading, timeout=5) == key
    # Every process seals the case with that same key from now on.
    assert await worker.sealing_key("DIS-2026-0001") == (key_id, key)


async def test_an_opening_that_fails_leaves_no_key(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_keys, "OPENING_WAIT_SECONDS", 0.5)
    opener, worker = CaseKeys(database, TEST_PAYLOAD_KEY), CaseKeys(database, TEST_PAYLOAD_KEY)
    with pytest.raises(RuntimeError):
        async with (
            database.transaction() as session,
            opener.made_with(session, ["DIS-2026-0002"]),
        ):
            sealing = await opener.sealing_key("DIS-2026-0002")
            assert sealing is not None
            key_id = sealing[0]
            raise RuntimeError("the engine refused the start")
    async with database.sessions() as session:
        assert await session.get(CaseKey, "DIS-2026-0002") is None
    # What the failed opening sealed can never be opened: its key was never kept.
    with pytest.raises(ValueError, match="there is no key"):
        await worker.opening_key("DIS-2026-0002", key_id)
    with pytest.raises(ValueError, match="there is no key"):
        await opener.opening_key("DIS-2026-0002", key_id)

"""Waiting on what another process does, polled rather than slept through."""

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Wait for something another process does (a worker, a timer); fail after `seconds`."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {seconds} s")

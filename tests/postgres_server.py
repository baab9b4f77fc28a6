"""The PostgreSQL server the PostgreSQL cases use: TEST_POSTGRES_URL (default the local one
with trust auth). Each test gets its own schema (tests/conftest.py), dropped afterwards."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import asyncpg

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")


def pg_with(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in params.items())


def pg_run(sql: str) -> None:
    """Run one statement on a connection of its own. On a thread of its own too: a test
    may already run an event loop in this one (Playwright's sync API does)."""
    async def go() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, go()).result()

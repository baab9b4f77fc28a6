"""The deactivation guard's migration on both stores: users blocked before it take the
reason of the change that blocked them from the sync log (or admin_block when the log no
longer has it), and the count of a provider's active users is answered from the new
partial index."""

from __future__ import annotations

import pytest

from gateway.store import guard, open_store
from gateway.store.base import core_migrations

pytestmark = pytest.mark.anyio
T = "2024-01-01T00:00:00.000000Z"


async def test_blocked_users_keep_the_reason_of_their_block(database):
    store = open_store(database)
    await store.open()
    try:
        wanted = core_migrations(store.dialect)
        guard_at = next(i for i, m in enumerate(wanted) if m.name == "deactivation_guard")
        await store.migrate(wanted[:guard_at])
        async with store.write() as conn:
            for rid, state in (("held", "blocked"), ("admin", "blocked"), ("live", "active"),
                               ("gone", "deactivated")):
                await conn.execute(
                    "INSERT INTO resources (provider_id, id, type, name_key, data, version,"
                    " created, last_modified, state) VALUES ('p', ?, 'User', ?, '{}', 1, ?, ?, ?)",
                    (rid, rid, T, T, state))
            for rid, reason in (("held", "deactivation_delay"), ("held", "legal_hold: Acme"),
                                ("held", None), ("live", "admin_unblock")):
                await conn.execute(
                    "INSERT INTO sync_log (at, actor, resource_id, operation, outcome, reason)"
                    " VALUES (?, 'admin', ?, 'lifecycle', 'success', ?)", (T, rid, reason))
        assert [m.name for m in await store.migrate(wanted)] == \
            [m.name for m in wanted[guard_at:]]
        async with store.read() as conn:
            rows = await conn.fetchall("SELECT id, block_reason FROM resources ORDER BY id")
            active = await guard.active_users(conn, "p")
        assert {r["id"]: r["block_reason"] for r in rows} == {
            "admin": "admin_block", "gone": None, "held": "legal_hold: Acme", "live": None}
        assert active == 1
    finally:
        await store.close()

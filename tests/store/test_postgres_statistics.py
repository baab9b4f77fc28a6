"""PostgreSQL keeps its planner statistics fresh while a sync grows the tables, so lookups
and member checks use their indexes from the first minute on (PostgreSQL only)."""

from __future__ import annotations

import json

import pytest

from gateway.store.base import Store
from gateway.testing import eventually

pytestmark = pytest.mark.anyio
T = "2024-01-01T00:00:00.000000Z"
USERS = 20_000


@pytest.fixture
def database(postgres_database: str) -> str:
    """PostgreSQL only: SQLite has no planner statistics to keep."""
    return postgres_database


async def plan(store: Store, sql: str, params: list) -> dict:
    async with store.read() as conn:
        value = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", params)
    return (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]


def nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", []) for n in nodes(child))]


async def refreshed(store: Store) -> list[str]:
    """Activity counters reach the statistics views a moment after commit (later on a busy
    machine): wait for them."""
    return await eventually(store.refresh_statistics, within=300, every=0.2,
                            what="an ANALYZE of the stale tables")


async def test_a_fast_load_is_analyzed_and_lookups_use_their_indexes(store):
    async with store.write() as conn:  # a sync's worth of rows, committed in a moment
        await conn.execute(
            "INSERT INTO resources (provider_id, id, type, external_id, name_key, data, version,"
            " created, last_modified) SELECT 'p', 'u' || lpad(i::text, 6, '0'), 'User',"
            " 'ext-' || lpad(i::text, 6, '0'), 'user' || i || '@example.com', '{}', 1, ?, ?"
            f" FROM generate_series(0, {USERS - 1}) AS i", [T, T])
        await conn.execute(
            "INSERT INTO resources (provider_id, id, type, display_key, data, version, created,"
            " last_modified) VALUES ('p', 'g1', 'Group', 'everyone', '{}', 1, ?, ?)", [T, T])
        await conn.execute(
            "INSERT INTO members (provider_id, group_id, member_id)"
            " SELECT 'p', 'g1', id FROM resources WHERE type = 'User'")

    assert sorted(await refreshed(store)) == ["members", "resources"]

    by_external = await plan(
        store, "SELECT r.id FROM resources r WHERE r.provider_id = ? AND r.type = 'User'"
        " AND r.hidden = 0 AND (r.external_id = ?) ORDER BY r.created, r.id LIMIT 100",
        ["p", "ext-012345"])
    assert "resources_external" in json.dumps(by_external)
    wanted = [f"u{i:06d}" for i in range(0, USERS, USERS // 100)]
    marks = ", ".join("?" for _ in wanted)
    member_check = await plan(
        store, f"SELECT member_id FROM members WHERE group_id = ? AND member_id IN ({marks})",
        ["g1", *wanted])
    # Each named id is looked up in the key, not found by reading the whole group.
    conditions = " ".join(node.get("Index Cond", "") for node in nodes(member_check))
    assert "member_id = ANY" in conditions
    assert "member_id" not in member_check.get("Filter", "")

    assert await store.refresh_statistics() == []  # nothing changed since: no ANALYZE

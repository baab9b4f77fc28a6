"""Authentication failures, aggregated: one row per provider, minute and reason, whose count
grows. Shared by both stores."""

from __future__ import annotations

from gateway.store.base import Conn


async def add(conn: Conn, counts: list[tuple[str, str, str, int]]) -> None:
    """(provider_id, minute, reason, count) rows added to what is stored."""
    await conn.executemany(
        "INSERT INTO auth_failures (provider_id, minute, reason, count) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (provider_id, minute, reason)"
        " DO UPDATE SET count = auth_failures.count + excluded.count", counts)


async def since(conn: Conn, provider_id: str | None, minute: str, limit: int) -> list[dict]:
    """Rows from ``minute`` on, newest first (every provider's when ``provider_id`` is None)."""
    if provider_id is None:
        return await conn.fetchall(
            "SELECT provider_id, minute, reason, count FROM auth_failures WHERE minute >= ?"
            " ORDER BY minute DESC, provider_id, reason LIMIT ?", (minute, limit))
    return await conn.fetchall(
        "SELECT provider_id, minute, reason, count FROM auth_failures"
        " WHERE provider_id = ? AND minute >= ? ORDER BY minute DESC, reason LIMIT ?",
        (provider_id, minute, limit))


async def by_reason_since(conn: Conn, provider_id: str, minute: str) -> list[dict]:
    """The provider's failures from ``minute`` on, per reason: its count and newest minute."""
    return await conn.fetchall(
        "SELECT reason, sum(count) AS count, max(minute) AS last FROM auth_failures"
        " WHERE provider_id = ? AND minute >= ? GROUP BY reason ORDER BY reason",
        (provider_id, minute))


async def by_provider_since(conn: Conn, minute: str) -> dict[str, int]:
    """Every provider's failures from ``minute`` on: {provider_id: count}."""
    rows = await conn.fetchall(
        "SELECT provider_id, sum(count) AS count FROM auth_failures WHERE minute >= ?"
        " GROUP BY provider_id", (minute,))
    return {row["provider_id"]: int(row["count"]) for row in rows}


async def prune(conn: Conn, before: str) -> int:
    return await conn.execute("DELETE FROM auth_failures WHERE minute < ?", (before,))


async def by_provider_reason_since(conn: Conn, minutes: dict[str, str]) -> list[dict]:
    """Several providers' failures per reason, each from its own minute on ({provider_id:
    minute}): its count and newest minute, in one statement."""
    if not minutes:
        return []
    where = " OR ".join("(provider_id = ? AND minute >= ?)" for _ in minutes)
    args = [value for item in sorted(minutes.items()) for value in item]
    return await conn.fetchall(
        "SELECT provider_id, reason, sum(count) AS count, max(minute) AS last"
        f" FROM auth_failures WHERE {where} GROUP BY provider_id, reason"
        " ORDER BY provider_id, reason", args)

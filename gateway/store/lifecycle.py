"""Scheduled lifecycle actions (delayed deactivations): one row per pending user, claimed by
deleting it in the transaction that carries it out. Shared by both stores."""

from __future__ import annotations

from gateway.store.base import Conn


async def schedule(conn: Conn, resource_id: str, provider_id: str, due_at: str | None,
                   reason: str | None) -> None:
    """The user's pending action: replaced by a deactivation due at `due_at`, or none."""
    await conn.execute("DELETE FROM lifecycle WHERE resource_id = ?", (resource_id,))
    if due_at:
        await conn.execute(
            "INSERT INTO lifecycle (resource_id, provider_id, action, due_at, reason)"
            " VALUES (?, ?, 'deactivate', ?, ?)",
            (resource_id, provider_id, due_at, reason),
        )


async def claim_next(conn: Conn, now: str) -> str | None:
    """Take the oldest due action out of the table, inside the caller's transaction.

    The row is deleted by whoever runs it, so it runs once. PostgreSQL skips rows that
    another scheduler holds (FOR UPDATE SKIP LOCKED); SQLite has one writer at a time.
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgres" else ""
    item = await conn.fetchone(
        "SELECT resource_id FROM lifecycle WHERE due_at <= ? ORDER BY due_at, resource_id"
        " LIMIT 1" + lock, (now,))
    if item is None:
        return None
    await conn.execute("DELETE FROM lifecycle WHERE resource_id = ?", (item["resource_id"],))
    return item["resource_id"]


async def due_by_provider(conn: Conn, until: str) -> dict[str, int]:
    """The deactivations due by ``until`` (overdue ones included), per provider."""
    rows = await conn.fetchall(
        "SELECT provider_id, count(*) AS n FROM lifecycle WHERE due_at <= ?"
        " GROUP BY provider_id", (until,))
    return {row["provider_id"]: int(row["n"]) for row in rows}

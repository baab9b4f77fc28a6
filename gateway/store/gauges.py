"""The counts the metrics endpoint reads from the database at scrape time. Shared by both
stores; each is an indexed read (the blocked-user count uses a partial index)."""

from __future__ import annotations

from gateway.store.base import Conn


async def pending_deactivations(conn: Conn) -> list[dict]:
    return await conn.fetchall(
        "SELECT provider_id, COUNT(*) AS count FROM lifecycle WHERE action = 'deactivate'"
        " GROUP BY provider_id ORDER BY provider_id")


async def blocked_users(conn: Conn) -> list[dict]:
    """Users who cannot sign in, by provider: every kind of block (the admin's, a policy's,
    during a deactivation's delay, held by the guard) carries its reason."""
    return await conn.fetchall(
        "SELECT provider_id, COUNT(*) AS count FROM resources WHERE block_reason IS NOT NULL"
        " GROUP BY provider_id ORDER BY provider_id")


async def occurred_at(conn: Conn, seq: int) -> str | None:
    return await conn.fetchval("SELECT occurred_at FROM outbox WHERE seq = ?", (seq,))


async def webhook_backlog(conn: Conn) -> list[dict]:
    """Per webhook: its cursor, its oldest pending delivery's seq, its pending and dead
    deliveries."""
    return await conn.fetchall(
        "SELECT w.id, w.cursor, (SELECT MIN(d.seq) FROM deliveries d WHERE d.webhook_id = w.id"
        " AND d.status = 'pending') AS oldest, (SELECT COUNT(*) FROM deliveries d"
        " WHERE d.webhook_id = w.id AND d.status = 'pending') AS pending,"
        " (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id"
        " AND d.status = 'dead') AS dead FROM webhooks w ORDER BY w.id")

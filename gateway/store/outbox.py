"""The outbox's SQL: events appended in the change's transaction, read in sequence order.
Shared by both stores (PostgreSQL assigns seqs in commit order, see its 0001 migration)."""

from __future__ import annotations

from gateway.store.base import Conn


async def insert(conn: Conn, event_type: str, provider_id: str | None,
                 resource_type: str | None, resource_id: str | None, occurred_at: str,
                 data: str, traceparent: str | None = None) -> int:
    return await conn.fetchval(
        "INSERT INTO outbox (type, provider_id, resource_type, resource_id, occurred_at, data,"
        " traceparent) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        (event_type, provider_id, resource_type, resource_id, occurred_at, data, traceparent),
    )


async def after(conn: Conn, seq: int, limit: int) -> list[dict]:
    return await conn.fetchall("SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                               (seq, limit))


async def newest_seq(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COALESCE(MAX(seq), 0) FROM outbox"))

"""Webhooks and their deliveries: the SQL of registrations, fan-out, claims and outcomes.
Shared by both stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.store.base import Conn

_WITH_COUNTS = (
    "SELECT w.*, (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id"
    " AND d.status = 'pending') AS pending, (SELECT COUNT(*) FROM deliveries d"
    " WHERE d.webhook_id = w.id AND d.status = 'dead') AS dead FROM webhooks w"
)
_DUE = (
    "SELECT d.webhook_id, d.seq, d.attempts, d.next_attempt_at, d.resource_key, w.url,"
    " w.secret, o.type, o.provider_id, o.occurred_at, o.resource_type, o.resource_id, o.data,"
    " o.traceparent FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id"
    " JOIN outbox o ON o.seq = d.seq"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= ?"
    " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.webhook_id = d.webhook_id"
    " AND e.resource_key = d.resource_key AND e.status = 'pending' AND e.seq < d.seq)"
    " ORDER BY d.seq LIMIT ?"
)


# Registrations ------------------------------------------------------------------------------

async def insert(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO webhooks (id, url, secret, events, cursor, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (row["id"], row["url"], row["secret"], row["events"], row["cursor"],
         row["created_at"]),
    )


async def secrets(conn: Conn) -> list[dict]:
    """Every webhook's id and stored (sealed) secret."""
    return await conn.fetchall("SELECT id, secret FROM webhooks ORDER BY id")


async def set_secret(conn: Conn, webhook_id: str, secret: str) -> None:
    await conn.execute("UPDATE webhooks SET secret = ? WHERE id = ?", (secret, webhook_id))


async def all_with_counts(conn: Conn) -> list[dict]:
    return await conn.fetchall(_WITH_COUNTS + " ORDER BY w.created_at, w.id")


async def one_with_counts(conn: Conn, webhook_id: str) -> dict | None:
    return await conn.fetchone(_WITH_COUNTS + " WHERE w.id = ?", (webhook_id,))


async def retrying(conn: Conn, webhook_ids: list[str]) -> dict[str, dict]:
    """Each webhook's oldest delivery that failed and waits for another attempt (what an
    admin looks at before anything is dead-lettered)."""
    if not webhook_ids:
        return {}
    marks = ", ".join("?" for _ in webhook_ids)
    rows = await conn.fetchall(
        "SELECT webhook_id, seq, attempts, last_error, last_attempt_at, next_attempt_at"
        " FROM deliveries WHERE status = 'pending' AND attempts > 0"
        f" AND webhook_id IN ({marks}) ORDER BY seq", webhook_ids)
    found: dict[str, dict] = {}
    for row in rows:
        found.setdefault(row["webhook_id"], row)
    return found


async def delete(conn: Conn, webhook_id: str) -> bool:
    await conn.execute("DELETE FROM deliveries WHERE webhook_id = ?", (webhook_id,))
    return bool(await conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)))


async def behind(conn: Conn, top: int) -> list[dict]:
    """Webhooks whose cursor is behind the newest event."""
    return await conn.fetchall("SELECT id, events, cursor FROM webhooks WHERE cursor < ?",
                               (top,))


async def move_cursor(conn: Conn, webhook_id: str, old: int, new: int) -> bool:
    """The claim of a fan-out batch: only the replica that moves the cursor queues it."""
    return bool(await conn.execute(
        "UPDATE webhooks SET cursor = ? WHERE id = ? AND cursor = ?", (new, webhook_id, old)))


# Deliveries -------------------------------------------------------------------------------

async def queue(conn: Conn, rows: Sequence[tuple[str, int, str, str]]) -> None:
    """(webhook_id, seq, resource_key, next_attempt_at) rows, pending with no attempts."""
    await conn.executemany(
        "INSERT INTO deliveries (webhook_id, seq, resource_key, status, attempts,"
        " next_attempt_at) VALUES (?, ?, ?, 'pending', 0, ?)", rows)


async def any_due(conn: Conn, now: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
        (now,)))


async def due(conn: Conn, now: str, limit: int) -> list[dict]:
    """The oldest pending delivery of each resource that may go now, with its event."""
    return await conn.fetchall(_DUE, (now, limit))


async def lease(conn: Conn, row: dict, until: str, now: str) -> bool:
    """Claim a due delivery until `until`; False when another loop claimed it first."""
    return bool(await conn.execute(
        "UPDATE deliveries SET next_attempt_at = ?, last_attempt_at = ?"
        " WHERE webhook_id = ? AND seq = ? AND status = 'pending' AND next_attempt_at = ?",
        (until, now, row["webhook_id"], row["seq"], row["next_attempt_at"])))


async def delivered(conn: Conn, webhook_id: str, seq: int) -> None:
    await conn.execute("DELETE FROM deliveries WHERE webhook_id = ? AND seq = ?",
                       (webhook_id, seq))


async def failed(conn: Conn, webhook_id: str, seq: int, attempts: int, dead: bool,
                 next_at: str, error: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET attempts = ?, status = ?, next_attempt_at = ?,"
        " last_error = ? WHERE webhook_id = ? AND seq = ? AND status = 'pending'",
        (attempts, "dead" if dead else "pending", next_at, error, webhook_id, seq),
    )


async def dead_letters(conn: Conn, webhook_id: str, after: int, limit: int) -> list[dict]:
    return await conn.fetchall(
        "SELECT d.seq, d.attempts, d.last_error, d.last_attempt_at, o.type,"
        " o.provider_id, o.occurred_at, o.resource_type, o.resource_id, o.data, o.traceparent"
        " FROM deliveries d JOIN outbox o ON o.seq = d.seq"
        " WHERE d.webhook_id = ? AND d.status = 'dead' AND d.seq > ?"
        " ORDER BY d.seq LIMIT ?", (webhook_id, after, limit),
    )


async def requeue_dead(conn: Conn, webhook_id: str, now: str,
                       seqs: list[int] | None) -> int:
    """Dead letters (all, or those of `seqs`) back to pending, due now."""
    sql = ("UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?"
           " WHERE webhook_id = ? AND status = 'dead'")
    args: list[Any] = [now, webhook_id]
    if seqs is not None:
        sql += " AND seq IN (" + ", ".join("?" for _ in seqs) + ")"
        args += seqs
    return await conn.execute(sql, args)

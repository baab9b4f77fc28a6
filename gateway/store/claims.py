"""Claiming a due lifecycle action, so that exactly one scheduler runs it.

The claim is the deletion of the action's row inside the transaction that carries it out: a
crash rolls the deletion back and leaves the action pending. On PostgreSQL the row is first
locked with SKIP LOCKED, so a replica passes over an action another replica is running
instead of waiting for that transaction and then finding the row gone.
"""

from __future__ import annotations

from gateway.store.base import Conn

_SQLITE = "DELETE FROM lifecycle WHERE resource_id = ? AND due_at <= ?"
_POSTGRES = (
    "DELETE FROM lifecycle WHERE resource_id IN (SELECT resource_id FROM lifecycle"
    " WHERE resource_id = ? AND due_at <= ? FOR UPDATE SKIP LOCKED)"
)


async def claim_due(conn: Conn, resource_id: str, now: str) -> bool:
    """Take the due action of resource_id for this transaction; False if it is not due, is
    done, or another scheduler holds it."""
    sql = _POSTGRES if conn.dialect == "postgres" else _SQLITE
    return bool(await conn.execute(sql, (resource_id, now)))

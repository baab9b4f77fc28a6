"""The sync log's SQL: one row per change or refusal, newest-first pages, oldest-first
export pages, pruning by age. Shared by both stores."""

from __future__ import annotations

from typing import Any

from gateway.store.base import Conn

COLUMNS = ("at", "provider_id", "actor", "request_id", "method", "path", "resource_type",
           "resource_id", "operation", "before", "after", "outcome", "status", "detail",
           "reason")
_INSERT = (f"INSERT INTO sync_log ({', '.join(COLUMNS)})"
           f" VALUES ({', '.join('?' for _ in COLUMNS)})")
# Filter name -> the column it compares for equality.
EQUALS = {"provider": "provider_id", "user": "resource_id", "operation": "operation"}


async def insert(conn: Conn, entry: dict[str, Any]) -> None:
    await conn.execute(_INSERT, [entry[c] for c in COLUMNS])


def where(filters: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """WHERE terms for checked filters: equality on EQUALS, `outcome` one of a list,
    `since` / `until` as stored times (inclusive / exclusive)."""
    terms: list[str] = []
    args: list[Any] = []
    for name, column in EQUALS.items():
        if filters.get(name):
            terms.append(f"{column} = ?")
            args.append(filters[name])
    if filters.get("outcome"):
        terms.append(f"outcome IN ({', '.join('?' for _ in filters['outcome'])})")
        args.extend(filters["outcome"])
    if filters.get("since"):
        terms.append("at >= ?")
        args.append(filters["since"])
    if filters.get("until"):
        terms.append("at < ?")
        args.append(filters["until"])
    return terms, args


async def newest(conn: Conn, filters: dict[str, Any], before_seq: int | None,
                 limit: int) -> list[dict]:
    """Up to `limit` entries, newest first, older than `before_seq` when given."""
    terms, args = where(filters)
    if before_seq is not None:
        terms.append("seq < ?")
        args.append(before_seq)
    sql = "SELECT * FROM sync_log"
    if terms:
        sql += " WHERE " + " AND ".join(terms)
    return await conn.fetchall(sql + " ORDER BY seq DESC LIMIT ?", [*args, limit])


async def count(conn: Conn, filters: dict[str, Any]) -> int:
    terms, args = where(filters)
    sql = "SELECT count(*) FROM sync_log"
    if terms:
        sql += " WHERE " + " AND ".join(terms)
    return int(await conn.fetchval(sql, args))


async def oldest_after(conn: Conn, filters: dict[str, Any], after_seq: int,
                       limit: int) -> list[dict]:
    """Up to `limit` entries after `after_seq`, oldest first."""
    terms, args = where(filters)
    sql = "SELECT * FROM sync_log WHERE " + " AND ".join([*terms, "seq > ?"])
    return await conn.fetchall(sql + " ORDER BY seq LIMIT ?", [*args, after_seq, limit])


async def prune(conn: Conn, cutoff: str, limit: int) -> int:
    """Delete up to `limit` of the oldest entries written before `cutoff`."""
    return await conn.execute(
        "DELETE FROM sync_log WHERE seq IN (SELECT seq FROM sync_log WHERE at < ?"
        " ORDER BY seq LIMIT ?)", (cutoff, limit))

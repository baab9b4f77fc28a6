"""The per-provider activity record's SQL: minute counts that every replica adds to, and
each provider's last request, success and error, where the newest wins. Shared by both
stores (INSERT ... ON CONFLICT ... DO UPDATE is the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.base import Conn

_ADD = (
    "INSERT INTO provider_activity (provider_id, minute, requests, errors) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (provider_id, minute) DO UPDATE SET"
    " requests = provider_activity.requests + excluded.requests,"
    " errors = provider_activity.errors + excluded.errors"
)
# Each group of fields takes the row whose timestamp is newer; in an UPDATE every right-hand
# side reads the row as it was, so the order of the assignments does not matter.
_NEWER_REQUEST = "excluded.request_at >= provider_last_request.request_at"
_NEWER_SUCCESS = ("excluded.success_at IS NOT NULL AND (provider_last_request.success_at IS"
                  " NULL OR excluded.success_at > provider_last_request.success_at)")
_NEWER_ERROR = ("excluded.error_at IS NOT NULL AND (provider_last_request.error_at IS NULL"
                " OR excluded.error_at > provider_last_request.error_at)")


def _newest(column: str, condition: str) -> str:
    return (f"{column} = CASE WHEN {condition} THEN excluded.{column}"
            f" ELSE provider_last_request.{column} END")


LAST_COLUMNS = ("provider_id", "request_at", "method", "route", "excerpt", "status",
                "success_at", "error_at", "error_status", "error_detail")
_PUT_LAST = (
    "INSERT INTO provider_last_request (" + ", ".join(LAST_COLUMNS) + ") VALUES ("
    + ", ".join("?" for _ in LAST_COLUMNS) + ") ON CONFLICT (provider_id) DO UPDATE SET "
    + ", ".join(
        [_newest(c, _NEWER_REQUEST) for c in ("request_at", "method", "route", "excerpt",
                                              "status")]
        + [_newest("success_at", _NEWER_SUCCESS)]
        + [_newest(c, _NEWER_ERROR) for c in ("error_at", "error_status", "error_detail")])
)


async def add_counts(conn: Conn, rows: Sequence[tuple[str, str, int, int]]) -> None:
    """(provider_id, minute, requests, errors) rows, added to what is there."""
    if rows:
        await conn.executemany(_ADD, rows)


async def put_last(conn: Conn, rows: Sequence[tuple]) -> None:
    """Rows in LAST_COLUMNS order; each field group keeps the newer of the two."""
    if rows:
        await conn.executemany(_PUT_LAST, rows)


async def prune(conn: Conn, before: str) -> int:
    """Minute counts older than `before`, and the record of providers that are gone."""
    removed = await conn.execute("DELETE FROM provider_activity WHERE minute < ?", (before,))
    await conn.execute("DELETE FROM provider_last_request WHERE provider_id NOT IN"
                       " (SELECT id FROM providers)")
    return removed


async def provider_ids(conn: Conn) -> list[str]:
    return [row["id"] for row in await conn.fetchall("SELECT id FROM providers")]


async def last_request(conn: Conn, provider_id: str) -> dict | None:
    return await conn.fetchone("SELECT * FROM provider_last_request WHERE provider_id = ?",
                               (provider_id,))


async def minutes(conn: Conn, provider_id: str, since: str) -> list[dict]:
    return await conn.fetchall(
        "SELECT minute, requests, errors FROM provider_activity WHERE provider_id = ?"
        " AND minute >= ? ORDER BY minute", (provider_id, since))


async def all_last(conn: Conn) -> list[dict]:
    """Every provider's last request, success and error (LAST_COLUMNS)."""
    return await conn.fetchall("SELECT * FROM provider_last_request")


async def totals(conn: Conn, since: str) -> dict[str, tuple[int, int]]:
    """Every provider's requests and errors from the minute ``since`` on:
    {provider_id: (requests, errors)}, in one scan of the minutes kept (a day at most)."""
    rows = await conn.fetchall(
        "SELECT provider_id, sum(requests) AS requests, sum(errors) AS errors"
        " FROM provider_activity WHERE minute >= ? GROUP BY provider_id", (since,))
    return {row["provider_id"]: (int(row["requests"]), int(row["errors"])) for row in rows}

"""Reads the console's overview pages need beyond the admin API's: counts per provider and
the newest sync-log entries. Shared by both stores; each is an index scan."""

from __future__ import annotations

from gateway.store.base import Conn, ResourceRow
from gateway.store.resources import to_row


async def owned_counts(conn: Conn) -> dict[str, dict[str, int]]:
    """Visible users and groups per provider: {provider_id: {"User": n, "Group": m}}."""
    rows = await conn.fetchall(
        "SELECT provider_id, type, count(*) AS n FROM resources WHERE hidden = 0"
        " GROUP BY provider_id, type")
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["provider_id"], {"User": 0, "Group": 0})[row["type"]] = int(row["n"])
    return out


async def last_entry(conn: Conn, provider_id: str) -> dict | None:
    """The provider's newest sync-log entry (sync_log_provider index)."""
    return await conn.fetchone(
        "SELECT seq, at, operation, outcome, status, actor FROM sync_log"
        " WHERE provider_id = ? ORDER BY seq DESC LIMIT 1", (provider_id,))


async def newest_seq(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(seq), 0) FROM sync_log"))


async def first_seq_since(conn: Conn, since: str) -> int | None:
    """The seq of the first entry written at or after `since` (sync_log_at index)."""
    found = await conn.fetchval("SELECT min(seq) FROM sync_log WHERE at >= ?", (since,))
    return None if found is None else int(found)


async def errors_since(conn: Conn, provider_id: str, first_seq: int | None) -> int:
    """The provider's refused requests from seq `first_seq` on (none when it is None)."""
    if first_seq is None:
        return 0
    return int(await conn.fetchval(
        "SELECT count(*) FROM sync_log WHERE provider_id = ? AND seq >= ?"
        " AND outcome = 'error'", (provider_id, first_seq)))


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def user_page(conn: Conn, *, provider_id: str | None, state: str | None,
                    q: str | None, extra: list[tuple[str, list]], after: str | None,
                    limit: int) -> list[ResourceRow]:
    """A page of users by id: of one provider ('' for local ones) or all, in one
    state or all, whose userName, displayName or any attribute value (emails, name parts)
    contains `q`, and that meet each of the `extra` (SQL on `id`, arguments) conditions."""
    where, args = ["type = 'User'"], []
    if provider_id is not None:
        where.append("provider_id = ?")
        args.append(provider_id)
    if state:
        where.append("state = ?")
        args.append(state)
    if q:
        where.append("(name_key LIKE ? ESCAPE '\\' OR display_key LIKE ? ESCAPE '\\'"
                     " OR lower(CAST(data AS TEXT)) LIKE ? ESCAPE '\\')")
        args += [_like(q)] * 3
    for sql, values in extra:
        where.append(f"({sql})")
        args += values
    if after:
        where.append("id > ?")
        args.append(after)
    rows = await conn.fetchall("SELECT * FROM resources WHERE " + " AND ".join(where)
                               + " ORDER BY id LIMIT ?", [*args, limit])
    return [to_row(row) for row in rows]


async def groups_of(conn: Conn, user_id: str) -> list[dict]:
    """The groups a user is a direct member of: id and displayName."""
    return await conn.fetchall(
        "SELECT g.id, g.provider_id, g.display_key FROM members m JOIN resources g"
        " ON g.id = m.group_id WHERE m.member_id = ? AND g.hidden = 0 ORDER BY g.display_key",
        (user_id,))


async def log_entry(conn: Conn, seq: int) -> dict | None:
    return await conn.fetchone("SELECT * FROM sync_log WHERE seq = ?", (seq,))

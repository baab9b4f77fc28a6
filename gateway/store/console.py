"""Reads the console's overview pages need beyond the admin API's: counts per provider and
the newest sync-log entries. Shared by both stores; each is an index scan."""

from __future__ import annotations

from gateway.store.base import Conn
from gateway.store.names import data_field


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


async def groups_of(conn: Conn, user_id: str) -> list[dict]:
    """The groups a user is a direct member of: id and displayName (as the IdP spelled it,
    not the lower-cased key)."""
    return await conn.fetchall(
        f"SELECT g.id, g.provider_id, g.display_key,"
        f" {data_field(conn, 'displayName', 'g.data')} AS display_name"
        " FROM members m JOIN resources g ON g.id = m.group_id"
        " WHERE m.member_id = ? AND g.hidden = 0 ORDER BY g.display_key", (user_id,))


async def log_entry(conn: Conn, seq: int) -> dict | None:
    return await conn.fetchone("SELECT * FROM sync_log WHERE seq = ?", (seq,))

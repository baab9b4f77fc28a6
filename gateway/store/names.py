"""The names the console shows for resource ids: a user's userName and displayName, a
group's displayName, read from the stored data in one query for a whole page."""

from __future__ import annotations

from collections.abc import Collection

from gateway.store.base import Conn

CHUNK = 500  # ids per query: well under either store's limit on parameters


def data_field(conn: Conn, name: str, column: str = "data") -> str:
    """A top-level string attribute of the stored SCIM data, as SQL."""
    if conn.dialect == "postgres":
        return f"({column}->>'{name}')"
    return f"json_extract({column}, '$.{name}')"


def formatted_name(conn: Conn) -> str:
    """A user's name.formatted, as SQL."""
    if conn.dialect == "postgres":
        return "(data->'name'->>'formatted')"
    return "json_extract(data, '$.name.formatted')"


async def resource_names(conn: Conn, ids: Collection[str]) -> dict[str, dict]:
    """{id: {"type", "provider_id", "hidden", "user_name", "display_name", "formatted"}} of
    the users and groups among ``ids`` (hidden ones included: the history of a deleted user
    keeps its name)."""
    wanted = sorted({i for i in ids if i})
    out: dict[str, dict] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        rows = await conn.fetchall(
            f"SELECT id, type, provider_id, hidden, {data_field(conn, 'userName')} AS user_name,"
            f" {data_field(conn, 'displayName')} AS display_name,"
            f" {formatted_name(conn)} AS formatted FROM resources"
            f" WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        out.update({row["id"]: dict(row) for row in rows})
    return out


def name_of(found: dict | None) -> str | None:
    """What a person calls the resource: a user's userName, a group's displayName."""
    if not found:
        return None
    if found["type"] == "User":
        return found["user_name"] or found["display_name"]
    return found["display_name"]

"""Placing, releasing and listing holds; shared by the admin routes and the CLI.

A hold and its sync-log entry and event commit together; so does the deactivation that a
release brings about.
"""

from __future__ import annotations

from typing import Any

from gateway.plugin import ScimError, json_column, keyset_page, parse_int

NAME = "legal_hold"
MAX_TEXT = 500
# Where the provider wants the user out of use, a release lets the deactivation happen.
INACTIVE = ("inactive", "deleted")


def hold_view(row: dict) -> dict:
    return {
        "user": row["user_id"], "matter": row["matter"], "placed_by": row["placed_by"],
        "placed_at": row["placed_at"], "released_by": row["released_by"],
        "released_at": row["released_at"], "active": row["released_at"] is None,
    }


async def active_hold(conn: Any, user_id: str) -> dict | None:
    return await conn.fetchone(
        "SELECT * FROM legal_holds WHERE user_id = ? AND released_at IS NULL", (user_id,))


def text_field(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, f"'{name}' must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise ScimError(400, f"'{name}' is longer than {MAX_TEXT} characters")
    return value.strip()


async def place(gw: Any, body: Any, actor: str = "admin") -> dict:
    """Put a user on hold: {"user": id, "matter": text, "placed_by": optional text}."""
    if not isinstance(body, dict):
        raise ScimError(400, "A legal hold is a JSON object {\"user\": id, \"matter\": text}")
    user_id = text_field(body, "user")
    matter = text_field(body, "matter")
    placed_by = text_field(body, "placed_by") if body.get("placed_by") is not None \
        else "admin"
    async with gw.store.write() as conn:
        user = await gw.user_view(user_id, conn)
        if user is None:
            raise ScimError(404, f"no user '{user_id}'")
        current = await active_hold(conn, user_id)
        if current is not None:
            raise ScimError(409, f"user {user_id} is already on hold for matter "
                                 f"'{current['matter']}'; release it first")
        now = gw.clock.stamp()
        await conn.execute(
            "INSERT INTO legal_holds (user_id, matter, placed_by, placed_at)"
            " VALUES (?, ?, ?, ?)", (user_id, matter, placed_by, now))
        hold = hold_view({"user_id": user_id, "matter": matter, "placed_by": placed_by,
                          "placed_at": now, "released_by": None, "released_at": None})
        await gw.record(conn, actor=actor, provider_id=_provider(user), resource_type="User",
                        event_type="user.legal_hold_placed", resource_id=user_id,
                        operation="legal_hold_place", before={"legal_hold": None},
                        after={"legal_hold": hold, "state": user["state"]},
                        data={"id": user_id, "legal_hold": hold}, reason=f"matter: {matter}")
    return hold


async def release(gw: Any, user_id: str, released_by: str | None = None,
                  actor: str = "admin") -> dict:
    """End a user's hold. A user its provider wants inactive, kept blocked by the hold, is
    deactivated at once; any other user stays as it is."""
    released_by = released_by or "admin"
    async with gw.store.write() as conn:
        current = await active_hold(conn, user_id)
        if current is None:
            raise ScimError(404, f"user {user_id} is not on legal hold")
        now = gw.clock.stamp()
        await conn.execute(
            "UPDATE legal_holds SET released_by = ?, released_at = ? WHERE id = ?",
            (released_by, now, current["id"]))
        hold = hold_view({**current, "released_by": released_by, "released_at": now})
        user = await gw.user_view(user_id, conn) or {"state": None}
        await gw.record(conn, actor=actor, provider_id=_provider(user), resource_type="User",
                        event_type="user.legal_hold_released", resource_id=user_id,
                        operation="legal_hold_release", before={"legal_hold": hold_view(current)},
                        after={"legal_hold": None, "state": user["state"]},
                        data={"id": user_id, "legal_hold": hold},
                        reason=f"matter: {current['matter']}")
        if user["state"] == "blocked" and user.get("provider_state") in INACTIVE:
            user = await gw.user_action(user_id, "deactivate", actor=NAME,
                                        reason="legal_hold_released", conn=conn)
    return {**hold, "user_state": user["state"]}


async def list_holds(gw: Any, *, user: str | None = None, include_released: bool = False,
                     cursor: str | None = None, limit: int = 100) -> dict:
    where: list[str] = []
    args: list[Any] = []
    if not include_released:
        where.append("released_at IS NULL")
    if user:
        where.append("user_id = ?")
        args.append(user)
    if cursor:
        where.append("id > ?")
        args.append(parse_int(cursor, "cursor"))
    sql = "SELECT * FROM legal_holds"
    if where:
        sql += " WHERE " + " AND ".join(where)
    limit = max(1, min(limit, 1000))
    async with gw.store.read() as conn:
        rows = await conn.fetchall(sql + " ORDER BY id LIMIT ?", [*args, limit + 1])
    return keyset_page(rows, limit, "id", hold_view)


async def user_names(gw: Any, ids: list[str]) -> dict[str, str]:
    """The userName of each of these users that still exists (for lists of holds)."""
    wanted = list(dict.fromkeys(ids))[:1000]
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    async with gw.store.read() as conn:
        rows = await conn.fetchall(
            f"SELECT id, data FROM resources WHERE type = 'User' AND id IN ({marks})", wanted)
    return {row["id"]: str((json_column(row["data"]) or {}).get("userName") or "")
            for row in rows}


def _provider(user: dict | None) -> str | None:
    source = (user or {}).get("source")
    return None if source in (None, "local") else source

"""The mass-deactivation guard's SQL, shared by both stores: one row per provider (its
settings and its state), the users it saw deactivated within the window, and the
deactivations it holds.

A deactivation takes the provider's guard row ``FOR UPDATE`` on PostgreSQL (SQLite has one
writer at a time), so the replicas of one provider's deactivations count, trip and hold in
turn: the trip happens once. Held rows are claimed by deleting them in the transaction that
releases or discards the user, after that user's row is locked (the order every writer
takes), so each is carried out once.
"""

from __future__ import annotations

import msgspec

from gateway.store.base import Conn, json_column

_json = msgspec.json
DEFAULTS = {"enabled": 1, "max_users": 25, "max_percent": 10.0, "window_length": "60m",
            "state": "armed", "trips": 0, "tripped_at": None, "trip_count": None,
            "trip_base": None, "first_held": None, "last_held": None, "base_users": None,
            "base_at": None, "ending_until": None, "updated_at": None}
SETTINGS = ("enabled", "max_users", "max_percent", "window_length")


def _lock(conn: Conn) -> str:
    return " FOR UPDATE" if conn.dialect == "postgres" else ""


async def guard_row(conn: Conn, provider_id: str, lock: bool = False) -> dict | None:
    """The provider's guard row (None: never set, the defaults apply), locked if asked."""
    return await conn.fetchone(
        "SELECT * FROM deactivation_guards WHERE provider_id = ?" + (_lock(conn) if lock else ""),
        (provider_id,))


async def locked_row(conn: Conn, provider_id: str, now: str) -> dict:
    """The provider's guard row, created with the defaults when missing, locked until the
    caller's transaction ends."""
    row = await guard_row(conn, provider_id, lock=True)
    if row is None:
        await conn.execute(
            "INSERT INTO deactivation_guards (provider_id, updated_at) VALUES (?, ?)"
            " ON CONFLICT (provider_id) DO NOTHING", (provider_id, now))
        row = await guard_row(conn, provider_id, lock=True)
        assert row is not None, "inserted or found just above"
    return row


async def save_settings(conn: Conn, provider_id: str, values: dict, now: str) -> None:
    await conn.execute(
        "UPDATE deactivation_guards SET enabled = ?, max_users = ?, max_percent = ?,"
        " window_length = ?, updated_at = ? WHERE provider_id = ?",
        (*(values[k] for k in SETTINGS), now, provider_id))


async def note_change(conn: Conn, provider_id: str, resource_id: str, now: str,
                      since: str) -> int:
    """Record that the provider started deactivating a user now; return how many users it
    did within the window (after `since`), this one included. Rows that left the window
    go; a user counts once however often it flaps."""
    await conn.execute(
        "DELETE FROM deactivation_guard_changes WHERE provider_id = ? AND at <= ?",
        (provider_id, since))
    await conn.execute(
        "INSERT INTO deactivation_guard_changes (provider_id, resource_id, at)"
        " VALUES (?, ?, ?) ON CONFLICT (provider_id, resource_id) DO UPDATE SET at = excluded.at",
        (provider_id, resource_id, now))
    return await recent(conn, provider_id, since)


async def recent(conn: Conn, provider_id: str, since: str) -> int:
    """Users the provider started deactivating after `since` (an index range count)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM deactivation_guard_changes WHERE provider_id = ? AND at > ?",
        (provider_id, since)))


async def active_users(conn: Conn, provider_id: str) -> int:
    """The provider's active users, counted on the `resources_active` index."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM resources WHERE provider_id = ? AND type = 'User'"
        " AND state = 'active' AND hidden = 0", (provider_id,)))


async def save_base(conn: Conn, provider_id: str, users: int, now: str) -> None:
    await conn.execute(
        "UPDATE deactivation_guards SET base_users = ?, base_at = ? WHERE provider_id = ?",
        (users, now, provider_id))


async def trip(conn: Conn, provider_id: str, now: str, count: int, base: int,
               first: str) -> int | None:
    """Armed -> tripped, holding `first`; the trip's number, or None when it was not armed
    (tripped already, or turned off meanwhile)."""
    changed = await conn.execute(
        "UPDATE deactivation_guards SET state = 'tripped', trips = trips + 1, tripped_at = ?,"
        " trip_count = ?, trip_base = ?, first_held = ?, last_held = ?, updated_at = ?"
        " WHERE provider_id = ? AND state = 'armed' AND enabled = 1",
        (now, count, base, first, first, now, provider_id))
    if changed != 1:
        return None
    return int(await conn.fetchval(
        "SELECT trips FROM deactivation_guards WHERE provider_id = ?", (provider_id,)))


async def rearm(conn: Conn, provider_id: str, now: str) -> None:
    """Tripped -> armed with an empty window: the provider's next change counts afresh."""
    await conn.execute(
        "UPDATE deactivation_guards SET state = 'armed', base_users = NULL, base_at = NULL,"
        " updated_at = ? WHERE provider_id = ?", (now, provider_id))
    await conn.execute("DELETE FROM deactivation_guard_changes WHERE provider_id = ?",
                       (provider_id,))


async def ending(conn: Conn, provider_id: str, until: str | None) -> None:
    """A release or discard is under way until then (renewed as it goes; None: done)."""
    await conn.execute(
        "UPDATE deactivation_guards SET ending_until = ? WHERE provider_id = ?",
        (until, provider_id))


# Held deactivations -------------------------------------------------------------------------

async def hold(conn: Conn, provider_id: str, resource_id: str, trip: int, change: str,
               now: str, groups: list[str]) -> None:
    await conn.execute(
        "UPDATE deactivation_guards SET last_held = ? WHERE provider_id = ?",
        (resource_id, provider_id))
    await conn.execute(
        "INSERT INTO deactivation_guard_held (resource_id, provider_id, trip, change, held_at,"
        " groups) VALUES (?, ?, ?, ?, ?, ?)",
        (resource_id, provider_id, trip, change, now, _json.encode(groups).decode()))


async def held_delete(conn: Conn, resource_id: str, groups: list[str]) -> None:
    """A held user was deleted too: a discard brings it back into these groups."""
    await conn.execute(
        "UPDATE deactivation_guard_held SET change = 'delete', groups = ? WHERE resource_id = ?",
        (_json.encode(groups).decode(), resource_id))


async def held_one(conn: Conn, resource_id: str) -> dict | None:
    row = await conn.fetchone("SELECT * FROM deactivation_guard_held WHERE resource_id = ?",
                              (resource_id,))
    return _held(row) if row else None


async def claim_held(conn: Conn, resource_id: str) -> dict | None:
    """Take a user's held deactivation out of the set (None: not held, or taken by another
    transaction first)."""
    row = await held_one(conn, resource_id)
    if row is None:
        return None
    taken = await conn.execute("DELETE FROM deactivation_guard_held WHERE resource_id = ?",
                               (resource_id,))
    return row if taken == 1 else None


async def held_ids(conn: Conn, provider_id: str, trip: int, limit: int) -> list[str]:
    """The next held users of the provider, up to trip number `trip`, oldest first."""
    rows = await conn.fetchall(
        "SELECT resource_id FROM deactivation_guard_held WHERE provider_id = ? AND trip <= ?"
        " ORDER BY held_at, resource_id LIMIT ?", (provider_id, trip, limit))
    return [row["resource_id"] for row in rows]


async def held_page(conn: Conn, provider_id: str, after: tuple[str, str] | None,
                    limit: int) -> list[dict]:
    """Held deactivations of the provider in the order they were held (keyset)."""
    where, args = "provider_id = ?", [provider_id]
    if after is not None:
        where += " AND (held_at > ? OR (held_at = ? AND resource_id > ?))"
        args += [after[0], after[0], after[1]]
    rows = await conn.fetchall(
        f"SELECT * FROM deactivation_guard_held WHERE {where}"
        " ORDER BY held_at, resource_id LIMIT ?", [*args, limit])
    return [_held(row) for row in rows]


async def held_count(conn: Conn, provider_id: str) -> int:
    """How many deactivations the provider's guard holds (an index range count)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM deactivation_guard_held WHERE provider_id = ?", (provider_id,)))


async def all_guards(conn: Conn) -> list[dict]:
    """Every provider with its guard row's columns (defaults where it has none) and its
    held count: one query, for gauges."""
    rows = await conn.fetchall(
        "SELECT p.id AS provider_id, g.enabled, g.state, g.trips, g.tripped_at,"
        " (SELECT count(*) FROM deactivation_guard_held h WHERE h.provider_id = p.id) AS held"
        " FROM providers p LEFT JOIN deactivation_guards g ON g.provider_id = p.id"
        " ORDER BY p.id")
    out = []
    for row in rows:
        if row["state"] is None:  # no guard row: the defaults
            row = {**row, "enabled": 1, "state": "armed", "trips": 0}
        out.append(row)
    return out


async def forget_provider(conn: Conn, provider_id: str) -> None:
    for table in ("deactivation_guards", "deactivation_guard_changes",
                  "deactivation_guard_held"):
        await conn.execute(f"DELETE FROM {table} WHERE provider_id = ?", (provider_id,))


def _held(row: dict) -> dict:
    return {**row, "groups": list(json_column(row["groups"]) or [])}

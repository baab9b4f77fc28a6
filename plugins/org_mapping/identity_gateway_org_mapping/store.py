"""The plugin's SQL: its own tables, and its documented reads of the core's users and groups
(`resources`, `members`, `providers`; see docs/plugins.md, "Reading users and groups")."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from gateway.plugin import json_column

CHUNK = 500  # ids per IN (...) list: well under either database's parameter limit


def decode(value: Any) -> dict:
    """`resources.data` is JSON text on SQLite and JSONB (text or decoded) on PostgreSQL."""
    return dict(json_column(value) or {})


def new_id() -> str:
    return uuid.uuid4().hex


def marks(items: list) -> str:
    return ", ".join("?" for _ in items)


def chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), CHUNK):
        yield unique[start:start + CHUNK]


# Core reads -------------------------------------------------------------------------------

async def provider_name(conn: Any, pid: str) -> str | None:
    return await conn.fetchval("SELECT name FROM providers WHERE id = ?", (pid,))


async def users_by_id(conn: Any, pid: str, ids: list[str]) -> list[tuple[str, dict]]:
    """The visible users among ids (at most CHUNK of them), with their data."""
    if not ids:
        return []
    rows = await conn.fetchall(
        "SELECT id, data FROM resources WHERE provider_id = ? AND type = 'User'"
        f" AND hidden = 0 AND id IN ({marks(ids)}) ORDER BY id", [pid, *ids])
    return [(row["id"], decode(row["data"])) for row in rows]


async def user_page(conn: Any, pid: str, after: str, limit: int) -> list[tuple[str, dict]]:
    """Keyset page of a provider's visible users, by id."""
    rows = await conn.fetchall(
        "SELECT id, data FROM resources WHERE provider_id = ? AND type = 'User'"
        " AND hidden = 0 AND id > ? ORDER BY id LIMIT ?", (pid, after, limit))
    return [(row["id"], decode(row["data"])) for row in rows]


async def groups_of(conn: Any, ids: list[str]) -> dict[str, set[str]]:
    """Each user's direct groups (ids)."""
    out: dict[str, set[str]] = {uid: set() for uid in ids}
    if ids:
        rows = await conn.fetchall(
            f"SELECT member_id, group_id FROM members WHERE member_id IN ({marks(ids)})", ids)
        for row in rows:
            out[row["member_id"]].add(row["group_id"])
    return out


async def group_names(conn: Any, pid: str, ids: list[str]) -> dict[str, str | None]:
    """displayName of each visible group of the provider among ids (absent: no such group)."""
    out: dict[str, str | None] = {}
    for part in chunks(ids):
        rows = await conn.fetchall(
            "SELECT id, data FROM resources WHERE provider_id = ? AND type = 'Group'"
            f" AND hidden = 0 AND id IN ({marks(part)})", [pid, *part])
        out.update({row["id"]: decode(row["data"]).get("displayName") for row in rows})
    return out


def _unmapped(column: str) -> str:
    """The provider's visible groups no `column` mapping ("role", "watchlist" or
    "organization") names."""
    table = {"role": "role_group_mappings", "watchlist": "watchlist_group_mappings",
             "organization": "org_group_mappings"}[column]
    return (" FROM resources r WHERE r.provider_id = ? AND r.type = 'Group' AND r.hidden = 0"
            f" AND NOT EXISTS (SELECT 1 FROM {table} m"
            " WHERE m.provider_id = r.provider_id AND m.group_id = r.id)")


async def unmapped_groups(conn: Any, pid: str, after: str, limit: int,
                          column: str = "role") -> list[dict]:
    rows = await conn.fetchall(
        f"SELECT r.id, r.data{_unmapped(column)} AND r.id > ? ORDER BY r.id LIMIT ?",
        (pid, after, limit))
    return [{"id": row["id"], "displayName": decode(row["data"]).get("displayName")}
            for row in rows]


async def count_groups(conn: Any, pid: str, column: str = "role") -> tuple[int, int]:
    """(all visible groups of the provider, those without a role (or watchlist) mapping)."""
    total = await conn.fetchval(
        "SELECT count(*) FROM resources WHERE provider_id = ? AND type = 'Group'"
        " AND hidden = 0", (pid,))
    unmapped = await conn.fetchval(f"SELECT count(*){_unmapped(column)}", (pid,))
    return int(total), int(unmapped)


# Organizations and roles ------------------------------------------------------------------

async def org_by_id(conn: Any, oid: str) -> dict | None:
    return await conn.fetchone("SELECT * FROM organizations WHERE id = ?", (oid,))


async def org_by_name(conn: Any, name: str) -> dict | None:
    return await conn.fetchone("SELECT * FROM organizations WHERE name_key = ?",
                               (name.lower(),))


async def find_org(conn: Any, ref: str) -> dict | None:
    """An organization named by its id or (case-insensitively) its name."""
    return await org_by_id(conn, ref) or await org_by_name(conn, ref)


async def insert_org(conn: Any, name: str, parent_id: str | None, now: str) -> dict | None:
    """The new organization, or None when one with that name exists (perhaps written by a
    concurrent transaction a moment ago)."""
    row = {"id": new_id(), "name": name, "name_key": name.lower(), "parent_id": parent_id,
           "created_at": now, "updated_at": now}
    added = await conn.execute(
        "INSERT INTO organizations (id, name, name_key, parent_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING", tuple(row.values()))
    return row if added else None


async def group_is_mapped(conn: Any, pid: str, gid: str) -> bool:
    """Does any mapping of the provider name this group? (cheap: asked on every membership
    change; three primary-key lookups)"""
    found = await conn.fetchval(
        "SELECT 1 FROM org_group_mappings WHERE provider_id = ? AND group_id = ?"
        " UNION ALL SELECT 1 FROM role_group_mappings WHERE provider_id = ? AND group_id = ?"
        " UNION ALL SELECT 1 FROM watchlist_group_mappings WHERE provider_id = ?"
        " AND group_id = ? LIMIT 1", (pid, gid, pid, gid, pid, gid))
    return found is not None


async def group_mapping(conn: Any, pid: str, column: str) -> dict[str, tuple[str, ...]]:
    """The provider's groups mapped to roles or watchlists (`column`: "role" or
    "watchlist"): group id -> sorted names."""
    out: dict[str, list[str]] = {}
    for r in await conn.fetchall(f"SELECT group_id, {column} AS name FROM {column}_group_mappings"
                                 f" WHERE provider_id = ? ORDER BY {column}", (pid,)):
        out.setdefault(r["group_id"], []).append(r["name"])
    return {gid: tuple(names) for gid, names in out.items()}


async def set_group_mapping(conn: Any, pid: str, column: str,
                            wanted: dict[str, list[str]]) -> None:
    """Replace the provider's mapping of groups to roles or watchlists."""
    await conn.execute(f"DELETE FROM {column}_group_mappings WHERE provider_id = ?", (pid,))
    await conn.executemany(
        f"INSERT INTO {column}_group_mappings (provider_id, group_id, {column}) VALUES (?, ?, ?)",
        [(pid, gid, name) for gid, names in wanted.items() for name in names])


async def default_roles(conn: Any, oids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {oid: [] for oid in oids}
    if oids:
        rows = await conn.fetchall(
            "SELECT organization_id, role FROM organization_default_roles"
            f" WHERE organization_id IN ({marks(oids)}) ORDER BY role", oids)
        for row in rows:
            out[row["organization_id"]].append(row["role"])
    return out


async def set_default_roles(conn: Any, oid: str, roles: list[str]) -> None:
    await conn.execute("DELETE FROM organization_default_roles WHERE organization_id = ?",
                       (oid,))
    await conn.executemany(
        "INSERT INTO organization_default_roles (organization_id, role) VALUES (?, ?)",
        [(oid, role) for role in roles])


async def admin_entries(conn: Any, table: str) -> list[dict]:
    """The roles or watchlists the admin API added (`table`: "roles" or "watchlists")."""
    return await conn.fetchall(f"SELECT name, description FROM {table} ORDER BY name_key")


# Users' places ----------------------------------------------------------------------------

async def placements(conn: Any, ids: list[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each placed user's (organization id, sorted roles)."""
    if not ids:
        return {}
    orgs = await conn.fetchall(
        "SELECT user_id, organization_id FROM org_mapping_users"
        f" WHERE user_id IN ({marks(ids)})", ids)
    roles: dict[str, list[str]] = {}
    for row in await conn.fetchall(
            f"SELECT user_id, role FROM org_mapping_user_roles WHERE user_id IN ({marks(ids)})"
            " ORDER BY role", ids):
        roles.setdefault(row["user_id"], []).append(row["role"])
    return {row["user_id"]: (row["organization_id"], tuple(roles.get(row["user_id"], ())))
            for row in orgs}


async def place(conn: Any, uid: str, pid: str, oid: str, now: str) -> None:
    await conn.execute(
        "INSERT INTO org_mapping_users (user_id, provider_id, organization_id, updated_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET"
        " provider_id = excluded.provider_id, organization_id = excluded.organization_id,"
        " updated_at = excluded.updated_at", (uid, pid, oid, now))


async def set_roles(conn: Any, uid: str, roles: Iterable[str]) -> None:
    await conn.execute("DELETE FROM org_mapping_user_roles WHERE user_id = ?", (uid,))
    await conn.executemany("INSERT INTO org_mapping_user_roles (user_id, role) VALUES (?, ?)",
                           [(uid, role) for role in roles])


async def watchlists_of(conn: Any, ids: list[str]) -> dict[str, tuple[str, ...]]:
    """Each user's watchlists (sorted; users on none are left out)."""
    out: dict[str, list[str]] = {}
    if ids:
        for row in await conn.fetchall(
                "SELECT user_id, watchlist FROM org_mapping_user_watchlists"
                f" WHERE user_id IN ({marks(ids)}) ORDER BY watchlist", ids):
            out.setdefault(row["user_id"], []).append(row["watchlist"])
    return {uid: tuple(names) for uid, names in out.items()}


async def set_watchlists(conn: Any, uid: str, names: Iterable[str]) -> None:
    await conn.execute("DELETE FROM org_mapping_user_watchlists WHERE user_id = ?", (uid,))
    await conn.executemany(
        "INSERT INTO org_mapping_user_watchlists (user_id, watchlist) VALUES (?, ?)",
        [(uid, name) for name in names])


async def user_fields(conn: Any, uid: str) -> dict:
    """The admin user view's `organization` (a name, None while unplaced), `roles` and
    `watchlists`."""
    row = await conn.fetchone(
        "SELECT o.name FROM org_mapping_users u JOIN organizations o"
        " ON o.id = u.organization_id WHERE u.user_id = ?", (uid,))
    watching = list((await watchlists_of(conn, [uid])).get(uid, ()))
    if row is None:
        return {"organization": None, "roles": [], "watchlists": watching}
    roles = await conn.fetchall(
        "SELECT role FROM org_mapping_user_roles WHERE user_id = ? ORDER BY role", (uid,))
    return {"organization": row["name"], "roles": [r["role"] for r in roles],
            "watchlists": watching}


# Apply runs: each provider's last "apply org and role settings" --------------------------

COUNTS = ("changed", "organization_changed", "roles_changed", "watchlists_changed")


async def count_users(conn: Any, pid: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM resources WHERE provider_id = ? AND type = 'User'"
        " AND hidden = 0", (pid,)))


async def apply_run(conn: Any, pid: str) -> dict | None:
    return await conn.fetchone("SELECT * FROM org_mapping_apply_runs WHERE provider_id = ?",
                               (pid,))


async def claim_run(conn: Any, pid: str, run_id: str, actor: str, total: int, now: str,
                    replaces: str) -> bool:
    """Start a run for the provider unless one is running (other than `replaces`, a run
    found abandoned); False when another run holds it. The conditional upsert waits for a
    concurrent claim's transaction and then sees its run."""
    return bool(await conn.execute(
        "INSERT INTO org_mapping_apply_runs (provider_id, run_id, state, actor, started_at,"
        " updated_at, finished_at, total, done, changed, organization_changed,"
        " roles_changed, watchlists_changed, error)"
        " VALUES (?, ?, 'running', ?, ?, ?, NULL, ?, 0, 0, 0, 0, 0, NULL)"
        " ON CONFLICT (provider_id) DO UPDATE SET run_id = excluded.run_id,"
        " state = excluded.state, actor = excluded.actor, started_at = excluded.started_at,"
        " updated_at = excluded.updated_at, finished_at = NULL, total = excluded.total,"
        " done = 0, changed = 0, organization_changed = 0, roles_changed = 0,"
        " watchlists_changed = 0, error = NULL"
        " WHERE org_mapping_apply_runs.state <> 'running'"
        " OR org_mapping_apply_runs.run_id = ?",
        (pid, run_id, actor, now, now, total, replaces)))


async def run_progress(conn: Any, pid: str, run_id: str, done: int, counts: dict,
                       now: str) -> None:
    """Add a page's users and changes to the run (in that page's transaction)."""
    await conn.execute(
        "UPDATE org_mapping_apply_runs SET done = done + ?, changed = changed + ?,"
        " organization_changed = organization_changed + ?, roles_changed = roles_changed + ?,"
        " watchlists_changed = watchlists_changed + ?, updated_at = ?"
        " WHERE provider_id = ? AND run_id = ?",
        (done, *(counts[c] for c in COUNTS), now, pid, run_id))


async def end_run(conn: Any, pid: str, run_id: str, state: str, now: str,
                  error: str | None = None) -> None:
    await conn.execute(
        "UPDATE org_mapping_apply_runs SET state = ?, finished_at = ?, updated_at = ?,"
        " error = ? WHERE provider_id = ? AND run_id = ?",
        (state, now, now, error, pid, run_id))


# The console's user-list filters: SQL about the user's `id` ------------------------------

def in_organization(oid: str) -> tuple[str, list]:
    return "id IN (SELECT user_id FROM org_mapping_users WHERE organization_id = ?)", [oid]


def on_watchlist(name: str) -> tuple[str, list]:
    return ("id IN (SELECT user_id FROM org_mapping_user_watchlists WHERE watchlist = ?)",
            [name])

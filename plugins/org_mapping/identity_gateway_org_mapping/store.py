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


_UNMAPPED = (
    " FROM resources r WHERE r.provider_id = ? AND r.type = 'Group' AND r.hidden = 0"
    " AND NOT EXISTS (SELECT 1 FROM role_group_mappings m"
    " WHERE m.provider_id = r.provider_id AND m.group_id = r.id)"
)


async def unmapped_groups(conn: Any, pid: str, after: str, limit: int) -> list[dict]:
    rows = await conn.fetchall(
        f"SELECT r.id, r.data{_UNMAPPED} AND r.id > ? ORDER BY r.id LIMIT ?",
        (pid, after, limit))
    return [{"id": row["id"], "displayName": decode(row["data"]).get("displayName")}
            for row in rows]


async def count_groups(conn: Any, pid: str) -> tuple[int, int]:
    """(all visible groups of the provider, those without a role mapping)."""
    total = await conn.fetchval(
        "SELECT count(*) FROM resources WHERE provider_id = ? AND type = 'Group'"
        " AND hidden = 0", (pid,))
    unmapped = await conn.fetchval(f"SELECT count(*){_UNMAPPED}", (pid,))
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
    """Does either mapping of the provider name this group? (cheap: asked on every
    membership change)"""
    found = await conn.fetchval(
        "SELECT 1 FROM org_group_mappings WHERE provider_id = ? AND group_id = ?"
        " UNION ALL SELECT 1 FROM role_group_mappings WHERE provider_id = ? AND group_id = ?"
        " LIMIT 1", (pid, gid, pid, gid))
    return found is not None


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


async def admin_roles(conn: Any) -> list[dict]:
    return await conn.fetchall("SELECT name, description FROM roles ORDER BY name_key")


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


async def user_fields(conn: Any, uid: str) -> dict:
    """The admin user view's `organization` (a name, None while unplaced) and `roles`."""
    row = await conn.fetchone(
        "SELECT o.name FROM org_mapping_users u JOIN organizations o"
        " ON o.id = u.organization_id WHERE u.user_id = ?", (uid,))
    if row is None:
        return {"organization": None, "roles": []}
    roles = await conn.fetchall(
        "SELECT role FROM org_mapping_user_roles WHERE user_id = ? ORDER BY role", (uid,))
    return {"organization": row["name"], "roles": [r["role"] for r in roles]}


async def provider_groups(conn: Any, pid: str, limit: int) -> list[dict]:
    """The provider's visible groups by displayName (for the console's pickers)."""
    rows = await conn.fetchall(
        "SELECT id, display_key, data FROM resources WHERE provider_id = ? AND type = 'Group'"
        " AND hidden = 0 ORDER BY display_key, id LIMIT ?", (pid, limit))
    return [{"id": row["id"], "displayName": decode(row["data"]).get("displayName")}
            for row in rows]

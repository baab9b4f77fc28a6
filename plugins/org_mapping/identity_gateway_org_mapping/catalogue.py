"""Organizations (a tree, each with default roles) and the catalogues of roles and
watchlists.

Roles and watchlists come from the config file (`[org_mapping] roles`, `watchlists`) and from
the admin API; the two are merged when read, so editing the config needs no migration. Every
change is recorded with its sync-log entry and event in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.plugin import ConfigError, ScimError
from identity_gateway_org_mapping import store

ACTOR = "org_mapping"
MAX_NAME = 200


class Kind(msgspec.Struct, frozen=True):
    """A catalogue of names: roles or watchlists. Each comes from the config file (its key in
    `[org_mapping]`) and from the admin API (its own table)."""

    plural: str  # "roles": the config key, the table, the admin path, the user view field
    singular: str  # "role": the column of the group mappings and the users' rows


ROLES = Kind("roles", "role")
WATCHLISTS = Kind("watchlists", "watchlist")


def config_entries(section: dict, kind: Kind) -> list[dict]:
    """`[org_mapping] roles` (or `watchlists`): names, or tables with `name` and
    `description`."""
    out = []
    for item in section.get(kind.plural, []):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                or not item["name"].strip():
            raise ConfigError(f"[org_mapping] {kind.plural}: each {kind.singular} is a name or "
                              "a table with 'name' and optionally 'description'")
        out.append({"name": item["name"].strip(),
                    "description": str(item.get("description", "")), "source": "config"})
    return out


async def entries(gw: Any, conn: Any, kind: Kind) -> dict[str, dict]:
    """The whole catalogue by lower-cased name; the config wins over the admin API."""
    found = {r["name"].lower(): {**r, "source": "admin"}
             for r in await store.admin_entries(conn, kind.plural)}
    found.update({r["name"].lower(): r
                  for r in config_entries(gw.plugin_config(ACTOR), kind)})
    return dict(sorted(found.items()))


async def roles(gw: Any, conn: Any) -> dict[str, dict]:
    return await entries(gw, conn, ROLES)


async def resolve(gw: Any, conn: Any, kind: Kind, names: Any, label: str) -> list[str]:
    """Names as the catalogue spells them, sorted; 400 for anything unknown."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ScimError(400, f"'{label}' must be a list of {kind.singular} names")
    catalogue = await entries(gw, conn, kind)
    unknown = [n for n in names if n.lower() not in catalogue]
    if unknown:
        raise ScimError(400, f"'{label}': unknown {kind.singular}(s) {', '.join(unknown)}; "
                             f"the {kind.plural} catalogue is GET /admin/v1/{kind.plural}")
    return sorted({catalogue[n.lower()]["name"] for n in names})


async def resolve_roles(gw: Any, conn: Any, names: Any, label: str) -> list[str]:
    return await resolve(gw, conn, ROLES, names, label)


async def add_role(gw: Any, conn: Any, body: dict, actor: str = "admin") -> dict:
    return await add_entry(gw, conn, ROLES, body, actor)


async def add_entry(gw: Any, conn: Any, kind: Kind, body: dict, actor: str = "admin") -> dict:
    name = clean_name(body.get("name"), "name")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ScimError(400, "'description' must be a string")
    if name.lower() in await entries(gw, conn, kind):
        raise ScimError(409, f"a {kind.singular} named '{name}' already exists")
    await conn.execute(f"INSERT INTO {kind.plural} (name, name_key, description, created_at)"
                       " VALUES (?, ?, ?, ?)", (name, name.lower(), description,
                                                gw.clock.stamp()))
    entry = {"name": name, "description": description, "source": "admin"}
    await gw.record(conn, actor=actor, provider_id=None,
                    event_type=f"{kind.singular}.created", resource_type=kind.singular.title(),
                    resource_id=name, operation="create", data=entry, after=entry)
    return entry


def clean_name(value: Any, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, f"'{label}' must be a non-empty string")
    value = value.strip()
    if len(value) > MAX_NAME or not value.isprintable():
        raise ScimError(400, f"'{label}' must be printable and at most {MAX_NAME} characters")
    return value


# Organizations ----------------------------------------------------------------------------

async def org_view(conn: Any, row: dict) -> dict:
    parent = await store.org_by_id(conn, row["parent_id"]) if row["parent_id"] else None
    return {
        "id": row["id"], "name": row["name"],
        "parent": {"id": parent["id"], "name": parent["name"]} if parent else None,
        "default_roles": (await store.default_roles(conn, [row["id"]]))[row["id"]],
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


async def list_orgs(conn: Any, after: str, limit: int) -> dict:
    """By name (case-insensitive); the cursor is the last name seen."""
    rows = await conn.fetchall("SELECT * FROM organizations WHERE name_key > ?"
                               " ORDER BY name_key LIMIT ?", (after.lower(), limit + 1))
    items = [await org_view(conn, row) for row in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": items[-1]["name"] if more else None}


async def require_org(conn: Any, ref: Any, label: str) -> dict:
    if not isinstance(ref, str) or not ref.strip():
        raise ScimError(400, f"'{label}' must name an organization (its name or id)")
    found = await store.find_org(conn, ref.strip())
    if found is None:
        raise ScimError(400, f"'{label}': no organization '{ref}'; create it with "
                             "POST /admin/v1/organizations")
    return found


async def create_org(gw: Any, conn: Any, name: str, *, parent_id: str | None = None,
                     default_roles: Sequence[str] = (), actor: str = "admin",
                     provider_id: str | None = None, reason: str | None = None) -> dict:
    row = await store.insert_org(conn, name, parent_id, gw.clock.stamp())
    if row is None:
        raise ScimError(409, f"an organization named '{name}' already exists")
    await store.set_default_roles(conn, row["id"], list(default_roles))
    view = await org_view(conn, row)
    await gw.record(conn, actor=actor, provider_id=provider_id,
                    event_type="organization.created", resource_type="Organization",
                    resource_id=row["id"], operation="create", data=view, after=view,
                    reason=reason)
    return view


async def ensure_org(gw: Any, conn: Any, name: str, provider_id: str, reason: str) -> dict:
    """The organization with this name, created (and recorded) when there is none."""
    found = await store.org_by_name(conn, name)
    if found is None:
        try:
            return await create_org(gw, conn, name, actor=ACTOR, provider_id=provider_id,
                                    reason=reason)
        except ScimError:  # created meanwhile by a concurrent change
            found = await store.org_by_name(conn, name)
    assert found is not None
    return found


async def create_from_body(gw: Any, conn: Any, body: dict, actor: str = "admin") -> dict:
    name = clean_name(body.get("name"), "name")
    parent = body.get("parent")
    parent_id = (await require_org(conn, parent, "parent"))["id"] if parent is not None \
        else None
    wanted = await resolve_roles(gw, conn, body.get("default_roles", []), "default_roles")
    return await create_org(gw, conn, name, parent_id=parent_id, default_roles=wanted,
                            actor=actor)


async def update_org(gw: Any, conn: Any, oid: str, body: dict, actor: str = "admin") -> dict:
    """Rename, move under another parent (or to the top with null), set default roles."""
    row = await store.org_by_id(conn, oid)
    if row is None:
        raise ScimError(404, f"no organization '{oid}'")
    unknown = set(body) - {"name", "parent", "default_roles"}
    if unknown:
        raise ScimError(400, f"unknown field(s) {', '.join(sorted(unknown))}; an "
                             "organization takes name, parent and default_roles")
    before = await org_view(conn, row)
    if "name" in body:
        name = clean_name(body["name"], "name")
        clash = await store.org_by_name(conn, name)
        if clash is not None and clash["id"] != oid:
            raise ScimError(409, f"an organization named '{name}' already exists")
        row = {**row, "name": name, "name_key": name.lower()}
    if "parent" in body:
        row = {**row, "parent_id": await new_parent(conn, oid, body["parent"])}
    if "default_roles" in body:
        await store.set_default_roles(
            conn, oid, await resolve_roles(gw, conn, body["default_roles"], "default_roles"))
    row["updated_at"] = gw.clock.stamp()
    await conn.execute("UPDATE organizations SET name = ?, name_key = ?, parent_id = ?,"
                       " updated_at = ? WHERE id = ?",
                       (row["name"], row["name_key"], row["parent_id"], row["updated_at"], oid))
    after = await org_view(conn, row)
    await gw.record(conn, actor=actor, provider_id=None, event_type="organization.updated",
                    resource_type="Organization", resource_id=oid, operation="update",
                    data=after, before=before, after=after)
    return after


async def new_parent(conn: Any, oid: str, ref: Any) -> str | None:
    """The parent's id; refuses a move that would make the tree a cycle."""
    if ref is None:
        return None
    parent = await require_org(conn, ref, "parent")
    cursor: dict | None = parent
    for _ in range(10_000):  # deeper than any real tree; a cycle cannot get past oid
        if cursor is None:
            return parent["id"]
        if cursor["id"] == oid:
            raise ScimError(400, f"'{parent['name']}' is inside this organization; it "
                                 "cannot become its parent")
        cursor = await store.org_by_id(conn, cursor["parent_id"]) if cursor["parent_id"] \
            else None
    raise ScimError(400, "the organization tree is too deep")

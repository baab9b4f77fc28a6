"""Per-provider mappings (organizations, roles, watchlists): how the admin sets them, how
they read back, and what a SCIM change (inside its transaction) does to them and to the
users they place."""

from __future__ import annotations

from typing import Any

from gateway.plugin import INT64_MAX, ScimError
from identity_gateway_org_mapping import attribute, catalogue, placement, store
from identity_gateway_org_mapping.catalogue import ACTOR
from identity_gateway_org_mapping.placement import Mapping

METHODS = {
    "single": {"organization"},
    "attribute": {"attribute"},
    "scim_groups": {"groups"},
}
UNMAPPED_SHOWN = 100


async def require(conn: Any, pid: str) -> Mapping:
    mapping = await placement.load(conn, pid)
    if mapping is None:
        raise ScimError(404, f"no provider '{pid}'")
    return mapping


def fields(body: Any, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise ScimError(400, f"unknown field(s) {', '.join(sorted(unknown))}; this body takes "
                             f"{', '.join(sorted(allowed))}")
    return body


# Organization mapping ---------------------------------------------------------------------

async def org_view(conn: Any, mapping: Mapping) -> dict:
    async def name(oid: str | None) -> str | None:
        found = await store.org_by_id(conn, oid) if oid else None
        return found["name"] if found else None

    out: dict = {"provider": mapping.provider_id, "method": mapping.method}
    if mapping.method == "single":
        out["organization"] = await name(mapping.organization_id)
    elif mapping.method == "attribute":
        out["attribute"] = mapping.attribute
    elif mapping.method == "scim_groups":
        shown = await store.group_names(conn, mapping.provider_id, list(mapping.org_groups))
        out["groups"] = [
            {"group": gid, "display": shown.get(gid), "organization": await name(oid),
             "priority": priority}
            for gid, (priority, oid) in sorted(mapping.org_groups.items(),
                                               key=lambda item: -item[1][0])]
    # Until a user needs it, the default is the organization named after the provider.
    out["default_organization"] = await name(mapping.default_id) or mapping.provider_name
    return out


async def put_org_mapping(gw: Any, conn: Any, pid: str, body: Any,
                          actor: str = "admin") -> dict:
    mapping = await require(conn, pid)
    method = body.get("method") if isinstance(body, dict) else None
    if method not in METHODS:
        raise ScimError(400, "'method' must be one of single, attribute, scim_groups")
    body = fields(body, {"method", "default_organization"} | METHODS[method])
    before = await org_view(conn, mapping)
    organization_id = attr = None
    groups: dict[str, tuple[int, str]] = {}
    if method == "single":
        organization_id = (await catalogue.require_org(
            conn, body.get("organization"), "organization"))["id"]
    elif method == "attribute":
        # A custom attribute declared for the provider is a path like any other.
        attr, _ = attribute.parse(body.get("attribute"),
                                  await gw.resource_type(pid, "User", conn))
    else:
        groups = await group_orgs(conn, pid, body.get("groups"))
    default_id = mapping.default_id
    if body.get("default_organization") is not None:
        default_id = (await catalogue.require_org(
            conn, body["default_organization"], "default_organization"))["id"]
    await conn.execute(
        "INSERT INTO org_mapping_providers (provider_id, method, organization_id, attribute,"
        " default_organization_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (provider_id) DO UPDATE SET method = excluded.method,"
        " organization_id = excluded.organization_id, attribute = excluded.attribute,"
        " default_organization_id = excluded.default_organization_id,"
        " updated_at = excluded.updated_at",
        (pid, method, organization_id, attr, default_id, gw.clock.stamp()))
    await conn.execute("DELETE FROM org_group_mappings WHERE provider_id = ?", (pid,))
    await conn.executemany(
        "INSERT INTO org_group_mappings (provider_id, group_id, organization_id, priority)"
        " VALUES (?, ?, ?, ?)", [(pid, g, oid, prio) for g, (prio, oid) in groups.items()])
    after = await org_view(conn, await require(conn, pid))
    await gw.record(conn, actor=actor, provider_id=pid, event_type="org_mapping.updated",
                    resource_type="Provider", resource_id=pid, operation="update",
                    data=after, before=before, after=after)
    return after


async def group_orgs(conn: Any, pid: str, items: Any) -> dict[str, tuple[int, str]]:
    """`groups` of a scim_groups mapping: existing groups, existing organizations, and
    distinct priorities so that the highest one always decides."""
    if not isinstance(items, list):
        raise ScimError(400, "'groups' must be a list of {group, organization, priority}")
    out: dict[str, tuple[int, str]] = {}
    priorities: set[int] = set()
    for item in items:
        item = fields(item, {"group", "organization", "priority"})
        gid, priority = item.get("group"), item.get("priority")
        if not isinstance(gid, str) or not gid:
            raise ScimError(400, "each entry of 'groups' needs 'group': a SCIM group id")
        if not isinstance(priority, int) or isinstance(priority, bool) or \
                not -INT64_MAX <= priority <= INT64_MAX:
            raise ScimError(400, f"group '{gid}': 'priority' must be an integer from "
                                 f"-{INT64_MAX} to {INT64_MAX}")
        if gid in out:
            raise ScimError(400, f"group '{gid}' is listed twice")
        if priority in priorities:
            raise ScimError(400, f"priority {priority} is given twice; each group needs its "
                                 "own priority (the highest number wins)")
        org = await catalogue.require_org(conn, item.get("organization"), "organization")
        out[gid] = (priority, org["id"])
        priorities.add(priority)
    await require_groups(conn, pid, list(out))
    return out


async def require_groups(conn: Any, pid: str, ids: list[str]) -> None:
    found = await store.group_names(conn, pid, ids)
    missing = [gid for gid in ids if gid not in found]
    if missing:
        raise ScimError(400, f"no SCIM group {', '.join(missing[:5])} from this provider "
                             "(a group is named by its SCIM id)")


# Role mapping -----------------------------------------------------------------------------

async def role_view(conn: Any, mapping: Mapping) -> dict:
    pid = mapping.provider_id
    shown = await store.group_names(conn, pid, list(mapping.role_groups))
    total, unmapped = await store.count_groups(conn, pid)
    return {
        "provider": pid,
        "mappings": [{"group": gid, "display": shown.get(gid), "roles": list(roles)}
                     for gid, roles in sorted(mapping.role_groups.items())],
        "unmapped_groups": await store.unmapped_groups(conn, pid, "", UNMAPPED_SHOWN),
        "unmapped_count": unmapped,
        "status": status(total, unmapped),
    }


def status(total: int, unmapped: int) -> str:
    if total == 0:
        return "No SCIM groups exist yet"
    if unmapped == 0:
        return "All SCIM groups are mapped"
    return f"{unmapped} of {total} SCIM groups are not mapped"


async def unmapped_page(conn: Any, pid: str, cursor: str, limit: int) -> dict:
    await require(conn, pid)
    items = await store.unmapped_groups(conn, pid, cursor, limit + 1)
    more = len(items) > limit
    total, unmapped = await store.count_groups(conn, pid)
    return {"items": items[:limit], "next_cursor": items[limit - 1]["id"] if more else None,
            "status": status(total, unmapped)}


async def group_entries(gw: Any, conn: Any, pid: str, body: Any,
                        kind: catalogue.Kind) -> dict[str, list[str]]:
    """`{"mappings": [{"group": id, "roles" | "watchlists": [names]}]}`: existing groups of
    the provider, each listed once, each with at least one name from the catalogue."""
    items = fields(body, {"mappings"}).get("mappings")
    if not isinstance(items, list):
        raise ScimError(400, f"'mappings' must be a list of {{group, {kind.plural}}}")
    wanted: dict[str, list[str]] = {}
    for item in items:
        item = fields(item, {"group", kind.plural})
        gid = item.get("group")
        if not isinstance(gid, str) or not gid:
            raise ScimError(400, "each mapping needs 'group': a SCIM group id")
        if gid in wanted:
            raise ScimError(400, f"group '{gid}' is listed twice")
        names = await catalogue.resolve(gw, conn, kind, item.get(kind.plural), kind.plural)
        if not names:
            raise ScimError(400, f"group '{gid}': '{kind.plural}' must name at least one "
                                 f"{kind.singular}")
        wanted[gid] = names
    await require_groups(conn, pid, list(wanted))
    return wanted


async def put_role_mapping(gw: Any, conn: Any, pid: str, body: Any,
                           actor: str = "admin") -> dict:
    mapping = await require(conn, pid)
    wanted = await group_entries(gw, conn, pid, body, catalogue.ROLES)
    before = await role_view(conn, mapping)
    await store.set_group_mapping(conn, pid, catalogue.ROLES.singular, wanted)
    after = await role_view(conn, await require(conn, pid))
    await gw.record(conn, actor=actor, provider_id=pid, event_type="role_mapping.updated",
                    resource_type="Provider", resource_id=pid, operation="update",
                    data={"mappings": after["mappings"]}, before=before["mappings"],
                    after=after["mappings"])
    return after


# Watchlist mapping ------------------------------------------------------------------------

async def watchlist_view(conn: Any, mapping: Mapping) -> dict:
    pid = mapping.provider_id
    shown = await store.group_names(conn, pid, list(mapping.watch_groups))
    return {"provider": pid,
            "mappings": [{"group": gid, "display": shown.get(gid), "watchlists": list(names)}
                         for gid, names in sorted(mapping.watch_groups.items())]}


async def put_watchlist_mapping(gw: Any, conn: Any, pid: str, body: Any,
                                actor: str = "admin") -> dict:
    """Replace the provider's mapping of SCIM groups to watchlists; users follow on their
    next change, or at once with apply-mappings."""
    mapping = await require(conn, pid)
    wanted = await group_entries(gw, conn, pid, body, catalogue.WATCHLISTS)
    before = await watchlist_view(conn, mapping)
    await store.set_group_mapping(conn, pid, catalogue.WATCHLISTS.singular, wanted)
    after = await watchlist_view(conn, await require(conn, pid))
    await gw.record(conn, actor=actor, provider_id=pid,
                    event_type="watchlist_mapping.updated", resource_type="Provider",
                    resource_id=pid, operation="update", data={"mappings": after["mappings"]},
                    before=before["mappings"], after=after["mappings"])
    return after


# SCIM changes -----------------------------------------------------------------------------

USER_EVENTS = {"user.created", "user.updated", "user.restored"}
GROUP_EVENTS = {"group.members_added": "members_added",
                "group.members_removed": "members_removed",
                "group.deleted": "members_removed"}


def concerns(event: dict) -> bool:
    """Our own events (user.organization_changed, ...) come back here too: not these."""
    return bool(event.get("provider")) and (
        event["type"] in USER_EVENTS or event["type"] in GROUP_EVENTS)


async def on_change(gw: Any, conn: Any, event: dict) -> None:
    pid, rid, kind = event["provider"], event["resource_id"], event["type"]
    if kind in GROUP_EVENTS and not await store.group_is_mapped(conn, pid, rid):
        return  # membership of an unmapped group places nobody
    mapping = await placement.load(conn, pid)
    if mapping is None:
        return
    if kind in USER_EVENTS:
        ids = [rid]
    else:
        if kind == "group.deleted":
            await forget_group(gw, conn, mapping, rid)
        ids = (event.get("data") or {}).get(GROUP_EVENTS[kind], [])
    await placement.place_ids(gw, conn, mapping, ids, reason=kind)


async def forget_group(gw: Any, conn: Any, mapping: Mapping, gid: str) -> None:
    """A deleted group leaves every mapping; its former members are placed again."""
    before: dict[str, Any] = {"group": gid}
    if gid in mapping.org_groups:
        priority, oid = mapping.org_groups.pop(gid)
        found = await store.org_by_id(conn, oid)
        before.update(organization=found["name"] if found else None, priority=priority)
    if gid in mapping.role_groups:
        before["roles"] = list(mapping.role_groups.pop(gid))
    if gid in mapping.watch_groups:
        before["watchlists"] = list(mapping.watch_groups.pop(gid))
    pid = mapping.provider_id
    for table in ("org_group_mappings", "role_group_mappings", "watchlist_group_mappings"):
        await conn.execute(f"DELETE FROM {table} WHERE provider_id = ? AND group_id = ?",
                           (pid, gid))
    await gw.record(conn, actor=ACTOR, provider_id=pid, event_type="mapping.group_removed",
                    resource_type="Group", resource_id=gid, operation="map", data=before,
                    before=before, after=None, reason="group.deleted")

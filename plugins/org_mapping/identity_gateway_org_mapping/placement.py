"""Placing users: each user's organization and roles from its provider's mapping.

The rules (docs/org-mapping.md):
- organization, by the provider's method: `single` -> that organization; `attribute` -> the
  organization the attribute names (created when missing); `scim_groups` -> among the
  user's mapped groups, the one with the highest `priority` number. A user the method cannot
  place (no method yet, no value, no mapped group) goes to the provider's default
  organization.
- roles: the union of the roles of the user's role-mapped groups; a user in none of them
  gets its organization's default roles.
- watchlists: the union of the watchlists of the user's watchlist-mapped groups; none for a
  user in none of them.
Only direct group membership counts. Each change is recorded (sync log and event) in the
transaction of the change that caused it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from gateway.plugin import ResourceType, ScimError
from identity_gateway_org_mapping import attribute, catalogue, store
from identity_gateway_org_mapping.catalogue import ACTOR

PAGE = 500
STALE = timedelta(minutes=5)  # a running run without progress this long was abandoned


class Mapping(msgspec.Struct, kw_only=True):
    """One provider's mapping, as stored."""

    provider_id: str
    provider_name: str
    method: str | None = None
    organization_id: str | None = None
    attribute: str | None = None
    default_id: str | None = None
    org_groups: dict[str, tuple[int, str]] = {}  # group id -> (priority, organization id)
    role_groups: dict[str, tuple[str, ...]] = {}  # group id -> roles
    watch_groups: dict[str, tuple[str, ...]] = {}  # group id -> watchlists


async def load(conn: Any, pid: str) -> Mapping | None:
    """The provider's mapping, or None when there is no such provider."""
    name = await store.provider_name(conn, pid)
    if name is None:
        return None
    row = await conn.fetchone("SELECT * FROM org_mapping_providers WHERE provider_id = ?",
                              (pid,)) or {}
    org_groups = {r["group_id"]: (r["priority"], r["organization_id"]) for r in
                  await conn.fetchall("SELECT group_id, priority, organization_id FROM"
                                      " org_group_mappings WHERE provider_id = ?", (pid,))}
    return Mapping(provider_id=pid, provider_name=name, method=row.get("method"),
                   organization_id=row.get("organization_id"),
                   attribute=row.get("attribute"),
                   default_id=row.get("default_organization_id"), org_groups=org_groups,
                   role_groups=await store.group_mapping(conn, pid, "role"),
                   watch_groups=await store.group_mapping(conn, pid, "watchlist"))


class Mapper:
    """Places the users of one provider within one transaction; caches what it looks up."""

    def __init__(self, gw: Any, conn: Any, mapping: Mapping, reason: str,
                 rtype: ResourceType, batch: str | None = None) -> None:
        self.gw, self.conn, self.mapping, self.reason = gw, conn, mapping, reason
        self.batch = batch  # the run's entries are listed as one in the sync log
        self.rtype = rtype  # the provider's, with its custom attributes
        self.path = attribute.parse(mapping.attribute, self.rtype)[1] \
            if mapping.method == "attribute" else None
        self.names: dict[str, str | None] = {}  # organization id -> name (None: gone)
        self.by_key: dict[str, str] = {}  # lower-cased name -> organization id
        self.defaults: dict[str, tuple[str, ...]] = {}
        self.users = self.organization_changed = self.roles_changed = self.changed = 0
        self.watchlists_changed = 0

    async def apply(self, users: list[tuple[str, dict]]) -> None:
        ids = [uid for uid, _ in users]
        groups = await store.groups_of(self.conn, ids)
        current = await store.placements(self.conn, ids)
        watching = await store.watchlists_of(self.conn, ids)
        for uid, data in users:
            oid = await self.organization(data, groups[uid])
            roles = await self.roles(oid, groups[uid])
            lists = self.watchlists(groups[uid])
            old_oid, old_roles = current.get(uid, (None, ()))
            old_lists = watching.get(uid, ())
            moved = old_oid != oid
            regranted = old_roles != roles
            rewatched = old_lists != lists
            if moved:
                await self.record_move(uid, old_oid, oid)
            if regranted:
                await self.record_roles(uid, old_roles, roles, first=old_oid is None)
            if rewatched:
                await self.record_watchlists(uid, old_lists, lists)
            self.users += 1
            self.organization_changed += moved
            self.roles_changed += regranted
            self.watchlists_changed += rewatched
            self.changed += moved or regranted or rewatched

    async def organization(self, data: dict, groups: set[str]) -> str:
        mapping = self.mapping
        if mapping.method == "single" and mapping.organization_id:
            return mapping.organization_id
        if self.path is not None:
            name = attribute.evaluate(self.path, data, self.rtype)
            if name is not None:
                return await self.named(name)
        if mapping.method == "scim_groups":
            best = max((mapping.org_groups[g] for g in groups if g in mapping.org_groups),
                       default=None)
            if best is not None:
                return best[1]
        return await self.default()

    async def roles(self, oid: str, groups: set[str]) -> tuple[str, ...]:
        granted = {role for g in groups for role in self.mapping.role_groups.get(g, ())}
        if granted:
            return tuple(sorted(granted))
        if oid not in self.defaults:
            found = await store.default_roles(self.conn, [oid])
            self.defaults[oid] = tuple(found[oid])
        return self.defaults[oid]

    def watchlists(self, groups: set[str]) -> tuple[str, ...]:
        return tuple(sorted({name for g in groups
                             for name in self.mapping.watch_groups.get(g, ())}))

    async def named(self, name: str) -> str:
        """The organization with this name, created when it does not exist yet."""
        key = name.lower()[:catalogue.MAX_NAME]
        if key not in self.by_key:
            found = await catalogue.ensure_org(self.gw, self.conn, name[:catalogue.MAX_NAME],
                                               self.mapping.provider_id, "mapped")
            self.by_key[key] = found["id"]
            self.names[found["id"]] = found["name"]
        return self.by_key[key]

    async def default(self) -> str:
        """The provider's default organization; the first time, one named after it."""
        if self.mapping.default_id is None:
            oid = await self.named(self.mapping.provider_name)
            await self.conn.execute(
                "INSERT INTO org_mapping_providers (provider_id, default_organization_id,"
                " updated_at) VALUES (?, ?, ?) ON CONFLICT (provider_id) DO UPDATE SET"
                " default_organization_id = excluded.default_organization_id,"
                " updated_at = excluded.updated_at",
                (self.mapping.provider_id, oid, self.gw.clock.stamp()))
            self.mapping.default_id = oid
        return self.mapping.default_id

    async def name_of(self, oid: str) -> str | None:
        if oid not in self.names:
            found = await store.org_by_id(self.conn, oid)
            self.names[oid] = found["name"] if found else None
        return self.names[oid]

    async def record_move(self, uid: str, old: str | None, new: str) -> None:
        await store.place(self.conn, uid, self.mapping.provider_id, new, self.gw.clock.stamp())
        before = {"organization": await self.name_of(old), "organization_id": old} \
            if old else None
        after = {"organization": await self.name_of(new), "organization_id": new}
        await self.record(uid, "user.organization_changed", before, after)

    async def record_roles(self, uid: str, old: tuple[str, ...], new: tuple[str, ...],
                           first: bool) -> None:
        await store.set_roles(self.conn, uid, new)
        before = None if first else {"roles": list(old)}
        await self.record(uid, "user.roles_changed", before, {"roles": list(new)})

    async def record_watchlists(self, uid: str, old: tuple[str, ...],
                                new: tuple[str, ...]) -> None:
        await store.set_watchlists(self.conn, uid, new)
        await self.record(uid, "user.watchlists_changed", {"watchlists": list(old)},
                          {"watchlists": list(new)})

    async def record(self, uid: str, event_type: str, before: dict | None,
                     after: dict) -> None:
        await self.gw.record(
            self.conn, actor=ACTOR, provider_id=self.mapping.provider_id,
            event_type=event_type, resource_type="User", resource_id=uid, operation="map",
            data={"id": uid, "before": before, "after": after}, before=before, after=after,
            reason=self.reason, batch=self.batch)

    def report(self) -> dict:
        return {"users": self.users, "changed": self.changed,
                "organization_changed": self.organization_changed,
                "roles_changed": self.roles_changed,
                "watchlists_changed": self.watchlists_changed}


async def place_ids(gw: Any, conn: Any, mapping: Mapping, ids: list[str],
                    reason: str) -> None:
    """Re-place these users (ids that are not visible users of the provider are skipped);
    the changes of several are one batch."""
    mapper = Mapper(gw, conn, mapping, reason,
                    await gw.resource_type(mapping.provider_id, "User", conn),
                    gw.new_batch() if len(ids) > 1 else None)
    for part in store.chunks(ids):
        await mapper.apply(await store.users_by_id(conn, mapping.provider_id, part))


def abandoned(gw: Any, run: dict) -> bool:
    """A run still marked running whose last page is long past (the app stopped mid-run)."""
    last = datetime.fromisoformat(run["updated_at"].replace("Z", "+00:00"))
    return run["state"] == "running" and gw.clock.now() - last > STALE


async def start_run(gw: Any, pid: str, actor: str) -> dict | None:
    """Claim the provider's apply run (its row in org_mapping_apply_runs) and return it;
    None when there is no such provider. Refused (409) while another run is going."""
    async with gw.store.write() as conn:
        if await store.provider_name(conn, pid) is None:
            return None
        current = await store.apply_run(conn, pid)
        replaces = current["run_id"] if current and abandoned(gw, current) else ""
        total = await store.count_users(conn, pid)
        run_id = store.new_id()
        if not await store.claim_run(conn, pid, run_id, actor, total, gw.clock.stamp(),
                                     replaces):
            holder = await store.apply_run(conn, pid) or {}
            raise ScimError(409, "org and role settings are already being applied to this"
                                 f" provider (started by {holder.get('actor', 'another')}"
                                 f" at {holder.get('started_at', '')}); wait until that"
                                 " run has finished")
        found = await store.apply_run(conn, pid)
    assert found is not None
    return found


async def apply_all(gw: Any, pid: str, run: dict | None = None,
                    actor: str = ACTOR) -> dict | None:
    """Re-place every visible user of a provider, one page per transaction (keyset by id),
    so memory stays flat and SCIM writes interleave. None when there is no such provider.

    The run (`run`, from start_run, or one claimed here for `actor`) counts each page's
    users and changes in that page's transaction, and ends as done with the last page (or
    as failed, with the error)."""
    if run is None:
        run = await start_run(gw, pid, actor)
        if run is None:
            return None
    run_id = run["run_id"]
    totals = {"users": 0, "changed": 0, "organization_changed": 0, "roles_changed": 0,
              "watchlists_changed": 0}
    after = ""
    try:
        for _ in range(100_000_000 // PAGE):
            async with gw.store.write() as conn:
                mapping = await load(conn, pid)
                if mapping is None:
                    return None
                users = await store.user_page(conn, pid, after, PAGE)
                mapper = Mapper(gw, conn, mapping, "apply_mappings",
                                await gw.resource_type(pid, "User", conn), batch=run_id)
                await mapper.apply(users)
                report = mapper.report()
                now = gw.clock.stamp()
                await store.run_progress(conn, pid, run_id, len(users), report, now)
                if len(users) < PAGE:
                    await store.end_run(conn, pid, run_id, "done", now)
            for key, value in report.items():
                totals[key] += value
            if len(users) < PAGE:
                break
            after = users[-1][0]
    except Exception as error:
        async with gw.store.write() as conn:
            await store.end_run(conn, pid, run_id, "failed", gw.clock.stamp(),
                                str(error) or type(error).__name__)
        raise
    return {"provider": pid, **totals}

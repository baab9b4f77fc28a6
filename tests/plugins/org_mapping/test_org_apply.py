"""apply-mappings over 10,000 users: every user is re-placed, page by page, and the report
counts exactly the users whose organization or roles changed."""

import uuid

import pytest

from gateway.store import resources
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

USERS = 10_000
CONFIG = {"org_mapping": {"roles": ["editor", "viewer", "billing"]}}


async def bulk_users(gateway, pid: str, groups: dict[str, int]) -> list[str]:
    """Setup only: users and memberships written straight to the store (user i is in each
    group whose number divides i), as an IdP would have provisioned them long ago."""
    ids = [uuid.uuid4().hex for _ in range(USERS)]
    now = gateway.gw.clock.stamp()
    rows, links = [], []
    for i, uid in enumerate(ids):
        data = user_body(f"user{i}@example.com")
        data.pop("schemas")
        rows.append((pid, uid, "User", None, f"user{i}@example.com", None,
                     resources.encode(data), 1, now, now, "active", None, 0))
        links += [(pid, gid, uid) for gid, every in groups.items() if i % every == 0]
    async with gateway.gw.store.write() as conn:
        await conn.executemany(
            "INSERT INTO resources (provider_id, id, type, external_id, name_key, display_key,"
            " data, version, created, last_modified, state, deactivate_at, hidden)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        await conn.executemany(
            "INSERT INTO members (provider_id, group_id, member_id) VALUES (?, ?, ?)", links)
    return ids


async def test_apply_mappings_over_ten_thousand_users(database):
    async with running(database, enabled=["org_mapping"], config=CONFIG) as gateway:
        idp = await gateway.provider("idp")
        group_ids = []
        for name in ("eng", "ops"):
            r = await gateway.scim(idp, "POST", "/Groups", {"displayName": name})
            group_ids.append(r.json()["id"])
        eng, ops = group_ids
        ids = await bulk_users(gateway, idp.id, {eng: 2, ops: 5})
        in_eng, in_ops, in_both = USERS // 2, USERS // 5, USERS // 10
        mapped = in_eng + in_ops - in_both

        # Provisioned before any mapping: all land in the provider's default organization.
        first = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
        assert first == {"provider": idp.id, "users": USERS, "changed": USERS,
                         "organization_changed": USERS, "roles_changed": 0,
                         "watchlists_changed": 0}

        await gateway.admin_json("POST", "/organizations", {"name": "Engineering"}, 201)
        await gateway.admin_json("POST", "/organizations", {"name": "Operations"}, 201)
        await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", {
            "method": "scim_groups", "groups": [
                {"group": eng, "organization": "Engineering", "priority": 1},
                {"group": ops, "organization": "Operations", "priority": 2}]})
        await gateway.admin_json("PUT", f"/providers/{idp.id}/role-mapping", {"mappings": [
            {"group": eng, "roles": ["editor"]}, {"group": ops, "roles": ["viewer"]}]})
        second = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
        assert second == {"provider": idp.id, "users": USERS, "changed": mapped,
                          "organization_changed": mapped, "roles_changed": mapped,
                          "watchlists_changed": 0}

        # The mapping changes: users in both groups now go to Engineering.
        await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", {
            "method": "scim_groups", "groups": [
                {"group": eng, "organization": "Engineering", "priority": 3},
                {"group": ops, "organization": "Operations", "priority": 2}]})
        third = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
        assert third == {"provider": idp.id, "users": USERS, "changed": in_both,
                         "organization_changed": in_both, "roles_changed": 0,
                         "watchlists_changed": 0}
        again = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
        assert again["users"] == USERS and again["changed"] == 0

        both, eng_only, ops_only, neither = ids[0], ids[2], ids[5], ids[1]
        expected = {both: ("Engineering", ["editor", "viewer"]),
                    eng_only: ("Engineering", ["editor"]),
                    ops_only: ("Operations", ["viewer"]), neither: ("idp", [])}
        for uid, place in expected.items():
            view = await gateway.admin_json("GET", f"/users/{uid}")
            assert (view["organization"], view["roles"]) == place
        async with gateway.gw.store.read() as conn:
            moves = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE type = 'user.organization_changed'")
            grants = await conn.fetchval(
                "SELECT count(*) FROM sync_log WHERE operation = 'map'"
                " AND CAST(after AS TEXT) LIKE '%\"roles\"%'")
        assert moves == USERS + mapped + in_both
        assert grants == mapped

"""Groups over SCIM: membership is rows; member edits, renames, filters, delete."""

import pytest

from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def make_users(gateway, idp, n):
    return [(await gateway.scim(idp, "POST", "/Users",
                                user_body(f"u{i}@example.com"))).json()["id"]
            for i in range(n)]


async def test_group_lifecycle(gateway, idp):
    u1, u2, u3 = await make_users(gateway, idp, 3)
    r = await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Sales", "externalId": "g-1", "members": [{"value": u1}]})
    assert r.status_code == 201, r.text
    group = r.json()
    assert [m["value"] for m in group["members"]] == [u1]
    gid = group["id"]

    r = await gateway.scim(idp, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": u2}, {"value": u3}]},
        {"op": "remove", "path": f'members[value eq "{u1}"]'},
        {"op": "replace", "path": "displayName", "value": "Sales West"}]})
    assert r.status_code in (200, 204), r.text
    got = (await gateway.scim(idp, "GET", f"/Groups/{gid}")).json()
    assert got["displayName"] == "Sales West"
    assert sorted(m["value"] for m in got["members"]) == sorted([u2, u3])
    assert all(m["type"] == "User" for m in got["members"])

    bare = (await gateway.scim(idp, "GET", f"/Groups/{gid}?excludedAttributes=members")).json()
    assert "members" not in bare and bare["displayName"] == "Sales West"

    found = (await gateway.scim(idp, "GET", "/Groups",
                                params={"filter": 'displayName eq "sales west"'})).json()
    assert [g["id"] for g in found["Resources"]] == [gid]

    user = (await gateway.scim(idp, "GET", f"/Users/{u2}")).json()
    assert [g["value"] for g in user["groups"]] == [gid]

    assert (await gateway.scim(idp, "DELETE", f"/Groups/{gid}")).status_code == 204
    assert (await gateway.scim(idp, "GET", f"/Groups/{gid}")).status_code == 404
    user = (await gateway.scim(idp, "GET", f"/Users/{u2}")).json()
    assert "groups" not in user


async def test_unknown_member_is_refused_and_nothing_written(gateway, idp):
    (u1,) = await make_users(gateway, idp, 1)
    r = await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Bad", "members": [{"value": u1}, {"value": "no-such-user"}]})
    assert r.status_code == 400
    assert r.json()["scimType"] == "invalidValue"
    listed = (await gateway.scim(idp, "GET", "/Groups")).json()
    assert listed["totalResults"] == 0


async def test_put_replaces_membership(gateway, idp):
    u1, u2 = await make_users(gateway, idp, 2)
    gid = (await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Eng", "members": [{"value": u1}]})).json()["id"]
    r = await gateway.scim(idp, "PUT", f"/Groups/{gid}", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": gid,
        "displayName": "Eng", "members": [{"value": u2}]})
    assert r.status_code == 200, r.text
    assert [m["value"] for m in r.json()["members"]] == [u2]


async def test_member_rows_not_json(gateway, idp):
    """Membership lives in the members table, never inside the group's JSON."""
    (u1,) = await make_users(gateway, idp, 1)
    gid = (await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Rows", "members": [{"value": u1}]})).json()["id"]
    async with gateway.gw.store.read() as conn:
        data = await conn.fetchval("SELECT data FROM resources WHERE id = ?", (gid,))
        rows = await conn.fetchall("SELECT member_id FROM members WHERE group_id = ?", (gid,))
    assert "members" not in data
    assert [r["member_id"] for r in rows] == [u1]


async def test_member_events_are_net_changes(gateway, idp):
    u1, u2, u3 = await make_users(gateway, idp, 3)
    gid = (await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Net", "members": [{"value": u1}]})).json()["id"]
    after = (await gateway.client.get("/admin/v1/events", headers=gateway.admin)).json()
    last = int(after["next_cursor"])
    r = await gateway.scim(idp, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": u2}, {"value": u3}, {"value": u1}]},
        {"op": "remove", "path": f'members[value eq "{u3}"]'},
        {"op": "remove", "path": f'members[value eq "{u1}"]'}]})
    assert r.status_code == 204, r.text
    feed = (await gateway.client.get(f"/admin/v1/events?after={last}",
                                     headers=gateway.admin)).json()["items"]
    kinds = {e["type"]: e["data"] for e in feed}
    assert kinds["group.members_added"]["members_added"] == [u2]
    assert kinds["group.members_removed"]["members_removed"] == [u1]
    got = (await gateway.scim(idp, "GET", f"/Groups/{gid}")).json()
    assert [m["value"] for m in got["members"]] == [u2]


async def test_removals_one_operation_each_as_idps_send_them(gateway, idp):
    """Entra and Okta remove members one `members[value eq "..."]` operation at a time:
    a member named twice, a non-member and an add between removals all count as sent."""
    users = await make_users(gateway, idp, 6)
    gid = (await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Many", "members": [{"value": u} for u in users[:5]]})).json()["id"]
    last = int((await gateway.client.get("/admin/v1/events",
                                         headers=gateway.admin)).json()["next_cursor"])
    gone = lambda u: {"op": "remove", "path": f'members[value eq "{u}"]'}  # noqa: E731
    r = await gateway.scim(idp, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        gone(users[0]), gone(users[1]), gone(users[0]), gone(users[5]),
        {"op": "add", "path": "members", "value": [{"value": users[1]}]},
        gone(users[2]), gone(users[1])]})
    assert r.status_code == 204, r.text
    got = (await gateway.scim(idp, "GET", f"/Groups/{gid}")).json()
    assert sorted(m["value"] for m in got["members"]) == sorted(users[3:5])
    feed = (await gateway.client.get(f"/admin/v1/events?after={last}",
                                     headers=gateway.admin)).json()["items"]
    kinds = {e["type"]: e["data"] for e in feed}
    assert sorted(kinds["group.members_removed"]["members_removed"]) == sorted(users[:3])
    assert "group.members_added" not in kinds


async def test_a_users_groups_read_the_same_way_everywhere(gateway, idp):
    """A GET, a lookup, a page and a write's answer each list the user's direct groups: the
    same values, names and order whichever way they were read."""
    (uid,) = await make_users(gateway, idp, 1)
    for name in ("Zeta", "Alpha", "Mid"):
        r = await gateway.scim(idp, "POST", "/Groups", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name, "members": [{"value": uid}]})
        assert r.status_code == 201, r.text
    patched = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})
    expected = patched.json()["groups"]
    assert sorted(g["display"] for g in expected) == ["Alpha", "Mid", "Zeta"]
    assert [g["value"] for g in expected] == sorted(g["value"] for g in expected)
    assert all(g["type"] == "direct" for g in expected)
    got = (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()
    user_name = got["userName"]
    found = (await gateway.scim(idp, "GET", "/Users", params={
        "filter": f'userName eq "{user_name}"'})).json()["Resources"]
    listed = (await gateway.scim(idp, "GET", "/Users", params={"count": "10"})).json()
    assert got["groups"] == found[0]["groups"] == expected
    assert [u["groups"] for u in listed["Resources"] if u["id"] == uid] == [expected]
    alone = (await gateway.scim(idp, "POST", "/Users", user_body("alone@example.com"))).json()
    again = (await gateway.scim(idp, "GET", f"/Users/{alone['id']}")).json()
    assert "groups" not in again or again["groups"] == []

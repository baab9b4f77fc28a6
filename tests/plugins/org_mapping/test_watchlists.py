"""Watchlists over HTTP on both stores: the catalogue, the mapping of SCIM groups to
watchlists, users following their groups' membership and apply-mappings, and what is
recorded."""


import pytest

from gateway.plugin import ConfigError
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
CONFIG = {"org_mapping": {"watchlists": [
    {"name": "Privileged", "description": "Admins of production systems"},
    "Departing",
]}}


@pytest.fixture
async def gateway(database):
    async with running(database, enabled=["org_mapping"], config=CONFIG) as harness:
        yield harness


async def new_user(gateway, idp, name: str) -> str:
    r = await gateway.scim(idp, "POST", "/Users", user_body(name))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_group(gateway, idp, name: str, members: tuple = ()) -> str:
    r = await gateway.scim(idp, "POST", "/Groups", {
        "schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def membership(gateway, idp, gid: str, op: str, uid: str) -> None:
    if op == "add":
        ops = [{"op": "add", "path": "members", "value": [{"value": uid}]}]
    else:
        ops = [{"op": "remove", "path": f'members[value eq "{uid}"]'}]
    r = await gateway.scim(idp, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH],
                                                            "Operations": ops})
    assert r.status_code in (200, 204), r.text


async def watching(gateway, uid: str) -> list[str]:
    return (await gateway.admin_json("GET", f"/users/{uid}"))["watchlists"]


async def changes(gateway, uid: str) -> list[dict]:
    feed = await gateway.admin_json("GET", "/events?limit=1000")
    return [e for e in feed["items"]
            if e["type"] == "user.watchlists_changed" and e["resource_id"] == uid]


async def map_groups(gateway, idp, mapping: dict[str, list[str]]) -> dict:
    return await gateway.admin_json("PUT", f"/providers/{idp.id}/watchlist-mapping", {
        "mappings": [{"group": g, "watchlists": names} for g, names in mapping.items()]})


async def test_the_watchlist_catalogue_from_config_and_admin_api(gateway):
    listed = (await gateway.admin_json("GET", "/watchlists"))["items"]
    assert listed == [
        {"name": "Departing", "description": "", "source": "config"},
        {"name": "Privileged", "description": "Admins of production systems",
         "source": "config"}]
    added = await gateway.admin_json("POST", "/watchlists",
                        {"name": "Contractors", "description": "External staff"}, 201)
    assert added == {"name": "Contractors", "description": "External staff",
                     "source": "admin"}
    await gateway.admin_json("POST", "/watchlists", {"name": "privileged"}, 409)
    await gateway.admin_json("POST", "/watchlists", {"name": " "}, 400)
    await gateway.admin_json("POST", "/watchlists", {"name": "X", "description": 3}, 400)
    names = [w["name"] for w in (await gateway.admin_json("GET", "/watchlists"))["items"]]
    assert names == ["Contractors", "Departing", "Privileged"]
    created = await gateway.admin_json("GET", "/events?limit=1000")
    assert [e["type"] for e in created["items"]] == ["watchlist.created"]


async def test_bad_config_watchlists_stop_startup(database):
    with pytest.raises(ConfigError, match="watchlists"):
        async with running(database, enabled=["org_mapping"],
                           config={"org_mapping": {"watchlists": [{"description": "x"}]}}):
            pass


async def test_the_mapping_is_checked_and_a_refusal_changes_nothing(gateway, idp):
    admins = await new_group(gateway, idp, "Admins")
    other = await gateway.provider("other")
    theirs = await new_group(gateway, other, "Theirs")
    path = f"/providers/{idp.id}/watchlist-mapping"
    assert await gateway.admin_json("GET", path) == {"provider": idp.id, "mappings": []}
    for body, words in [
        ({"mappings": [{"group": admins, "watchlists": ["Unknown"]}]}, "unknown watchlist"),
        ({"mappings": [{"group": admins, "watchlists": []}]}, "at least one"),
        ({"mappings": [{"group": admins, "watchlists": "Privileged"}]}, "list"),
        ({"mappings": [{"group": theirs, "watchlists": ["Privileged"]}]}, "no SCIM group"),
        ({"mappings": [{"group": "missing", "watchlists": ["Privileged"]}]}, "no SCIM group"),
        ({"mappings": [{"group": admins, "watchlists": ["Privileged"]},
                       {"group": admins, "watchlists": ["Departing"]}]}, "twice"),
        ({"mappings": [{"group": admins, "roles": ["x"]}]}, "unknown field"),
        ({"mappings": {}}, "mappings"), ({}, "mappings"),
    ]:
        refused = await gateway.admin_json("PUT", path, body, 400)
        assert refused["status"] == 400 and words in refused["detail"], body
    assert (await gateway.admin_json("GET", path))["mappings"] == []
    await gateway.admin_json("PUT", "/providers/nope/watchlist-mapping", {"mappings": []}, 404)
    done = await map_groups(gateway, idp, {admins: ["privileged", "Departing"]})
    assert done["mappings"] == [{"group": admins, "display": "Admins",
                                 "watchlists": ["Departing", "Privileged"]}]
    assert (await gateway.admin_json("GET", path)) == done
    log = await gateway.admin_json("GET", f"/sync-log?provider={idp.id}&operation=update")
    assert log["items"][0]["after"] == done["mappings"]


async def test_watchlists_follow_group_membership(gateway, idp):
    uid = await new_user(gateway, idp, "a@example.com")
    admins = await new_group(gateway, idp, "Admins")
    leavers = await new_group(gateway, idp, "Leavers")
    await new_group(gateway, idp, "Unmapped", (uid,))
    await map_groups(gateway, idp, {admins: ["Privileged"],
                                    leavers: ["Departing", "Privileged"]})
    assert await watching(gateway, uid) == []

    await membership(gateway, idp, admins, "add", uid)
    assert await watching(gateway, uid) == ["Privileged"]
    await membership(gateway, idp, leavers, "add", uid)  # the union of its groups'
    assert await watching(gateway, uid) == ["Departing", "Privileged"]
    await membership(gateway, idp, admins, "remove", uid)
    assert await watching(gateway, uid) == ["Departing", "Privileged"]  # Leavers has both
    await membership(gateway, idp, leavers, "remove", uid)
    assert await watching(gateway, uid) == []

    recorded = await changes(gateway, uid)
    assert [(e["data"]["before"], e["data"]["after"]) for e in recorded] == [
        ({"watchlists": []}, {"watchlists": ["Privileged"]}),
        ({"watchlists": ["Privileged"]}, {"watchlists": ["Departing", "Privileged"]}),
        ({"watchlists": ["Departing", "Privileged"]}, {"watchlists": []}),
    ]
    log = await gateway.admin_json("GET", f"/sync-log?user={uid}&operation=map")
    entries = [e for e in log["items"] if "watchlists" in (e["after"] or {})]
    assert len(entries) == 3 and {e["actor"] for e in entries} == {"org_mapping"}
    assert entries[-1]["reason"] == "group.members_added"
    assert entries[-1]["after"] == {"watchlists": ["Privileged"]}


async def test_a_whole_group_replace_and_a_deleted_group(gateway, idp):
    a = await new_user(gateway, idp, "a@example.com")
    b = await new_user(gateway, idp, "b@example.com")
    admins = await new_group(gateway, idp, "Admins", (a,))
    await map_groups(gateway, idp, {admins: ["Privileged"]})
    await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert await watching(gateway, a) == ["Privileged"]
    r = await gateway.scim(idp, "PUT", f"/Groups/{admins}", {
        "schemas": [GROUP], "displayName": "Admins", "members": [{"value": b}]})
    assert r.status_code == 200, r.text
    assert (await watching(gateway, a), await watching(gateway, b)) == ([], ["Privileged"])
    assert (await gateway.scim(idp, "DELETE", f"/Groups/{admins}")).status_code == 204
    assert await watching(gateway, b) == []
    mapping = await gateway.admin_json("GET", f"/providers/{idp.id}/watchlist-mapping")
    assert mapping["mappings"] == []
    feed = await gateway.admin_json("GET", "/events?limit=1000")
    removed = [e for e in feed["items"] if e["type"] == "mapping.group_removed"]
    assert removed[-1]["data"]["watchlists"] == ["Privileged"]


async def test_apply_mappings_puts_existing_members_on_their_watchlists(gateway, idp):
    ids = [await new_user(gateway, idp, f"u{i}@example.com") for i in range(4)]
    admins = await new_group(gateway, idp, "Admins", tuple(ids[:2]))
    leavers = await new_group(gateway, idp, "Leavers", tuple(ids[1:3]))
    assert [await watching(gateway, uid) for uid in ids] == [[], [], [], []]
    await map_groups(gateway, idp, {admins: ["Privileged"], leavers: ["Departing"]})
    report = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert report["users"] == 4 and report["watchlists_changed"] == 3
    assert [await watching(gateway, uid) for uid in ids] == [
        ["Privileged"], ["Departing", "Privileged"], ["Departing"], []]
    again = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert again["watchlists_changed"] == 0 and again["changed"] == 0
    log = await gateway.admin_json("GET", f"/sync-log?user={ids[1]}&operation=map")
    assert [e["reason"] for e in log["items"]
            if "watchlists" in (e["after"] or {})] == ["apply_mappings"]


async def test_user_events_carry_the_watchlists(gateway, idp):
    uid = await new_user(gateway, idp, "a@example.com")
    admins = await new_group(gateway, idp, "Admins")
    await map_groups(gateway, idp, {admins: ["Privileged"]})
    await membership(gateway, idp, admins, "add", uid)
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "title", "value": "Boss"}]})
    assert r.status_code == 200
    feed = await gateway.admin_json("GET", "/events?limit=1000")
    user_events = [e for e in feed["items"] if e["resource_id"] == uid]
    assert user_events[0]["type"] == "user.created"
    assert user_events[0]["data"]["user"]["watchlists"] == []
    updated = user_events[-1]
    assert updated["type"] == "user.updated"
    assert updated["data"]["user"]["watchlists"] == ["Privileged"]
    assert updated["data"]["user"]["organization"] == "idp"  # the provider's default
    view = await gateway.admin_json("GET", f"/users/{uid}")
    assert view["watchlists"] == ["Privileged"]

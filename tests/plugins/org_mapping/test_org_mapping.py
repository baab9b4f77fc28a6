"""org_mapping over HTTP: organizations, roles, each mapping method, the role rules, and
what SCIM changes do to users' places."""

from typing import Any

import pytest

from gateway.plugin import ConfigError
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

ORG_URN = "urn:ietf:params:scim:schemas:extension:identity-gateway:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CONFIG = {"org_mapping": {"roles": [
    {"name": "member", "description": "Uses the application"},
    "viewer", "editor", "billing",
]}}


@pytest.fixture
async def gateway(database):
    async with running(database, enabled=["org_mapping"], config=CONFIG) as harness:
        yield harness


async def new_user(gateway, idp, name: str, **extra: Any) -> str:
    r = await gateway.scim(idp, "POST", "/Users", user_body(name, **extra))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_group(gateway, idp, name: str, members: tuple = ()) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
            "members": [{"value": m} for m in members]}
    r = await gateway.scim(idp, "POST", "/Groups", body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def members(gateway, idp, gid: str, op: str, uid: str) -> None:
    if op == "add":
        ops = [{"op": "add", "path": "members", "value": [{"value": uid}]}]
    else:
        ops = [{"op": "remove", "path": f'members[value eq "{uid}"]'}]
    r = await gateway.scim(idp, "PATCH", f"/Groups/{gid}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
    assert r.status_code in (200, 204), r.text


async def place(gateway, uid: str) -> tuple:
    view = await gateway.admin_json("GET", f"/users/{uid}")
    return view["organization"], view["roles"]


async def org(gateway, name: str, **body: Any) -> dict:
    return await gateway.admin_json("POST", "/organizations", {"name": name, **body}, 201)


async def events(gateway, kind: str, uid: str) -> list:
    feed = await gateway.admin_json("GET", "/events?limit=1000")
    return [e for e in feed["items"] if e["type"] == kind and e["resource_id"] == uid]


# Schema ---------------------------------------------------------------------------------

async def test_org_name_extension_is_advertised_stored_and_filterable(gateway, idp):
    schemas = (await gateway.scim(idp, "GET", "/Schemas")).json()
    assert ORG_URN in [s["id"] for s in schemas["Resources"]]
    rtype = (await gateway.scim(idp, "GET", "/ResourceTypes/User")).json()
    assert ORG_URN in [e["schema"] for e in rtype["schemaExtensions"]]
    uid = await new_user(gateway, idp, "a@example.com", **{ORG_URN: {"orgName": "Acme"}})
    got = (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()
    assert got[ORG_URN] == {"orgName": "Acme"}
    assert ORG_URN in got["schemas"]
    await new_user(gateway, idp, "b@example.com", **{ORG_URN: {"orgName": "Other"}})
    found = (await gateway.scim(idp, "GET", f'/Users?filter={ORG_URN}:orgName eq "acme"'))
    assert [u["id"] for u in found.json()["Resources"]] == [uid]
    bad = await gateway.scim(idp, "POST", "/Users",
                             user_body("c@example.com", **{ORG_URN: {"orgName": 7}}))
    assert bad.status_code == 400


# Organizations and roles ----------------------------------------------------------------

async def test_organizations_create_list_rename_nest(gateway):
    acme = await org(gateway, "Acme", default_roles=["member"])
    assert acme["default_roles"] == ["member"] and acme["parent"] is None
    sales = await org(gateway, "Sales", parent="Acme")
    assert sales["parent"] == {"id": acme["id"], "name": "Acme"}
    await gateway.admin_json("POST", "/organizations", {"name": "acme"}, 409)
    await gateway.admin_json("POST", "/organizations", {"name": "X", "parent": "Nope"}, 400)
    await gateway.admin_json("POST", "/organizations", {"name": "X", "default_roles": ["root"]},
                400)
    await gateway.admin_json("POST", "/organizations", {"name": "  "}, 400)
    renamed = await gateway.admin_json("PATCH", f"/organizations/{sales['id']}",
                          {"name": "Sales EMEA", "default_roles": ["viewer", "Member"]})
    assert renamed["name"] == "Sales EMEA"
    assert renamed["default_roles"] == ["member", "viewer"]
    # Nesting: no cycles, and null moves an organization to the top.
    r = await gateway.admin_json("PATCH", f"/organizations/{acme['id']}",
                    {"parent": "Sales EMEA"}, 400)
    assert "inside" in r["detail"]
    await gateway.admin_json("PATCH", f"/organizations/{acme['id']}", {"parent": acme["id"]}, 400)
    top = await gateway.admin_json("PATCH", f"/organizations/{sales['id']}", {"parent": None})
    assert top["parent"] is None
    await gateway.admin_json("PATCH", "/organizations/missing", {"name": "Y"}, 404)
    await gateway.admin_json("PATCH", f"/organizations/{acme['id']}", {"colour": "red"}, 400)
    listed = await gateway.admin_json("GET", "/organizations?limit=1")
    assert [o["name"] for o in listed["items"]] == ["Acme"]
    rest = await gateway.admin_json("GET", f"/organizations?cursor={listed['next_cursor']}")
    assert [o["name"] for o in rest["items"]] == ["Sales EMEA"]
    assert (await gateway.admin_json("GET", f"/organizations/{acme['id']}"))["name"] == "Acme"


async def test_roles_catalogue_from_config_and_admin_api(gateway):
    listed = (await gateway.admin_json("GET", "/roles"))["items"]
    assert {r["name"]: r["source"] for r in listed} == {
        "member": "config", "viewer": "config", "editor": "config", "billing": "config"}
    added = await gateway.admin_json("POST", "/roles",
                        {"name": "auditor", "description": "Reads the audit log"}, 201)
    assert added == {"name": "auditor", "description": "Reads the audit log",
                     "source": "admin"}
    await gateway.admin_json("POST", "/roles", {"name": "Member"}, 409)
    await gateway.admin_json("POST", "/roles", {"name": ""}, 400)
    names = [r["name"] for r in (await gateway.admin_json("GET", "/roles"))["items"]]
    assert "auditor" in names
    made = await org(gateway, "Audit", default_roles=["AUDITOR"])
    assert made["default_roles"] == ["auditor"]


async def test_bad_config_roles_stop_startup(database):
    with pytest.raises(ConfigError, match="org_mapping"):
        async with running(database, enabled=["org_mapping"],
                           config={"org_mapping": {"roles": [{"description": "no name"}]}}):
            pass


# Before any mapping ---------------------------------------------------------------------

async def test_users_before_any_mapping_land_in_the_providers_default(gateway, idp):
    uid = await new_user(gateway, idp, "a@example.com")
    assert await place(gateway, uid) == ("idp", [])
    mapping = await gateway.admin_json("GET", f"/providers/{idp.id}/org-mapping")
    assert mapping == {"provider": idp.id, "method": None, "default_organization": "idp"}
    orgs = (await gateway.admin_json("GET", "/organizations"))["items"]
    assert [o["name"] for o in orgs] == ["idp"]
    # The default organization's default roles are what unmapped users get.
    await gateway.admin_json("PATCH", f"/organizations/{orgs[0]['id']}",
                {"default_roles": ["viewer"]})
    report = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert report == {"provider": idp.id, "users": 1, "changed": 1,
                      "organization_changed": 0, "roles_changed": 1, "watchlists_changed": 0}
    assert await place(gateway, uid) == ("idp", ["viewer"])
    await gateway.admin_json("GET", "/providers/nope/org-mapping", status=404)
    await gateway.admin_json("POST", "/providers/nope/apply-mappings", status=404)


async def test_local_users_are_not_placed(gateway):
    r = await gateway.client.post("/admin/v1/users", json=user_body("local@example.com"),
                                  headers=gateway.admin)
    assert r.status_code == 201, r.text
    assert (r.json()["organization"], r.json()["roles"]) == (None, [])


# single ---------------------------------------------------------------------------------

async def test_single_method_and_apply(gateway, idp):
    early = await new_user(gateway, idp, "early@example.com")
    await org(gateway, "Acme", default_roles=["member"])
    refused = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                          {"method": "single", "organization": "Nope"}, 400)
    assert "Nope" in refused["detail"]
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                {"method": "single", "organization": "Acme", "attribute": "x"}, 400)
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", {"method": "magic"}, 400)
    assert (await gateway.admin_json("GET", f"/providers/{idp.id}/org-mapping"))["method"] is None
    got = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                      {"method": "single", "organization": "acme"})
    assert got == {"provider": idp.id, "method": "single", "organization": "Acme",
                   "default_organization": "idp"}
    # A mapping change waits for apply-mappings; new changes use it at once.
    assert await place(gateway, early) == ("idp", [])
    late = await new_user(gateway, idp, "late@example.com")
    assert await place(gateway, late) == ("Acme", ["member"])
    report = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert report["users"] == 2 and report["organization_changed"] == 1
    assert report["roles_changed"] == 1 and report["changed"] == 1
    assert await place(gateway, early) == ("Acme", ["member"])
    again = await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert again["changed"] == 0


# attribute ------------------------------------------------------------------------------

async def test_attribute_method_with_our_org_name(gateway, idp):
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                {"method": "attribute", "attribute": f"{ORG_URN}:orgName"})
    uid = await new_user(gateway, idp, "a@example.com", **{ORG_URN: {"orgName": "Research"}})
    assert await place(gateway, uid) == ("Research", [])
    assert "Research" in [o["name"] for o in
                          (await gateway.admin_json("GET", "/organizations"))["items"]]
    # An existing organization is matched case-insensitively, not created twice.
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": f"{ORG_URN}:orgName", "value": "research"}]})
    assert r.status_code == 200, r.text
    assert await place(gateway, uid) == ("Research", [])
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f"{ORG_URN}:orgName"}]})
    assert r.status_code == 200, r.text
    assert await place(gateway, uid) == ("idp", [])
    moved = await events(gateway, "user.organization_changed", uid)
    assert [(e["data"]["before"] or {}).get("organization") for e in moved] == [None,
                                                                               "Research"]
    assert moved[-1]["data"]["after"]["organization"] == "idp"


async def test_attribute_method_with_any_attribute(gateway, idp):
    await org(gateway, "Fallback", default_roles=["viewer"])
    got = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                      {"method": "attribute", "attribute": f"{ENTERPRISE}:department",
                       "default_organization": "Fallback"})
    assert got["default_organization"] == "Fallback"
    uid = await new_user(gateway, idp, "d@example.com", **{ENTERPRISE: {"department": "R&D"}})
    none = await new_user(gateway, idp, "n@example.com")
    assert await place(gateway, uid) == ("R&D", [])
    assert await place(gateway, none) == ("Fallback", ["viewer"])
    addresses = {"addresses": [{"type": "home", "region": "Bavaria"},
                               {"type": "work", "region": "Ontario", "primary": True}]}
    for n, path in enumerate(("addresses[primary eq true].region",
                              "addresses.^[primary==true].region")):
        got = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                          {"method": "attribute", "attribute": path})
        assert got["attribute"] == "addresses[primary eq true].region"
        rid = await new_user(gateway, idp, f"r{n}@example.com", **addresses)
        assert (await place(gateway, rid))[0] == "Ontario"
    for bad in ("nosuch", "addresses", "addresses[primary eq].region", "", 5):
        await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                    {"method": "attribute", "attribute": bad}, 400)
    assert (await gateway.admin_json("GET", f"/providers/{idp.id}/org-mapping"))["attribute"] \
        == "addresses[primary eq true].region"


async def test_attribute_method_with_a_custom_attribute_entra_sends(gateway, idp):
    """Entra's custom extension attribute (Microsoft Learn, "Customize user provisioning
    attribute-mappings": urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User
    :CustomAttribute), declared for the provider, places users by its value."""
    ext = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
    path = f"{ext}:businessUnit"
    mapping = {"method": "attribute", "attribute": path}
    refused = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", mapping, 400)
    assert path in refused["detail"]  # undeclared: nothing to read it by yet
    await gateway.admin_json("POST", f"/providers/{idp.id}/custom-attributes",
                {"schema": ext, "name": "businessUnit"}, 201)
    got = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", mapping)
    assert got["attribute"] == path
    uid = await new_user(gateway, idp, "bu@example.com", **{ext: {"businessUnit": "Retail"}})
    assert await place(gateway, uid) == ("Retail", [])
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": path, "value": "Wholesale"}]})
    assert r.status_code == 200, r.text
    assert await place(gateway, uid) == ("Wholesale", [])
    # Another provider has no such attribute: its mapping cannot name it.
    other = await gateway.provider("other")
    await gateway.admin_json("PUT", f"/providers/{other.id}/org-mapping", mapping, 400)


# scim_groups ----------------------------------------------------------------------------

async def test_scim_groups_priority_and_moving_between_groups(gateway, idp):
    await org(gateway, "Engineering", default_roles=["editor"])
    await org(gateway, "Operations", default_roles=["viewer"])
    uid = await new_user(gateway, idp, "a@example.com")
    eng = await new_group(gateway, idp, "eng", (uid,))
    ops = await new_group(gateway, idp, "ops")
    body = {"method": "scim_groups", "groups": [
        {"group": eng, "organization": "Engineering", "priority": 10},
        {"group": ops, "organization": "Operations", "priority": 20}]}
    for broken in (
        [{"group": "missing", "organization": "Engineering", "priority": 1}],
        [{"group": eng, "organization": "Missing", "priority": 1}],
        [{"group": eng, "organization": "Engineering", "priority": 1},
         {"group": ops, "organization": "Operations", "priority": 1}],
        [{"group": eng, "organization": "Engineering", "priority": "high"}],
        [{"group": eng, "organization": "Engineering", "priority": 1},
         {"group": eng, "organization": "Operations", "priority": 2}],
    ):
        await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                    {"method": "scim_groups", "groups": broken}, 400)
    got = await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", body)
    assert [(g["display"], g["organization"], g["priority"]) for g in got["groups"]] == [
        ("ops", "Operations", 20), ("eng", "Engineering", 10)]
    await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert await place(gateway, uid) == ("Engineering", ["editor"])
    await members(gateway, idp, ops, "add", uid)  # in both: the higher priority wins
    assert await place(gateway, uid) == ("Operations", ["viewer"])
    await members(gateway, idp, ops, "remove", uid)
    assert await place(gateway, uid) == ("Engineering", ["editor"])
    await members(gateway, idp, eng, "remove", uid)
    assert await place(gateway, uid) == ("idp", [])
    # Replacing a group's members with PUT moves them too.
    r = await gateway.scim(idp, "PUT", f"/Groups/{ops}", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ops",
        "members": [{"value": uid}]})
    assert r.status_code == 200, r.text
    assert await place(gateway, uid) == ("Operations", ["viewer"])
    # Renaming a mapped group keeps its mapping (groups are mapped by id).
    r = await gateway.scim(idp, "PATCH", f"/Groups/{ops}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "operations"}]})
    assert r.status_code in (200, 204), r.text
    assert await place(gateway, uid) == ("Operations", ["viewer"])
    got = await gateway.admin_json("GET", f"/providers/{idp.id}/org-mapping")
    assert got["groups"][0]["display"] == "operations"


async def test_group_of_another_provider_cannot_be_mapped(gateway, idp):
    other = await gateway.provider("other")
    theirs = await new_group(gateway, other, "theirs")
    await org(gateway, "Acme")
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", {
        "method": "scim_groups",
        "groups": [{"group": theirs, "organization": "Acme", "priority": 1}]}, 400)
    await gateway.admin_json("PUT", f"/providers/{idp.id}/role-mapping",
                {"mappings": [{"group": theirs, "roles": ["viewer"]}]}, 400)


# Roles ----------------------------------------------------------------------------------

async def test_role_mapping_rules_and_unmapped_groups(gateway, idp):
    status = await gateway.admin_json("GET", f"/providers/{idp.id}/role-mapping")
    assert status["status"] == "No SCIM groups exist yet" and status["mappings"] == []
    await org(gateway, "Acme", default_roles=["member"])
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                {"method": "single", "organization": "Acme"})
    uid = await new_user(gateway, idp, "a@example.com")
    writers = await new_group(gateway, idp, "writers", (uid,))
    payers = await new_group(gateway, idp, "payers")
    await new_group(gateway, idp, "lurkers")
    status = await gateway.admin_json("GET", f"/providers/{idp.id}/role-mapping")
    assert status["status"] == "3 of 3 SCIM groups are not mapped"
    assert sorted(g["displayName"] for g in status["unmapped_groups"]) == [
        "lurkers", "payers", "writers"]
    for broken in ({"mappings": [{"group": writers, "roles": ["root"]}]},
                   {"mappings": [{"group": writers, "roles": []}]},
                   {"mappings": [{"group": "missing", "roles": ["viewer"]}]},
                   {"mappings": {"group": writers}},
                   {"groups": []}):
        await gateway.admin_json("PUT", f"/providers/{idp.id}/role-mapping", broken, 400)
    got = await gateway.admin_json("PUT", f"/providers/{idp.id}/role-mapping", {"mappings": [
        {"group": writers, "roles": ["editor", "viewer"]},
        {"group": payers, "roles": ["billing", "viewer"]}]})
    assert got["status"] == "1 of 3 SCIM groups are not mapped"
    assert [g["displayName"] for g in got["unmapped_groups"]] == ["lurkers"]
    assert {m["display"]: m["roles"] for m in got["mappings"]} == {
        "writers": ["editor", "viewer"], "payers": ["billing", "viewer"]}
    assert await place(gateway, uid) == ("Acme", ["member"])  # until applied
    await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert await place(gateway, uid) == ("Acme", ["editor", "viewer"])
    await members(gateway, idp, payers, "add", uid)  # the union of its groups' roles
    assert await place(gateway, uid) == ("Acme", ["billing", "editor", "viewer"])
    await members(gateway, idp, writers, "remove", uid)
    assert await place(gateway, uid) == ("Acme", ["billing", "viewer"])
    await members(gateway, idp, payers, "remove", uid)  # no mapped group: org defaults
    assert await place(gateway, uid) == ("Acme", ["member"])
    page = await gateway.admin_json("GET",
                       f"/providers/{idp.id}/role-mapping/unmapped-groups?limit=5")
    assert [g["displayName"] for g in page["items"]] == ["lurkers"]
    lurkers = page["items"][0]["id"]
    await gateway.admin_json("PUT", f"/providers/{idp.id}/role-mapping", {"mappings": [
        {"group": g, "roles": ["viewer"]} for g in (writers, payers, lurkers)]})
    done = await gateway.admin_json("GET", f"/providers/{idp.id}/role-mapping")
    assert done["status"] == "All SCIM groups are mapped" and done["unmapped_groups"] == []
    changes = await events(gateway, "user.roles_changed", uid)
    assert changes[-1]["data"]["before"] == {"roles": ["billing", "viewer"]}
    assert changes[-1]["data"]["after"] == {"roles": ["member"]}


async def test_mapped_group_deleted(gateway, idp):
    await org(gateway, "Engineering", default_roles=["editor"])
    await org(gateway, "Finance", default_roles=["billing"])
    uid = await new_user(gateway, idp, "a@example.com")
    eng = await new_group(gateway, idp, "eng", (uid,))
    fin = await new_group(gateway, idp, "fin", (uid,))
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping", {
        "method": "scim_groups", "groups": [
            {"group": eng, "organization": "Engineering", "priority": 1},
            {"group": fin, "organization": "Finance", "priority": 2}]})
    await gateway.admin_json("PUT", f"/providers/{idp.id}/role-mapping", {"mappings": [
        {"group": fin, "roles": ["billing", "viewer"]}]})
    await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    assert await place(gateway, uid) == ("Finance", ["billing", "viewer"])
    r = await gateway.scim(idp, "DELETE", f"/Groups/{fin}")
    assert r.status_code == 204
    assert await place(gateway, uid) == ("Engineering", ["editor"])
    mapping = await gateway.admin_json("GET", f"/providers/{idp.id}/org-mapping")
    assert [g["group"] for g in mapping["groups"]] == [eng]
    roles = await gateway.admin_json("GET", f"/providers/{idp.id}/role-mapping")
    assert roles["mappings"] == [] and roles["status"] == "1 of 1 SCIM groups are not mapped"
    log = await gateway.admin_json("GET", f"/sync-log?user={fin}")
    assert "map" in [e["operation"] for e in log["items"]]
    r = await gateway.scim(idp, "DELETE", f"/Groups/{eng}")
    assert await place(gateway, uid) == ("idp", [])


async def test_changes_are_logged_with_before_and_after(gateway, idp):
    await org(gateway, "Acme", default_roles=["member"])
    uid = await new_user(gateway, idp, "a@example.com")
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                {"method": "single", "organization": "Acme"})
    await gateway.admin_json("POST", f"/providers/{idp.id}/apply-mappings")
    moved = (await events(gateway, "user.organization_changed", uid))[-1]
    assert moved["provider"] == idp.id
    assert moved["data"]["before"]["organization"] == "idp"
    assert moved["data"]["after"]["organization"] == "Acme"
    granted = (await events(gateway, "user.roles_changed", uid))[-1]
    assert granted["data"]["before"] == {"roles": []}
    assert granted["data"]["after"] == {"roles": ["member"]}
    log = (await gateway.admin_json("GET", f"/sync-log?user={uid}&operation=map"))["items"]
    assert [(e["actor"], e["reason"]) for e in log[:2]] == [
        ("org_mapping", "apply_mappings"), ("org_mapping", "apply_mappings")]
    assert {"organization": "Acme"}.items() <= next(
        e for e in log if e["after"].get("organization"))["after"].items()
    # A rename shows in the user view at once; it is not a move.
    acme = (await gateway.admin_json("GET", "/organizations"))["items"][0]
    await gateway.admin_json("PATCH", f"/organizations/{acme['id']}", {"name": "Acme Corp"})
    assert await place(gateway, uid) == ("Acme Corp", ["member"])
    assert len(await events(gateway, "user.organization_changed", uid)) == 2


async def test_changes_that_place_nobody_differently_record_nothing(gateway, idp):
    await org(gateway, "Acme", default_roles=["member"])
    await gateway.admin_json("PUT", f"/providers/{idp.id}/org-mapping",
                {"method": "single", "organization": "Acme"})
    log = await gateway.admin_json("GET", f"/sync-log?provider={idp.id}&operation=update")
    mapped = next(e for e in log["items"] if e["resource_type"] == "Provider")
    assert mapped["before"]["method"] is None and mapped["after"]["method"] == "single"
    uid = await new_user(gateway, idp, "a@example.com")
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]})
    assert r.status_code == 200, r.text
    unmapped = await new_group(gateway, idp, "unmapped")
    await members(gateway, idp, unmapped, "add", uid)
    assert len(await events(gateway, "user.organization_changed", uid)) == 1
    assert len(await events(gateway, "user.roles_changed", uid)) == 1
    assert await place(gateway, uid) == ("Acme", ["member"])

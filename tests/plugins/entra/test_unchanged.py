"""Entra PATCHes what its mapping says a user should have, even when the user has it already
(a provisioning cycle after a change elsewhere, "restart provisioning"): a PATCH that
replaces values with the same values writes a sync-log entry `unchanged` and nothing else;
so does a group PATCH that adds a member the group has."""

from __future__ import annotations

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
async def entra(database):
    async with running(database, enabled=["entra"]) as gw:
        yield gw, await gw.provider("entra", plugin="entra")


async def test_a_patch_of_the_same_values_is_logged_unchanged(entra):
    gw, p = entra
    created = await gw.scim(p, "POST", "/Users", {
        "schemas": [CORE, ENTERPRISE], "externalId": "0a21f0f2",
        "userName": "adele.vance@contoso.example", "active": True, "title": "Retail Manager",
        "emails": [{"primary": True, "type": "work", "value": "adele.vance@contoso.example"}],
        "name": {"familyName": "Vance", "givenName": "Adele"},
        ENTERPRISE: {"department": "Retail"}})
    assert created.status_code == 201, created.text
    uid, tag = created.json()["id"], created.headers["etag"]
    group = await gw.scim(p, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0", "displayName": "Retail", "members": [{"value": uid}]})
    gid = group.json()["id"]
    gw.clock.advance(minutes=40)  # the next provisioning cycle

    # Entra's default dialect: capitalised ops, "True" for a boolean.
    same = await gw.scim(p, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "title", "value": "Retail Manager"},
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": 'emails[type eq "work"].value',
         "value": "adele.vance@contoso.example"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Retail"}]})
    assert same.status_code == 200, same.text
    assert same.headers["etag"] == tag
    assert same.json()["meta"]["lastModified"] == created.json()["meta"]["lastModified"]
    member = await gw.scim(p, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": uid}]}]})
    assert member.status_code == 204, member.text

    log = (await gw.admin_api("GET", "/sync-log")).json()["items"]
    assert [(e["resource_id"], e["operation"], e["outcome"]) for e in log[:2]] == [
        (gid, "patch", "unchanged"), (uid, "patch", "unchanged")]
    assert log[1]["after"]["Operations"][1] == {"op": "Replace", "path": "active",
                                                "value": "True"}  # as Entra sent it
    events = (await gw.admin_api("GET", "/events")).json()["items"]
    assert [e["type"] for e in events] == ["user.created", "group.created"]

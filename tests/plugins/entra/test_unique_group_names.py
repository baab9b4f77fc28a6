"""Microsoft's SCIM tutorial: "Groups must have uniqueness on the displayName value to match
with Microsoft Entra ID"; Entra looks a group up with `displayName eq` and fails the update
with MultipleEntries when two come back. Entra providers refuse a second group of a name,
ignoring case, unless their admin turns the rule off; other providers do not, unless their
admin turns it on. Requests in Entra's shapes (the tutorial's group create and rename)."""

from __future__ import annotations

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_group(name: str, external_id: str) -> dict:
    """The tutorial's Create Group request."""
    return {"schemas": [GROUP, ADSCIM], "externalId": external_id, "displayName": name,
            "meta": {"resourceType": "Group"}}


def entra_rename(name: str) -> dict:
    """The tutorial's Update Group [Non-member attributes] request."""
    return {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "displayName", "value": name}]}


async def lookup(gw, provider, name: str) -> dict:
    """What Entra asks before it creates or updates a group it has not matched yet."""
    r = await gw.scim(provider, "GET", "/Groups", params={
        "excludedAttributes": "members", "filter": f'displayName eq "{name}"'})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
async def gateway(database):
    async with running(database, enabled=["entra", "okta"]) as gw:
        yield gw


async def test_an_entra_provider_keeps_group_names_unique(gateway):
    entra = await gateway.provider("entra", plugin="entra")
    first = await gateway.scim(entra, "POST", "/Groups",
                               entra_group("Sales West", "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"))
    assert first.status_code == 201, first.text
    second = await gateway.scim(entra, "POST", "/Groups",
                                entra_group("sales west", "5d48a0a8-e3b6-4f5d-9b1e-0c2d8a9f1e22"))
    assert second.status_code == 409, second.text
    error = second.json()
    assert error["scimType"] == "uniqueness"
    assert f"group 'Sales West' (id {first.json()['id']})" in error["detail"]
    assert (await lookup(gateway, entra, "Sales West"))["totalResults"] == 1
    view = (await gateway.admin_api("GET", f"/providers/{entra.id}")).json()
    assert view["unique_group_names"] is True and "unique_group_names" not in view["settings"]

    other = await gateway.scim(entra, "POST", "/Groups",
                               entra_group("Sales East", "0c9b6c61-2f43-4a8f-a3a4-0a9f2b1e7d10"))
    gid = other.json()["id"]
    renamed = await gateway.scim(entra, "PATCH", f"/Groups/{gid}", entra_rename("SALES WEST"))
    assert renamed.status_code == 409 and renamed.json()["scimType"] == "uniqueness"
    assert (await gateway.scim(entra, "GET", f"/Groups/{gid}")).json()["displayName"] == \
        "Sales East"
    assert (await gateway.scim(entra, "PATCH", f"/Groups/{gid}",
                               entra_rename("Sales North"))).status_code == 204

    # Turned off by the admin: Entra's group may share a name again.
    off = await gateway.admin_api("PATCH", f"/providers/{entra.id}",
                                  {"unique_group_names": False})
    assert off.json()["unique_group_names"] is False
    again = await gateway.scim(entra, "POST", "/Groups",
                               entra_group("sales west", "5d48a0a8-e3b6-4f5d-9b1e-0c2d8a9f1e22"))
    assert again.status_code == 201, again.text


async def test_other_providers_keep_duplicate_names_unless_their_admin_asks(gateway):
    okta = await gateway.provider("okta", auth="basic", plugin="okta")
    plain = await gateway.provider("plain")
    for provider in (okta, plain):
        view = (await gateway.admin_api("GET", f"/providers/{provider.id}")).json()
        assert view["unique_group_names"] is False
        for name in ("Engineering", "engineering"):
            r = await gateway.scim(provider, "POST", "/Groups",
                                   {"schemas": [GROUP], "displayName": name})
            assert r.status_code == 201, r.text


async def test_existing_duplicates_are_listed_when_a_provider_becomes_entra(gateway):
    """An Entra provider whose groups share names from before the rule (an upgrade, or a
    provider switched to the entra plugin): nothing fails; its page lists them."""
    p = await gateway.provider("directory")
    ids = []
    for name in ("Sales West", "SALES WEST"):
        r = await gateway.scim(p, "POST", "/Groups", {"schemas": [GROUP], "displayName": name})
        ids.append(r.json()["id"])
    switched = await gateway.admin_api("PATCH", f"/providers/{p.id}", {"plugin": "entra"})
    assert switched.status_code == 200 and switched.json()["unique_group_names"] is True
    view = (await gateway.admin_api("GET", f"/providers/{p.id}")).json()
    assert view["duplicate_group_names"] == [{"name": "Sales West", "count": 2, "groups": [
        {"id": ids[0], "displayName": "Sales West"},
        {"id": ids[1], "displayName": "SALES WEST"}]}]
    # Entra's updates of either go on; a third of that name is refused.
    for gid in ids:
        r = await gateway.scim(p, "PATCH", f"/Groups/{gid}", {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "externalId", "value": f"new-{gid}"}]})
        assert r.status_code == 204, r.text
    third = await gateway.scim(p, "POST", "/Groups", entra_group("sales west", "e3"))
    assert third.status_code == 409

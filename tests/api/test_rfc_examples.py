"""Every filter example of RFC 7644 3.4.2.2 and every PATCH example of 3.5.2, over HTTP
against the real app (real SQLite file), each a test of its own."""

from datetime import UTC, datetime

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

# Created one second apart around the RFC's 2011-05-13T04:42:34Z: omalley before, bjensen
# exactly then, jill and jdoe after.
PEOPLE = {
    "omalley": {"userName": "JOMalley", "name": {"familyName": "O'Malley"},
                "userType": "Intern", "emails": [{"value": "jom@example.org", "type": "work"}]},
    "bjensen": {"userName": "bjensen", "name": {"familyName": "Jensen", "givenName": "Barbara"},
                "title": "Tour Guide", "userType": "Employee",
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                           {"value": "babs@jensen.org", "type": "home"}],
                "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
                ENTERPRISE: {"department": "Tour Operations"}},
    "jill": {"userName": "Jill", "title": "Boss", "userType": "Employee",
             "emails": [{"value": "jill@other.net", "type": "work"},
                        {"value": "jill@example.com", "type": "home"}],
             "ims": [{"value": "jill@bar.com", "type": "xmpp"}]},
    "jdoe": {"userName": "jdoe", "userType": "Contractor",
             "emails": [{"value": "j@nowhere.net", "type": "other"}]},
}

FILTER_EXAMPLES = {
    'userName eq "bjensen"': {"bjensen"},
    'name.familyName co "O\'Malley"': {"omalley"},
    'userName sw "J"': {"omalley", "jill", "jdoe"},
    f'{USER}:userName sw "J"': {"omalley", "jill", "jdoe"},
    "title pr": {"bjensen", "jill"},
    'meta.lastModified gt "2011-05-13T04:42:34Z"': {"jill", "jdoe"},
    'meta.lastModified ge "2011-05-13T04:42:34Z"': {"bjensen", "jill", "jdoe"},
    'meta.lastModified lt "2011-05-13T04:42:34Z"': {"omalley"},
    'meta.lastModified le "2011-05-13T04:42:34Z"': {"omalley", "bjensen"},
    'title pr and userType eq "Employee"': {"bjensen", "jill"},
    'title pr or userType eq "Intern"': {"bjensen", "jill", "omalley"},
    f'schemas eq "{ENTERPRISE}"': {"bjensen"},
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")':
        {"bjensen", "jill"},
    'userType ne "Employee" and not (emails co "example.com" or '
    'emails.value co "example.org")': {"jdoe"},
    'userType eq "Employee" and (emails.type eq "work")': {"bjensen", "jill"},
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]':
        {"bjensen"},
    'emails[type eq "work" and value co "@example.com"] or '
    'ims[type eq "xmpp" and value co "@foo.com"]': {"bjensen"},
}


@pytest.fixture
async def directory(database):
    from gateway.clock import FakeClock

    clock = FakeClock(datetime(2011, 5, 13, 4, 42, 33, tzinfo=UTC))
    async with running(database, clock=clock) as gateway:
        idp = await gateway.provider("idp")
        ids = {}
        for key, data in PEOPLE.items():
            r = await gateway.scim(idp, "POST", "/Users", {"schemas": [USER], **data})
            assert r.status_code == 201, r.text
            ids[r.json()["id"]] = key
            clock.advance(seconds=1)
        yield gateway, idp, ids


@pytest.mark.parametrize("text", list(FILTER_EXAMPLES))
async def test_filter_example(directory, text):
    gateway, idp, ids = directory
    expected = FILTER_EXAMPLES[text]
    got = (await gateway.scim(idp, "GET", "/Users", params={"filter": text})).json()
    assert {ids[u["id"]] for u in got["Resources"]} == expected
    assert got["totalResults"] == len(expected)
    searched = (await gateway.scim(idp, "POST", "/Users/.search",
                                   {"schemas": [SEARCH], "filter": text})).json()
    assert {ids[u["id"]] for u in searched["Resources"]} == expected
    at_root = (await gateway.scim(idp, "POST", "/.search",
                                  {"schemas": [SEARCH], "filter": text})).json()
    assert {ids[u["id"]] for u in at_root["Resources"]} == expected


# ---------------------------------------------------------------------------------------------
# PATCH (RFC 7644 3.5.2)


def patch(*operations) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def make_user(gateway, idp, name: str, **extra) -> dict:
    r = await gateway.scim(idp, "POST", "/Users", {"schemas": [USER], "userName": name, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def make_group(gateway, idp, *member_ids: str) -> dict:
    r = await gateway.scim(idp, "POST", "/Groups", {
        "schemas": [GROUP], "displayName": "Tour Guides",
        "members": [{"value": m} for m in member_ids]})
    assert r.status_code == 201, r.text
    return r.json()


async def members(gateway, idp, group_id: str) -> list[str]:
    body = (await gateway.scim(idp, "GET", f"/Groups/{group_id}")).json()
    return sorted(m["value"] for m in body.get("members", []))


async def test_add_member_to_group(gateway, idp):
    babs = await make_user(gateway, idp, "bjensen")
    g = await make_group(gateway, idp)
    r = await gateway.scim(idp, "PATCH", f"/Groups/{g['id']}", patch(
        {"op": "add", "path": "members", "value": [{
            "display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{babs['id']}",
            "value": babs["id"]}]}))
    assert r.status_code == 204, r.text
    assert r.headers["etag"] != g["meta"]["version"]
    assert await members(gateway, idp, g["id"]) == [babs["id"]]


async def test_add_without_path(gateway, idp):
    babs = await make_user(gateway, idp, "bjensen", emails=[
        {"value": "bjensen@example.com", "type": "work"}])
    r = await gateway.scim(idp, "PATCH", f"/Users/{babs['id']}", patch(
        {"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}],
                                "nickname": "Babs"}}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["nickName"] == "Babs"  # attribute names are case-insensitive
    assert [e["value"] for e in body["emails"]] == ["bjensen@example.com", "babs@jensen.org"]


async def test_remove_all_members(gateway, idp):
    a, b = await make_user(gateway, idp, "a"), await make_user(gateway, idp, "b")
    g = await make_group(gateway, idp, a["id"], b["id"])
    r = await gateway.scim(idp, "PATCH", f"/Groups/{g['id']}",
                           patch({"op": "remove", "path": "members"}))
    assert r.status_code == 204, r.text
    assert await members(gateway, idp, g["id"]) == []


async def test_remove_one_member(gateway, idp):
    a, b = await make_user(gateway, idp, "a"), await make_user(gateway, idp, "b")
    g = await make_group(gateway, idp, a["id"], b["id"])
    r = await gateway.scim(idp, "PATCH", f"/Groups/{g['id']}", patch(
        {"op": "remove", "path": f'members[value eq "{a["id"]}"]'}))
    assert r.status_code == 204, r.text
    assert await members(gateway, idp, g["id"]) == [b["id"]]


async def test_remove_complex_values_by_filter(gateway, idp):
    u = await make_user(gateway, idp, "bjensen", emails=[
        {"value": "bjensen@example.com", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"}])
    r = await gateway.scim(idp, "PATCH", f"/Users/{u['id']}", patch(
        {"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}))
    assert r.status_code == 200, r.text
    assert r.json()["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


async def test_remove_then_add_replaces_all_members(gateway, idp):
    a, b, c = [await make_user(gateway, idp, n) for n in ("a", "b", "c")]
    g = await make_group(gateway, idp, a["id"])
    r = await gateway.scim(idp, "PATCH", f"/Groups/{g['id']}", patch(
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [
            {"display": "B", "$ref": f"https://example.com/v2/Users/{b['id']}",
             "value": b["id"]},
            {"display": "C", "$ref": f"https://example.com/v2/Users/{c['id']}",
             "value": c["id"]}]}))
    assert r.status_code == 204, r.text
    assert await members(gateway, idp, g["id"]) == sorted([b["id"], c["id"]])


async def test_replace_members(gateway, idp):
    a, b, c = [await make_user(gateway, idp, n) for n in ("a", "b", "c")]
    g = await make_group(gateway, idp, a["id"], b["id"])
    r = await gateway.scim(idp, "PATCH", f"/Groups/{g['id']}", patch(
        {"op": "replace", "path": "members", "value": [
            {"display": "C", "$ref": f"https://example.com/v2/Users/{c['id']}",
             "value": c["id"]}]}))
    assert r.status_code == 204, r.text
    assert await members(gateway, idp, g["id"]) == [c["id"]]


WORK = {"type": "work", "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US"}


async def test_replace_value_selected_by_filter(gateway, idp):
    u = await make_user(gateway, idp, "bjensen", addresses=[
        {"type": "work", "streetAddress": "100 Old St", "locality": "Nowhere"},
        {"type": "home", "streetAddress": "1 Home Rd"}])
    r = await gateway.scim(idp, "PATCH", f"/Users/{u['id']}", patch(
        {"op": "replace", "path": 'addresses[type eq "work"]',
         "value": {**WORK, "primary": True}}))
    assert r.status_code == 200, r.text
    work, home = r.json()["addresses"]
    assert work["streetAddress"] == "911 Universal City Plaza" and work["primary"] is True
    assert work["postalCode"] == "91608" and home["streetAddress"] == "1 Home Rd"


async def test_replace_sub_attribute_of_selected_value(gateway, idp):
    u = await make_user(gateway, idp, "bjensen", addresses=[WORK, {"type": "home",
                                                                   "locality": "Elsewhere"}])
    r = await gateway.scim(idp, "PATCH", f"/Users/{u['id']}", patch(
        {"op": "replace", "path": 'addresses[type eq "work"].streetAddress',
         "value": "1010 Broadway Ave"}))
    assert r.status_code == 200, r.text
    work, home = r.json()["addresses"]
    assert work == {**WORK, "streetAddress": "1010 Broadway Ave"}
    assert home == {"type": "home", "locality": "Elsewhere"}


async def test_replace_without_path(gateway, idp):
    u = await make_user(gateway, idp, "bjensen", nickName="B", emails=[
        {"value": "old@example.com", "type": "work"}])
    r = await gateway.scim(idp, "PATCH", f"/Users/{u['id']}", patch(
        {"op": "replace", "value": {
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                       {"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"}}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["nickName"] == "Babs"
    assert body["emails"] == [{"value": "bjensen@example.com", "type": "work", "primary": True},
                              {"value": "babs@jensen.org", "type": "home"}]


@pytest.mark.parametrize("op,scim_type", [
    ({"op": "remove"}, "noTarget"),
    ({"op": "replace", "path": 'emails[type eq "pager"]', "value": {"value": "x"}}, "noTarget"),
    ({"op": "add", "path": "nosuch", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "id", "value": "other"}, "mutability"),
    ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, "mutability"),
    ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
])
async def test_patch_errors_change_nothing(gateway, idp, op, scim_type):
    u = await make_user(gateway, idp, "bjensen", emails=[{"value": "b@x.org", "type": "work"}])
    r = await gateway.scim(idp, "PATCH", f"/Users/{u['id']}", patch(
        {"op": "replace", "path": "title", "value": "changed first"}, op))
    assert r.status_code == 400, r.text
    assert r.json()["scimType"] == scim_type
    after = (await gateway.scim(idp, "GET", f"/Users/{u['id']}")).json()
    assert "title" not in after  # the whole request is atomic
    assert after["meta"]["version"] == u["meta"]["version"]

"""Users over SCIM through the real app: create, read, update, list, filter, delete."""

import uuid

import anyio
import pytest

from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio


async def test_create_read_and_meta(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Users", user_body())
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    user = r.json()
    assert r.headers["location"] == user["meta"]["location"]
    assert user["meta"]["location"].endswith(f"/scim/v2/{idp.id}/Users/{user['id']}")
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["version"].startswith('W/"')
    assert r.headers["etag"] == user["meta"]["version"]
    got = (await gateway.scim(idp, "GET", f"/Users/{user['id']}")).json()
    assert got["userName"] == "alice@example.com"
    assert got["name"]["familyName"] == "Liddell"


async def test_client_sent_id_and_meta_are_ignored(gateway, idp):
    body = user_body(id="chosen-by-client", meta={"version": 'W/"99"', "created": "2000-01-01"})
    user = (await gateway.scim(idp, "POST", "/Users", body)).json()
    assert user["id"] != "chosen-by-client"
    assert user["meta"]["version"] == 'W/"1"'


async def test_ids_are_uuid7_in_creation_order(gateway, idp):
    """Opaque to clients, but time-ordered: users created later get ids that sort later."""
    ids = []
    for k in range(3):
        r = await gateway.scim(idp, "POST", "/Users", user_body(f"u{k}@example.com"))
        ids.append(r.json()["id"])
        await anyio.sleep(0.002)  # ids made in the same millisecond may sort either way
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    for rid in ids:
        parsed = uuid.UUID(rid)
        assert str(parsed) == rid
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)


async def test_username_unique_case_insensitively(gateway, idp):
    assert (await gateway.scim(idp, "POST", "/Users", user_body())).status_code == 201
    r = await gateway.scim(idp, "POST", "/Users", user_body("ALICE@example.com"))
    assert r.status_code == 409
    assert r.json()["scimType"] == "uniqueness"
    assert r.json()["status"] == "409"
    listed = (await gateway.scim(idp, "GET", "/Users")).json()
    assert listed["totalResults"] == 1


async def test_enterprise_extension_round_trips(gateway, idp):
    ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = user_body(**{ent: {"department": "Retail", "manager": {"value": "m-1"}}})
    body["schemas"].append(ent)
    user = (await gateway.scim(idp, "POST", "/Users", body)).json()
    assert ent in user["schemas"]
    assert user[ent] == {"department": "Retail", "manager": {"value": "m-1"}}


async def test_attribute_names_are_case_insensitive(gateway, idp):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "bob@example.com", "usertype": "Employee",
            "Name": {"GivenName": "Bob"}}
    user = (await gateway.scim(idp, "POST", "/Users", body)).json()
    assert user["userName"] == "bob@example.com"
    assert user["userType"] == "Employee"
    assert user["name"] == {"givenName": "Bob"}


async def test_put_replaces_and_bumps_version(gateway, idp):
    user = (await gateway.scim(idp, "POST", "/Users", user_body(title="Clerk"))).json()
    body = user_body()
    body["displayName"] = "Alice L."
    r = await gateway.scim(idp, "PUT", f"/Users/{user['id']}", body)
    assert r.status_code == 200, r.text
    replaced = r.json()
    assert "title" not in replaced
    assert replaced["displayName"] == "Alice L."
    assert replaced["meta"]["version"] != user["meta"]["version"]
    assert replaced["meta"]["created"] == user["meta"]["created"]


async def test_patch_then_read_back(gateway, idp):
    user = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "name.familyName", "value": "Pleasance"},
                            {"op": "add", "path": "title", "value": "Explorer"}]}
    r = await gateway.scim(idp, "PATCH", f"/Users/{user['id']}", patch)
    assert r.status_code == 200, r.text
    got = (await gateway.scim(idp, "GET", f"/Users/{user['id']}")).json()
    assert got["name"]["familyName"] == "Pleasance"
    assert got["title"] == "Explorer"


async def test_list_filter_and_paging(gateway, idp):
    ids = []
    for n in range(5):
        body = user_body(f"user{n}@example.com", externalId=f"ext-{n}")
        ids.append((await gateway.scim(idp, "POST", "/Users", body)).json()["id"])
        gateway.clock.advance(seconds=1)  # the default order is by creation time
    page = (await gateway.scim(idp, "GET", "/Users?startIndex=2&count=2")).json()
    assert page["totalResults"] == 5
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 2
    assert [u["id"] for u in page["Resources"]] == ids[1:3]
    for query, expected in [
        ('userName eq "USER3@example.com"', [ids[3]]),
        ('externalId eq "ext-1"', [ids[1]]),
        (f'id eq "{ids[4]}"', [ids[4]]),
        ('externalId eq "EXT-1"', []),  # externalId is caseExact
    ]:
        found = (await gateway.scim(idp, "GET", "/Users", params={"filter": query})).json()
        assert [u["id"] for u in found["Resources"]] == expected, query
        assert found["totalResults"] == len(expected)
    empty = (await gateway.scim(idp, "GET", "/Users?count=0")).json()
    assert empty["totalResults"] == 5 and empty["Resources"] == []


async def test_delete_then_404(gateway, idp):
    user = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
    assert (await gateway.scim(idp, "DELETE", f"/Users/{user['id']}")).status_code == 204
    r = await gateway.scim(idp, "GET", f"/Users/{user['id']}")
    assert r.status_code == 404
    assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    listed = (await gateway.scim(idp, "GET", "/Users")).json()
    assert listed["totalResults"] == 0


async def test_stale_if_match_is_refused_and_writes_nothing(gateway, idp):
    user = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
    first = user["meta"]["version"]
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "title", "value": "A"}]}
    ok = await gateway.scim(idp, "PATCH", f"/Users/{user['id']}", patch,
                            headers={"If-Match": first})
    assert ok.status_code == 200
    patch["Operations"][0]["value"] = "B"
    stale = await gateway.scim(idp, "PATCH", f"/Users/{user['id']}", patch,
                               headers={"If-Match": first})
    assert stale.status_code == 412
    got = await gateway.scim(idp, "GET", f"/Users/{user['id']}")
    assert got.json()["title"] == "A"
    not_modified = await gateway.scim(idp, "GET", f"/Users/{user['id']}",
                                      headers={"If-None-Match": got.headers["etag"]})
    assert not_modified.status_code == 304

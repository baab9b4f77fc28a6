"""The `primary` sub-attribute (RFC 7643 section 2.4, RFC 7644 section 3.5.2): at most one
value of a multi-valued attribute is primary. A body that marks two is refused; a PATCH that
makes one primary sets `primary` to false on the one that was."""

import pytest

from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
TWO = {"emails": [{"value": "a@example.com", "type": "work", "primary": True},
                  {"value": "a@home.example", "type": "home", "primary": True}]}


async def test_a_create_with_two_primaries_is_refused(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Users", user_body("a@example.com", **TWO))
    assert r.status_code == 400, r.text
    assert r.json()["scimType"] == "invalidValue"
    assert "emails" in r.json()["detail"] and "primary" in r.json()["detail"]
    listed = (await gateway.scim(idp, "GET", "/Users")).json()
    assert listed["totalResults"] == 0


async def test_a_replace_with_two_primaries_is_refused(gateway, idp):
    created = await gateway.scim(idp, "POST", "/Users", user_body("a@example.com"))
    uid = created.json()["id"]
    body = user_body("a@example.com", addresses=[
        {"type": "work", "country": "US", "primary": True},
        {"type": "home", "country": "NO", "primary": True}])
    r = await gateway.scim(idp, "PUT", f"/Users/{uid}", body)
    assert r.status_code == 400, r.text
    assert r.json()["scimType"] == "invalidValue" and "addresses" in r.json()["detail"]
    got = (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()
    assert "addresses" not in got


async def test_a_bulk_create_with_two_primaries_fails_alone(gateway, idp):
    r = await gateway.scim(idp, "POST", "/Bulk", {"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "a",
         "data": user_body("a@example.com", **TWO)},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("b@example.com")},
    ]})
    assert r.status_code == 200, r.text
    first, second = r.json()["Operations"]
    assert first["status"] == "400" and second["status"] == "201", r.text


async def test_one_primary_and_explicit_false_are_kept(gateway, idp):
    body = user_body("a@example.com", emails=[
        {"value": "a@example.com", "type": "work", "primary": True},
        {"value": "a@home.example", "type": "home", "primary": False}])
    r = await gateway.scim(idp, "POST", "/Users", body)
    assert r.status_code == 201, r.text
    assert r.json()["emails"] == body["emails"]


async def test_a_patch_moving_primary_leaves_false_on_the_old_one(gateway, idp):
    body = user_body("a@example.com", emails=[
        {"value": "a@example.com", "type": "work", "primary": True},
        {"value": "a@home.example", "type": "home"}])
    uid = (await gateway.scim(idp, "POST", "/Users", body)).json()["id"]
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}]})
    assert r.status_code in (200, 204), r.text
    got = (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()
    assert got["emails"] == [
        {"value": "a@example.com", "type": "work", "primary": False},
        {"value": "a@home.example", "type": "home", "primary": True}]

"""Okta's Force Sync pushes every assigned user again, a full PUT each, changed or not
(Okta's SCIM reference: "Update the User" sends the whole user). The admin checks the sync
log for what was pushed: a push that changes nothing is there as `unchanged`, with what Okta
sent (its password scrubbed), and makes no event and no new version."""

from __future__ import annotations

import json

import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def okta_user(**changes) -> dict:
    """The user as Okta sends it on create and on every update (shared okta-users trace)."""
    body = {
        "schemas": [CORE, ENTERPRISE],
        "userName": "isaiah.langer@fabrikam.example",
        "name": {"givenName": "Isaiah", "familyName": "Langer"},
        "emails": [{"primary": True, "value": "isaiah.langer@fabrikam.example",
                    "type": "work"}],
        "displayName": "Isaiah Langer", "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7", "groups": [],
        "password": "t7Qz#1mz050nq", "active": True, "title": "Data Analyst",
        "addresses": [{"primary": True, "locality": "Minneapolis", "region": "MN",
                       "country": "US"}],
        ENTERPRISE: {"department": "Finance", "division": "Corporate"},
    }
    body.update(changes)
    return body


@pytest.fixture
async def okta(database):
    async with running(database, enabled=["okta"]) as gw:
        yield gw, await gw.provider("okta", auth="basic", plugin="okta")


async def test_a_force_sync_of_an_unchanged_user_is_in_the_sync_log(okta):
    gw, p = okta
    created = await gw.scim(p, "POST", "/Users", okta_user())
    assert created.status_code == 201, created.text
    uid, tag = created.json()["id"], created.headers["etag"]
    modified = created.json()["meta"]["lastModified"]
    gw.clock.advance(hours=1)

    # Force Sync: the same user, with its id and Okta's meta.
    pushed = await gw.scim(p, "PUT", f"/Users/{uid}",
                           okta_user(id=uid, meta={"resourceType": "User"}))
    assert pushed.status_code == 200, pushed.text
    assert pushed.headers["etag"] == tag
    assert pushed.json()["meta"]["lastModified"] == modified
    assert pushed.json()["title"] == "Data Analyst"

    log = (await gw.admin_api("GET", "/sync-log", params={"user": uid})).json()["items"]
    assert [(e["operation"], e["outcome"], e["method"]) for e in log] == [
        ("replace", "unchanged", "PUT"), ("create", "success", "POST")]
    assert log[0]["after"]["title"] == "Data Analyst"
    assert log[0]["after"][ENTERPRISE] == {"department": "Finance", "division": "Corporate"}
    assert "t7Qz" not in json.dumps(log)  # scrubbed like every entry
    events = (await gw.admin_api("GET", "/events")).json()["items"]
    assert [e["type"] for e in events] == ["user.created"]

    # The next Force Sync carries a change made in Okta: a change like any other.
    changed = await gw.scim(p, "PUT", f"/Users/{uid}", okta_user(id=uid, title="Lead Analyst"))
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    events = (await gw.admin_api("GET", "/events")).json()["items"]
    assert [e["type"] for e in events] == ["user.created", "user.updated"]
    changes = (await gw.admin_api("GET", "/sync-log", params={
        "user": uid, "outcome": "success,error"})).json()["items"]
    assert [(e["operation"], e["after"]["title"]) for e in changes] == [
        ("replace", "Lead Analyst"), ("create", "Data Analyst")]

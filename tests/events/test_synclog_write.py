"""Every core event type is emitted where it should be, in the contract's shape, and the pull
feed walks them in order without missing or repeating one."""

from __future__ import annotations

import pytest

from gateway.accounts import scheduler
from gateway.events.webhooks import CORE_EVENT_TYPES
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTRACT = {"seq", "type", "provider", "occurred_at", "data"}
DOCUMENTED_EXTRA = {"resource_type", "resource_id", "traceparent"}


def patch(*ops: dict) -> dict:
    return {"schemas": [PATCH], "Operations": list(ops)}


async def walk(gateway, limit: int) -> list[dict]:
    """A consumer that keeps the last seq it saw."""
    seen, after = [], 0
    for _ in range(100):
        page = (await gateway.client.get("/admin/v1/events", params={"after": after,
                                                                     "limit": limit},
                                         headers=gateway.admin)).json()
        if not page["items"]:
            return seen
        seen += page["items"]
        after = int(page["next_cursor"])
    raise AssertionError("the feed did not end")


async def test_every_core_event_type_in_the_feed(gateway, idp):
    scim = gateway.scim
    alice = (await scim(idp, "POST", "/Users", user_body())).json()
    uid = alice["id"]
    await scim(idp, "PATCH", f"/Users/{uid}", patch({"op": "replace", "path": "title",
                                                     "value": "Boss"}))
    off = patch({"op": "replace", "path": "active", "value": False})
    on = patch({"op": "replace", "path": "active", "value": True})
    await scim(idp, "PATCH", f"/Users/{uid}", off)  # scheduled (15m default delay)
    await scim(idp, "PATCH", f"/Users/{uid}", on)  # cancelled
    await scim(idp, "PATCH", f"/Users/{uid}", off)
    gateway.clock.advance(minutes=16)
    assert await scheduler.run_due(gateway.gw) == 1  # deactivated
    await scim(idp, "PATCH", f"/Users/{uid}", on)  # reactivated
    await gateway.client.post(f"/admin/v1/users/{uid}/block", headers=gateway.admin)
    await gateway.client.post(f"/admin/v1/users/{uid}/unblock", headers=gateway.admin)
    bob = (await scim(idp, "POST", "/Users", user_body("bob@example.com"))).json()
    group = (await scim(idp, "POST", "/Groups", {"displayName": "Staff",
                                                  "members": [{"value": uid}]})).json()
    gid = group["id"]
    await scim(idp, "PATCH", f"/Groups/{gid}", patch(
        {"op": "replace", "path": "displayName", "value": "All staff"}))
    await scim(idp, "PATCH", f"/Groups/{gid}", patch(
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]}))
    await scim(idp, "PATCH", f"/Groups/{gid}", patch(
        {"op": "remove", "path": f'members[value eq "{uid}"]'}))
    await scim(idp, "DELETE", f"/Groups/{gid}")
    await scim(idp, "DELETE", f"/Users/{uid}")  # deleted (+ deactivation_scheduled)
    await scim(idp, "POST", "/Users", user_body())  # the same user comes back: restored
    # The deactivation guard: alice's deletion is in the window, so one more trips it.
    guard = f"/admin/v1/providers/{idp.id}/deactivation-guard"
    await gateway.client.patch(guard, json={"threshold": {"users": 1, "percent": 0}},
                               headers=gateway.admin)  # changed
    for name, end in (("carol", "release"), ("erin", "discard")):
        if name == "erin":  # the window starts afresh after a trip: one passes first
            dave = (await scim(idp, "POST", "/Users", user_body("dave@example.com"))).json()
            await scim(idp, "PATCH", f"/Users/{dave['id']}", off)
        user = (await scim(idp, "POST", "/Users", user_body(f"{name}@example.com"))).json()
        await scim(idp, "PATCH", f"/Users/{user['id']}", off)  # tripped
        ended = await gateway.client.post(f"{guard}/{end}", headers=gateway.admin)
        assert ended.status_code == 200, ended.text  # released / discarded

    events = await walk(gateway, limit=4)
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert set(CORE_EVENT_TYPES) <= {e["type"] for e in events}
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], event)
        assert set(event) == CONTRACT | DOCUMENTED_EXTRA
        assert event["provider"] == idp.id  # admin actions name the user's provider too
        assert event["occurred_at"].endswith("Z")
        kind = event["type"].split(".")[0]
        assert event["data"][kind]["id"] == event["resource_id"]

    assert by_type["user.created"]["data"]["user"]["profile"]["email"] == "alice@example.com"
    assert by_type["user.updated"]["data"]["changed"] == ["title"]
    assert by_type["user.deactivation_scheduled"]["data"]["user"]["deactivate_at"] == \
        "2026-01-01T00:15:00.000000Z"
    assert by_type["user.deactivated"]["data"]["reason"] == "deactivation_delay_elapsed"
    assert by_type["user.deactivated"]["data"]["user"]["state"] == "deactivated"
    blocked = {e["data"]["reason"] for e in events if e["type"] == "user.blocked"}
    assert blocked == {"deactivation_pending", "admin_block", "deactivation_held"}
    assert by_type["user.unblocked"]["data"]["user"]["state"] == "active"
    assert by_type["user.restored"]["data"]["user"]["id"] == uid
    assert by_type["group.created"]["data"]["members"] == [uid]
    assert by_type["group.updated"]["data"]["group"]["displayName"] == "All staff"
    assert by_type["group.members_added"]["data"]["members_added"] == [bob["id"]]
    assert by_type["group.members_removed"]["data"]["members_removed"] == [uid]
    assert by_type["group.deleted"]["data"]["group"]["displayName"] == "All staff"
    tripped = by_type["provider.deactivation_guard_tripped"]["data"]
    assert tripped["counts"]["deactivations_in_window"] == 2
    assert by_type["provider.deactivation_guard_released"]["data"]["released"] == 1
    assert by_type["provider.deactivation_guard_discarded"]["data"]["discarded"] == 1


async def test_feed_paging_and_bad_parameters(gateway, idp):
    for n in range(7):
        await gateway.scim(idp, "POST", "/Users", user_body(f"u{n}@example.com"))
    seqs = [e["seq"] for e in await walk(gateway, limit=3)]
    assert seqs == list(range(1, 8))
    tail = (await gateway.client.get("/admin/v1/events", params={"after": 7},
                                     headers=gateway.admin)).json()
    assert tail == {"items": [], "next_cursor": "7"}  # keep polling from the same place
    bad = await gateway.client.get("/admin/v1/events", params={"after": "x"},
                                   headers=gateway.admin)
    assert bad.status_code == 400 and "after" in bad.json()["detail"]


async def test_a_refused_write_emits_no_event(gateway, idp):
    await gateway.scim(idp, "POST", "/Users", user_body())
    dup = await gateway.scim(idp, "POST", "/Users", user_body())
    assert dup.status_code == 409
    events = await walk(gateway, limit=10)
    assert [e["type"] for e in events] == ["user.created"]
    log = (await gateway.client.get("/admin/v1/sync-log", headers=gateway.admin)).json()
    assert [(e["operation"], e["outcome"], e["status"]) for e in log["items"]] == [
        ("create", "error", 409), ("create", "success", None)]
    assert log["items"][0]["request_id"] == dup.headers["X-Request-Id"]

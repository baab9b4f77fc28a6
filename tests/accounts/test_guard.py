"""The mass-deactivation guard over HTTP on both stores: an Entra-shaped burst against a
provider of 5,000 users trips it once, the rest is held, and release / discard each do what
they say; the guard's settings, reactivations during a hold, held deletes, admin actions on
held users, and the sliding window."""

from __future__ import annotations

import asyncio

import pytest
from events.webhook_receiver import LOOPBACK, Receiver

from gateway.accounts import guard, lifecycle, scheduler
from gateway.hookspecs import hookimpl
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SECRET = "webhook-secret-0123456789"
# What Entra sends to disable a user: a Replace of "active" with the string "False".
ENTRA_DISABLE = {"schemas": [PATCH], "Operations": [
    {"op": "Replace", "path": "active", "value": "False"}]}


def active(value) -> dict:
    return {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                 "value": value}]}


async def bulk_users(gateway, idp, count: int, prefix: str = "u") -> list[str]:
    """`count` users through POST /Bulk, 1,000 a request, as an initial sync sends them."""
    ids: list[str] = []
    for start in range(0, count, 1000):
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
                "data": user_body(f"{prefix}{i}@example.com")}
               for i in range(start, min(start + 1000, count))]
        r = await gateway.scim(idp, "POST", "/Bulk", {"schemas": [BULK], "Operations": ops})
        assert r.status_code == 200, r.text
        answers = r.json()["Operations"]
        assert {a["status"] for a in answers} == {"201"}, answers[:3]
        ids += [a["location"].rsplit("/", 1)[1] for a in answers]
    return ids


async def in_parallel(gateway, idp, ids: list[str], body: dict, method: str = "PATCH",
                      width: int = 20) -> list:
    """The requests an IdP sends side by side (Entra runs several at once)."""
    answers = []
    for start in range(0, len(ids), width):
        answers += await asyncio.gather(*[
            gateway.scim(idp, method, f"/Users/{uid}", body if method == "PATCH" else None)
            for uid in ids[start:start + width]])
    return answers


async def feed(gateway) -> list[dict]:
    items, after = [], 0
    while True:
        page = await gateway.admin_json("GET", "/events", params={"after": after, "limit": 1000})
        if not page["items"]:
            return items
        items += page["items"]
        after = int(page["next_cursor"])


async def states(gateway, ids: list[str]) -> dict[str, int]:
    async with gateway.gw.store.read() as conn:
        rows = await conn.fetchall(
            "SELECT state, block_reason, count(*) AS n FROM resources WHERE type = 'User'"
            " GROUP BY state, block_reason")
    return {f"{r['state']}/{r['block_reason']}": r["n"] for r in rows}


async def test_an_entra_burst_trips_once_holds_the_rest_and_release_and_discard(database):
    with Receiver(SECRET) as receiver:
        async with running(database, enabled=["entra"], webhook_poll_interval=0.05,
                           webhook_allow_networks=LOOPBACK) as gateway:
            idp = await gateway.provider("Entra", plugin="entra")
            ids = await bulk_users(gateway, idp, 5000)
            await gateway.admin_json("POST", "/webhooks", {
                "url": receiver.url, "secret": SECRET,
                "events": ["provider.deactivation_guard_tripped"]}, 201)
            path = f"/providers/{idp.id}/deactivation-guard"
            assert await gateway.admin_json("GET", path) == {
                "provider": idp.id, "state": "armed", "held": 0,
                "threshold": {"users": 25, "percent": 10}, "window": "60m",
                "tripped_at": None, "recent": 0, "trips": 0, "last_trip": None}

            # 1,000 disables of 5,000 users: the first 500 (10%) pass, the 501st trips.
            answers = await in_parallel(gateway, idp, ids[:1000], ENTRA_DISABLE)
            assert {a.status_code for a in answers} == {200}
            assert {a.json()["active"] for a in answers} == {False}  # as the IdP expects
            counted = await states(gateway, ids)
            assert counted == {"active/None": 4000,
                               "pending_deactivation/deactivation_pending": 500,
                               "deactivation_held/deactivation_held": 500}
            tripped = await gateway.admin_json("GET", path)
            assert (tripped["state"], tripped["held"], tripped["trips"]) == ("tripped", 500, 1)
            assert tripped["tripped_at"] == "2026-01-01T00:00:00.000000Z"
            assert tripped["last_trip"]["deactivations_in_window"] == 501
            assert tripped["last_trip"]["active_users"] == 5000
            async with gateway.gw.store.read() as conn:
                scheduled = await conn.fetchval("SELECT count(*) FROM lifecycle")
            assert scheduled == 500  # held deactivations are not scheduled
            held = await gateway.admin_json("GET", f"{path}/held", params={"limit": 1000})
            assert len(held["items"]) == 500 and held["next_cursor"] is None
            one = held["items"][0]["user"]
            user = await gateway.admin_json("GET", f"/users/{one}")
            assert (user["state"], user["blocked"], user["block_reason"], user["can_sign_in"]) \
                == ("deactivation_held", True, "deactivation_held", False)
            # The IdP still reads the user as it left it.
            assert (await gateway.scim(idp, "GET", f"/Users/{one}")).json()["active"] is False

            events = await feed(gateway)
            alerts = [e for e in events if e["type"] == "provider.deactivation_guard_tripped"]
            assert len(alerts) == 1
            alert = alerts[0]["data"]
            assert alert["counts"] == {"deactivations_in_window": 501, "active_users": 5000,
                                       "held": 1}
            assert alert["window"] == "60m" and alert["threshold"] == {"users": 25,
                                                                        "percent": 10}
            assert alert["first_held"] == alert["last_held"]
            assert alert["first_held"] in {h["user"] for h in held["items"]}
            assert tripped["last_trip"]["first_held"] == alert["first_held"]
            assert tripped["last_trip"]["last_held"] in {h["user"] for h in held["items"]}
            got = await receiver.wait_for(1)
            assert [e["seq"] for e in got] == [alerts[0]["seq"]]
            log = await gateway.admin_json("GET", "/sync-log",
                              params={"operation": "deactivation_guard_trip"})
            assert len(log["items"]) == 1 and log["items"][0]["reason"] == "mass_deactivation"

            # Release: each held deactivation proceeds with the provider's delay.
            gateway.clock.advance(minutes=5)
            released = await gateway.admin_json("POST", f"{path}/release")
            assert released["released"] == 500 and released["guard"]["state"] == "armed"
            assert released["guard"]["held"] == 0 and released["guard"]["recent"] == 0
            assert await states(gateway, ids) == {
                "active/None": 4000, "pending_deactivation/deactivation_pending": 1000}
            user = await gateway.admin_json("GET", f"/users/{one}")
            assert user["deactivate_at"] == "2026-01-01T00:20:00.000000Z"
            again = await gateway.admin_json("POST", f"{path}/release", status=409)
            assert "not tripped" in again["detail"]

            # A second burst against the 4,000 still active: 10% of them pass, then discard.
            answers = await in_parallel(gateway, idp, ids[1000:1500], ENTRA_DISABLE)
            assert {a.status_code for a in answers} == {200}
            assert await states(gateway, ids) == {
                "active/None": 3500, "pending_deactivation/deactivation_pending": 1400,
                "deactivation_held/deactivation_held": 100}
            assert (await gateway.admin_json("GET", path))["trips"] == 2
            held = await gateway.admin_json("GET", f"{path}/held", params={"limit": 1000})
            discarded = await gateway.admin_json("POST", f"{path}/discard")
            assert discarded["discarded"] == 100 and discarded["guard"]["state"] == "armed"
            assert await states(gateway, ids) == {
                "active/None": 3600, "pending_deactivation/deactivation_pending": 1400}
            listed = await gateway.scim(idp, "GET", "/Users", params={
                "filter": "active eq true", "count": 0})
            assert listed.json()["totalResults"] == 3600  # the IdP reads them active again
            # ... so the provider's next disable of one of them is a change like any other.
            back = held["items"][0]["user"]
            r = await gateway.scim(idp, "PATCH", f"/Users/{back}", ENTRA_DISABLE)
            assert r.status_code == 200
            assert (await gateway.admin_json("GET", f"/users/{back}"))["state"] == \
                "pending_deactivation"
            assert (await gateway.admin_json("GET", path))["recent"] == 1

            kinds = [e["type"] for e in await feed(gateway)]
            assert kinds.count("provider.deactivation_guard_tripped") == 2
            assert kinds.count("provider.deactivation_guard_released") == 1
            assert kinds.count("provider.deactivation_guard_discarded") == 1
            states_now = await guard.guard_states(gateway.gw)
            assert states_now == [{"provider_id": idp.id, "state": "armed", "held": 0,
                                   "trips": 2}]


async def small_guard(gateway, idp, users: int = 2) -> str:
    path = f"/providers/{idp.id}/deactivation-guard"
    await gateway.admin_json("PATCH", path, {"threshold": {"users": users, "percent": 0}})
    return path


async def new_users(gateway, idp, count: int, prefix: str = "u") -> list[str]:
    out = []
    for i in range(count):
        r = await gateway.scim(idp, "POST", "/Users", user_body(f"{prefix}{i}@example.com"))
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


async def test_guard_settings_are_checked_and_change_nothing_when_refused(gateway, idp):
    path = f"/providers/{idp.id}/deactivation-guard"
    for body, words in [
        ({"threshold": {"users": -1}}, "users"), ({"threshold": {"users": "5"}}, "users"),
        ({"threshold": {"percent": 101}}, "percent"), ({"threshold": {"ratio": 1}}, "threshold"),
        ({"threshold": {}}, "threshold"), ({"window": "soon"}, "window"),
        ({"window": "0s"}, "window"), ({"window": "31d"}, "window"),
        ({"enabled": "no"}, "enabled"), ({"colour": "red"}, "unknown"),
    ]:
        refused = await gateway.admin_json("PATCH", path, body, status=400)
        assert refused["status"] == 400 and words in refused["detail"], body
    assert (await gateway.admin_json("GET", path))["threshold"] == {"users": 25, "percent": 10}
    changed = await gateway.admin_json("PATCH", path, {"threshold": {"percent": 2.5},
                                                   "window": "2h"})
    assert changed["threshold"] == {"users": 25, "percent": 2.5} and changed["window"] == "2h"
    off = await gateway.admin_json("PATCH", path, {"enabled": False})
    assert off["state"] == "off"
    assert (await gateway.admin_json("GET", path))["state"] == "off"
    await gateway.admin_json("GET", "/providers/nope/deactivation-guard", status=404)
    await gateway.admin_json("PATCH", "/providers/nope/deactivation-guard", {}, status=404)
    await gateway.admin_json("POST", "/providers/nope/deactivation-guard/release", status=404)
    by_name = await gateway.admin_json("GET", f"/providers/{idp.name}/deactivation-guard")
    assert by_name["provider"] == idp.id
    log = await gateway.admin_json("GET", "/sync-log",
                      params={"operation": "deactivation_guard_update"})
    assert [e["after"]["state"] for e in log["items"]] == ["off", "armed"]


async def test_a_guard_turned_off_holds_nothing(gateway, idp):
    path = await small_guard(gateway, idp, users=0)
    await gateway.admin_json("PATCH", path, {"enabled": False})
    ids = await new_users(gateway, idp, 5)
    await in_parallel(gateway, idp, ids, active(False))
    assert {(await gateway.admin_json("GET", f"/users/{u}"))["state"] for u in ids} == \
        {"pending_deactivation"}
    on = await gateway.admin_json("PATCH", path, {"enabled": True})
    assert (on["state"], on["recent"]) == ("armed", 0)  # the window starts empty


async def test_a_tripped_guard_cannot_be_turned_off(gateway, idp):
    path = await small_guard(gateway, idp, users=0)
    [uid] = await new_users(gateway, idp, 1)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert (await gateway.admin_json("GET", path))["state"] == "tripped"
    refused = await gateway.admin_json("PATCH", path, {"enabled": False}, status=409)
    assert "release or discard" in refused["detail"]
    changed = await gateway.admin_json("PATCH", path, {"threshold": {"users": 50}})
    assert changed["state"] == "tripped"  # a new threshold does not end the trip


async def test_a_reactivation_during_the_hold_cancels_its_held_deactivation(gateway, idp):
    path = await small_guard(gateway, idp)
    ids = await new_users(gateway, idp, 5)
    for uid in ids:
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert (await gateway.admin_json("GET", path))["held"] == 3
    r = await gateway.scim(idp, "PATCH", f"/Users/{ids[4]}", active(True))
    assert r.status_code == 200
    user = await gateway.admin_json("GET", f"/users/{ids[4]}")
    assert (user["state"], user["blocked"]) == ("active", False)
    types = [e["type"] for e in await feed(gateway) if e["resource_id"] == ids[4]]
    assert types[-1] == "user.unblocked"
    assert (await gateway.admin_json("GET", path))["held"] == 2
    released = await gateway.admin_json("POST", f"{path}/release")
    assert released["released"] == 2
    assert (await gateway.admin_json("GET", f"/users/{ids[4]}"))["state"] == "active"


async def test_a_held_delete_is_undone_with_its_groups_by_discard(gateway, idp):
    path = await small_guard(gateway, idp, users=1)
    first, uid = await new_users(gateway, idp, 2)
    group = await gateway.scim(idp, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Staff",
        "members": [{"value": uid}]})
    gid = group.json()["id"]
    await gateway.scim(idp, "DELETE", f"/Users/{first}")  # counted, scheduled
    assert (await gateway.scim(idp, "DELETE", f"/Users/{uid}")).status_code == 204  # held
    assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).status_code == 404
    user = await gateway.admin_json("GET", f"/users/{uid}")
    assert (user["state"], user["provider_state"]) == ("deactivation_held", "deleted")
    members = (await gateway.scim(idp, "GET", f"/Groups/{gid}")).json().get("members", [])
    assert members == []
    held = await gateway.admin_json("GET", f"{path}/held")
    assert [(h["user"], h["change"]) for h in held["items"]] == [(uid, "delete")]

    discarded = await gateway.admin_json("POST", f"{path}/discard")
    assert discarded["discarded"] == 1
    user = await gateway.admin_json("GET", f"/users/{uid}")
    assert (user["state"], user["provider_state"], user["can_sign_in"]) == \
        ("active", "active", True)
    assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).status_code == 200
    members = (await gateway.scim(idp, "GET", f"/Groups/{gid}")).json()["members"]
    assert [m["value"] for m in members] == [uid]
    assert (await gateway.admin_json("GET", f"/users/{first}"))["state"] == "pending_deactivation"
    log = await gateway.admin_json("GET", "/sync-log", params={"user": uid})
    assert log["items"][0]["operation"] == "deactivation_guard_discard"
    assert log["items"][0]["reason"] == "deactivation_guard_discarded"


async def test_admin_actions_on_a_held_user(gateway, idp):
    path = await small_guard(gateway, idp, users=0)
    a, b, c = await new_users(gateway, idp, 3)
    for uid in (a, b, c):
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert (await gateway.admin_json("GET", path))["held"] == 3
    refused = await gateway.admin_json("POST", f"/users/{a}/unblock", status=409)
    assert "deactivation-guard/release" in refused["detail"]
    await gateway.admin_json("POST", f"/users/{a}/reactivate", status=409)
    blocked = await gateway.admin_json("POST", f"/users/{a}/block")
    assert (blocked["state"], blocked["block_reason"]) == ("blocked", "admin_block")
    gone = await gateway.admin_json("POST", f"/users/{b}/deactivate")
    assert gone["state"] == "deactivated"
    assert (await gateway.admin_json("GET", path))["held"] == 1
    assert (await gateway.admin_json("POST", f"{path}/release"))["released"] == 1
    assert (await gateway.admin_json("GET", f"/users/{a}"))["state"] == "blocked"  # admin's block
    assert (await gateway.admin_json("GET", f"/users/{c}"))["state"] == "pending_deactivation"


async def test_with_no_delay_a_released_deactivation_takes_effect_at_once(gateway):
    idp = await gateway.provider("fast", deactivation_delay="0s")
    path = await small_guard(gateway, idp, users=1)
    a, b = await new_users(gateway, idp, 2)
    await gateway.scim(idp, "PATCH", f"/Users/{a}", active(False))
    assert (await gateway.admin_json("GET", f"/users/{a}"))["state"] == "deactivated"
    await gateway.scim(idp, "PATCH", f"/Users/{b}", active(False))
    assert (await gateway.admin_json("GET", f"/users/{b}"))["state"] == "deactivation_held"
    await gateway.admin_json("POST", f"{path}/release")
    user = await gateway.admin_json("GET", f"/users/{b}")
    assert (user["state"], user["cold_storage"]) == ("deactivated", True)


async def test_the_window_slides_and_a_flapping_user_counts_once(gateway, idp):
    path = f"/providers/{idp.id}/deactivation-guard"
    await gateway.admin_json("PATCH", path, {"threshold": {"users": 3, "percent": 0},
                                         "window": "10m"})
    ids = await new_users(gateway, idp, 6)
    for _ in range(3):  # one user off and on again: one user in the window
        await gateway.scim(idp, "PATCH", f"/Users/{ids[0]}", active(False))
        await gateway.scim(idp, "PATCH", f"/Users/{ids[0]}", active(True))
    for uid in ids[1:3]:
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert (await gateway.admin_json("GET", path))["recent"] == 3
    gateway.clock.advance(minutes=16)  # those leave the window
    assert (await gateway.admin_json("GET", path))["recent"] == 0
    for uid in ids[3:6]:
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    guard_now = await gateway.admin_json("GET", path)
    assert (guard_now["state"], guard_now["recent"]) == ("armed", 3)
    assert await scheduler.run_due(gateway.gw) == 2  # the first two came due meanwhile


async def test_the_percentage_needs_the_absolute_threshold_too(gateway, idp):
    path = f"/providers/{idp.id}/deactivation-guard"
    await gateway.admin_json("PATCH", path, {"threshold": {"users": 3}})
    ids = await new_users(gateway, idp, 5)  # 3 of 5 is 60%, but not more than 3 users
    for uid in ids[:3]:
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert (await gateway.admin_json("GET", path))["state"] == "armed"
    await gateway.scim(idp, "PATCH", f"/Users/{ids[3]}", active(False))
    assert (await gateway.admin_json("GET", path))["state"] == "tripped"


class HoldsByItself:
    """A policy plugin that answers the guard's own action."""

    @hookimpl
    def lifecycle_decision(self, change):
        return lifecycle.Decision(action="hold") if change == "deactivate" else None


async def test_only_the_guard_holds_a_deactivation(database):
    async with running(database, plugins=[HoldsByItself()]) as gateway:
        idp = await gateway.provider()
        [uid] = await new_users(gateway, idp, 1)
        r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
        assert r.status_code == 500  # refused whole: no held user without a held row
        user = await gateway.admin_json("GET", f"/users/{uid}")
        assert (user["state"], user["blocked"]) == ("active", False)
        assert (await gateway.admin_json("GET", f"/providers/{idp.id}/deactivation-guard"))[
            "held"] == 0

"""User lifecycle over HTTP on the real app: delayed deactivation, reactivation, DELETE and
reclaim, block/unblock, local users, cold storage, restarts and the scheduler."""

from __future__ import annotations

import anyio
import pytest

from gateway.accounts import lifecycle, scheduler
from gateway.clock import FakeClock
from gateway.hookspecs import hookimpl
from gateway.testing import Harness, Provider, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

DEACTIVATE = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "value": {"active": False}}]}
REACTIVATE = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "value": {"active": True}}]}


def patch(**values) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": values}]}


async def create(gateway: Harness, idp: Provider, name: str = "alice@example.com",
                 **extra) -> str:
    r = await gateway.scim(idp, "POST", "/Users", user_body(name, **extra))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def view(gateway: Harness, uid: str) -> dict:
    r = await gateway.client.get(f"/admin/v1/users/{uid}", headers=gateway.admin)
    assert r.status_code == 200, r.text
    return r.json()


async def action(gateway: Harness, uid: str, name: str, status: int = 200) -> dict:
    r = await gateway.client.post(f"/admin/v1/users/{uid}/{name}", headers=gateway.admin)
    assert r.status_code == status, r.text
    return r.json()


async def log(gateway: Harness, uid: str) -> list[dict]:
    """The user's successful sync-log entries, oldest first."""
    r = await gateway.client.get(f"/admin/v1/sync-log?user={uid}&outcome=success",
                                 headers=gateway.admin)
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))


async def event_types(gateway: Harness, uid: str) -> list[str]:
    r = await gateway.client.get("/admin/v1/events?after=0&limit=1000", headers=gateway.admin)
    return [e["type"] for e in r.json()["items"] if e["resource_id"] == uid]


async def pending_rows(gateway: Harness) -> int:
    async with gateway.gw.store.read() as conn:
        return await conn.fetchval("SELECT count(*) FROM lifecycle")


async def test_deactivation_waits_for_the_delay(gateway, idp):
    uid = await create(gateway, idp)
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    assert r.status_code == 200 and r.json()["active"] is False
    # The IdP reads its change at once and can still read (and reactivate) the user.
    assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()["active"] is False
    user = await view(gateway, uid)
    assert user["state"] == "pending_deactivation"
    assert user["deactivate_at"] == "2026-01-01T00:15:00.000000Z"
    assert user["can_sign_in"] is True and user["provider_state"] == "inactive"

    gateway.clock.advance(minutes=14)
    assert await scheduler.run_due(gateway.gw) == 0
    assert (await view(gateway, uid))["state"] == "pending_deactivation"

    gateway.clock.advance(minutes=2)
    assert await scheduler.run_due(gateway.gw) == 1
    assert await scheduler.run_due(gateway.gw) == 0  # runs once
    user = await view(gateway, uid)
    assert user["state"] == "deactivated" and user["deactivate_at"] is None
    assert user["can_sign_in"] is False and user["cold_storage"] is True
    assert user["profile"]["username"] == "alice@example.com"  # data kept
    assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).json()["active"] is False

    entries = await log(gateway, uid)
    assert [(e["actor"], e["before"]["state"], e["after"]["state"]) for e in entries[1:]] == [
        (f"provider:{idp.id}", "active", "pending_deactivation"),
        ("scheduler", "pending_deactivation", "deactivated"),
    ]
    assert entries[1]["reason"] == "deactivation_delay"
    assert entries[2]["reason"] == "deactivation_delay_elapsed"
    assert entries[2]["provider"] == idp.id
    assert await event_types(gateway, uid) == [
        "user.created", "user.deactivation_scheduled", "user.deactivated"]


async def test_put_active_false_is_a_deactivation_too(gateway, idp):
    uid = await create(gateway, idp)
    r = await gateway.scim(idp, "PUT", f"/Users/{uid}", user_body(active=False))
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await view(gateway, uid))["state"] == "pending_deactivation"
    gateway.clock.advance(minutes=16)
    assert await scheduler.run_due(gateway.gw) == 1
    assert (await view(gateway, uid))["state"] == "deactivated"


async def test_reactivation_within_the_delay_cancels(gateway, idp):
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    gateway.clock.advance(minutes=5)
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", REACTIVATE)
    assert r.status_code == 200 and r.json()["active"] is True
    assert await pending_rows(gateway) == 0
    gateway.clock.advance(minutes=30)
    assert await scheduler.run_due(gateway.gw) == 0
    user = await view(gateway, uid)
    assert user["state"] == "active" and user["deactivate_at"] is None
    assert (await event_types(gateway, uid))[-1] == "user.deactivation_cancelled"
    assert (await log(gateway, uid))[-1]["reason"] == "provider_reactivation"


async def test_reactivation_after_the_delay_restores_the_same_user(gateway, idp):
    uid = await create(gateway, idp, title="Engineer")
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    gateway.clock.advance(minutes=16)
    await scheduler.run_due(gateway.gw)
    assert (await view(gateway, uid))["state"] == "deactivated"
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", REACTIVATE)
    assert r.status_code == 200
    assert r.json()["id"] == uid and r.json()["title"] == "Engineer"
    user = await view(gateway, uid)
    assert user["state"] == "active" and user["can_sign_in"] is True
    assert (await event_types(gateway, uid))[-1] == "user.reactivated"


async def test_delete_hides_at_once_and_a_post_reclaims_the_same_user(gateway, idp):
    uid = await create(gateway, idp, externalId="ext-1")
    assert (await gateway.scim(idp, "DELETE", f"/Users/{uid}")).status_code == 204
    assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).status_code == 404
    listed = await gateway.scim(idp, "GET", '/Users?filter=userName eq "alice@example.com"')
    assert listed.json()["totalResults"] == 0
    user = await view(gateway, uid)
    assert user["state"] == "pending_deactivation" and user["provider_state"] == "deleted"
    assert (await log(gateway, uid))[-1]["after"]["state"] == "pending_deactivation"

    gateway.clock.advance(minutes=10)
    again = await gateway.scim(idp, "POST", "/Users", user_body(externalId="ext-1"))
    assert again.status_code == 201 and again.json()["id"] == uid
    assert (await view(gateway, uid))["state"] == "active"
    gateway.clock.advance(minutes=30)
    assert await scheduler.run_due(gateway.gw) == 0
    assert (await view(gateway, uid))["state"] == "active"
    assert "user.restored" in await event_types(gateway, uid)


async def test_reclaim_by_external_id_with_a_new_user_name(gateway, idp):
    uid = await create(gateway, idp, externalId="ext-9")
    await gateway.scim(idp, "DELETE", f"/Users/{uid}")
    again = await gateway.scim(idp, "POST", "/Users",
                               user_body("alice.l@example.com", externalId="ext-9"))
    assert again.status_code == 201 and again.json()["id"] == uid
    assert again.json()["userName"] == "alice.l@example.com"


async def test_deleted_user_is_kept_in_cold_storage_and_comes_back(gateway, idp):
    uid = await create(gateway, idp)
    await gateway.scim(idp, "DELETE", f"/Users/{uid}")
    gateway.clock.advance(minutes=16)
    assert await scheduler.run_due(gateway.gw) == 1
    user = await view(gateway, uid)
    assert user["state"] == "deactivated" and user["cold_storage"] is True
    assert user["deleted_by_provider"] is True
    assert user["profile"]["username"] == "alice@example.com"
    assert (await gateway.scim(idp, "GET", f"/Users/{uid}")).status_code == 404
    listed = await gateway.client.get("/admin/v1/users?state=deactivated", headers=gateway.admin)
    assert [u["id"] for u in listed.json()["items"]] == [uid]
    back = await gateway.scim(idp, "POST", "/Users", user_body())
    assert back.status_code == 201 and back.json()["id"] == uid
    assert (await view(gateway, uid))["state"] == "active"


async def test_reclaim_of_an_inactive_user_stays_out_of_use(gateway, idp):
    uid = await create(gateway, idp)
    await gateway.scim(idp, "DELETE", f"/Users/{uid}")
    gateway.clock.advance(minutes=16)
    await scheduler.run_due(gateway.gw)
    back = await gateway.scim(idp, "POST", "/Users", user_body(active=False))
    assert back.status_code == 201 and back.json()["id"] == uid
    assert (await view(gateway, uid))["state"] == "deactivated"


async def test_zero_delay_deactivates_at_once(gateway):
    idp = await gateway.provider("fast", deactivation_delay="0s")
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    user = await view(gateway, uid)
    assert user["state"] == "deactivated" and user["can_sign_in"] is False
    assert await pending_rows(gateway) == 0
    assert (await log(gateway, uid))[-1]["reason"] == "provider_deactivation"


async def test_the_delay_is_set_per_provider_through_the_admin_api(gateway, idp):
    url = f"/admin/v1/providers/{idp.id}"
    bad = await gateway.client.patch(url, json={"deactivation_delay": "soon"},
                                     headers=gateway.admin)
    assert bad.status_code == 400 and "deactivation_delay" in bad.json()["detail"]
    r = await gateway.client.patch(url, json={"deactivation_delay": "30s"},
                                   headers=gateway.admin)
    assert r.status_code == 200 and r.json()["deactivation_delay"] == "30s"
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    assert (await view(gateway, uid))["deactivate_at"] == "2026-01-01T00:00:30.000000Z"
    gateway.clock.advance(seconds=31)
    assert await scheduler.run_due(gateway.gw) == 1


async def test_admin_deactivation_is_immediate_and_reactivation_restores(gateway, idp):
    uid = await create(gateway, idp)
    user = await action(gateway, uid, "deactivate")
    assert user["state"] == "deactivated" and user["can_sign_in"] is False
    user = await action(gateway, uid, "reactivate")
    assert user["state"] == "active"
    entries = await log(gateway, uid)
    assert [(e["actor"], e["operation"], e["after"]["state"], e["reason"])
            for e in entries[1:]] == [("admin", "deactivate", "deactivated", "admin_deactivate"),
                                      ("admin", "reactivate", "active", "admin_reactivate")]
    assert (await event_types(gateway, uid))[1:] == ["user.deactivated", "user.reactivated"]
    missing = await gateway.client.post("/admin/v1/users/nope/block", headers=gateway.admin)
    assert missing.status_code == 404 and missing.json()["status"] == 404
    unknown = await gateway.client.post(f"/admin/v1/users/{uid}/delete", headers=gateway.admin)
    assert unknown.status_code == 404 and "block" in unknown.json()["detail"]


async def test_admin_cannot_revive_a_user_its_provider_deactivated(gateway, idp):
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    refused = await action(gateway, uid, "reactivate", status=409)
    assert refused["status"] == 409 and "identity provider" in refused["detail"]
    assert (await view(gateway, uid))["state"] == "pending_deactivation"


async def test_a_provider_deactivation_leaves_an_admin_deactivated_user_alone(gateway, idp):
    uid = await create(gateway, idp)
    await action(gateway, uid, "deactivate")
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    assert (await view(gateway, uid))["state"] == "deactivated"
    assert await pending_rows(gateway) == 0


async def test_blocked_users_take_profile_updates_but_stay_blocked(gateway, idp):
    uid = await create(gateway, idp)
    user = await action(gateway, uid, "block")
    assert user["state"] == "blocked" and user["can_sign_in"] is False
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", patch(title="Director"))
    assert r.status_code == 200 and r.json()["title"] == "Director"
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", REACTIVATE)
    gateway.clock.advance(minutes=30)
    await scheduler.run_due(gateway.gw)
    user = await view(gateway, uid)
    assert user["state"] == "blocked" and user["profile"]["title"] == "Director"
    assert (await action(gateway, uid, "unblock"))["state"] == "active"
    assert (await event_types(gateway, uid))[-1] == "user.unblocked"


async def test_unblocking_a_user_its_provider_deactivated_deactivates_it(gateway, idp):
    uid = await create(gateway, idp)
    await action(gateway, uid, "block")
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
    user = await action(gateway, uid, "unblock")
    assert user["state"] == "deactivated"
    entry = (await log(gateway, uid))[-1]
    assert (entry["before"]["state"], entry["after"]["state"]) == ("blocked", "deactivated")


async def test_local_users_belong_to_no_provider(gateway, idp):
    r = await gateway.client.post("/admin/v1/users", headers=gateway.admin,
                                  json=user_body("root@example.com"))
    assert r.status_code == 201, r.text
    local = r.json()
    assert local["source"] == "local" and local["state"] == "active"
    lid = local["id"]
    for method, body in (("GET", None), ("PATCH", patch(title="x")), ("PUT", user_body()),
                         ("DELETE", None)):
        assert (await gateway.scim(idp, method, f"/Users/{lid}", body)).status_code == 404
    assert (await gateway.scim(idp, "GET", "/Users")).json()["totalResults"] == 0
    clash = await gateway.scim(idp, "POST", "/Users", user_body("ROOT@example.com"))
    assert clash.status_code == 409
    assert clash.json()["scimType"] == "uniqueness"
    assert "local user" in clash.json()["detail"]
    uid = await create(gateway, idp, "bob@example.com")
    rename = await gateway.scim(idp, "PATCH", f"/Users/{uid}", patch(userName="root@example.com"))
    assert rename.status_code == 409 and "local user" in rename.json()["detail"]
    assert (await view(gateway, lid))["profile"]["username"] == "root@example.com"
    locals_ = await gateway.client.get("/admin/v1/users?provider=local", headers=gateway.admin)
    assert [u["id"] for u in locals_.json()["items"]] == [lid]
    assert (await action(gateway, lid, "deactivate"))["state"] == "deactivated"
    assert (await action(gateway, lid, "reactivate"))["state"] == "active"


async def test_bad_local_user_is_refused(gateway):
    r = await gateway.client.post("/admin/v1/users", headers=gateway.admin, json={"x": 1})
    assert r.status_code == 400 and r.json()["status"] == 400
    listed = await gateway.client.get("/admin/v1/users", headers=gateway.admin)
    assert listed.json()["items"] == []


async def test_a_restart_in_the_middle_loses_nothing(database):
    clock = FakeClock()
    async with running(database, clock=clock) as gateway:
        idp = await gateway.provider()
        waiting = await create(gateway, idp)
        deleted = await create(gateway, idp, "bob@example.com")
        await gateway.scim(idp, "PATCH", f"/Users/{waiting}", DEACTIVATE)
        await gateway.scim(idp, "DELETE", f"/Users/{deleted}")
        clock.advance(minutes=10)
    async with running(database, clock=clock) as gateway:
        assert (await view(gateway, waiting))["state"] == "pending_deactivation"
        assert await scheduler.run_due(gateway.gw) == 0
        idp = Provider(id=idp.id, name=idp.name, base=idp.base, headers=idp.headers,
                       credentials=idp.credentials)
        back = await gateway.scim(idp, "POST", "/Users", user_body("bob@example.com"))
        assert back.status_code == 201 and back.json()["id"] == deleted
        clock.advance(minutes=6)
    async with running(database, clock=clock) as gateway:
        assert await scheduler.run_due(gateway.gw) == 1
        assert (await view(gateway, waiting))["state"] == "deactivated"
        assert (await view(gateway, deleted))["state"] == "active"


async def test_two_schedulers_on_one_database_run_each_deactivation_once(database):
    clock = FakeClock()
    async with running(database, clock=clock) as one:
        idp = await one.provider()
        ids = [await create(one, idp, f"u{i}@example.com") for i in range(12)]
        for uid in ids:
            await one.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
        clock.advance(minutes=16)
        async with running(database, clock=clock) as two:
            counts: list[int] = []

            async def run(gw) -> None:
                counts.append(await scheduler.run_due(gw, limit=5) +
                              await scheduler.run_due(gw, limit=100))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(run, one.gw)
                tasks.start_soon(run, two.gw)
        assert sum(counts) == 12
        async with one.gw.store.read() as conn:
            done = await conn.fetchall(
                "SELECT resource_id, count(*) AS n FROM outbox WHERE type = 'user.deactivated'"
                " GROUP BY resource_id")
        assert sorted(row["resource_id"] for row in done) == sorted(ids)
        assert {row["n"] for row in done} == {1}


async def test_the_scheduler_loop_runs_due_deactivations(database):
    async with running(database, scheduler_interval=0) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
        await scheduler.scheduler(gateway.gw, rounds=1)
        assert (await view(gateway, uid))["state"] == "pending_deactivation"
        gateway.clock.advance(minutes=15)
        await scheduler.scheduler(gateway.gw, rounds=1)
        assert (await view(gateway, uid))["state"] == "deactivated"


class KeepAtDue:
    """A policy plugin that keeps every user live when its deactivation comes due."""

    @hookimpl
    def lifecycle_decision(self, user, change):
        if change != "due":
            return None
        return lifecycle.Decision(action="keep", reason=f"kept {user['id']}")


async def test_a_keep_decision_at_due_time_leaves_the_user_live(database):
    async with running(database, plugins=[KeepAtDue()]) as gateway:
        idp = await gateway.provider()
        uid = await create(gateway, idp)
        await gateway.scim(idp, "PATCH", f"/Users/{uid}", DEACTIVATE)
        gateway.clock.advance(minutes=16)
        assert await scheduler.run_due(gateway.gw) == 1
        assert (await view(gateway, uid))["state"] == "active"
        assert await pending_rows(gateway) == 0
        assert (await log(gateway, uid))[-1]["reason"] == f"kept {uid}"

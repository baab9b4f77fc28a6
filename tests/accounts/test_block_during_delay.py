"""Blocked during the deactivation delay, over HTTP on both stores: a provider's deactivation
blocks the user at once, its reactivation within the delay unblocks it, and an admin's own
block wins over the provider."""

from __future__ import annotations

import pytest

from gateway.accounts import scheduler
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def active(value) -> dict:
    return {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                 "value": value}]}


async def create(gateway, idp, name: str = "alice@example.com") -> str:
    r = await gateway.scim(idp, "POST", "/Users", user_body(name))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def view(gateway, uid: str) -> dict:
    r = await gateway.admin_api("GET", f"/users/{uid}")
    assert r.status_code == 200, r.text
    return r.json()


async def events(gateway, uid: str) -> list[dict]:
    r = await gateway.admin_api("GET", "/events", params={"after": 0, "limit": 1000})
    return [e for e in r.json()["items"] if e["resource_id"] == uid]


async def action(gateway, uid: str, name: str, status: int = 200) -> dict:
    r = await gateway.admin_api("POST", f"/users/{uid}/{name}")
    assert r.status_code == status, r.text
    return r.json()


def sign_in(user: dict) -> tuple:
    return user["state"], user["can_sign_in"], user["blocked"], user["block_reason"]


async def test_a_deactivation_blocks_at_once_and_a_reactivation_unblocks(gateway, idp):
    uid = await create(gateway, idp)
    assert sign_in(await view(gateway, uid)) == ("active", True, False, None)
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert r.status_code == 200 and r.json()["active"] is False  # the IdP's usual answer
    user = await view(gateway, uid)
    assert sign_in(user) == ("pending_deactivation", False, True, "deactivation_pending")
    assert user["deactivate_at"] == "2026-01-01T00:15:00.000000Z"  # still due, and shown
    blocked = (await events(gateway, uid))[-1]
    assert blocked["type"] == "user.blocked"
    assert blocked["data"]["reason"] == "deactivation_pending"
    assert blocked["data"]["user"]["blocked"] is True
    assert blocked["data"]["user"]["block_reason"] == "deactivation_pending"
    assert blocked["data"]["user"]["deactivate_at"] == user["deactivate_at"]

    gateway.clock.advance(minutes=5)
    r = await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(True))
    assert r.status_code == 200 and r.json()["active"] is True
    user = await view(gateway, uid)
    assert sign_in(user) == ("active", True, False, None) and user["deactivate_at"] is None
    assert [(e["type"], e["data"].get("reason")) for e in await events(gateway, uid)] == [
        ("user.created", None),
        ("user.deactivation_scheduled", "deactivation_delay"),
        ("user.blocked", "deactivation_pending"),
        ("user.deactivation_cancelled", "provider_reactivation"),
        ("user.unblocked", "provider_reactivation"),
    ]
    gateway.clock.advance(minutes=30)
    assert await scheduler.run_due(gateway.gw) == 0
    assert (await view(gateway, uid))["state"] == "active"
    log = (await gateway.admin_api("GET", "/sync-log", params={"user": uid})).json()["items"]
    deactivation = next(e for e in log if e["reason"] == "deactivation_delay")
    assert deactivation["after"]["block_reason"] == "deactivation_pending"


async def test_a_deletion_blocks_and_a_post_of_the_same_user_unblocks(gateway, idp):
    uid = await create(gateway, idp)
    assert (await gateway.scim(idp, "DELETE", f"/Users/{uid}")).status_code == 204
    user = await view(gateway, uid)
    assert sign_in(user) == ("pending_deactivation", False, True, "deactivation_pending")
    assert user["provider_state"] == "deleted"
    back = await gateway.scim(idp, "POST", "/Users", user_body())
    assert back.status_code == 201 and back.json()["id"] == uid
    assert sign_in(await view(gateway, uid)) == ("active", True, False, None)
    assert [e["type"] for e in await events(gateway, uid)][-4:] == [
        "user.deactivation_scheduled", "user.blocked", "user.restored", "user.unblocked"]


async def test_the_block_ends_with_the_deactivation_when_the_delay_elapses(gateway, idp):
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    gateway.clock.advance(minutes=16)
    assert await scheduler.run_due(gateway.gw) == 1
    user = await view(gateway, uid)
    assert sign_in(user) == ("deactivated", False, False, None) and user["cold_storage"]
    assert "user.unblocked" not in [e["type"] for e in await events(gateway, uid)]


async def test_without_block_during_delay_a_pending_user_can_sign_in(gateway, idp):
    url = f"/providers/{idp.id}"
    assert (await gateway.admin_api("GET", url)).json()["block_during_delay"] is True
    for bad in ("no", 0, None):
        refused = await gateway.admin_api("PATCH", url, {"block_during_delay": bad})
        assert refused.status_code == 400 and "block_during_delay" in refused.json()["detail"]
    assert (await gateway.admin_api("GET", url)).json()["block_during_delay"] is True
    changed = await gateway.admin_api("PATCH", url, {"block_during_delay": False})
    assert changed.status_code == 200 and changed.json()["block_during_delay"] is False
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    assert sign_in(await view(gateway, uid)) == ("pending_deactivation", True, False, None)
    assert "user.blocked" not in [e["type"] for e in await events(gateway, uid)]
    made = await gateway.admin_api("POST", "/providers", {"name": "quiet",
                                                          "block_during_delay": False})
    assert made.status_code == 201 and made.json()["block_during_delay"] is False


async def test_an_admin_block_survives_the_providers_reactivation(gateway, idp):
    # Blocked by the admin during the delay: the provider's reactivation leaves it blocked.
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    user = await action(gateway, uid, "block")
    assert sign_in(user) == ("blocked", False, True, "admin_block")
    assert user["deactivate_at"] is None  # the admin's block freezes the lifecycle
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(True))
    assert sign_in(await view(gateway, uid)) == ("blocked", False, True, "admin_block")
    assert [e["type"] for e in await events(gateway, uid)][-2:] == ["user.blocked",
                                                                     "user.updated"]

    # Blocked by the admin first: the provider's deactivation and reactivation change nothing.
    other = await create(gateway, idp, "bob@example.com")
    await action(gateway, other, "block")
    await gateway.scim(idp, "PATCH", f"/Users/{other}", active(False))
    await gateway.scim(idp, "PATCH", f"/Users/{other}", active(True))
    gateway.clock.advance(minutes=30)
    await scheduler.run_due(gateway.gw)
    assert sign_in(await view(gateway, other)) == ("blocked", False, True, "admin_block")
    assert (await action(gateway, other, "unblock"))["can_sign_in"] is True


async def test_the_admin_unblocks_during_the_delay_and_the_deactivation_stays_due(gateway, idp):
    uid = await create(gateway, idp)
    await gateway.scim(idp, "PATCH", f"/Users/{uid}", active(False))
    user = await action(gateway, uid, "unblock")
    assert sign_in(user) == ("pending_deactivation", True, False, None)
    assert user["deactivate_at"] == "2026-01-01T00:15:00.000000Z"
    unblocked = (await events(gateway, uid))[-1]
    assert (unblocked["type"], unblocked["data"]["reason"]) == ("user.unblocked",
                                                                "admin_unblock")
    gateway.clock.advance(minutes=16)
    assert await scheduler.run_due(gateway.gw) == 1
    assert (await view(gateway, uid))["state"] == "deactivated"


async def test_blocked_users_are_listed_apart(gateway, idp):
    pending = await create(gateway, idp)
    admin_blocked = await create(gateway, idp, "bob@example.com")
    live = await create(gateway, idp, "carol@example.com")
    await gateway.scim(idp, "PATCH", f"/Users/{pending}", active(False))
    await action(gateway, admin_blocked, "block")

    async def listed(**params) -> list[str]:
        r = await gateway.admin_api("GET", "/users", params=params)
        assert r.status_code == 200, r.text
        return sorted(u["id"] for u in r.json()["items"])

    assert await listed(blocked="true") == sorted([pending, admin_blocked])
    assert await listed(blocked="false") == [live]
    bad = await gateway.admin_api("GET", "/users", params={"blocked": "maybe"})
    assert bad.status_code == 400 and "blocked" in bad.json()["detail"]

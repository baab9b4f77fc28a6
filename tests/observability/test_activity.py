"""Per-provider activity: requests and errors per minute, the last request, success and
error, gathered in memory and flushed in one small write; replicas add up; a day is kept."""

from __future__ import annotations

import pytest

from gateway.clock import FakeClock
from gateway.observability import activity
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio


async def stored_rows(gateway) -> int:
    async with gateway.gw.store.read() as conn:
        return await conn.fetchval("SELECT COUNT(*) FROM provider_activity")


async def test_requests_and_errors_per_minute_and_the_last_of_each(gateway, idp):
    scim = gateway.scim
    uid = (await scim(idp, "POST", "/Users", user_body("adele@contoso.example"))).json()["id"]
    await scim(idp, "GET", "/Users", params={"filter": 'userName eq "adele@contoso.example"'})
    await scim(idp, "GET", "/Users/no-such-user")  # a miss on a read: not an error
    gateway.clock.advance(minutes=1)
    await scim(idp, "POST", "/Users", user_body("adele@contoso.example"))  # 409: an error
    gateway.clock.advance(seconds=1)
    await scim(idp, "GET", f"/Users/{uid}")
    series = await activity.series(gateway.gw, idp.id, 3)
    assert [(m["requests"], m["errors"]) for m in series] == [(0, 0), (3, 0), (2, 1)]
    assert series[-1]["minute"] == "2026-01-01T00:01:00Z"

    summary = await activity.summary(gateway.gw, idp.id)
    assert summary["last_request"] == f"GET /Users/{uid}"
    assert summary["last_route"] == "/scim/v2/{provider}/Users/{id}"
    assert summary["last_status"] == 200
    assert summary["last_success_at"] == summary["last_request_at"]
    assert summary["last_error_status"] == 409
    assert "already exists" in summary["last_error_detail"]
    assert summary["last_error_at"] < summary["last_request_at"]
    assert (summary["requests_24h"], summary["errors_24h"]) == (5, 1)


async def test_an_excerpt_names_the_query_without_its_data(gateway, idp):
    await gateway.scim(idp, "GET", "/Users", params={
        "filter": 'userName eq "adele.vance@contoso.example" and title eq "X"',
        "count": "10", "access_token": "never-shown"})
    summary = await activity.summary(gateway.gw, idp.id)
    assert summary["last_request"] == 'GET /Users?filter=userName eq "ade…" and title eq "X"' \
                                      "&count=10"


async def test_nothing_is_written_per_request_only_per_flush(gateway, idp):
    for _ in range(20):
        await gateway.scim(idp, "GET", "/Users")
    assert await stored_rows(gateway) == 0  # counted in memory, shown all the same
    assert (await activity.summary(gateway.gw, idp.id))["requests_24h"] == 20
    await activity.flush(gateway.gw)
    assert await stored_rows(gateway) == 1  # one minute, one row
    assert (await activity.summary(gateway.gw, idp.id))["requests_24h"] == 20


async def test_an_authentication_failure_is_an_error_of_its_provider(gateway, idp):
    await gateway.client.get(f"{idp.base}/Users", headers={"Authorization": "Bearer wrong"})
    summary = await activity.summary(gateway.gw, idp.id)
    assert summary["last_error_status"] == 401 and summary["last_success_at"] is None


async def test_replicas_add_up_and_the_newest_last_request_wins(database):
    early, late = FakeClock(), FakeClock()
    late.advance(seconds=30)
    async with running(database, clock=early) as one, running(database, clock=late) as two:
        idp = await two.provider()  # the second start revoked the first's admin token
        await one.scim(idp, "GET", "/Users")
        await one.scim(idp, "GET", "/Users")
        await two.scim(idp, "GET", "/Groups")
        await one.scim(idp, "DELETE", "/Users/gone")  # a 404 on a write: an error
        await activity.flush(two.gw)
        await activity.flush(one.gw)  # flushed after the newer one: must not win
        for gateway in (one, two):
            summary = await activity.summary(gateway.gw, idp.id)
            assert summary["requests_24h"] == 4 and summary["errors_24h"] == 1
            assert summary["last_request"] == "GET /Groups"
            assert summary["last_error_status"] == 404


async def test_a_day_is_kept_then_pruned(gateway, idp):
    await gateway.scim(idp, "GET", "/Users")
    await activity.flush(gateway.gw)
    gateway.clock.advance(hours=23, minutes=58)
    await gateway.scim(idp, "GET", "/Users")
    await activity.flush(gateway.gw)
    assert (await activity.summary(gateway.gw, idp.id))["requests_24h"] == 2
    gateway.clock.advance(minutes=3)
    await activity.flush(gateway.gw)
    assert await stored_rows(gateway) == 1
    assert (await activity.summary(gateway.gw, idp.id))["requests_24h"] == 1


async def test_the_admin_api_shows_a_providers_activity(gateway, idp):
    await gateway.scim(idp, "GET", "/Users")
    r = await gateway.admin_api("GET", f"/providers/{idp.id}/activity", params={"minutes": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["provider_id"] == idp.id and body["last_request"] == "GET /Users"
    assert len(body["series"]) == 5 and body["series"][-1]["requests"] == 1
    full = (await gateway.admin_api("GET", f"/providers/{idp.id}/activity")).json()
    assert len(full["series"]) == 1440
    missing = await gateway.admin_api("GET", "/providers/nope/activity")
    assert missing.status_code == 404 and missing.json()["status"] == 404


async def test_requests_to_ids_that_name_no_provider_leave_nothing_behind(gateway, idp):
    await gateway.client.get(f"{idp.base}/Users", headers={"Authorization": "Bearer wrong"})
    for _ in range(3):
        r = await gateway.client.get("/scim/v2/0123456789abcdef/Users",
                                     headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
    await activity.flush(gateway.gw)
    async with gateway.gw.store.read() as conn:
        stored = await conn.fetchall("SELECT DISTINCT provider_id FROM provider_activity")
        last = await conn.fetchall("SELECT provider_id FROM provider_last_request")
    assert [r["provider_id"] for r in stored] == [r["provider_id"] for r in last] == [idp.id]

"""The admin API refuses what it cannot use when it is sent, in its own error shape, and
shows what an admin needs: loaded plugins, what a provider owns, why a webhook is stuck,
and totals."""

from __future__ import annotations

import pytest
from events.webhook_receiver import LOOPBACK

from gateway.events.webhooks import CORE_EVENT_TYPES
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio


def admin_error(r, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"detail", "status"} and body["status"] == status
    assert "schemas" not in body  # not the SCIM shape
    for word in words:
        assert word in body["detail"], body


async def test_unknown_filter_values_are_refused(gateway, idp):
    api = gateway.admin_api
    admin_error(await api("GET", "/users?state=bogus"), 400, "no state 'bogus'",
                "pending_deactivation")
    admin_error(await api("GET", "/users?state=blockd"), 400, "did you mean 'blocked'")
    admin_error(await api("GET", "/users?provider=nope"), 400, "no provider 'nope'")
    admin_error(await api("GET", "/sync-log?provider=nope"), 400, "no provider 'nope'")
    admin_error(await api("GET", "/sync-log?outcome=failed"), 400, "outcome")
    admin_error(await api("GET", "/sync-log/export?provider=nope"), 400, "no provider")
    assert (await api("GET", "/users?provider=idp")).status_code == 200  # by name
    assert (await api("GET", "/users?provider=local")).status_code == 200
    admin_error(await api("GET", "/users?total=maybe"), 400, "total")


async def test_unknown_routes_and_methods_answer_the_admin_shape(gateway):
    admin_error(await gateway.admin_api("GET", "/nothing-here"), 404, "No endpoint")
    admin_error(await gateway.admin_api("PUT", "/providers"), 405, "PUT")
    scim = await gateway.client.get("/scim/v2/x/nothing/here/at/all")
    assert scim.status_code in (401, 404) and "schemas" in scim.json()


async def test_settings_out_of_bounds_are_refused_when_saved(gateway, idp):
    api = gateway.admin_api
    admin_error(await api("PATCH", f"/providers/{idp.id}", {"deactivation_delay": "3000000d"}),
                400, "deactivation_delay", "365d")
    admin_error(await api("POST", "/providers", {"name": "x", "deactivation_delay": "1y"}),
                400, "deactivation_delay")
    view = (await api("GET", f"/providers/{idp.id}")).json()
    assert view["deactivation_delay"] == "15m"
    assert (await api("PATCH", f"/providers/{idp.id}",
                      {"deactivation_delay": "365d"})).status_code == 200


async def test_webhooks_subscribe_only_to_event_types_that_exist(tmp_path):
    async with running(tmp_path / "gw.db", enabled=["legal_hold"],
                       webhook_allow_networks=LOOPBACK) as gateway:
        api = gateway.admin_api
        r = await api("POST", "/webhooks", {"url": "http://127.0.0.1:9/x",
                                           "events": ["user.create"]})
        admin_error(r, 400, "no event type 'user.create'", "did you mean 'user.created'",
                    "user.legal_hold_placed")
        for known in (CORE_EVENT_TYPES[0], "user.legal_hold_placed"):
            r = await api("POST", "/webhooks", {"url": "http://127.0.0.1:9/x",
                                               "events": [known]})
            assert r.status_code == 201, r.text


async def test_plugins_are_listed_with_versions_and_hooks(tmp_path):
    async with running(tmp_path / "gw.db", enabled=["okta"]) as gateway:
        r = await gateway.admin_api("GET", "/plugins")
    assert r.status_code == 200
    found = {p["name"]: p for p in r.json()["items"]}
    assert found["okta"]["version"] and "validate_resource" in found["okta"]["hooks"]
    assert "authenticate" in found["builtin_auth"]["hooks"]


async def test_provider_views_carry_what_they_own_and_totals(gateway, idp):
    for n in range(3):
        assert (await gateway.scim(idp, "POST", "/Users",
                                   user_body(f"u{n}@example.com"))).status_code == 201
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"}
    assert (await gateway.scim(idp, "POST", "/Groups", group)).status_code == 201
    view = (await gateway.admin_api("GET", f"/providers/{idp.name.upper()}")).json()
    assert view["id"] == idp.id and view["owned"] == {"users": 3, "groups": 1}
    listed = (await gateway.admin_api("GET", "/providers")).json()["items"]
    assert listed[0]["owned"] == {"users": 3, "groups": 1}
    page = (await gateway.admin_api("GET", "/users?limit=2&total=true")).json()
    assert len(page["items"]) == 2 and page["total"] == 3 and page["next_cursor"]
    assert "total" not in (await gateway.admin_api("GET", "/users")).json()
    log = (await gateway.admin_api("GET", f"/sync-log?provider={idp.id}&total=1")).json()
    assert log["total"] == 4


async def test_a_webhook_view_says_why_it_is_stuck(database):
    from gateway.clock import Clock

    async with running(database, clock=Clock(), webhook_backoff=60, webhook_timeout=2.0,
                       webhook_poll_interval=0.05, webhook_allow_networks=LOOPBACK) as gateway:
        idp = await gateway.provider()
        hook = (await gateway.admin_api("POST", "/webhooks", {
            "url": "http://127.0.0.1:9/unreachable"})).json()
        assert hook["failing"] is None
        assert (await gateway.scim(idp, "POST", "/Users", user_body())).status_code == 201

        async def failing():
            return (await gateway.admin_api("GET", f"/webhooks/{hook['id']}")).json()["failing"]

        from gateway.testing import eventually

        stuck = await eventually(failing, within=60)
        assert stuck["attempts"] == 1 and stuck["last_error"]
        assert stuck["next_attempt_at"] > stuck["last_attempt_at"]
        listed = (await gateway.admin_api("GET", "/webhooks")).json()["items"][0]
        assert listed["failing"]["seq"] == stuck["seq"] and listed["dead_letters"] == 0


async def test_user_search_finds_names_and_email_addresses(gateway, idp):
    body = user_body("a1@example.com", emails=[{"value": "grace@navy.example", "type": "work"}])
    body["name"] = {"givenName": "Grace", "familyName": "Hopper"}
    body["displayName"] = 'Grace "Amazing" Hopper'
    assert (await gateway.scim(idp, "POST", "/Users", body)).status_code == 201
    assert (await gateway.scim(idp, "POST", "/Users", user_body("b2@example.com"))) \
        .status_code == 201
    # Text JSON escapes (a quote) is searched for too, without the raw-document first pass.
    for q in ("HOPPER", "grace", "navy.example", "a1@", '"amazing" hop'):
        found = (await gateway.admin_api("GET", "/users", params={"q": q})).json()["items"]
        assert [u["profile"]["username"] for u in found] == ["a1@example.com"], q
    # Words that are only the JSON's own keys match no one.
    for q in ("value", "givenName", "emails"):
        assert (await gateway.admin_api("GET", "/users", params={"q": q})).json()["items"] \
            == [], q


async def test_provider_views_say_what_the_idp_last_sent(gateway, idp):
    fresh = (await gateway.admin_api("GET", f"/providers/{idp.id}")).json()
    assert fresh["last_request"] is None and fresh["last_error"] is None
    assert (await gateway.scim(idp, "POST", "/Users", user_body())).status_code == 201
    assert (await gateway.scim(idp, "POST", "/Users", user_body())).status_code == 409
    await gateway.scim(idp, "GET", "/Users", params={"filter": 'userName eq "alice@example.com"'})
    view = (await gateway.admin_api("GET", f"/providers/{idp.id}")).json()
    assert view["last_request"]["request"].startswith('GET /Users?filter=userName eq "')
    assert "alice@example.com" not in view["last_request"]["request"]  # values cut short
    assert view["last_request"]["status"] == 200 and view["last_success_at"]
    assert view["last_error"]["status"] == 409 and "already exists" in view["last_error"]["detail"]
    assert view["requests_24h"] == 3 and view["errors_24h"] == 1

"""/metrics: Prometheus text an operator can scrape with the admin token or the read-only
metrics token, whose counters move with the traffic, whose gauges come from the database,
and whose labels never carry user data."""

from __future__ import annotations

import hashlib

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability.metrics import lag
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

METRICS_TOKEN = "scrape-only-token-0123456789"


async def scrape(gateway, headers=None) -> dict[tuple, float]:
    r = await gateway.client.get("/metrics", headers=gateway.admin if headers is None
                                 else headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_need_the_admin_token_or_the_metrics_token(database):
    digest = "sha256$" + hashlib.sha256(b"hashed-token-0123456789").hexdigest()
    for configured, token in ((METRICS_TOKEN, METRICS_TOKEN),
                              (digest, "hashed-token-0123456789")):
        async with running(database, metrics_token=configured) as gateway:
            assert (await gateway.client.get("/metrics")).status_code == 401
            wrong = await gateway.client.get("/metrics",
                                             headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401 and wrong.json()["status"] == 401
            assert await scrape(gateway, {"Authorization": f"Bearer {token}"})
            assert await scrape(gateway)  # the admin token always works
            if configured == digest:  # the hash itself is not a token
                r = await gateway.client.get("/metrics",
                                             headers={"Authorization": f"Bearer {digest}"})
                assert r.status_code == 401


async def test_counters_move_with_scim_traffic(gateway, idp):
    before = await scrape(gateway)
    user = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
    await gateway.scim(idp, "GET", f"/Users/{user['id']}")
    await gateway.scim(idp, "POST", "/Users", user_body())  # 409: refused
    await gateway.scim(idp, "GET", "/Users", headers={"Authorization": "Bearer wrong"})
    await gateway.client.get("/scim/v2/0000000000000000/Users")
    after = await scrape(gateway)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    scim = "gateway_scim_requests_total"
    assert moved(scim, provider=idp.id, resource_type="User", operation="create",
                 status="2xx") == 1
    assert moved(scim, provider=idp.id, resource_type="User", operation="create",
                 status="4xx") == 1
    assert moved(scim, provider=idp.id, resource_type="User", operation="read",
                 status="2xx") == 1
    assert moved("gateway_scim_request_duration_seconds_count", operation="read") == 1
    outcomes = "gateway_provisioning_outcomes_total"
    assert moved(outcomes, provider=idp.id, resource_type="User", outcome="created") == 1
    assert moved(outcomes, provider=idp.id, resource_type="User", outcome="refused") == 1
    assert moved("gateway_auth_failures_total", api="scim", provider=idp.id) == 1
    assert moved("gateway_auth_failures_total", api="scim", provider="unknown") == 1
    assert moved("gateway_store_commit_writes_count") >= 1
    assert value(after, "process_cpu_seconds_total") > 0
    assert value(after, "gateway_database_up") == 1


async def test_labels_carry_ids_and_templates_never_user_data(gateway, idp):
    user = (await gateway.scim(idp, "POST", "/Users", user_body("secret.name@example.com")))
    uid = user.json()["id"]
    await gateway.scim(idp, "GET", f"/Users/{uid}")
    await gateway.scim(idp, "GET", "/Users", params={"filter": 'userName eq "secret.name"'})
    await gateway.scim(idp, "GET", f"/Things-{uid}")
    await gateway.client.get(f"/scim/v2/{uid}/Users")
    await gateway.admin_api("GET", f"/users/{uid}")
    text = (await gateway.client.get("/metrics", headers=gateway.admin)).text
    assert uid not in text and "secret.name" not in text
    assert 'route="/admin/v1/users/{id}"' in text


async def test_two_apps_in_one_process_count_apart(tmp_path):
    async with running(tmp_path / "a.db") as first, running(tmp_path / "b.db") as second:
        idp = await first.provider()
        await first.scim(idp, "POST", "/Users", user_body())
        one, other = await scrape(first), await scrape(second)
        assert value(one, "gateway_provisioning_outcomes_total", provider=idp.id,
                     resource_type="User", outcome="created") == 1
        assert not any(name == "gateway_provisioning_outcomes_total" for name, _ in other)


async def test_lifecycle_gauges_are_read_from_the_database(gateway, idp):
    uid = (await gateway.scim(idp, "POST", "/Users", user_body())).json()["id"]
    other = (await gateway.scim(idp, "POST", "/Users", user_body("b@example.com"))).json()
    await gateway.scim(idp, "DELETE", f"/Users/{uid}")  # deactivation scheduled
    await gateway.admin_api("POST", f"/users/{other['id']}/block")
    samples = await scrape(gateway)
    assert value(samples, "gateway_users_pending_deactivation", provider=idp.id) == 1
    # Both cannot sign in: one blocked by the admin, one during its deactivation's delay.
    assert value(samples, "gateway_users_blocked", provider=idp.id) == 2
    assert value(samples, "gateway_outbox_newest_seq") >= 4


async def test_a_tripped_deactivation_guard_shows_in_the_gauges(gateway, idp):
    r = await gateway.admin_api("PATCH", f"/providers/{idp.id}/deactivation-guard",
                                {"threshold": {"users": 1, "percent": 1}})
    assert r.status_code == 200, r.text
    ids = [(await gateway.scim(idp, "POST", "/Users", user_body(f"u{n}@example.com")))
           .json()["id"] for n in range(4)]
    before = await scrape(gateway)
    assert value(before, "gateway_deactivation_guard_tripped", provider=idp.id) == 0
    for uid in ids:
        assert (await gateway.scim(idp, "DELETE", f"/Users/{uid}")).status_code == 204
    after = await scrape(gateway)
    assert value(after, "gateway_deactivation_guard_tripped", provider=idp.id) == 1
    assert value(after, "gateway_deactivation_guard_held", provider=idp.id) == 3
    assert value(after, "gateway_deactivation_guard_trips", provider=idp.id) == 1


async def test_the_pool_is_reported_on_postgres(database):
    async with running(database) as gateway:
        async with gateway.gw.store.read():  # one connection held while it is scraped
            samples = await scrape(gateway)
        if database.startswith("postgresql"):
            assert value(samples, "gateway_store_pool_connections", state="max") == 4
            assert value(samples, "gateway_store_pool_connections", state="in_use") >= 1
        else:
            assert not any(n == "gateway_store_pool_connections" for n, _ in samples)


def test_lag_runs_from_the_oldest_undelivered_event_to_the_newest():
    assert lag({"cursor": 10, "oldest": None}, 10) == 0  # up to date
    assert lag({"cursor": 10, "oldest": 7}, 10) == 4  # 7..10 pending
    assert lag({"cursor": 8, "oldest": None}, 10) == 2  # 9 and 10 not fanned out yet
    assert lag({"cursor": 8, "oldest": 3}, 10) == 8

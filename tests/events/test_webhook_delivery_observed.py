"""What an operator sees of webhook delivery: the traceparent of the request that caused an
event on its POST, and the backlog, retry and dead-letter metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from webhook_receiver import LOOPBACK, Receiver

from gateway.clock import Clock
from gateway.testing import eventually, running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

SECRET = "a-shared-secret-of-some-length"
FAST = dict(webhook_poll_interval=0.05, webhook_backoff=0.05, webhook_backoff_max=0.1,
            webhook_max_attempts=2, webhook_timeout=5.0, webhook_allow_networks=LOOPBACK)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def gauges(gateway, webhook: str) -> dict[str, float]:
    text = (await gateway.client.get("/metrics", headers=gateway.admin)).text
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("webhook") == webhook:
                found[s.name + "." + s.labels.get("outcome", "")] = s.value
    return found


async def add_webhook(gateway, url: str) -> str:
    r = await gateway.admin_api("POST", "/webhooks", {"url": url, "secret": SECRET})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_the_webhook_post_carries_the_requests_trace(database):
    async with running(database, **FAST) as gateway:
        idp = await gateway.provider()
        with Receiver(SECRET) as receiver:
            await add_webhook(gateway, receiver.url)
            await gateway.scim(idp, "POST", "/Users", user_body(), headers={
                "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
            await gateway.scim(idp, "POST", "/Users", user_body("b@example.com"))
            await receiver.wait_for(2)
        # Two resources: their deliveries may arrive in either order.
        by_name = {r["event"]["data"]["user"]["profile"]["email"]: r
                   for r in receiver.requests}
        traced, other = by_name["alice@example.com"], by_name["b@example.com"]
        assert traced["headers"]["traceparent"].split("-")[1] == TRACE
        assert traced["event"]["traceparent"] == traced["headers"]["traceparent"]
        assert other["headers"]["traceparent"].split("-")[1] != TRACE  # its own trace


async def test_backlog_retries_and_dead_letters_are_metrics(database):
    async with running(database, clock=Clock(), **FAST) as gateway:  # retries come due
        idp = await gateway.provider()
        with Receiver(SECRET, lambda event, attempt: "hang") as receiver:
            hook = await add_webhook(gateway, receiver.url)
            await gateway.scim(idp, "POST", "/Users", user_body())

            async def waiting() -> dict | None:
                found = await gauges(gateway, hook)
                return found if found.get("gateway_webhook_pending_deliveries.") == 1 \
                    else None

            held = await eventually(waiting, what="the delivery is under way")
            assert held["gateway_webhook_lag_events."] == 1
            assert held["gateway_webhook_oldest_undelivered_seconds."] >= 0
            receiver.policy = lambda event, attempt: 500
            receiver.release.set()  # the hung attempt fails, the next one fails too: dead

            async def parked() -> dict | None:
                found = await gauges(gateway, hook)
                return found if found.get("gateway_webhook_dead_letters.") == 1 else None

            done = await eventually(parked, what="the event is dead-lettered")
        assert done["gateway_webhook_deliveries_total.retry"] == 1
        assert done["gateway_webhook_deliveries_total.dead"] == 1
        assert done["gateway_webhook_lag_events."] == 0
        assert done["gateway_webhook_pending_deliveries."] == 0

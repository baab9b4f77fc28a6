"""Webhooks against a real HTTP receiver on loopback: signed, ordered per resource, retried,
dead-lettered and redelivered, and resumed across a gateway restart."""

from __future__ import annotations

import logging
from collections import defaultdict

import pytest
from webhook_receiver import LOOPBACK, Receiver

from gateway.clock import Clock, parse_time
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

SECRET = "a-shared-secret-of-some-length"
FAST = dict(webhook_poll_interval=0.05, webhook_backoff=0.05, webhook_backoff_max=0.2,
            webhook_timeout=2.0, webhook_allow_networks=LOOPBACK)


@pytest.fixture
async def gateway(database):
    """The conftest's, allowing the loopback receivers of these tests."""
    async with running(database, webhook_allow_networks=LOOPBACK) as harness:
        yield harness


async def add_webhook(gateway, url: str, events=None, secret: str = SECRET) -> dict:
    body = {"url": url, "secret": secret}
    if events is not None:
        body["events"] = events
    r = await gateway.client.post("/admin/v1/webhooks", json=body, headers=gateway.admin)
    assert r.status_code == 201, r.text
    return r.json()


def per_resource(events: list[dict]) -> dict[str, list[int]]:
    out = defaultdict(list)
    for event in events:
        out[event["resource_id"]].append(event["seq"])
    return out


async def feed(gateway) -> list[dict]:
    r = await gateway.client.get("/admin/v1/events", params={"after": 0, "limit": 1000},
                                 headers=gateway.admin)
    return r.json()["items"]


async def test_register_validate_list_and_remove(gateway):
    admin = gateway.admin
    for body, words in [
        ({"url": "ftp://x.example", "secret": SECRET}, "http"),
        ({"url": "http://127.0.0.1/x", "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1/x", "secret": SECRET, "events": ["User Created"]},
         "event type"),
        ({"url": "http://127.0.0.1/x", "secret": SECRET, "events": []}, "events"),
        ({"url": "http://127.0.0.1/x", "secret": SECRET, "colour": "red"}, "unknown"),
    ]:
        r = await gateway.client.post("/admin/v1/webhooks", json=body, headers=admin)
        assert r.status_code == 400, body
        assert r.json()["status"] == 400 and words in r.json()["detail"]
    assert (await gateway.client.get("/admin/v1/webhooks", headers=admin)).json()["items"] == []

    created = await add_webhook(gateway, "http://127.0.0.1:9/hook", ["user.created"])
    assert "secret" not in created  # the admin chose it: never sent back
    generated = (await gateway.client.post("/admin/v1/webhooks", headers=admin, json={
        "url": "http://127.0.0.1:9/other"})).json()
    assert len(generated["secret"]) >= 32 and generated["events"] == ["*"]

    listed = (await gateway.client.get("/admin/v1/webhooks", headers=admin)).json()
    assert sorted(w["id"] for w in listed["items"]) == sorted([created["id"], generated["id"]])
    assert SECRET not in str(listed) and generated["secret"] not in str(listed)
    one = await gateway.client.get(f"/admin/v1/webhooks/{created['id']}", headers=admin)
    assert one.json()["events"] == ["user.created"]

    assert (await gateway.client.delete(f"/admin/v1/webhooks/{created['id']}",
                                        headers=admin)).status_code == 204
    again = await gateway.client.delete(f"/admin/v1/webhooks/{created['id']}", headers=admin)
    assert again.status_code == 404 and again.json()["detail"] == \
        f"no webhook '{created['id']}'"
    assert (await gateway.client.get("/admin/v1/webhooks")).status_code == 401


async def test_signed_events_match_the_pull_feed_and_the_filter(database, caplog):
    caplog.set_level(logging.DEBUG, logger="identity_gateway")
    caplog.set_level(logging.DEBUG, logger="httpx")
    with Receiver(SECRET) as receiver:
        async with running(database, **FAST) as gateway:
            idp = await gateway.provider()
            await add_webhook(gateway, receiver.url, ["user.created", "group.created"])
            alice = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
            await gateway.scim(idp, "PATCH", f"/Users/{alice['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]})
            await gateway.scim(idp, "POST", "/Groups", {"displayName": "Staff",
                                                        "members": [{"value": alice["id"]}]})
            got = await receiver.wait_for(2)
            pulled = await feed(gateway)
    assert [e["type"] for e in pulled] == ["user.created", "user.updated", "group.created"]
    # the same JSON as the pull feed, minus user.updated (two resources: any arrival order)
    assert sorted(got, key=lambda e: e["seq"]) == [pulled[0], pulled[2]]
    assert all(r["valid"] for r in receiver.requests)
    first = next(r["headers"] for r in receiver.requests if r["event"]["seq"] == 1)
    assert first["X-Gateway-Event"] == "user.created" and first["X-Gateway-Seq"] == "1"
    assert first["Content-Type"] == "application/json"
    assert SECRET not in caplog.text


async def test_a_failing_receiver_gets_every_event_once_in_order(database):
    # The first two attempts at every event fail (500, then a hang past the timeout).
    def flaky(event, attempt):
        return {1: 500, 2: "hang"}.get(attempt, 200)

    with Receiver(SECRET, flaky) as receiver:
        settings = {**FAST, "webhook_timeout": 0.3}
        async with running(database, clock=Clock(), **settings) as gateway:
            idp = await gateway.provider()
            await add_webhook(gateway, receiver.url)
            ids = []
            for n in range(3):
                r = await gateway.scim(idp, "POST", "/Users", user_body(f"u{n}@example.com"))
                ids.append(r.json()["id"])
            for uid in ids:
                for title in ("a", "b"):
                    await gateway.scim(idp, "PATCH", f"/Users/{uid}", {
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "title", "value": title}]})
            got = await receiver.wait_for(9)
            pulled = await feed(gateway)
            receiver.release.set()
    assert sorted(e["seq"] for e in got) == [e["seq"] for e in pulled]  # each once
    assert all(seqs == sorted(seqs) for seqs in per_resource(got).values())
    assert all(receiver.attempts[e["seq"]] == 3 for e in pulled)
    assert all(r["valid"] for r in receiver.requests)


async def test_one_failing_resource_holds_back_only_itself_then_dead_letters(database):
    broken: set[str] = set()

    def policy(event, attempt):
        return 500 if event["resource_id"] in broken else 200

    with Receiver(SECRET, policy) as receiver:
        async with running(database, clock=Clock(), webhook_max_attempts=3, **FAST) as gateway:
            idp = await gateway.provider()
            hook = await add_webhook(gateway, receiver.url)
            x = (await gateway.scim(idp, "POST", "/Users", user_body("x@example.com"))).json()
            await receiver.wait_for(1)
            broken.add(x["id"])
            patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations": [{"op": "replace", "path": "title", "value": "t"}]}
            await gateway.scim(idp, "PATCH", f"/Users/{x['id']}", patch)  # fails, 3 times
            patch["Operations"][0]["value"] = "u"
            await gateway.scim(idp, "PATCH", f"/Users/{x['id']}", patch)  # waits behind it
            y = (await gateway.scim(idp, "POST", "/Users", user_body("y@example.com"))).json()
            await receiver.wait_for(2)  # y's event went out while x's was held back
            assert receiver.accepted[1]["resource_id"] == y["id"]

            # x's first update is parked after 3 attempts; its next one then goes out, and
            # fails in turn (the receiver still refuses x).
            dead_url = f"/admin/v1/webhooks/{hook['id']}/dead-letters"
            for _ in range(400):
                dead = (await gateway.client.get(dead_url, headers=gateway.admin)).json()
                if len(dead["items"]) == 2:
                    break
                await receiver_pause()
            assert [d["event"]["type"] for d in dead["items"]] == ["user.updated"] * 2
            assert dead["items"][0]["attempts"] == 3
            assert dead["items"][0]["last_error"] == "HTTP 500"
            assert dead["items"][0]["event"]["data"]["user"]["profile"]["title"] == "t"
            assert receiver.attempts[dead["items"][0]["seq"]] == 3

            broken.clear()
            r = await gateway.client.post(f"/admin/v1/webhooks/{hook['id']}/redeliver",
                                          json={"seq": [dead["items"][0]["seq"]]},
                                          headers=gateway.admin)
            assert r.json() == {"redelivering": 1}
            got = await receiver.wait_for(3)
            assert got[2]["seq"] == dead["items"][0]["seq"]
            r = await gateway.client.post(f"/admin/v1/webhooks/{hook['id']}/redeliver",
                                          headers=gateway.admin)
            assert r.json() == {"redelivering": 1}
            got = await receiver.wait_for(4)
            assert got[3]["seq"] == dead["items"][1]["seq"]
            left = (await gateway.client.get(dead_url, headers=gateway.admin)).json()
            assert left["items"] == []
            bad = await gateway.client.post(f"/admin/v1/webhooks/{hook['id']}/redeliver",
                                            json={"seq": "all"}, headers=gateway.admin)
            assert bad.status_code == 400


async def receiver_pause() -> None:
    import anyio

    await anyio.sleep(0.02)


async def test_retries_follow_the_gateway_clock_with_exponential_backoff(database):
    with Receiver(SECRET, lambda event, attempt: 503) as receiver:
        async with running(database, webhook_poll_interval=0.05, webhook_backoff=60,
                           webhook_max_attempts=4, webhook_allow_networks=LOOPBACK) as gateway:
            idp = await gateway.provider()
            await add_webhook(gateway, receiver.url)
            await gateway.scim(idp, "POST", "/Users", user_body())
            waits = []
            for attempt in range(1, 4):
                row = await wait_attempts(gateway, attempt)
                due = parse_time(row["next_attempt_at"]) - gateway.clock.now()
                waits.append(due.total_seconds())
                gateway.clock.advance(seconds=due.total_seconds())
            row = await wait_attempts(gateway, 4)
            assert row["status"] == "dead" and row["last_error"] == "HTTP 503"
    # jitter keeps each wait between half and all of 60s, 120s, 240s
    for wait, step in zip(waits, (60, 120, 240), strict=True):
        assert step / 2 <= wait <= step
    assert receiver.attempts == {1: 4}


async def wait_attempts(gateway, attempts: int) -> dict:
    for _ in range(500):
        async with gateway.gw.store.read() as conn:
            row = await conn.fetchone("SELECT * FROM deliveries")
        if row and row["attempts"] >= attempts:
            return row
        await receiver_pause()
    raise AssertionError(f"no delivery reached {attempts} attempts")


async def test_restart_in_the_middle_of_delivery_loses_and_repeats_nothing(database):
    # Events for resources after the first 5 deliveries hang until the gateway is gone.
    state = {"phase": 1, "taken": 0}

    def policy(event, attempt):
        if state["phase"] == 1:
            state["taken"] += 1
            return 200 if state["taken"] <= 5 else "hang"
        return 200

    with Receiver(SECRET, policy) as receiver:
        settings = {**FAST, "webhook_timeout": 1.0, "webhook_concurrency": 2}
        async with running(database, clock=Clock(), **settings) as gateway:
            idp = await gateway.provider()
            await add_webhook(gateway, receiver.url)
            for n in range(10):
                await gateway.scim(idp, "POST", "/Users", user_body(f"r{n}@example.com"))
            await receiver.wait_for(5)
            for _ in range(1000):  # until two more are in flight, hanging
                if len(receiver.requests) >= 7:
                    break
                await receiver_pause()
            assert len(receiver.requests) >= 7
            pulled = await feed(gateway)
        state["phase"] = 2  # the gateway is down; the receiver recovers
        receiver.release.set()
        async with running(database, clock=Clock(), **settings) as gateway:
            got = await receiver.wait_for(10)
            for _ in range(200):  # the last success is recorded after its response returns
                async with gateway.gw.store.read() as conn:
                    left = await conn.fetchval("SELECT COUNT(*) FROM deliveries")
                if left == 0:
                    break
                await receiver_pause()
    assert sorted(e["seq"] for e in got) == [e["seq"] for e in pulled]  # once each
    assert left == 0
    assert all(r["valid"] for r in receiver.requests)


async def test_a_thousand_users_deliver_a_thousand_user_created_events(database):
    """On the real clock: under load a POST to the receiver may time out, and its retry
    must come due."""
    with Receiver(SECRET) as receiver:
        async with running(database, clock=Clock(), **FAST) as gateway:
            idp = await gateway.provider()
            await add_webhook(gateway, receiver.url, ["user.created"])
            ids = []
            for n in range(1000):
                r = await gateway.scim(idp, "POST", "/Users", user_body(f"p{n}@example.com"))
                assert r.status_code == 201
                ids.append(r.json()["id"])
            got = await receiver.wait_for(1000, within=300)
            history = await gateway.client.get("/admin/v1/sync-log",
                                               params={"user": ids[500]}, headers=gateway.admin)
    assert len(got) == 1000 and len({e["seq"] for e in got}) == 1000
    assert {e["type"] for e in got} == {"user.created"}
    assert {e["data"]["user"]["id"] for e in got} == set(ids)
    assert all(r["valid"] for r in receiver.requests)
    entries = history.json()["items"]
    assert [(e["operation"], e["resource_id"]) for e in entries] == [("create", ids[500])]
    assert entries[0]["after"]["userName"] == "p500@example.com"

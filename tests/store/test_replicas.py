"""What holds across replicas holds across one serve's worker processes, on both stores:
each test runs on two real `identity-gateway serve` processes on two loopback ports over one
PostgreSQL schema (replicas behind a load balancer: requests alternate between them), and on
one `serve --workers 2`, over PostgreSQL and over one SQLite file, where the kernel hands
each connection to one worker or the other (every request here opens a connection of its
own)."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from events.webhook_receiver import LOOPBACK, Receiver
from postgres_server import PG_URL, pg_run, pg_with
from serving import LINE, free_port, launch, read_lines, stop, wait_ready

from gateway.testing import scim_user as user_body

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Replicas:
    def __init__(self, urls: list[str], provider_id: str, token: str, admin: str) -> None:
        self.urls = urls
        self.provider_id = provider_id
        self.scim_headers = {"Authorization": f"Bearer {token}"}
        self.admin_headers = {"Authorization": f"Bearer {admin}"}
        self._next = itertools.cycle(range(len(urls)))

    def url(self) -> str:
        """The next replica, round robin."""
        return self.urls[next(self._next)]

    def scim(self, url: str, path: str) -> str:
        return f"{url}/scim/v2/{self.provider_id}{path}"


def serve(database: str, port: int, config: Path, workers: int) -> subprocess.Popen:
    return launch(["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port),
                   "--database", database, "--config", str(config), "--log-level", "warning",
                   "--workers", str(workers)])


def client(timeout: float = 30) -> httpx.AsyncClient:
    """A client that opens a connection per request, so that a serve's workers share them."""
    return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))


@pytest.fixture(scope="module", params=["replicas-postgres", "workers-postgres",
                                        "workers-sqlite"])
def replicas(request, tmp_path_factory) -> Iterator[Replicas]:
    shape, store = request.param.split("-")
    folder = tmp_path_factory.mktemp("replicas")
    config = folder / "gateway.toml"
    config.write_text("[gateway]\nscheduler_interval = 0.2\nwebhook_poll_interval = 0.5\n"
                      f"webhook_allow_networks = {json.dumps(LOOPBACK)}\n")
    schema = f"t_replicas_{secrets.token_hex(4)}"
    if store == "postgres":
        request.getfixturevalue("postgres_server")
        pg_run(f"CREATE SCHEMA {schema}")
        database = pg_with(PG_URL, search_path=schema, pool_size="8")
    else:
        database = str(folder / "gateway.db")
    procs: list[subprocess.Popen] = []
    try:
        ports = [free_port(), free_port()] if shape == "replicas" else [free_port()]
        workers = 1 if shape == "replicas" else 2
        procs.append(serve(database, ports[0], config, workers))
        lines = read_lines(procs[0], 3)
        assert len(lines) == 3 and LINE.match(lines[0]), lines
        base = LINE.match(lines[0]).group(1)
        token, admin = lines[1].split(": ", 1)[1], lines[2].split(": ", 1)[1]
        for port in ports[1:]:
            procs.append(serve(database, port, config, workers))  # finds the schema current
            assert read_lines(procs[1], 1)[0].startswith("SCIM base URL: "), "second replica"
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_ready(f"{url}/scim/v2/x")
        yield Replicas(urls * (3 - len(urls)), base.rsplit("/", 1)[1], token, admin)
    finally:
        for proc in procs:
            stop(proc)
        if store == "postgres":
            pg_run(f"DROP SCHEMA {schema} CASCADE")


def run(coro):
    return asyncio.run(coro)


async def post_user(http: httpx.AsyncClient, r: Replicas, url: str, name: str) -> httpx.Response:
    return await http.post(r.scim(url, "/Users"), json=user_body(name),
                           headers=r.scim_headers)


def test_concurrent_creates_of_one_username_give_one_201(replicas):
    async def go() -> list[int]:
        async with client() as http:
            answers = await asyncio.gather(*[
                post_user(http, replicas, replicas.url(), "same@example.com")
                for _ in range(50)])
            listed = await http.get(replicas.scim(replicas.url(), "/Users"),
                                      headers=replicas.scim_headers,
                                      params={"filter": 'userName eq "same@example.com"'})
        assert listed.json()["totalResults"] == 1
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json()["scimType"] == "uniqueness"
        return sorted(a.status_code for a in answers)

    assert run(go()) == [201] + [409] * 49


def test_a_due_deactivation_runs_exactly_once(replicas):
    async def go() -> None:
        async with client() as http:
            changed = await http.patch(
                f"{replicas.url()}/admin/v1/providers/{replicas.provider_id}",
                json={"deactivation_delay": "1s"}, headers=replicas.admin_headers)
            assert changed.status_code == 200, changed.text
            ids = []
            for i in range(12):
                created = await post_user(http, replicas, replicas.url(), f"due{i}@example.com")
                ids.append(created.json()["id"])
            patches = await asyncio.gather(*[
                http.patch(replicas.scim(replicas.url(), f"/Users/{rid}"),
                             headers=replicas.scim_headers,
                             json={"schemas": [PATCH], "Operations": [
                                 {"op": "replace", "path": "active", "value": False}]})
                for rid in ids])
            assert {p.status_code for p in patches} == {200}
            views = [(await http.get(f"{replicas.url()}/admin/v1/users/{rid}",
                                       headers=replicas.admin_headers)).json() for rid in ids]
            assert {v["state"] for v in views} == {"pending_deactivation"}

            states: set[str] = set()
            for _ in range(150):  # both schedulers tick every 0.2 s; the delay is 1 s
                await asyncio.sleep(0.1)
                states = {(await http.get(f"{replicas.url()}/admin/v1/users/{rid}",
                                            headers=replicas.admin_headers)).json()["state"]
                          for rid in ids}
                if states == {"deactivated"}:
                    break
            assert states == {"deactivated"}
            await asyncio.sleep(1.0)  # several more ticks of both schedulers
            for rid in ids:
                log = (await http.get(f"{replicas.url()}/admin/v1/sync-log", params={
                    "user": rid, "operation": "lifecycle"}, headers=replicas.admin_headers)).json()
                assert [(e["after"], e["actor"]) for e in log["items"]] == [
                    ({"state": "deactivated", "deactivate_at": None}, "scheduler")]
            feed = (await http.get(f"{replicas.url()}/admin/v1/events",
                                     params={"after": 0, "limit": 1000},
                                     headers=replicas.admin_headers)).json()["items"]
            deactivated = [e["resource_id"] for e in feed if e["type"] == "user.deactivated"]
            assert sorted(deactivated) == sorted(ids)

    run(go())


def test_events_keep_one_gap_free_order_across_replicas(replicas):
    """A consumer polling `after=<last seq>` while both replicas write misses nothing."""

    async def go() -> None:
        async with client() as http:
            async def feed(after: int) -> list[dict]:
                r = await http.get(f"{replicas.url()}/admin/v1/events",
                                     params={"after": after, "limit": 1000},
                                     headers=replicas.admin_headers)
                return r.json()["items"]

            start = max([e["seq"] for e in await feed(0)], default=0)
            seen: list[int] = []
            done = asyncio.Event()

            async def consumer() -> None:
                last = start
                for _ in range(2000):
                    finished = done.is_set()
                    for item in await feed(last):
                        seen.append(item["seq"])
                        last = item["seq"]
                    if finished:
                        return
                    await asyncio.sleep(0.01)

            async def writer(i: int) -> None:
                url = replicas.url()
                created = await post_user(http, replicas, url, f"order{i}@example.com")
                assert created.status_code == 201, created.text
                changed = await http.patch(
                    replicas.scim(replicas.url(), f"/Users/{created.json()['id']}"),
                    headers=replicas.scim_headers, json={"schemas": [PATCH], "Operations": [
                        {"op": "replace", "path": "title", "value": f"T{i}"}]})
                assert changed.status_code == 200, changed.text

            reader = asyncio.create_task(consumer())
            await asyncio.gather(*[writer(i) for i in range(40)])
            done.set()
            await reader
            everything = [e["seq"] for e in await feed(start)]
        assert len(everything) == 80
        assert everything == list(range(start + 1, start + 81))  # one order, no gaps
        assert seen == everything  # the live consumer missed none and saw none twice

    run(go())


def test_a_credential_rotated_on_one_replica_is_refused_by_the_other(replicas):
    async def go() -> None:
        first, second = replicas.urls
        async with client() as http:
            old = replicas.scim_headers
            listed = await http.get(replicas.scim(second, "/Users"), headers=old)
            assert listed.status_code == 200
            rotated = await http.post(
                f"{first}/admin/v1/providers/{replicas.provider_id}/rotate",
                headers=replicas.admin_headers)
            assert rotated.status_code == 200, rotated.text
            new = {"Authorization": f"Bearer {rotated.json()['credentials']['Bearer token']}"}
            refused = [await http.get(replicas.scim(second, "/Users"), headers=old)
                       for _ in range(8)]  # on a connection each: every worker refuses it
            assert {r.status_code for r in refused} == {401}
            listed = await http.get(replicas.scim(second, "/Users"), headers=new)
            assert listed.status_code == 200
            replicas.scim_headers = new

    run(go())


def test_two_replicas_share_one_deactivation_guard(replicas):
    """A burst of deactivations spread over both replicas trips the provider's guard once;
    both read the same state, and a release on one ends the trip for both."""

    async def go() -> None:
        async with client(60) as http:
            first, second = replicas.urls
            admin = replicas.admin_headers
            made = await http.post(f"{first}/admin/v1/providers", headers=admin,
                                     json={"name": "burst"})
            assert made.status_code == 201, made.text
            pid = made.json()["id"]
            scim = {"Authorization": f"Bearer {made.json()['credentials']['Bearer token']}"}
            path = f"/admin/v1/providers/{pid}/deactivation-guard"
            changed = await http.patch(f"{second}{path}", headers=admin,
                                         json={"threshold": {"users": 5, "percent": 0}})
            assert changed.status_code == 200, changed.text
            ids = []
            for i in range(40):
                created = await http.post(
                    f"{replicas.url()}/scim/v2/{pid}/Users", headers=scim,
                    json=user_body(f"burst{i}@example.com"))
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            answers = await asyncio.gather(*[
                http.patch(f"{replicas.url()}/scim/v2/{pid}/Users/{uid}", headers=scim,
                             json={"schemas": [PATCH], "Operations": [
                                 {"op": "replace", "path": "active", "value": False}]})
                for uid in ids])
            assert {a.status_code for a in answers} == {200}

            views = [(await http.get(f"{url}{path}", headers=admin)).json()
                     for url in (first, second)]
            assert views[0] == views[1]
            assert (views[0]["state"], views[0]["held"], views[0]["trips"]) == \
                ("tripped", 35, 1)
            states = [(await http.get(f"{replicas.url()}/admin/v1/users/{uid}",
                                        headers=admin)).json()["state"] for uid in ids]
            assert sorted(states).count("pending_deactivation") == 5
            assert states.count("deactivation_held") == 35
            feed = (await http.get(f"{first}/admin/v1/events", headers=admin,
                                     params={"after": 0, "limit": 1000})).json()["items"]
            alerts = [e for e in feed if e["type"] == "provider.deactivation_guard_tripped"
                      and e["resource_id"] == pid]
            assert len(alerts) == 1  # one trip, whichever replica saw it

            both = await asyncio.gather(*[
                http.post(f"{url}{path}/release", headers=admin) for url in (first, second)])
            assert sorted(a.status_code for a in both) == [200, 409]
            done = next(a for a in both if a.status_code == 200).json()
            assert done["released"] == 35
            for url in (first, second):
                view = (await http.get(f"{url}{path}", headers=admin)).json()
                assert (view["state"], view["held"]) == ("armed", 0)
            states = [(await http.get(f"{replicas.url()}/admin/v1/users/{uid}",
                                        headers=admin)).json()["state"] for uid in ids]
            assert set(states) == {"pending_deactivation"}

    run(go())


CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def test_a_declaration_on_one_replica_holds_at_once_on_the_other(replicas):
    """Each replica builds a provider's schema once and keeps it: the schema tag read with
    the provider on every request tells the other replica that it changed."""
    first, second = replicas.urls
    admin = f"/admin/v1/providers/{replicas.provider_id}/custom-attributes"

    def user(name: str, level: object) -> dict:
        return user_body(name, **{CUSTOM: {"level": level}})

    async def go() -> None:
        async with client() as http:
            async def post(url: str, body: dict) -> httpx.Response:
                return await http.post(replicas.scim(url, "/Users"), json=body,
                                         headers=replicas.scim_headers)

            # Both replicas have the provider's schema in hand (nothing declared yet).
            for i, url in enumerate(replicas.urls):
                assert (await post(url, user(f"free{i}@example.com", "high"))).status_code \
                    == 201
            declared = await http.post(f"{first}{admin}", headers=replicas.admin_headers,
                                         json={"schema": CUSTOM, "name": "level",
                                               "type": "integer"})
            assert declared.status_code == 201, declared.text
            refused = await post(second, user("typed@example.com", "high"))
            assert refused.status_code == 400 and f"{CUSTOM}:level" in refused.json()["detail"]
            assert (await post(second, user("typed@example.com", 3))).status_code == 201
            listed = await http.get(replicas.scim(second, "/Schemas"),
                                      headers=replicas.scim_headers)
            assert CUSTOM in {s["id"] for s in listed.json()["Resources"]}

            removed = await http.delete(f"{second}{admin}/{CUSTOM}:level",
                                          headers=replicas.admin_headers)
            assert removed.status_code == 204
            assert (await post(first, user("loose@example.com", "low"))).status_code == 201

    run(go())


def test_concurrent_writes_on_both_replicas_count_every_undeclared_attribute(replicas):
    """The tally of an undeclared attribute is one statement per write, in the write's
    transaction: 60 writes at once through two replicas count 60."""
    okta = "urn:ietf:params:scim:schemas:custom:Space"

    async def go() -> dict:
        async with client(60) as http:
            answers = await asyncio.gather(*[
                http.post(replicas.scim(replicas.url(), "/Users"),
                            json=user_body(f"tally{i}@example.com",
                                           **{okta: {"custom1": f"v{i}", "custom2": i}}),
                            headers=replicas.scim_headers)
                for i in range(60)])
            assert {a.status_code for a in answers} == {201}
            listed = await http.get(
                f"{replicas.url()}/admin/v1/providers/{replicas.provider_id}/custom-attributes",
                headers=replicas.admin_headers)
            return {u["path"]: u for u in listed.json()["undeclared"]}

    seen = run(go())
    assert seen[f"{okta}:custom1"]["count"] == 60
    assert seen[f"{okta}:custom2"]["count"] == 60
    assert seen[f"{okta}:custom2"]["suggested"]["type"] == "integer"


def test_every_event_reaches_a_webhook_once(replicas):
    """Every replica (every worker) runs a delivery loop; each delivery is claimed by one."""
    secret = "s" * 32

    async def go(receiver: Receiver) -> tuple[list[dict], set[str]]:
        async with client() as http:
            made = await http.post(f"{replicas.url()}/admin/v1/webhooks",
                                   headers=replicas.admin_headers,
                                   json={"url": receiver.url, "secret": secret,
                                         "events": ["user.created"]})
            assert made.status_code == 201, made.text
            answers = await asyncio.gather(*[
                post_user(http, replicas, replicas.url(), f"hook{i}@example.com")
                for i in range(60)])
            assert {a.status_code for a in answers} == {201}
            got = await receiver.wait_for(60, within=120)
            await asyncio.sleep(2.0)  # several more passes of every delivery loop
            removed = await http.delete(f"{replicas.url()}/admin/v1/webhooks/{made.json()['id']}",
                                        headers=replicas.admin_headers)
            assert removed.status_code == 204
            return got, {a.json()["id"] for a in answers}

    with Receiver(secret) as receiver:
        got, ids = run(go(receiver))
        with receiver.lock:
            requests = list(receiver.requests)
    assert len(requests) == len(got) == 60  # none sent twice
    assert {e["data"]["user"]["id"] for e in got} == ids
    assert all(r["valid"] for r in requests)

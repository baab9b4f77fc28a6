"""What a refused credential tells (nothing) and costs (429 once a client keeps failing), and
what the admin sees of it (failures by reason, aggregated)."""

from __future__ import annotations

import base64
from contextlib import asynccontextmanager

import httpx
import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio

CHALLENGES = ['Bearer realm="identity-gateway"', 'Basic realm="identity-gateway"']


@asynccontextmanager
async def client_at(gateway, address: str):
    """A client of the same app that connects from another address."""
    transport = httpx.ASGITransport(app=gateway.app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def wrong_bearer() -> dict:
    return {"Authorization": "Bearer " + "x" * 43}


async def test_every_provider_answers_an_unauthenticated_request_alike(database):
    async with running(database, enabled=["entra"]) as gw:
        bearer = await gw.provider("b")
        basic = await gw.provider("o", auth="basic")
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "e", "auth": "oauth", "plugin": "entra"})
        oauth = r.json()["id"]
        bases = [bearer.base, basic.base, f"/scim/v2/{oauth}", "/scim/v2/0123456789abcdef"]
        for headers in ({}, wrong_bearer(), {"Authorization": "Basic eDp5"}):
            answers = [await gw.client.get(f"{base}/Users", headers=headers) for base in bases]
            assert {r.status_code for r in answers} == {401}
            for r in answers:
                assert r.headers.get_list("www-authenticate") == CHALLENGES, r.headers
            assert len({r.content for r in answers}) == 1


async def test_a_client_that_keeps_failing_gets_429_and_the_idp_goes_on(database):
    async with running(database, auth_failures_per_client=20) as gw:
        idp = await gw.provider()
        assert (await gw.scim(idp, "GET", "/Users")).status_code == 200
        statuses = []
        async with client_at(gw, "192.0.2.7") as attacker:
            for _ in range(100):  # bounded: the run sent 3,000
                r = await attacker.get(f"{idp.base}/Users", headers=wrong_bearer())
                statuses.append(r.status_code)
                if r.status_code == 429:
                    break
            assert statuses.count(401) == 20 and statuses[-1] == 429
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["status"] == "429"
            # Even the right token waits from that address, so guessing stops there.
            assert (await attacker.get(f"{idp.base}/Users",
                                       headers=idp.headers)).status_code == 429
        # The IdP, from its own address, is not slowed down.
        assert (await gw.scim(idp, "GET", "/Users")).status_code == 200
        seen = (await gw.admin_api("GET", f"/providers/{idp.id}/auth-failures")).json()
        assert seen["totals"]["unknown_credential"] == 20
        assert seen["totals"]["rate_limited"] >= 2


async def test_a_provider_under_attack_from_many_addresses_keeps_its_idp(database):
    async with running(database, auth_failures_per_provider=10) as gw:
        idp = await gw.provider()
        assert (await gw.scim(idp, "GET", "/Users")).status_code == 200
        for n in range(10):
            async with client_at(gw, f"198.51.100.{n}") as one:
                assert (await one.get(f"{idp.base}/Users",
                                      headers=wrong_bearer())).status_code == 401
        async with client_at(gw, "198.51.100.200") as late:
            r = await late.get(f"{idp.base}/Users", headers=wrong_bearer())
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # A valid credential goes through whatever others failed, from the address the IdP
        # used before as from one it never used.
        assert (await gw.scim(idp, "GET", "/Users")).status_code == 200
        async with client_at(gw, "198.51.100.201") as fresh:
            assert (await fresh.get(f"{idp.base}/Users", headers=idp.headers)).status_code == 200
        # Another provider is not affected.
        other = await gw.provider("other")
        assert (await gw.scim(other, "GET", "/Users")).status_code == 200


async def test_an_ipv6_host_gets_no_fresh_allowance_from_each_of_its_64s(database):
    async with running(database, auth_failures_per_client=5,
                       auth_failures_per_network=12) as gw:
        idp = await gw.provider()
        statuses = []
        for n in range(1, 5):  # four /64s of one /48, three failures each
            async with client_at(gw, f"2001:db8:7:{n}::1") as one:
                statuses += [(await one.get(f"{idp.base}/Users", headers=wrong_bearer())
                              ).status_code for _ in range(3)]
        assert statuses == [401] * 12
        async with client_at(gw, "2001:db8:7:99::1") as fresh:
            r = await fresh.get(f"{idp.base}/Users", headers=wrong_bearer())
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            # It was refused for its network's failures, not its own: a valid credential
            # from it goes through.
            assert (await fresh.get(f"{idp.base}/Users", headers=idp.headers)).status_code == 200
        # A valid credential from the same /48 is not refused for its neighbours' failures.
        async with client_at(gw, "2001:db8:7:98::2") as neighbour:
            assert (await neighbour.get(f"{idp.base}/Users",
                                        headers=idp.headers)).status_code == 200
        async with client_at(gw, "2001:db8:8::1") as elsewhere:  # another /48
            assert (await elsewhere.get(f"{idp.base}/Users",
                                        headers=wrong_bearer())).status_code == 401


async def test_ipv4_clients_are_counted_by_address_and_by_24(database):
    async with running(database, auth_failures_per_client=3,
                       auth_failures_per_network=4) as gw:
        idp = await gw.provider()
        url = f"{idp.base}/Users"
        # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: each is its own client.
        async with client_at(gw, "::ffff:192.0.2.7") as mapped:
            assert [(await mapped.get(url, headers=wrong_bearer())).status_code
                    for _ in range(4)] == [401, 401, 401, 429]
        async with client_at(gw, "192.0.2.7") as same:  # the same client, its own failures
            assert (await same.get(url, headers=idp.headers)).status_code == 429
        async with client_at(gw, "::ffff:203.0.113.9") as other:
            assert (await other.get(url, headers=idp.headers)).status_code == 200
        async with client_at(gw, "192.0.2.8") as neighbour:  # same /24: its limit is reached
            assert [(await neighbour.get(url, headers=wrong_bearer())).status_code
                    for _ in range(2)] == [401, 429]
            assert (await neighbour.get(url, headers=idp.headers)).status_code == 200


async def test_strangers_never_get_the_admin_refused(database):
    async with running(database, auth_failures_per_provider=10) as gw:
        for n in range(12):
            async with client_at(gw, f"203.0.113.{n}") as one:
                await one.get("/admin/v1/providers", headers=wrong_bearer())
        async with client_at(gw, "203.0.113.200") as late:
            r = await late.get("/admin/v1/providers", headers=wrong_bearer())
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        async with client_at(gw, "192.0.2.200") as admin:  # never used before
            assert (await admin.get("/admin/v1/providers",
                                    headers=gw.admin)).status_code == 200


async def test_the_admin_api_is_limited_too(database):
    async with running(database, auth_failures_per_client=5) as gw:
        async with client_at(gw, "192.0.2.9") as attacker:
            statuses = [(await attacker.get("/admin/v1/providers",
                                            headers=wrong_bearer())).status_code
                        for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2
        assert (await gw.admin_api("GET", "/providers")).status_code == 200
        seen = (await gw.admin_api("GET", "/auth-failures")).json()
        admin_rows = [i for i in seen["items"] if i["provider_id"] == ""]
        assert {i["reason"] for i in admin_rows} == {"unknown_credential", "rate_limited"}


async def test_failures_are_counted_by_reason_while_the_idp_sees_one_401(database):
    async with running(database) as gw:
        idp = await gw.provider()
        old = dict(idp.headers)
        rotated = (await gw.admin_api("POST", f"/providers/{idp.id}/rotate")).json()
        fresh = {"Authorization": f"Bearer {rotated['credentials']['Bearer token']}"}
        url = f"{idp.base}/Users"
        answers = [
            await gw.client.get(url),  # no_credential
            await gw.client.get(url, headers={"Authorization": "Basic eDp5"}),  # wrong_scheme
            await gw.client.get(url, headers={"Authorization": "Negotiate abc"}),
            await gw.client.get(url, headers=wrong_bearer()),  # unknown_credential
            await gw.client.get(url, headers=old),  # rotated: unknown_credential
        ]
        assert {r.status_code for r in answers} == {401}
        assert len({r.content for r in answers}) == 1
        assert (await gw.client.get(url, headers=fresh)).status_code == 200
        seen = (await gw.admin_api("GET", f"/providers/{idp.id}/auth-failures")).json()
        assert seen["totals"] == {"no_credential": 1, "unknown_credential": 2,
                                  "wrong_scheme": 2}
        assert {i["reason"] for i in seen["items"]} == set(seen["totals"])
        unknown = await gw.client.get("/scim/v2/nope/Users", headers=fresh)
        assert unknown.status_code == 401
        everything = (await gw.admin_api("GET", "/auth-failures")).json()
        assert any(i["provider_id"] == "-" for i in everything["items"])


async def test_a_flood_of_failures_adds_to_counts_not_rows(database):
    async with running(database, auth_failures_per_client=100_000) as gw:
        idp = await gw.provider()
        for _ in range(300):
            assert (await gw.client.get(f"{idp.base}/Users",
                                        headers=wrong_bearer())).status_code == 401
        seen = (await gw.admin_api("GET", f"/providers/{idp.id}/auth-failures")).json()
        assert seen["items"] == [{"minute": seen["items"][0]["minute"],
                                  "reason": "unknown_credential", "count": 300}]
        async with gw.gw.store.read() as conn:
            assert await conn.fetchval("SELECT count(*) FROM auth_failures") == 1


async def test_an_expired_access_token_is_named_for_the_admin(database):
    async with running(database, enabled=["entra"]) as gw:
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "e", "auth": "oauth", "plugin": "entra"})
        pid, creds = r.json()["id"], r.json()["credentials"]
        pair = f"{creds['Client ID']}:{creds['Client secret']}".encode()
        issued = await gw.client.post(f"/scim/v2/{pid}/oauth/token",
                                      data={"grant_type": "client_credentials"},
                                      headers={"Authorization": "Basic "
                                               + base64.b64encode(pair).decode()})
        token = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        assert (await gw.client.get(f"/scim/v2/{pid}/Users", headers=token)).status_code == 200
        gw.clock.advance(minutes=61)
        expired = await gw.client.get(f"/scim/v2/{pid}/Users", headers=token)
        assert expired.status_code == 401
        wrong = await gw.client.post(f"/scim/v2/{pid}/oauth/token", data={
            "grant_type": "client_credentials", "client_id": creds["Client ID"],
            "client_secret": "nope"})
        assert wrong.status_code == 401
        seen = (await gw.admin_api("GET", f"/providers/{pid}/auth-failures")).json()
        assert seen["totals"] == {"expired_token": 1, "unknown_credential": 1}


async def test_the_token_endpoint_is_rate_limited(database):
    async with running(database, enabled=["entra"], token_requests_per_client=5) as gw:
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "e", "auth": "oauth", "plugin": "entra"})
        pid, creds = r.json()["id"], r.json()["credentials"]
        form = {"grant_type": "client_credentials", "client_id": creds["Client ID"],
                "client_secret": creds["Client secret"]}
        answers = [await gw.client.post(f"/scim/v2/{pid}/oauth/token", data=form)
                   for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        assert answers[-1].json()["error"] == "slow_down"
        assert int(answers[-1].headers["retry-after"]) >= 1
        seen = (await gw.admin_api("GET", f"/providers/{pid}/auth-failures")).json()
        assert seen["totals"] == {"token_rate_limited": 2}


async def test_limits_are_bounded_settings(tmp_path):
    from gateway.settings import ConfigError, load_settings

    config = tmp_path / "gw.toml"
    for line in ("auth_failures_per_client = 0", "header_timeout = 0.1",
                 "max_connections = 10000000", "shutdown_timeout = -1"):
        config.write_text(f"[gateway]\n{line}\n")
        with pytest.raises(ConfigError):
            load_settings(str(config))
    config.write_text("[gateway]\nauth_failures_per_client = 5\nbody_timeout = 30\n")
    loaded = load_settings(str(config))
    assert loaded.auth_failures_per_client == 5 and loaded.body_timeout == 30

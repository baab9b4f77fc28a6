"""Entra's OAuth 2.0 client credentials: issue, use, expire, rotate."""

from __future__ import annotations

import base64

import httpx
import pytest

from gateway.testing import running

pytestmark = pytest.mark.anyio


async def oauth_provider(gw, name="entra-oauth"):
    r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                             json={"name": name, "auth": "oauth", "plugin": "entra"})
    assert r.status_code == 201, r.text
    return r.json()


async def token(gw, pid, client_id, secret, basic=False):
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        pair = f"{client_id}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form.update(client_id=client_id, client_secret=secret)
    return await gw.client.post(f"/scim/v2/{pid}/oauth/token", data=form, headers=headers)


async def users(gw, pid, access_token):
    return await gw.client.get(f"/scim/v2/{pid}/Users",
                               headers={"Authorization": f"Bearer {access_token}"})


async def test_issue_use_expire_rotate(database):
    async with running(database, enabled=["entra"]) as gw:
        view = await oauth_provider(gw)
        pid, creds = view["id"], view["credentials"]
        assert set(creds) == {"Client ID", "Client secret", "Token endpoint"}
        # The URL Entra's form asks for, where the token request below is sent.
        assert creds["Token endpoint"] == f"http://127.0.0.1:8080/scim/v2/{pid}/oauth/token"

        issued = await token(gw, pid, creds["Client ID"], creds["Client secret"], basic=True)
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert issued.headers["cache-control"] == "no-store"
        assert (await users(gw, pid, body["access_token"])).status_code == 200

        # The client secret itself is not an access token.
        assert (await users(gw, pid, creds["Client secret"])).status_code == 401

        gw.clock.advance(minutes=59)
        assert (await users(gw, pid, body["access_token"])).status_code == 200
        gw.clock.advance(minutes=2)
        expired = await users(gw, pid, body["access_token"])
        assert expired.status_code == 401
        assert expired.json()["status"] == "401"

        fresh = (await token(gw, pid, creds["Client ID"], creds["Client secret"])).json()
        assert (await users(gw, pid, fresh["access_token"])).status_code == 200

        rotated = await gw.client.post(f"/admin/v1/providers/{pid}/rotate", headers=gw.admin)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["credentials"]
        assert new["Client ID"] == creds["Client ID"]  # the id stays; the secret changes
        assert new["Client secret"] != creds["Client secret"]
        assert (await users(gw, pid, fresh["access_token"])).status_code == 401
        old = await token(gw, pid, creds["Client ID"], creds["Client secret"])
        assert old.status_code == 401 and old.json()["error"] == "invalid_client"
        after = (await token(gw, pid, new["Client ID"], new["Client secret"])).json()
        assert (await users(gw, pid, after["access_token"])).status_code == 200


async def test_lifetime_is_configurable(database):
    async with running(database, enabled=["entra"],
                       config={"entra": {"access_token_lifetime": "5m"}}) as gw:
        view = await oauth_provider(gw)
        creds = view["credentials"]
        body = (await token(gw, view["id"], creds["Client ID"], creds["Client secret"])).json()
        assert body["expires_in"] == 300
        gw.clock.advance(minutes=6)
        assert (await users(gw, view["id"], body["access_token"])).status_code == 401


async def test_token_endpoint_refusals(database):
    async with running(database, enabled=["entra"]) as gw:
        view = await oauth_provider(gw)
        pid, creds = view["id"], view["credentials"]
        url = f"/scim/v2/{pid}/oauth/token"

        wrong = await token(gw, pid, creds["Client ID"], "not-the-secret", basic=True)
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        assert wrong.headers["www-authenticate"].startswith("Basic")

        grant = await gw.client.post(url, data={"grant_type": "password",
                                                "client_id": creds["Client ID"],
                                                "client_secret": creds["Client secret"]})
        assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"

        as_json = await gw.client.post(url, json={"grant_type": "client_credentials"})
        assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"

        repeated = await gw.client.post(
            url, content="grant_type=client_credentials&grant_type=client_credentials",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"

        unknown = await gw.client.post("/scim/v2/nope/oauth/token", data={
            "grant_type": "client_credentials", "client_id": creds["Client ID"],
            "client_secret": creds["Client secret"]})
        # The same refusal as a wrong secret: nothing tells which ids exist.
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() == wrong.json()
        # Nothing was issued by the refused requests.
        async with gw.gw.store.read() as conn:
            count = await conn.fetchval(
                "SELECT count(*) FROM credentials WHERE kind = 'oauth_access'")
        assert count == 0


async def test_tokens_belong_to_their_provider(database):
    async with running(database, enabled=["entra"]) as gw:
        one = await oauth_provider(gw, "one")
        two = await oauth_provider(gw, "two")
        c1, c2 = one["credentials"], two["credentials"]
        # Client one's credentials at provider two's endpoint are refused.
        crossed = await token(gw, two["id"], c1["Client ID"], c1["Client secret"])
        assert crossed.status_code == 401 and crossed.json()["error"] == "invalid_client"
        t1 = (await token(gw, one["id"], c1["Client ID"], c1["Client secret"])).json()
        assert (await users(gw, two["id"], t1["access_token"])).status_code == 401
        assert c2["Client ID"] != c1["Client ID"]


async def test_oauth_is_for_entra_providers_only(database):
    async with running(database, enabled=["entra"]) as gw:
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "plain", "auth": "oauth"})
        assert r.status_code == 400
        assert "oauth" in r.json()["detail"]


async def test_expired_access_tokens_do_not_pile_up(database):
    """Each token request adds a live credential; expired ones go as new ones come."""
    async with running(database, enabled=["entra"], token_requests_per_client=1000,
                       token_requests_per_provider=1000) as gw:
        view = await oauth_provider(gw)
        pid, creds = view["id"], view["credentials"]
        tokens = [(await token(gw, pid, creds["Client ID"], creds["Client secret"])).json()
                  for _ in range(150)]
        # Every live token works, found by its hash among the others.
        for body in (tokens[0], tokens[75], tokens[-1]):
            assert (await users(gw, pid, body["access_token"])).status_code == 200

        async def stored() -> int:
            async with gw.gw.store.read() as conn:
                return await conn.fetchval(
                    "SELECT count(*) FROM credentials WHERE kind = 'oauth_access'")

        assert await stored() == 150
        gw.clock.advance(hours=3)  # all 150 expired more than an hour ago
        fresh = (await token(gw, pid, creds["Client ID"], creds["Client secret"])).json()
        assert await stored() == 51  # 100 pruned per issue, at most
        fresh = (await token(gw, pid, creds["Client ID"], creds["Client secret"])).json()
        assert await stored() == 2
        assert (await users(gw, pid, fresh["access_token"])).status_code == 200


def client_at(gw, address: str) -> httpx.AsyncClient:
    """A client of the same app that connects from another address."""
    return httpx.AsyncClient(base_url="http://testserver",
                             transport=httpx.ASGITransport(app=gw.app, client=(address, 40000)))


async def test_strangers_never_get_entra_refused_a_token(database):
    async with running(database, enabled=["entra"], auth_failures_per_provider=10,
                       token_requests_per_provider=10) as gw:
        view = await oauth_provider(gw)
        pid, creds = view["id"], view["credentials"]
        url = f"/scim/v2/{pid}/oauth/token"
        right = {"grant_type": "client_credentials", "client_id": creds["Client ID"],
                 "client_secret": creds["Client secret"]}
        wrong = {**right, "client_secret": "not-the-secret"}
        statuses = []
        for n in range(15):  # fifteen addresses, wrong client secrets
            async with client_at(gw, f"203.0.113.{n}") as one:
                statuses += [(await one.post(url, data=wrong)).status_code for _ in range(2)]
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
        # Entra, from an address it never used: its tokens are issued; only they count
        # against the provider's token limit.
        async with client_at(gw, "192.0.2.50") as entra:
            issued = [await entra.post(url, data=right) for _ in range(11)]
            assert [r.status_code for r in issued] == [200] * 10 + [429]
            assert issued[-1].json()["error"] == "slow_down"
            token = {"Authorization": f"Bearer {issued[0].json()['access_token']}"}
            assert (await entra.get(f"/scim/v2/{pid}/Users", headers=token)).status_code == 200
        async with gw.gw.store.read() as conn:
            assert await conn.fetchval(
                "SELECT count(*) FROM credentials WHERE kind = 'oauth_access'") == 10
        seen = (await gw.admin_api("GET", f"/providers/{pid}/auth-failures")).json()
        assert seen["totals"] == {"unknown_credential": 10, "rate_limited": 20,
                                  "token_rate_limited": 1}

"""Entra's OAuth 2.0 client credentials: issue, use, expire, rotate."""

from __future__ import annotations

import base64

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
        assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_client"
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
        assert crossed.status_code == 400 and crossed.json()["error"] == "invalid_client"
        t1 = (await token(gw, one["id"], c1["Client ID"], c1["Client secret"])).json()
        assert (await users(gw, two["id"], t1["access_token"])).status_code == 401
        assert c2["Client ID"] != c1["Client ID"]


async def test_oauth_is_for_entra_providers_only(database):
    async with running(database, enabled=["entra"]) as gw:
        r = await gw.client.post("/admin/v1/providers", headers=gw.admin,
                                 json={"name": "plain", "auth": "oauth"})
        assert r.status_code == 400
        assert "oauth" in r.json()["detail"]

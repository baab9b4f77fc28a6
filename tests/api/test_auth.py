"""Provider credentials: 401 without them, isolation between providers, rotation, basic."""

import pytest

from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio

CHALLENGES = ['Bearer realm="identity-gateway"', 'Basic realm="identity-gateway"']


async def test_no_token_is_401_with_challenge(gateway, idp):
    r = await gateway.client.get(f"{idp.base}/Users")
    assert r.status_code == 401
    assert r.headers.get_list("www-authenticate") == CHALLENGES
    body = r.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "401"


async def test_wrong_token_and_unknown_provider_look_the_same(gateway, idp):
    wrong = await gateway.client.get(f"{idp.base}/Users", headers={"Authorization": "Bearer x"})
    unknown = await gateway.client.get("/scim/v2/nope/Users", headers=idp.headers)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_a_provider_sees_only_its_own_resources(gateway, idp):
    other = await gateway.provider("other")
    user = (await gateway.scim(idp, "POST", "/Users", user_body())).json()
    # Other's token on other's URL: the first provider's user does not exist there.
    assert (await gateway.scim(other, "GET", f"/Users/{user['id']}")).status_code == 404
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "title", "value": "x"}]}
    assert (await gateway.scim(other, "PATCH", f"/Users/{user['id']}", patch)).status_code == 404
    assert (await gateway.scim(other, "DELETE", f"/Users/{user['id']}")).status_code == 404
    listed = (await gateway.scim(other, "GET", "/Users")).json()
    assert listed["totalResults"] == 0
    # Other's token on the first provider's URL is refused outright.
    r = await gateway.client.get(f"{idp.base}/Users/{user['id']}", headers=other.headers)
    assert r.status_code == 401
    # The same userName may exist once per provider.
    assert (await gateway.scim(other, "POST", "/Users", user_body())).status_code == 201
    assert (await gateway.scim(idp, "GET", f"/Users/{user['id']}")).status_code == 200


async def test_rotation_refuses_the_old_token_at_once(gateway, idp):
    r = await gateway.client.post(f"/admin/v1/providers/{idp.id}/rotate", headers=gateway.admin)
    assert r.status_code == 200
    new = r.json()["credentials"]["Bearer token"]
    assert (await gateway.client.get(f"{idp.base}/Users", headers=idp.headers)).status_code == 401
    fresh = {"Authorization": f"Bearer {new}"}
    assert (await gateway.client.get(f"{idp.base}/Users", headers=fresh)).status_code == 200


async def test_a_token_let_in_before_is_refused_once_another_process_rotated_it(
        database, gateway, idp):
    """Each process remembers the credentials that let requests in; a rotation made by
    another process (a worker, a replica) still refuses the old token at the next request."""
    get_users = f"{idp.base}/Users"
    for _ in range(2):  # the second request is answered from what the first remembered
        assert (await gateway.client.get(get_users, headers=idp.headers)).status_code == 200
    async with running(database) as other:
        r = await other.client.post(f"/admin/v1/providers/{idp.id}/rotate", headers=other.admin)
        assert r.status_code == 200
        fresh = {"Authorization": f"Bearer {r.json()['credentials']['Bearer token']}"}
    assert (await gateway.client.get(get_users, headers=idp.headers)).status_code == 401
    assert (await gateway.client.get(get_users, headers=fresh)).status_code == 200


async def test_a_revoked_token_is_refused_at_its_next_request(gateway, idp):
    get_users = f"{idp.base}/Users"
    assert (await gateway.client.get(get_users, headers=idp.headers)).status_code == 200
    async with gateway.app.state.gateway.store.write() as conn:
        await conn.execute("UPDATE credentials SET revoked_at = ? WHERE provider_id = ?",
                           ("2000-01-01T00:00:00Z", idp.id))
    assert (await gateway.client.get(get_users, headers=idp.headers)).status_code == 401


async def test_basic_credentials(gateway):
    okta = await gateway.provider("okta-like", auth="basic")
    assert set(okta.credentials) == {"Username", "Password"}
    r = await gateway.client.get(f"{okta.base}/Users?startIndex=1&count=1", headers=okta.headers)
    assert r.status_code == 200
    bad = await gateway.client.get(f"{okta.base}/Users", auth=(okta.credentials["Username"], "x"))
    assert bad.status_code == 401
    assert bad.headers.get_list("www-authenticate") == CHALLENGES


async def test_secrets_are_stored_hashed(gateway, idp):
    token = idp.headers["Authorization"].split()[1]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    async with gateway.gw.store.read() as conn:
        rows = await conn.fetchall("SELECT secret_hash FROM credentials")
    assert rows and all(r["secret_hash"].startswith("sha256$") for r in rows)
    assert all(token not in r["secret_hash"] for r in rows)


async def test_admin_api_needs_the_admin_token(gateway, idp):
    r = await gateway.client.get("/admin/v1/providers", headers=idp.headers)
    assert r.status_code == 401
    ok = await gateway.client.get("/admin/v1/providers", headers=gateway.admin)
    assert [p["name"] for p in ok.json()["items"]] == ["idp"]

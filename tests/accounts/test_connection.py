"""A provider's connection check (accounts.providers.connection): waiting until its IdP's
first request with the current credential, refused when that request's credential was
wrong, connected once one authenticated; a rotation starts it again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.accounts import auth_failures, providers
from gateway.observability import activity
from gateway.store import providers as queries

pytestmark = pytest.mark.anyio
WRONG = {"Authorization": "Bearer not-the-secret"}


async def check(gateway, idp) -> dict:
    async with gateway.gw.store.read() as conn:
        found = await queries.get_provider(conn, idp.id)
    return await providers.connection(gateway.gw, found)


async def test_waiting_then_refused_then_connected(gateway, idp):
    first = await check(gateway, idp)
    assert (first["state"], first["request"], first["refused"]) == ("waiting", None, None)

    gateway.clock.advance(seconds=5)
    assert (await gateway.scim(idp, "GET", "/Users", headers=WRONG)).status_code == 401
    refused = await check(gateway, idp)
    assert refused["state"] == "refused"
    assert refused["refused"]["reasons"] == {"unknown_credential": 1}
    assert refused["request"]["status"] == 401

    gateway.clock.advance(seconds=5)
    await gateway.scim(idp, "GET", "/Users", params={"startIndex": "1", "count": "2"})
    connected = await check(gateway, idp)
    assert connected["state"] == "connected"
    assert connected["request"]["request"] == "GET /Users?startIndex=1&count=2"
    assert connected["request"]["status"] == 200
    assert connected["success_at"] == connected["request"]["at"]


async def test_the_same_once_written_to_the_database(gateway, idp):
    await gateway.scim(idp, "GET", "/Users", headers=WRONG)
    await gateway.scim(idp, "GET", "/Users", headers={"Authorization": "Basic eDp5"})
    await auth_failures.flush(gateway.gw)
    await activity.flush(gateway.gw)
    found = await check(gateway, idp)
    assert found["state"] == "refused"
    assert found["refused"]["reasons"] == {"unknown_credential": 1, "wrong_scheme": 1}
    assert found["refused"]["count"] == 2
    counts = await auth_failures.refused_by_provider(gateway.gw, timedelta(hours=1))
    assert counts[idp.id] == 2
    gateway.clock.advance(hours=2)
    assert idp.id not in await auth_failures.refused_by_provider(gateway.gw,
                                                                 timedelta(hours=1))


async def test_a_rotation_waits_again_and_the_old_secret_is_refused(gateway, idp):
    await gateway.scim(idp, "GET", "/Users")
    before = await check(gateway, idp)
    assert before["state"] == "connected"
    # A refusal in the minute of the rotation, but before it: not the new credential's.
    gateway.clock.advance(seconds=61)
    await gateway.scim(idp, "GET", "/Users", headers=WRONG)
    gateway.clock.advance(seconds=1)
    r = await gateway.admin_api("POST", f"/providers/{idp.id}/rotate")
    new = {"Authorization": f"Bearer {r.json()['credentials']['Bearer token']}"}
    after = await check(gateway, idp)
    assert after["state"] == "waiting" and after["request"] is None
    assert after["since"] > before["since"]

    gateway.clock.advance(seconds=1)
    assert (await gateway.scim(idp, "GET", "/Users")).status_code == 401  # the old secret
    assert (await check(gateway, idp))["state"] == "refused"

    gateway.clock.advance(seconds=1)
    assert (await gateway.scim(idp, "GET", "/Users/nobody", headers=new)).status_code == 404
    found = await check(gateway, idp)
    assert found["state"] == "connected"  # authenticated, though not a success
    assert found["success_at"] is None and found["request"]["status"] == 404


async def forget_last_requests(gateway) -> None:
    """Only the per-minute failure counts remain (as for a refusal answered before the
    provider was looked up)."""
    await activity.flush(gateway.gw)
    async with gateway.gw.store.write() as conn:
        await conn.execute("DELETE FROM provider_last_request")


async def test_the_refusals_of_the_rotation_minute_wait_for_a_later_one(gateway, idp):
    """Counted per minute, a refusal of the rotation's minute may predate it: alone it
    does not say the new credential was refused."""
    await gateway.scim(idp, "GET", "/Users", headers=WRONG)
    await forget_last_requests(gateway)
    gateway.clock.advance(seconds=1)
    await gateway.admin_api("POST", f"/providers/{idp.id}/rotate")
    assert (await check(gateway, idp))["state"] == "waiting"
    gateway.clock.advance(minutes=1)
    await gateway.scim(idp, "GET", "/Users", headers=WRONG)
    await forget_last_requests(gateway)
    assert (await check(gateway, idp))["state"] == "refused"

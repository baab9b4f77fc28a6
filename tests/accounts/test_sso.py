"""Console sign-in through a real OpenID provider (Canaille, from pytest-iam), at the level
of HTTP: the checks of the answer that a browser adds nothing to (audience, expiry, a
replayed state or nonce, a callback from another browser, the provider's key rotation), the
role read again at each sign-in, and the sync log. The same flows in Chromium are in
tests/console/test_sso_sign_in.py."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider as idp
import pytest
from joserfc.jwk import RSAKey

from gateway.accounts import admins
from gateway.clock import FakeClock
from gateway.settings import SsoSettings
from gateway.store import admins as queries
from gateway.testing import Harness, running

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:8080/console/sso/callback"  # the harness's public URL


def sso_running(database, iam, client, clock=None, **extra):
    sso = SsoSettings(**idp.settings(iam, client, **extra))
    return running(database, console_sso=sso, clock=clock or FakeClock(datetime.now(UTC)))


async def out(h: Harness, client: httpx.AsyncClient | None = None) -> str:
    """Start a sign-in: the authorization URL the gateway sends the browser to."""
    r = await (client or h.client).get("/console/sso/start?next=/console/users")
    assert r.status_code == 303, r.text
    return r.headers["location"]


async def back(h: Harness, location: str,
               client: httpx.AsyncClient | None = None) -> httpx.Response:
    parts = urlsplit(location)
    assert parts.path == "/console/sso/callback", location
    return await (client or h.client).get(f"{parts.path}?{parts.query}")


async def sign_in(h: Harness, iam, person) -> httpx.Response:
    return await back(h, idp.authorize(iam, await out(h), person))


async def log_of(h: Harness) -> list[dict]:
    r = await h.admin_api("GET", "/sync-log?limit=100")
    return [e for e in r.json()["items"] if e["resource_type"] == "ConsoleAccount"]


async def account(h: Harness, name: str):
    async with h.gw.store.read() as conn:
        return await queries.get_admin(conn, name)


async def test_first_sign_in_creates_the_account_with_its_role(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "ada", client.admins, client.staff)
    async with sso_running(database, iam_server, client) as h:
        r = await sign_in(h, iam_server, person)
        assert r.status_code == 303 and r.headers["location"] == "/console/users"
        page = await h.client.get("/console/users")
        assert page.status_code == 200 and "ada" in page.text
        found = await account(h, "ada")
        assert found.source == "sso" and found.role == "admin"
        assert found.issuer == iam_server.url.rstrip("/") and found.subject == "ada"
        entries = await log_of(h)
        assert {(e["operation"], e["actor"], e["outcome"]) for e in entries} == {
            ("create", "console:ada", "success"), ("console_sign_in", "console:ada", "success")}
        # An SSO account has no password: the password form refuses it like a wrong one.
        form = await h.client.get("/console/sign-in")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = await h.client.post("/console/sign-in", data={
            "username": "ada", "password": "", "csrf_token": token})
        assert r.status_code == 401 and "Wrong name or password" in r.text


async def test_the_role_is_read_again_at_each_sign_in(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "grace", client.admins)
    async with sso_running(database, iam_server, client) as h:
        assert (await sign_in(h, iam_server, person)).status_code == 303
        idp.move(iam_server, person, client.auditors)  # the IdP admin moves her
        assert (await sign_in(h, iam_server, person)).status_code == 303
        assert (await account(h, "grace")).role == "auditor"
        page = await h.client.get("/console/users")
        assert '<span class="tag">auditor</span>' in page.text
        idp.move(iam_server, person, client.staff)  # and then removes her from both
        refused = await sign_in(h, iam_server, person)
        assert refused.status_code == 403
        assert f"The claim &#39;groups&#39; maps to no console role: it held " \
               f"&#39;{client.staff}&#39;" in refused.text
        entries = await log_of(h)
        change = next(e for e in entries if e["operation"] == "console_role_change")
        assert change["actor"] == "console:grace"
        assert change["before"] == {"role": "admin"} and change["after"] == {"role": "auditor"}
        refusal = next(e for e in entries if e["outcome"] == "error")
        assert refusal["actor"] == "console:grace" and client.staff in refusal["detail"]


async def test_a_token_for_another_audience_is_refused(database, iam_server):
    client = idp.register(iam_server, CALLBACK, audience=["some-other-app"])
    person = idp.user(iam_server, "mallory", client.admins)
    async with sso_running(database, iam_server, client) as h:
        r = await sign_in(h, iam_server, person)
        assert r.status_code == 403 and "aud" in r.text
        assert await account(h, "mallory") is None
        assert (await h.client.get("/console/users")).status_code == 303  # no session


async def test_an_expired_token_is_refused(database, iam_server):
    """The gateway's clock two hours past the provider's: the ID token (valid an hour)
    has expired by the time it arrives."""
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "late", client.admins)
    clock = FakeClock(datetime.fromtimestamp(datetime.now(UTC).timestamp() + 7200, UTC))
    async with sso_running(database, iam_server, client, clock=clock) as h:
        r = await sign_in(h, iam_server, person)
        assert r.status_code == 403 and "expired" in r.text
        assert await account(h, "late") is None


async def test_a_replayed_state_is_refused(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "replay", client.admins)
    async with sso_running(database, iam_server, client) as h:
        location = idp.authorize(iam_server, await out(h), person)
        assert (await back(h, location)).status_code == 303
        await h.client.post("/console/sign-out", data={"csrf_token": "x"})
        h.client.cookies.delete("ig_console")
        again = await back(h, location)
        assert again.status_code == 400 and "used already" in again.text
        assert (await h.client.get("/console/users")).status_code == 303


async def test_a_replayed_nonce_is_refused(database, iam_server):
    """A code obtained with the nonce of an earlier sign-in, brought back with a fresh
    state: the ID token carries the old nonce and is refused."""
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "nonce", client.admins)
    async with sso_running(database, iam_server, client) as h:
        first = await out(h)
        old_nonce = parse_qs(urlsplit(first).query)["nonce"][0]
        assert (await back(h, idp.authorize(iam_server, first, person))).status_code == 303
        h.client.cookies.delete("ig_console")
        second = await out(h)
        query = parse_qs(urlsplit(second).query)
        query["nonce"] = [old_nonce]
        forged = str(httpx.URL(second.split("?")[0], params={k: v[0] for k, v in query.items()}))
        r = await back(h, idp.authorize(iam_server, forged, person))
        assert r.status_code == 403 and "nonce" in r.text
        assert (await h.client.get("/console/users")).status_code == 303


async def test_a_callback_without_the_pre_sign_in_session_is_refused(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "victim", client.admins)
    async with sso_running(database, iam_server, client) as h:
        location = idp.authorize(iam_server, await out(h), person)
        transport = httpx.ASGITransport(app=h.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            r = await back(h, location, other)  # another browser: no pre-sign-in cookie
            assert r.status_code == 400 and "did not start in this browser" in r.text
            assert (await other.get("/console/users")).status_code == 303
        # The state is spent: the browser that started it cannot use it either now.
        assert (await back(h, location)).status_code == 400
        assert await account(h, "victim") is None


async def test_a_new_signing_key_is_fetched_when_the_provider_rotates(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "rotate", client.admins)
    oidc_config = iam_server.app.config["CANAILLE_OIDC"]
    before = oidc_config["ACTIVE_JWKS"]
    async with sso_running(database, iam_server, client) as h:
        assert (await sign_in(h, iam_server, person)).status_code == 303  # keys cached
        h.client.cookies.delete("ig_console")
        fresh = RSAKey.generate_key(2048, auto_kid=True)
        oidc_config["ACTIVE_JWKS"] = [fresh.as_dict(private=True)]
        try:
            h.gw.oidc[iam_server.url].keys_at = 0.0  # past the refetch pause
            assert (await sign_in(h, iam_server, person)).status_code == 303
        finally:
            oidc_config["ACTIVE_JWKS"] = before
        assert fresh.kid in {k.kid for k in h.gw.oidc[iam_server.url].keys.keys}


async def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    person = idp.user(iam_server, "leaver", client.admins)
    async with sso_running(database, iam_server, client) as h:
        await h.console_sign_in("boss")
        h.client.cookies.delete("ig_console")
        assert (await sign_in(h, iam_server, person)).status_code == 303
        assert (await h.client.get("/console/users")).status_code == 200
        await admins.set_disabled(h.gw, "leaver", True, "console:boss")
        assert (await h.client.get("/console/users")).status_code == 303  # session ended
        refused = await sign_in(h, iam_server, person)
        assert refused.status_code == 403 and "is disabled" in refused.text
        await admins.set_disabled(h.gw, "leaver", False)
        assert (await sign_in(h, iam_server, person)).status_code == 303
        ops = [(e["operation"], e["actor"]) for e in await log_of(h)]
        assert ("disable", "console:boss") in ops

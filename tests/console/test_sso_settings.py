"""Single sign-on set up on the console's Settings page (no [console.sso] in the file): a
mistake is a message on the page and changes nothing, the client secret is never taken from
the form, the saved settings are used (with the secret from the environment) and logged."""

from __future__ import annotations

from datetime import UTC, datetime

import oidc_provider as idp
import pytest

from gateway.clock import FakeClock
from gateway.testing import running

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:8080/console/sso/callback"


def form(iam, client, **extra) -> dict:
    values = idp.settings(iam, client)
    values.pop("client_secret")
    return {**values, "admin_values": client.admins, "auditor_values": client.auditors,
            **extra}


async def test_the_settings_page_saves_checked_settings(database, iam_server, monkeypatch):
    client = idp.register(iam_server, CALLBACK)
    async with running(database, clock=FakeClock(datetime.now(UTC))) as h:
        csrf = await h.console_sign_in("boss")
        page = await h.client.get("/console/settings")
        assert CALLBACK in page.text and "Off." not in page.text  # an admin sees the form
        bad = await h.client.post("/console/settings/sso", data={
            **form(iam_server, client, issuer="http://idp.example.com"), "csrf_token": csrf})
        assert bad.status_code == 400 and "is not https" in bad.text
        assert "Sign in with" not in (await h.client.get("/console/sign-in")).text
        secret = await h.client.post("/console/settings/sso", data={
            **form(iam_server, client), "client_secret": client.secret, "csrf_token": csrf})
        assert secret.status_code == 400 and "IDENTITY_GATEWAY_SSO_CLIENT_SECRET" in secret.text
        saved = await h.client.post("/console/settings/sso", data={
            **form(iam_server, client), "csrf_token": csrf})
        assert saved.status_code == 303
        # Saved, but the environment has no client secret yet: the page says so.
        page = (await h.client.get("/console/settings")).text
        assert "client_secret: is missing: set IDENTITY_GATEWAY_SSO_CLIENT_SECRET" in page
        monkeypatch.setenv("IDENTITY_GATEWAY_SSO_CLIENT_SECRET", client.secret)
        h.client.cookies.delete("ig_console")
        assert "Sign in with Canaille" in (await h.client.get("/console/sign-in")).text
        person = idp.user(iam_server, "eve", client.admins)
        out = await h.client.get("/console/sso/start")
        back = idp.authorize(iam_server, out.headers["location"], person).split("8080")[1]
        r = await h.client.get(back)
        assert r.status_code == 303, r.text.split('role="alert">')[1][:300]
        log = (await h.admin_api("GET", "/sync-log?limit=50")).json()["items"]
        change = next(e for e in log if e["resource_type"] == "ConsoleSso")
        assert change["actor"] == "console:boss" and client.secret not in str(change)


async def test_an_auditor_cannot_change_single_sign_on(database, iam_server):
    client = idp.register(iam_server, CALLBACK)
    async with running(database) as h:
        csrf = await h.console_sign_in("watcher", "auditor")
        page = (await h.client.get("/console/settings")).text
        assert 'action="/console/settings/sso"' not in page
        r = await h.client.post("/console/settings/sso", data={
            **form(iam_server, client), "csrf_token": csrf})
        assert r.status_code == 403
        assert (await h.client.get("/console/settings/sso/test")).status_code == 403

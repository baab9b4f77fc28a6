"""Plugins change behaviour only through hooks; a test plugin proves each call site."""

import pytest
from conftest import running, user_body

from gateway.hookspecs import hookimpl
from gateway.scim.errors import ScimError

pytestmark = pytest.mark.anyio


class Recorder:
    """A plugin that normalizes, validates and watches changes."""

    def __init__(self):
        self.events = []
        self.committed = []

    @hookimpl
    def normalize_request(self, resource_type, operation, body):
        if resource_type == "User" and isinstance(body, dict) and "nick" in body:
            body = dict(body)
            body["nickName"] = body.pop("nick")
            return body
        return None

    @hookimpl
    def validate_resource(self, resource_type, resource):
        if resource.get("title") == "forbidden":
            raise ScimError(400, "title 'forbidden' is not allowed here", "invalidValue")

    @hookimpl
    def after_change(self, event, conn):
        self.events.append(event["type"])

    @hookimpl
    def after_commit(self, events):
        self.committed += [e["seq"] for e in events]


async def test_hooks_change_behaviour(database):
    plugin = Recorder()
    async with running(database, plugins=[plugin]) as gateway:
        idp = await gateway.provider()
        r = await gateway.scim(idp, "POST", "/Users", user_body(nick="Ally"))
        assert r.status_code == 201, r.text
        assert r.json()["nickName"] == "Ally"
        refused = await gateway.scim(idp, "POST", "/Users", user_body("b@example.com",
                                                                      title="forbidden"))
        assert refused.status_code == 400
        assert "forbidden" in refused.json()["detail"]
        listed = (await gateway.scim(idp, "GET", "/Users")).json()
        assert listed["totalResults"] == 1
    assert plugin.events == ["user.created"]
    assert len(plugin.committed) == 1


class Rejecter:
    """after_change runs inside the transaction: raising aborts the whole change."""

    @hookimpl
    def after_change(self, event, conn):
        raise ScimError(400, "refused by policy", "invalidValue")


async def test_after_change_failure_rolls_back(database):
    async with running(database, plugins=[Rejecter()]) as gateway:
        idp = await gateway.provider()
        r = await gateway.scim(idp, "POST", "/Users", user_body())
        assert r.status_code == 400
        async with gateway.gw.store.read() as conn:
            assert await conn.fetchval("SELECT count(*) FROM resources") == 0
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


class TokenAuth:
    """A plugin credential check: authenticate is an ordinary hook."""

    @hookimpl
    def authenticate(self, request, provider, credentials):
        if request.headers.get("x-test-key") == "let-me-in":
            from gateway.accounts.credentials import Principal

            return Principal(provider.id, "test", "test")
        return None


async def test_authenticate_hook(database):
    async with running(database, plugins=[TokenAuth()]) as gateway:
        idp = await gateway.provider()
        r = await gateway.client.get(f"{idp.base}/Users", headers={"x-test-key": "let-me-in"})
        assert r.status_code == 200
        r = await gateway.client.get(f"{idp.base}/Users", headers={"x-test-key": "no"})
        assert r.status_code == 401

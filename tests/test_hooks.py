"""Plugins change behaviour only through hooks; a test plugin proves each call site."""

import pytest

from gateway.hooks import PluginError, make_plugin_manager
from gateway.plugin import (
    PATCH_OP,
    IssuedCredential,
    Principal,
    ScimError,
    every_provider,
    hash_secret,
    hookimpl,
    own_providers,
    verify_secret,
)
from gateway.testing import running
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio


class Recorder:
    """A plugin that normalizes, validates and watches changes."""

    def __init__(self):
        self.events = []
        self.committed = []

    @hookimpl
    @every_provider
    def normalize_request(self, resource_type, operation, body):
        if resource_type == "User" and isinstance(body, dict) and "nick" in body:
            body = dict(body)
            body["nickName"] = body.pop("nick")
            return body
        return None

    @hookimpl
    @every_provider
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
    @every_provider
    def authenticate(self, request, provider, credentials):
        if request.headers.get("x-test-key") == "let-me-in":
            return Principal(provider.id, "test", "test")
        return None


async def test_authenticate_hook(database):
    async with running(database, plugins=[TokenAuth()]) as gateway:
        idp = await gateway.provider()
        r = await gateway.client.get(f"{idp.base}/Users", headers={"x-test-key": "let-me-in"})
        assert r.status_code == 200
        r = await gateway.client.get(f"{idp.base}/Users", headers={"x-test-key": "no"})
        assert r.status_code == 401


class AsyncKind:
    """A credential plugin whose hooks are coroutines, as hookspecs.py allows."""

    @hookimpl
    async def credential_kinds(self):
        return ["async-key"]

    @hookimpl
    @every_provider
    async def issue_credential(self, provider, kind, secret, username, gateway):
        if kind != "async-key":
            return None
        assert gateway.plugin_config("async_kind") == {"prefix": "ak"}
        return IssuedCredential("async-key", hash_secret(secret), None, [("Key", secret)])

    @hookimpl
    @every_provider
    async def authenticate(self, request, provider, credentials):
        key = request.headers.get("x-key", "")
        for cred in credentials:
            if cred.kind == "async-key" and verify_secret(key, cred.secret_hash):
                return Principal(provider.id, cred.id, cred.kind)
        return None


async def test_async_issue_credential_and_authenticate(tmp_path):
    async with running(tmp_path / "gw.db", plugins=[AsyncKind()],
                       config={"async_kind": {"prefix": "ak"}}) as gateway:
        r = await gateway.admin_api("POST", "/providers", {"name": "a", "auth": "async-key"})
        assert r.status_code == 201, r.text
        view = r.json()
        key = view["credentials"]["Key"]
        base = f"/scim/v2/{view['id']}"
        assert (await gateway.client.get(f"{base}/Users", headers={"x-key": key})).status_code \
            == 200
        assert (await gateway.client.get(f"{base}/Users", headers={"x-key": "no"})).status_code \
            == 401
        rotated = await gateway.admin_api("POST", f"/providers/{view['id']}/rotate")
        assert rotated.status_code == 200 and rotated.json()["credentials"]["Key"] != key


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def validate_resource(self, resource):
        return (yield)


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def after_change(self, event):
        yield


class AsyncStartup:
    @hookimpl
    async def extra_routes(self):
        return []


@pytest.mark.parametrize("plugin,words", [
    (NewStyleWrapper(), "wrapper"),
    (OldStyleWrapper(), "wrapper"),
    (AsyncStartup(), "answered directly"),
])
def test_implementations_the_gateway_would_not_run_are_refused(plugin, words):
    with pytest.raises(PluginError) as refused:
        make_plugin_manager(extra=[plugin])
    assert words in refused.value.detail and "hook" in refused.value.detail


class UnknownArgument:
    @hookimpl
    def validate_resource(self, resource, colour):
        return None


def test_an_implementation_asking_for_an_argument_the_hook_lacks_is_refused():
    with pytest.raises(PluginError, match="colour"):
        make_plugin_manager(extra=[UnknownArgument()])


class SyncReturnsAwaitable:
    @hookimpl
    def provider_routes(self):
        async def later():
            return []
        return later()


def test_a_startup_hook_that_returns_an_awaitable_stops_startup(tmp_path):
    from gateway.app import create_app
    from gateway.settings import Settings

    with pytest.raises(PluginError, match="provider_routes"):
        create_app(Settings(database=str(tmp_path / "gw.db")), plugins=[SyncReturnsAwaitable()])


class FirstAnswers:
    """lifecycle_decision is firstresult: the first answer wins, an abstention passes."""

    def __init__(self, answer):
        self.answer = answer

    @hookimpl
    async def lifecycle_decision(self, change):
        return self.answer


async def test_firstresult_hooks_stop_at_the_first_answer(tmp_path):
    from gateway.accounts.lifecycle import Decision

    keep, block = Decision(action="keep", reason="first"), Decision(action="block")
    async with running(tmp_path / "gw.db", plugins=[FirstAnswers(block), FirstAnswers(keep),
                                                    FirstAnswers(None)]) as gateway:
        # pluggy calls the last registered first: None abstains, then `keep` answers.
        answer = await gateway.gw.hooks.call("lifecycle_decision", provider=None, user={},
                                             change="due", conn=None, gateway=gateway.gw)
        assert answer is keep


class Dialect:
    """A third-party IdP plugin's hooks, written without a check of `provider.plugin`."""

    def __init__(self):
        self.seen = []
        self.policy = []

    @hookimpl
    def normalize_request(self, provider, body):
        self.seen.append(("normalize_request", provider and provider.name))
        return {**body, "title": "from acme"} if isinstance(body, dict) else None

    @hookimpl
    def validate_resource(self, provider, resource):
        self.seen.append(("validate_resource", provider and provider.name))

    @hookimpl
    def canonical_profile(self, provider):
        self.seen.append(("canonical_profile", provider and provider.name))
        return {"department": "acme"}

    @hookimpl
    @own_providers
    def lifecycle_decision(self, provider, change):
        self.policy.append((provider and provider.name, change))


async def test_scoped_hooks_see_only_their_own_providers(database):
    acme = Dialect()
    async with running(database, plugins={"acme": acme}) as gateway:
        ours = await gateway.provider("ours", plugin="acme")
        other = await gateway.provider("other")
        for idp, name in ((ours, "a@example.com"), (other, "b@example.com")):
            r = await gateway.scim(idp, "POST", "/Users", user_body(name))
            assert r.status_code == 201, r.text
            await gateway.scim(idp, "PATCH", f"/Users/{r.json()['id']}", {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": False}]})
        local = await gateway.admin_api("POST", "/users", {"userName": "c@example.com"})
        assert local.status_code == 201, local.text
        titles = {u["userName"]: u.get("title") for u in
                  (await gateway.scim(ours, "GET", "/Users")).json()["Resources"]
                  + (await gateway.scim(other, "GET", "/Users")).json()["Resources"]}
    assert titles == {"a@example.com": "from acme", "b@example.com": None}
    assert {name for _, name in acme.seen} == {"ours"}
    assert {hook for hook, _ in acme.seen} == {"normalize_request", "validate_resource",
                                               "canonical_profile"}
    assert acme.policy == [("ours", "deactivate")]


class Everywhere:
    def __init__(self):
        self.seen = []

    @hookimpl
    @every_provider
    def validate_resource(self, provider, resource):
        self.seen.append(provider and provider.name)


async def test_every_provider_sees_every_provider_and_local_users(database):
    watcher = Everywhere()
    async with running(database, plugins={"watcher": watcher}) as gateway:
        for name in ("one", "two"):
            idp = await gateway.provider(name)
            r = await gateway.scim(idp, "POST", "/Users", user_body(f"{name}@example.com"))
            assert r.status_code == 201
        local = await gateway.admin_api("POST", "/users", {"userName": "c@example.com"})
        assert local.status_code == 201, local.text
    assert watcher.seen == ["one", "two", None]


class Unnamed:
    @hookimpl
    def normalize_request(self, body):
        return body


class OwnWithoutProvider:
    @hookimpl
    @own_providers
    def after_change(self, event):
        return None


def test_scope_declarations_that_cannot_work_are_refused():
    with pytest.raises(PluginError, match="normalize_request.*registered without a name"):
        make_plugin_manager(extra=[Unnamed()])
    make_plugin_manager(extra={"named": Unnamed()})  # a provider can name this one
    with pytest.raises(PluginError, match="own_providers on a hook without a provider"):
        make_plugin_manager(extra={"x": OwnWithoutProvider()})

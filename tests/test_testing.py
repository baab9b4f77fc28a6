"""gateway.testing works for a plugin author as docs/plugins.md shows: a plugin passed as a
plain module, its config section, its admin route, a provider of its own."""

from __future__ import annotations

import types

import pytest
from starlette.routing import Route

from gateway.plugin import ScimError, hookimpl, json_body
from gateway.testing import eventually, running, scim_user

pytestmark = pytest.mark.anyio


def acme_plugin() -> types.ModuleType:
    acme = types.ModuleType("identity_gateway_acme")

    @hookimpl
    def validate_resource(resource_type, resource, gateway):
        if resource_type != "User":  # scoped: called for acme's providers only
            return
        if gateway.plugin_config("acme").get("strict") and not resource.get("externalId"):
            raise ScimError(400, "ACME requires externalId on every user", "invalidValue")

    async def echo(request):
        return {"echo": await json_body(request)}

    @hookimpl
    def extra_routes():
        return [Route("/acme/echo", echo, methods=["POST"])]

    acme.validate_resource = validate_resource
    acme.extra_routes = extra_routes
    return acme


async def test_a_plugin_under_the_harness(tmp_path):
    async with running(tmp_path / "gw.db", plugins={"acme": acme_plugin()},
                       config={"acme": {"strict": True}}) as gw:
        idp = await gw.provider("acme idp", plugin="acme")
        refused = await gw.scim(idp, "POST", "/Users", scim_user("a@example.com"))
        assert refused.status_code == 400 and "externalId" in refused.json()["detail"]
        accepted = await gw.scim(idp, "POST", "/Users", scim_user("a@example.com",
                                                                  externalId="1"))
        assert accepted.status_code == 201
        other = await gw.provider("other idp")
        # Only providers that name the plugin are checked; this one names none.
        assert (await gw.scim(other, "POST", "/Users", scim_user("b@example.com"))) \
            .status_code == 201
        echoed = await gw.admin_api("POST", "/acme/echo", {"x": 1})
        assert echoed.status_code == 200 and echoed.json() == {"echo": {"x": 1}}
        assert (await gw.client.post("/admin/v1/acme/echo", json={})).status_code == 401
        found = await eventually(lambda: gw.gw.plugin_config("acme"), within=1)
        assert found == {"strict": True}

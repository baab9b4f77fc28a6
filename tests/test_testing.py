"""gateway.testing works for a plugin author as docs/plugins.md shows: a plugin passed as a
plain module, its config section, its admin route, a provider of its own; the checks of
answers, the command line, and the import-surface check."""

from __future__ import annotations

import types

import pytest
from starlette.routing import Route

from gateway.plugin import ScimError, hookimpl, json_body
from gateway.testing import (
    assert_public_imports,
    cli,
    eventually,
    expect,
    expect_admin_error,
    expect_scim_error,
    running,
    scim_user,
)

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


async def test_answers_are_checked_by_status_and_shape(tmp_path):
    async with running(tmp_path / "gw.db") as gw:
        idp = await gw.provider("idp")
        created = expect(await gw.scim(idp, "POST", "/Users", scim_user()), 201)
        assert created["userName"] == "alice@example.com"
        detail = expect_scim_error(await gw.scim(idp, "POST", "/Users", scim_user()), 409,
                                   "uniqueness")
        assert "alice@example.com" in detail
        with pytest.raises(AssertionError, match="expected 201, got 409"):
            expect(await gw.scim(idp, "POST", "/Users", scim_user()), 201)
        with pytest.raises(AssertionError):  # a 409 that is not a 400
            expect_scim_error(await gw.scim(idp, "POST", "/Users", scim_user()), 400)
        refused = await gw.admin_api("POST", "/providers", {"name": ""})
        assert "name" in expect_admin_error(refused, 400)
        with pytest.raises(AssertionError):  # the admin API's shape is not SCIM's
            expect_scim_error(refused, 400)
        listed = await gw.admin_json("GET", "/providers")
        assert [p["name"] for p in listed["items"]] == ["idp"]
        await gw.admin_json("GET", "/providers/nope", status=404)


def test_the_command_line_as_an_operator_runs_it(tmp_path):
    db = tmp_path / "gw.db"
    assert cli("migrate", database=db).returncode == 0
    added = cli("provider", "add", "entra-prod", database=db)
    assert added.returncode == 0 and "entra-prod" in cli("provider", "list", database=db).stdout
    missing = cli("provider", "list", database=tmp_path / "none.db")
    assert missing.returncode == 2 and "no database" in missing.stderr


def test_the_import_surface_check(tmp_path):
    package = tmp_path / "identity_gateway_acme"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from gateway.plugin import hookimpl\n"
        "if TYPE_CHECKING:\n"
        "    from gateway.core import Gateway  # for the type checker only: allowed\n")
    assert_public_imports(package)
    (package / "rules.py").write_text("def f():\n    from gateway.scim.schema import USER_TYPE\n")
    with pytest.raises(AssertionError, match=r"gateway\.scim\.schema \(identity_gateway_acme/"
                                             r"rules\.py:2\)"):
        assert_public_imports(package)

"""Hook tracing: a line per call of a hook implementation (plugin, arguments summarised,
duration, answer or what it raised) when asked for, and nothing at all otherwise."""

from __future__ import annotations

import logging

import anyio
import pytest

from gateway.hooks import Hooks, make_plugin_manager
from gateway.plugin import ScimError, hookimpl
from gateway.settings import ConfigError, load_settings
from gateway.testing import running, scim_user

pytestmark = pytest.mark.anyio
PASSWORD = "Pa55word-that-must-not-be-logged"


class Acme:
    @hookimpl
    async def normalize_request(self, body):
        await anyio.sleep(0.01)  # an answer that takes a while: timed until it is awaited
        return body

    @hookimpl
    def validate_resource(self, resource):
        if resource.get("title") == "forbidden":
            raise ScimError(400, "no", "invalidValue")


def hook_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "identity_gateway.hooks"]


async def test_every_hook_call_is_a_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="identity_gateway.hooks")
    async with running(tmp_path / "gw.db", plugins={"acme": Acme()}, trace_hooks=True) as gw:
        idp = await gw.provider("idp", plugin="acme")
        token = idp.headers["Authorization"].split()[1]
        created = await gw.scim(idp, "POST", "/Users", scim_user(password=PASSWORD))
        refused = await gw.scim(idp, "POST", "/Users", scim_user("b@example.com",
                                                                 title="forbidden"))
        assert (created.status_code, refused.status_code) == (201, 400)
    lines = hook_lines(caplog)
    normalized = [r for r in lines if r.hook == "normalize_request"]
    assert [r.plugin for r in normalized] == ["acme", "acme"]
    assert all(r.ms >= 10 for r in normalized)  # the await is part of the call
    first = normalized[0]
    assert first.arguments["body"]["keys"] == ["schemas", "userName", "active", "name",
                                               "emails", "password"]
    assert first.answer == {"keys": first.arguments["body"]["keys"]}
    validated = [r for r in lines if r.hook == "validate_resource"]
    assert [getattr(r, "raised", None) for r in validated] == [None, "ScimError"]
    issued = next(r for r in lines if r.hook == "issue_credential")
    assert issued.plugin == "builtin_auth" and issued.arguments["kind"] == "bearer"
    assert issued.arguments["secret"] == f"str ({len(token)} chars)"
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in lines)
    assert PASSWORD not in text and token not in text


async def test_without_the_switch_nothing_is_wrapped_or_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="identity_gateway.hooks")
    acme = Acme()
    async with running(tmp_path / "gw.db", plugins={"acme": acme}) as gw:
        idp = await gw.provider("idp", plugin="acme")
        assert (await gw.scim(idp, "POST", "/Users", scim_user())).status_code == 201
        # The implementations are called as they are: no wrapper, no check per call.
        called = [impl.function for impl in gw.gw.hooks.impls("validate_resource")]
        assert called == [acme.validate_resource]
    assert hook_lines(caplog) == []
    traced = Hooks(make_plugin_manager(extra={"acme": acme}), trace=True)
    assert [i.function for i in traced.impls("validate_resource")] != [acme.validate_resource]


def test_the_environment_variable_turns_it_on(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IDENTITY_GATEWAY_TRACE_HOOKS", "1")
    assert load_settings().trace_hooks is True
    monkeypatch.setenv("IDENTITY_GATEWAY_TRACE_HOOKS", "yes")
    with pytest.raises(ConfigError, match="environment variable IDENTITY_GATEWAY_TRACE_HOOKS"):
        load_settings()

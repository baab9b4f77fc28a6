"""Okta: its validation rules and profile conventions, for providers whose plugin is
``okta``. Okta authenticates with HTTP Basic "API credentials" (the core's ``basic`` kind).
Setup guide: docs/idp/okta.md."""

from __future__ import annotations

from typing import Any

from gateway.plugin import hookimpl
from identity_gateway_okta import console, rules
from identity_gateway_okta import profile as okta_profile
from identity_gateway_okta.paths import scim_path

__all__ = ["scim_path"]
NAME = "okta"


def ours(provider: Any) -> bool:
    return getattr(provider, "plugin", None) == NAME


@hookimpl
def validate_resource(provider: Any, resource_type: str, resource: dict, operation: str) -> None:
    if ours(provider) and resource_type == "User":
        rules.check_user(resource)


@hookimpl
async def validate_provider_settings(provider: Any, settings: dict, gateway: Any) -> None:
    if ours(provider) and "profile_mapping" in settings:
        # The provider's own schema: a profile field may come from a custom attribute.
        okta_profile.check_mapping(settings["profile_mapping"],
                                   await gateway.resource_type(provider, "User"))


@hookimpl
async def canonical_profile(provider: Any, resource: dict, profile: dict, gateway: Any) -> Any:
    if not ours(provider):
        return None
    settings = getattr(provider, "settings", {}) or {}
    rtype = await gateway.resource_type(provider, "User") \
        if settings.get("profile_mapping") else None
    return okta_profile.overrides(resource, settings, rtype)


@hookimpl
def request_probes(provider: Any) -> list | None:
    return console.PROBES if ours(provider) else None


@hookimpl
def console_pages() -> list:
    return console.console_items(NAME)

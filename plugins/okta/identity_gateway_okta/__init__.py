"""Okta: its validation rules and profile conventions, for providers whose plugin is
``okta``. Okta authenticates with HTTP Basic "API credentials" (the core's ``basic`` kind).
Setup guide: docs/idp/okta.md.

Every hook below that takes a provider is scoped (docs/plugins.md): the gateway calls it for
Okta's providers only, so none of them checks ``provider.plugin`` itself.
"""

from __future__ import annotations

from typing import Any

from gateway.plugin import ConsoleItem, Gateway, ProviderRow, hookimpl
from identity_gateway_okta import console, rules
from identity_gateway_okta import profile as okta_profile
from identity_gateway_okta.paths import scim_path

__all__ = ["scim_path"]
NAME = "okta"


@hookimpl
def validate_resource(resource_type: str, resource: dict[str, Any]) -> None:
    if resource_type == "User":
        rules.check_user(resource)


@hookimpl
async def validate_provider_settings(provider: ProviderRow, settings: dict[str, Any],
                                     gateway: Gateway) -> None:
    if "profile_mapping" in settings:
        # The provider's own schema: a profile field may come from a custom attribute.
        okta_profile.check_mapping(settings["profile_mapping"],
                                   await gateway.resource_type(provider, "User"))


@hookimpl
async def canonical_profile(provider: ProviderRow, resource: dict[str, Any],
                            gateway: Gateway) -> dict[str, Any]:
    settings = provider.settings or {}
    rtype = await gateway.resource_type(provider, "User") \
        if settings.get("profile_mapping") else None
    return okta_profile.overrides(resource, settings, rtype)


@hookimpl
def request_probes(provider: ProviderRow) -> list[tuple[str, str]]:
    return console.PROBES


@hookimpl
def console_pages() -> list[ConsoleItem]:
    return console.console_items(NAME)

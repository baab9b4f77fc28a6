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
def validate_provider_settings(provider: Any, settings: dict, gateway: Any) -> None:
    if ours(provider) and "profile_mapping" in settings:
        okta_profile.check_mapping(settings["profile_mapping"], gateway.registry.types["User"])


@hookimpl
def canonical_profile(provider: Any, resource: dict, profile: dict) -> Any:
    if not ours(provider):
        return None
    return okta_profile.overrides(resource, getattr(provider, "settings", {}) or {})


@hookimpl
def console_pages() -> list:
    return console.console_items(NAME)

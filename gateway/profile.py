"""The canonical profile: one shape for a user, whichever IdP sent it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.scim.schema import ENTERPRISE_SCHEMA

if TYPE_CHECKING:
    from gateway.core import Gateway

FIELDS = (
    "username", "email", "given_name", "family_name", "display_name", "title", "department",
    "division", "locality", "region", "country", "manager_id", "user_type", "external_id",
    "active",
)


def pick(values: list, kind: str) -> dict:
    """The value of the given type, else the primary one, else the first."""
    values = [v for v in values if isinstance(v, dict)]
    for test in (lambda v: v.get("type") == kind, lambda v: v.get("primary") is True):
        for value in values:
            if test(value):
                return value
    return values[0] if values else {}


def derive_profile(data: dict) -> dict:
    name = data.get("name") or {}
    ent = data.get(ENTERPRISE_SCHEMA) or {}
    email = pick(data.get("emails") or [], "work")
    address = pick(data.get("addresses") or [], "work")
    manager = ent.get("manager") or {}
    display = data.get("displayName") or " ".join(
        p for p in (name.get("givenName"), name.get("familyName")) if p
    ) or None
    return {
        "username": data.get("userName"),
        "email": email.get("value"),
        "given_name": name.get("givenName"),
        "family_name": name.get("familyName"),
        "display_name": display,
        "title": data.get("title"),
        "department": ent.get("department"),
        "division": ent.get("division"),
        "locality": address.get("locality"),
        "region": address.get("region"),
        "country": address.get("country"),
        "manager_id": manager.get("value") if isinstance(manager, dict) else None,
        "user_type": data.get("userType"),
        "external_id": data.get("externalId"),
        "active": data.get("active", True),
    }


async def profile_of(gw: Gateway, provider: Any, data: dict) -> dict:
    """The core's derivation, with the overrides of the canonical_profile hooks (an IdP
    plugin knows its IdP's conventions: Okta's primary address, say)."""
    profile = derive_profile(data)
    for override in await gw.hooks.call("canonical_profile", provider=provider, resource=data,
                                        profile=dict(profile), gateway=gw):
        profile.update(override)
    return profile

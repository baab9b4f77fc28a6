"""The canonical profile of an Okta user.

Okta's Profile Editor maps locality, region and country to the *primary* address
(``addresses.^[primary==true]``), and its primary email is the userName; so for Okta users
the profile takes the primary address and email (the core's default prefers ``type: work``).
The admin may map more profile fields in the provider's settings, ``profile_mapping``
(``{"country": "addresses.^[primary==true].country"}``), in Okta's notation or as SCIM paths.
"""

from __future__ import annotations

from typing import Any

from gateway.plugin import (
    PROFILE_FIELDS,
    USER_TYPE,
    GatewayError,
    ScimError,
    did_you_mean,
    parse_path,
    path_values,
)
from identity_gateway_okta.paths import scim_path

ADDRESS_FIELDS = ("locality", "region", "country")


def primary(values: Any) -> dict | None:
    items = [v for v in values or [] if isinstance(v, dict)]
    return next((v for v in items if v.get("primary") is True), items[0] if items else None)


def overrides(resource: dict, settings: dict, rtype: Any = None) -> dict:
    """The Okta profile's fields; ``rtype`` (the provider's User type, with its custom
    attributes) reads the admin's profile_mapping."""
    out: dict = {}
    address = primary(resource.get("addresses"))
    if address is not None:
        out.update({field: address.get(field) for field in ADDRESS_FIELDS})
    email = primary(resource.get("emails"))
    if email is not None:
        out["email"] = email.get("value")
    out.update(mapped(resource, settings.get("profile_mapping") or {}, rtype or USER_TYPE))
    return out


def check_mapping(mapping: Any, rtype: Any) -> None:
    """`profile_mapping` as the admin saves it: profile fields -> paths that parse against
    the gateway's User schema (Okta's notation or SCIM's). Refused with what is wrong."""
    if not isinstance(mapping, dict):
        raise GatewayError("profile_mapping must be an object of profile field -> attribute "
                           "path, such as {\"country\": \"addresses.^[primary==true].country\"}")
    for field, expr in mapping.items():
        if field not in PROFILE_FIELDS:
            raise GatewayError(f"profile_mapping: no profile field '{field}'"
                               f"{did_you_mean(field, PROFILE_FIELDS)}; the fields are "
                               f"{', '.join(PROFILE_FIELDS)}")
        if not isinstance(expr, str) or not expr.strip():
            raise GatewayError(f"profile_mapping.{field} must be an attribute path")
        try:
            parse_path(scim_path(expr), rtype)
        except (ValueError, ScimError) as exc:
            raise GatewayError(f"profile_mapping.{field} = '{expr}' is not a usable attribute "
                               f"path: {getattr(exc, 'detail', exc)}") from None


def mapped(resource: dict, mapping: dict, rtype: Any = USER_TYPE) -> dict:
    """Profile fields the admin mapped to paths: the first value each path selects."""
    out = {}
    for field, expr in mapping.items():
        try:
            found = path_values(resource, scim_path(str(expr)), rtype)
        except (ValueError, ScimError) as exc:
            detail = getattr(exc, "detail", str(exc))
            raise ScimError(400, f"provider setting profile_mapping.{field} = '{expr}' is not "
                                 f"a usable attribute path: {detail}", "invalidValue") from None
        out[field] = found[0] if found else None
    return out

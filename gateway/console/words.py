"""How the console says things to a person: who did something (an admin, an IdP, a plugin's
run), what they did, and values in words instead of `None` and `True`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Operations in the words an admin reads; any other is shown with its underscores as spaces.
OPERATIONS = {
    "create": "created", "update": "updated", "replace": "replaced", "patch": "changed",
    "delete": "deleted", "lifecycle": "lifecycle step", "disable": "disabled",
    "enable": "enabled", "map": "mapping changed",
    "console_sign_in": "signed in to the console",
    "console_role_change": "console role changed",
    "deactivation_guard_trip": "mass-deactivation guard tripped",
    "deactivation_guard_release": "held deactivation released",
    "deactivation_guard_discard": "held deactivation discarded",
    "deactivation_guard_update": "guard settings changed",
    "legal_hold_place": "legal hold placed", "legal_hold_release": "legal hold released",
}
# Actors that are the gateway itself or one of its runs rather than a person or an IdP.
SYSTEM_ACTORS = {"scheduler": "gateway scheduler", "deactivation_guard": "deactivation guard",
                 "admin": "admin (API)", "sso": "single sign-on"}
EMPTY = "—"


def operation(value: str | None) -> str:
    if not value:
        return EMPTY
    return OPERATIONS.get(value, value.replace("_", " "))


def actor(value: str | None, provider_names: Mapping[str, str] | None = None) -> str:
    """`console:alice` -> `admin alice (console)`; `provider:<id>` -> `<name> (IdP)`; a
    plugin's run (`org_mapping`) -> `org_mapping apply`."""
    if not value:
        return EMPTY
    kind, _, rest = value.partition(":")
    if kind == "console" and rest:
        return f"admin {rest} (console)"
    if kind == "provider" and rest:
        return f"{(provider_names or {}).get(rest, rest)} (IdP)"
    if kind == "admin" and rest:
        return f"admin {rest} (API)"
    if value in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[value]
    return f"{value} apply" if not rest else value


def value(given: Any) -> str:
    """A scalar as words: nothing is `—`, booleans are yes / no."""
    if given is None or given == "" or given == [] or given == {}:
        return EMPTY
    if given is True:
        return "yes"
    if given is False:
        return "no"
    return str(given)

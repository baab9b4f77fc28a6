"""org_mapping: places every provisioned user in an organization and gives it roles, by a
per-provider mapping from SCIM attributes or groups (docs/org-mapping.md).

Everything goes through hooks: its tables (`migrations`), its User extension
(`register_schemas`), placing users inside each SCIM change's transaction (`after_change`),
the admin user view (`user_view`) and its admin API (`extra_routes`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from gateway.plugin import Migration, hookimpl, migrations_in
from identity_gateway_org_mapping import catalogue, console, mappings, routes, schema, store

NAME = "org_mapping"


@hookimpl
def gateway_config(config: dict) -> None:
    # A malformed roles list stops startup with its reason.
    catalogue.config_roles(config.get(NAME) or {})


@hookimpl
def register_schemas(registry: Any) -> None:
    registry.extend("User", schema.EXTENSION)


@hookimpl
def migrations(dialect: str) -> list[Migration]:
    return migrations_in(resources.files(__package__) / "migrations" / dialect, NAME)


@hookimpl
def after_change(event: dict, conn: Any, gateway: Any) -> Any:
    if mappings.concerns(event):
        return mappings.on_change(gateway, conn, event)
    return None


@hookimpl
def event_types() -> list:
    return ["organization.created", "organization.updated", "role.created",
            "org_mapping.updated", "role_mapping.updated", "mapping.group_removed",
            "user.organization_changed", "user.roles_changed"]


@hookimpl
def user_view(user: dict, conn: Any) -> Any:
    return store.user_fields(conn, user["id"])


@hookimpl
def extra_routes() -> list:
    return routes.routes()


@hookimpl
def console_pages() -> list:
    return console.console_items()

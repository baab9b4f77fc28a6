"""Unique group names, for the providers that need them (the `unique_group_names` setting).

SCIM does not ask for them, but an IdP that finds a group by `displayName eq` fails when two
come back (Entra: MultipleEntries). With the setting on, a create or a rename onto a name
another group of the provider holds, ignoring case as the display_key column does, is
refused. Groups that already share a name keep working; the provider's page lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.accounts.providers import UNIQUE_GROUP_NAMES, unique_group_names
from gateway.context import RequestContext
from gateway.scim.errors import ScimError
from gateway.store import resources
from gateway.store.base import Conn

if TYPE_CHECKING:
    from gateway.core import Gateway


async def claim(gw: Gateway, conn: Conn, ctx: RequestContext, data: dict,
                group_id: str | None = None, old_key: str | None = None) -> None:
    """Refuse `data`'s displayName when the provider requires unique group names and another
    of its groups holds it. Only a new name is checked (a create, a rename): a group keeps
    the name it has. Runs in the write's transaction, which then holds the name."""
    _, _, key = resources.keys_for("Group", data)
    provider = ctx.provider
    if key is None or key == old_key or provider is None \
            or not unique_group_names(gw, provider):
        return
    pid = provider.id
    await resources.lock_group_name(conn, pid, key)
    other = await resources.group_named(conn, pid, key, group_id)
    if other is not None:
        raise ScimError(
            409, f"displayName '{data['displayName']}' is taken: group '{other['displayName']}'"
                 f" (id {other['id']}) of this provider has it, and this provider's group "
                 f"names are unique, ignoring case ({UNIQUE_GROUP_NAMES})", "uniqueness")

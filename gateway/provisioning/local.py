"""Local users: created by the admin, owned by no provider, so no provider can read, change,
rename onto or create them. They are written like any SCIM User (the same checks, hooks,
sync log and events), by the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.accounts.users import user_view
from gateway.context import admin_context
from gateway.provisioning import writes
from gateway.scim.schema import USER_TYPE

if TYPE_CHECKING:
    from gateway.core import Gateway


async def create_local(gw: Gateway, body: dict, actor: str = "admin") -> dict:
    """Create a local user from a SCIM User body; returns its admin view."""
    created = await writes.create(gw, admin_context(actor), USER_TYPE, body)
    found = await user_view(gw, created["id"])
    assert found is not None, "a user just created is there"
    return found

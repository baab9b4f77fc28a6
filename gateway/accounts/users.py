"""The admin's view of users: canonical profile, state, source, and what plugins add."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.accounts import lifecycle
from gateway.accounts.providers import provider_filter
from gateway.errors import GatewayError, did_you_mean
from gateway.profile import profile_of
from gateway.scim.ast import AttrPath, Compare, Filter, Or
from gateway.scim.custom import extension_data
from gateway.store import resources
from gateway.store.base import Conn, ResourceRow
from gateway.store.filter_sql import compile_filter, dialect_of
from gateway.store.providers import get_provider
from gateway.store.resources import LOCAL, Condition

if TYPE_CHECKING:
    from gateway.core import Gateway


class UserColumn(msgspec.Struct, frozen=True):
    """A column a plugin adds to user lists (the `user_columns` hook): its header, and the
    short text it shows for a user's admin view ("" when there is nothing to show)."""

    header: str
    value: Callable[[dict], str]


async def owner(conn: Conn, row: ResourceRow) -> Any:
    """The provider that sent the user (its plugin may shape the profile), or None."""
    return await get_provider(conn, row.provider_id) if row.provider_id else None


async def view(gw: Gateway, conn: Conn, row: ResourceRow) -> dict:
    out: dict[str, Any] = {
        "id": row.id,
        "state": row.state,
        "deactivate_at": row.deactivate_at,
        # During the delay the account is still live (the delay exists to undo mistakes),
        # blocked unless the provider's block_during_delay is off.
        "can_sign_in": lifecycle.can_sign_in(row.state, row.block_reason),
        "blocked": lifecycle.is_blocked(row.state, row.block_reason),
        "block_reason": row.block_reason,
        "cold_storage": row.state == lifecycle.DEACTIVATED,
        "source": row.provider_id or "local",
        "provider_state": provider_state(row),
        "deleted_by_provider": row.hidden,
        "profile": await profile_of(gw, await owner(conn, row), row.data),
        "custom_attributes": extension_data(row.data, gw.registry.types["User"]),
        "created": row.created,
        "last_modified": row.last_modified,
    }
    user = {"id": row.id, "provider_id": row.provider_id, "state": row.state,
            "data": row.data}
    for extra in await gw.hooks.call("user_view", user=user, conn=conn, gateway=gw):
        out.update(extra)
    return out


def provider_state(row: ResourceRow) -> str | None:
    """What the user's provider wants: "active", "inactive" or "deleted" (None: local)."""
    if not row.provider_id:
        return None
    if row.hidden:
        return "deleted"
    return "inactive" if row.data.get("active") is False else "active"


async def user_view(gw: Gateway, rid: str, conn: Conn | None = None) -> dict | None:
    if conn is None:
        async with gw.store.read() as conn:
            return await user_view(gw, rid, conn)
    row = await resources.get_any(conn, rid)
    if row is None or row.type != "User":
        return None
    return await view(gw, conn, row)


# What a search (`q`) looks in: the names and email addresses an admin knows a person by.
SEARCHED = (("userName", None), ("displayName", None), ("emails", "value"),
            ("name", "givenName"), ("name", "familyName"), ("name", "formatted"))


def search_condition(gw: Gateway, text: str) -> Condition:
    """`q` as SQL: a case-insensitive `co` on each SEARCHED attribute, compiled by the same
    filter compiler as SCIM's `filter` (so it reads the same columns and JSON paths)."""
    rtype = gw.registry.types["User"]
    core = rtype.schema.id
    terms: list[Filter] = [Compare(AttrPath(core, attr, sub), "co", text)
                           for attr, sub in SEARCHED]
    expr = terms[0]
    for term in terms[1:]:
        expr = Or(expr, term)
    sql, args = compile_filter(expr, rtype, dialect_of(gw.store.dialect))
    first = resources.raw_text_condition(text, gw.store.dialect)
    if first is None:
        return sql, args
    return f"{first[0]} AND ({sql})", [*first[1], *args]


async def list_users(gw: Gateway, *, provider: str | None, state: str | None, q: str | None,
                     cursor: str | None, limit: int, total: bool = False,
                     conditions: Sequence[Condition] = (),
                     blocked: bool | None = None) -> dict:
    """A page of admin views by id. `provider` is a provider's id or name, or "local"; `q`
    searches names and email addresses; `conditions` are further SQL conditions on
    `resources r` (the console's plugin filters); `blocked` keeps the users who cannot
    (True) or can (False) sign in for a block."""
    limit = max(1, min(limit, 1000))
    if state and state not in lifecycle.STATES:
        raise GatewayError(f"no state '{state}'{did_you_mean(state, lifecycle.STATES)}; the "
                           f"states are {', '.join(lifecycle.STATES)}")
    owner_id = LOCAL if provider == "local" else await provider_filter(gw, provider)
    where = [*conditions]
    if blocked is not None:
        where.append(resources.blocked_condition(blocked))
    if q and q.strip():
        where.append(search_condition(gw, q.strip()[:200]))
    async with gw.store.read() as conn:
        rows = await resources.user_page(conn, provider_id=owner_id, state=state,
                                         conditions=where, after=cursor, limit=limit + 1)
        found = rows[:limit]
        items = [await view(gw, conn, row) for row in found]
        count = await resources.user_count(conn, provider_id=owner_id, state=state,
                                           conditions=where) if total else None
    more = len(rows) > limit
    page: dict = {"items": items, "next_cursor": found[-1].id if more and found else None}
    if count is not None:
        page["total"] = count
    return page

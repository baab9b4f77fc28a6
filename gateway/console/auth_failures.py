"""The console's refused requests: the credentials the gateway refused, counted per provider,
reason and minute (the same function as GET /admin/v1/auth-failures), filtered by provider
and period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import auth_failures
from gateway.accounts.sessions import Session
from gateway.console.render import console_of
from gateway.errors import GatewayError, NotFound
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway

LIMIT = 1000
PERIODS = (("1h", "last hour"), ("24h", "last 24 hours"), ("7d", "last 7 days"))
# What each reason means to the admin, and what usually fixes it.
REASONS = {
    "no_credential": "no credential sent (no Authorization header)",
    "wrong_scheme": "wrong scheme (Basic for a bearer-token provider, or the other way round)",
    "unknown_credential": "unknown secret (mistyped, rotated or revoked)",
    "expired_token": "expired access token",
    "rate_limited": "refused with 429: too many failed attempts",
    "token_rate_limited": "refused with 429: too many token requests",
}
# Where failures that name no provider are counted (gateway.accounts.auth_failures), by the
# filter's value for them (no provider's id or name starts with "@").
SPECIAL = {"@admin": (auth_failures.ADMIN_API, "admin API"),
           "@unknown": (auth_failures.UNKNOWN, "unknown provider id")}


async def failures_page(request: Request, gw: Gateway, session: Session) -> Response:
    params = request.query_params
    since = params.get("since") or "24h"
    if since not in dict(PERIODS):
        raise GatewayError(f"'since' is one of {', '.join(p for p, _ in PERIODS)}")
    chosen = (params.get("provider") or "").strip()
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
        named = await queries.find_provider(conn, chosen) if chosen else None
    if chosen in SPECIAL:
        provider: str | None = SPECIAL[chosen][0]
    elif chosen:
        if named is None:
            raise NotFound(f"There is no provider '{chosen}'")
        provider = named.id
    else:
        provider = None
    listed = await auth_failures.listing(gw, provider, since, LIMIT)
    names = {**{key: label for key, label in SPECIAL.values()},
             **{p.id: p.name for p in found}}
    items = [{**f, "at": minute_shown(f["minute"])} for f in listed["items"]]
    return console_of(request).page(request, "auth_failures.html", {
        "items": items, "totals": listed["totals"], "since": since,
        "start": listed["since"], "periods": PERIODS, "providers": found,
        "special": [(value, label) for value, (_, label) in SPECIAL.items()],
        "names": names, "provider": named.id if named else chosen,
        "shown": names.get(provider, "") if provider is not None else None,
        "reasons": REASONS, "full": len(items) >= LIMIT})


def minute_shown(minute: str) -> str:
    """'2026-01-02T03:04Z' -> '2026-01-02 03:04 UTC'."""
    return f"{minute[:10]} {minute[11:16]} UTC"


def routes(page: Any) -> list[BaseRoute]:
    return [page("/auth-failures", failures_page)]

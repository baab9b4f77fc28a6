"""The console's home: an overview of every provider (is its IdP connected, what it sent
last, what failed in the last hour, which deactivations fall due within the hour, a tripped
guard, attributes it sends that nothing declares, and whether its IdP is about to act
against the connection, as its plugin's FailureLimit says) and of the webhooks that fail.
Every number comes from a few queries for all providers together, never one per provider."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.accounts import auth_failures, guard, providers
from gateway.accounts.sessions import Session
from gateway.clock import format_time
from gateway.console import activity as traffic
from gateway.console.extension import FailureLimit
from gateway.console.providers import idp_for, seen_view
from gateway.console.render import console_of
from gateway.events import webhooks
from gateway.observability import activity
from gateway.store import console as reads
from gateway.store import custom_attributes as custom_queries
from gateway.store import lifecycle as due_queries
from gateway.store import providers as queries
from gateway.store.base import ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

HOUR = timedelta(hours=1)


def window_text(minutes: int) -> str:
    if minutes % 60:
        return f"{minutes} minutes"
    return "hour" if minutes == 60 else f"{minutes // 60} hours"


def failure_warning(limit: FailureLimit | None, counts: tuple[int, int],
                    state: str) -> dict | None:
    """The IdP's own failure limit approached: the numbers of its window, or None."""
    if limit is None:
        return None
    requests, failed = counts
    ratio = failed / requests if requests else 0.0
    refused = limit.on_refused_credential and state == "refused"
    if not refused and (failed < limit.warn_failures or ratio < limit.warn_ratio):
        return None
    return {"title": limit.title, "says": limit.says, "failed": failed, "requests": requests,
            "percent": int(ratio * 100), "window": window_text(limit.window),
            "refused": refused}


def attention(p: ProviderRow, health: dict) -> list[dict]:
    """What needs the admin besides a failure warning, the most urgent first: level
    ("bad", "warn", "info"), text and link."""
    pid, out = p.id, []

    def add(level: str, text: str, href: str) -> None:
        out.append({"level": level, "text": text, "href": "/console" + href})

    if health["guard"]["state"] == guard.TRIPPED:
        held = health["guard"]["held"]
        add("bad", f"Deactivation guard tripped: {traffic.plural(held, 'deactivation')} held",
            f"/providers/{pid}/guard")
    state = health["connection"]["state"]
    if state == "refused":
        add("bad", "Its IdP's credential is refused", f"/auth-failures?provider={pid}")
    elif health["refused_hour"]:
        add("warn", f"{traffic.plural(health['refused_hour'], 'refused credential')} in the "
                    "last hour", f"/auth-failures?provider={pid}")
    if health["errors_hour"]:
        add("warn", f"{traffic.plural(health['errors_hour'], 'request')} answered with an "
                    "error in the last hour", f"/providers/{pid}#activity")
    if health["due_hour"]:
        add("warn", f"{traffic.plural(health['due_hour'], 'user')} to be deactivated within "
                    "the hour", f"/users?provider={pid}&state=pending_deactivation")
    if health["undeclared"]:
        count = health["undeclared"]["count"]
        add("warn", f"{traffic.plural(count, 'undeclared attribute')} sent by its IdP",
            f"/providers/{pid}/attributes")
    if state == "waiting":
        add("info", "Waiting for its IdP's first request", f"/providers/{pid}")
    return out


async def provider_health(request: Request, gw: Gateway,
                          found: list[ProviderRow]) -> dict[str, dict]:
    """Per provider: ``connection`` (accounts.providers.connection) and what arrived in
    words, ``seen`` (its last request), ``owned``, ``errors_hour`` and ``refused_hour``,
    ``due_hour`` (deactivations due within the hour), ``guard`` (state and held),
    ``undeclared`` (count and last seen, or None), ``failure`` (failure_warning) and
    ``attention`` (the list of what needs the admin)."""
    idps = {p.id: idp_for(request, p) for p in found}
    limits = {pid: idp.failure_limit for pid, idp in idps.items()}
    states = await providers.connections(gw, found)
    async with gw.store.read() as conn:
        seen = await activity.last_seen_all(gw, conn)
        owned = await reads.owned_counts(conn)
        hour = await activity.totals_since(gw, 60, conn)
        refused = await auth_failures.refused_by_provider(gw, HOUR, conn)
        due = await due_queries.due_by_provider(conn, format_time(gw.clock.now() + HOUR))
        undeclared = await custom_queries.undeclared_by_provider(conn)
        windows = {limit.window for limit in limits.values() if limit}
        over = {w: await activity.totals_since(gw, w, conn) for w in sorted(windows)}
    guards = {g["provider_id"]: g for g in await guard.guard_states(gw)}
    out = {}
    for p in found:
        state, limit, idp = states[p.id], limits[p.id], idps[p.id]
        arrived = state["request"]
        health: dict[str, Any] = {
            "provider": p, "idp": idp.title, "connection": state,
            "described": arrived["described"] if arrived else "",
            "seen": seen_view(seen.get(p.id, {})),
            "owned": owned.get(p.id, {"User": 0, "Group": 0}),
            "errors_hour": hour.get(p.id, (0, 0))[1], "refused_hour": refused.get(p.id, 0),
            "due_hour": due.get(p.id, 0),
            "guard": guards.get(p.id, {"state": guard.ARMED, "held": 0}),
            "undeclared": undeclared.get(p.id),
            "failure": failure_warning(limit, over[limit.window].get(p.id, (0, 0)),
                                       state["state"]) if limit else None,
        }
        health["attention"] = attention(p, health)
        out[p.id] = health
    return out


def failing_webhooks(listed: list[dict]) -> list[dict]:
    """The webhooks whose deliveries are failing or dead-lettered."""
    return [w for w in listed if w["failing"] or w["dead_letters"]]


async def overview(request: Request, gw: Gateway, session: Session) -> Response:
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
    health = await provider_health(request, gw, found)
    hooks = failing_webhooks((await webhooks.list_all(gw))["items"])
    needs = [{"level": "bad", "provider": h["provider"], "text": h["failure"]["title"],
              "href": f"#provider-{h['provider'].id}"} for h in health.values() if h["failure"]]
    needs += [{**item, "provider": h["provider"]} for h in health.values()
              for item in h["attention"] if item["level"] != "info"]
    needs += [{"level": "bad", "provider": None, "href": f"/console/webhooks/{w['id']}",
               "text": f"Webhook {w['url']} is failing" if w["failing"]
               else f"Webhook {w['url']} has {traffic.plural(w['dead_letters'], 'dead letter')}"}
              for w in hooks]
    needs.sort(key=lambda item: item["level"] != "bad")
    return console_of(request).page(request, "overview.html", {
        "cards": [health[p.id] for p in found], "needs": needs, "webhooks": hooks})

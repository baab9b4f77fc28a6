"""Webhook registrations and their dead letters: what the admin API and the CLI manage.

The secret is the HMAC key the admin shares with the receiver. The gateway must sign with it,
so unlike the credentials it checks it cannot be hashed: it is stored encrypted under a key
from the environment (gateway.events.webhook_secrets), returned only in the answer that
creates it (when the gateway generated it), and never logged.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from gateway.errors import GatewayError, did_you_mean
from gateway.events import destinations, webhook_secrets
from gateway.events.feed import event_view
from gateway.ids import new_id
from gateway.params import INT64_MAX
from gateway.store import outbox
from gateway.store import webhooks as queries
from gateway.store.base import seq_cursor

if TYPE_CHECKING:
    from gateway.core import Gateway

_json = msgspec.json

CORE_EVENT_TYPES = (
    "user.created", "user.updated", "user.deactivation_scheduled",
    "user.deactivation_cancelled", "user.deactivated", "user.reactivated", "user.blocked",
    "user.unblocked", "user.deleted", "user.restored",
    "group.created", "group.updated", "group.deleted", "group.members_added",
    "group.members_removed",
    "provider.deactivation_guard_tripped", "provider.deactivation_guard_released",
    "provider.deactivation_guard_discarded", "provider.deactivation_guard_changed",
)
# Plugins add their own through the event_types hook.
MIN_SECRET, MAX_SECRET, MAX_URL = 16, 512, 2048
HOST = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+")  # a name (IDNA-encoded) or an address


class WebhookError(GatewayError):
    """A request about webhooks that cannot be carried out (a 4xx, not a crash)."""


def check_url(url: Any) -> str:
    """The URL's form: http(s), a host, no credentials. Where it points is check_receiver's."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise WebhookError(f"'url' must be an http(s) URL of at most {MAX_URL} characters")
    try:
        parts = httpx.URL(url)  # the parser the deliveries use, so both read the same host
    except httpx.InvalidURL as exc:
        raise WebhookError(f"'url' is not a valid URL: {exc}") from None
    if parts.userinfo:
        # Not echoed: the URL holds a password.
        raise WebhookError("'url' must not carry credentials (user:password@): the "
                           "receiver checks the X-Gateway-Signature header instead")
    if parts.scheme not in ("http", "https") or not parts.raw_host:
        raise WebhookError(f"'url' must be an absolute http or https URL, not '{url}'")
    if not HOST.fullmatch(parts.raw_host.decode("ascii")):
        raise WebhookError(f"'url' has no valid host name: '{parts.host}'")
    if parts.port is not None and not 1 <= parts.port <= 65535:
        raise WebhookError(f"'url' has no valid port: {parts.port}")
    return url


async def check_receiver(gw: Gateway, url: str) -> None:
    """Refuse a receiver on an address webhooks may not reach (docs/deploy.md)."""
    allow = destinations.networks(tuple(gw.settings.webhook_allow_networks))
    why = await destinations.check(url, allow, gw.settings.webhook_timeout)
    if why:
        raise WebhookError(f"'url' points at an address webhooks may not reach ({why}); "
                           "webhooks reach public addresses only, unless the operator lists "
                           "the network in webhook_allow_networks ([gateway])")


def shown(url: str) -> str:
    """A URL as the admin sees it: never with the credentials an earlier version accepted."""
    try:
        parts = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return str(parts.copy_with(username=None, password=None)) if parts.userinfo else url


def check_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise WebhookError(f"'secret' must be a string of {MIN_SECRET} to {MAX_SECRET} "
                           "characters (leave it out to have one generated)")
    return secret


async def event_types(gw: Gateway) -> list[str]:
    """Every event type a webhook may subscribe to: the core's and the plugins'."""
    found = list(CORE_EVENT_TYPES)
    for batch in await gw.hooks.call("event_types"):
        found += [t for t in batch if t not in found]
    return found


def check_events(types: Any, known: list[str]) -> list[str]:
    if types is None:
        return ["*"]
    if not isinstance(types, list) or not types or \
            not all(isinstance(t, str) for t in types):
        raise WebhookError("'events' must be a non-empty list of event types, or [\"*\"]")
    bad = [t for t in types if t != "*" and t not in known]
    if bad:
        hint = did_you_mean(bad[0], known)
        raise WebhookError(f"no event type {', '.join(repr(t) for t in bad[:5])}{hint}; "
                           f"the types are {', '.join(known)}, or '*' for all")
    return ["*"] if "*" in types else sorted(set(types))


def wants(types: list[str], event_type: str) -> bool:
    return "*" in types or event_type in types


def view(row: dict, retrying: dict | None = None) -> dict:
    """A webhook as the admin sees it: never its secret. `retrying` is its oldest delivery
    that failed and waits for another attempt, shown as `failing` (None when all is well)."""
    events = row["events"]
    failing = None
    if retrying:
        failing = {"seq": retrying["seq"], "attempts": retrying["attempts"],
                   "last_error": retrying["last_error"],
                   "last_attempt_at": retrying["last_attempt_at"],
                   "next_attempt_at": retrying["next_attempt_at"]}
    return {"id": row["id"], "url": shown(row["url"]),
            "events": _json.decode(events) if isinstance(events, (str, bytes)) else events,
            "cursor": row["cursor"], "created_at": row["created_at"],
            "pending": row.get("pending", 0), "dead_letters": row.get("dead", 0),
            "failing": failing}


async def create(gw: Gateway, body: dict) -> dict:
    """Register a webhook. It receives the events committed from now on."""
    unknown = set(body) - {"url", "secret", "events"}
    if unknown:
        raise WebhookError(f"unknown field(s): {', '.join(sorted(unknown))}")
    url = check_url(body.get("url"))
    generated = body.get("secret") is None
    secret = secrets.token_urlsafe(32) if generated else check_secret(body["secret"])
    types = check_events(body.get("events"), await event_types(gw))
    await check_receiver(gw, url)
    row: dict[str, Any] = {"id": new_id(), "url": url, "events": _json.encode(types).decode(),
                           "created_at": gw.clock.stamp()}
    sealed = webhook_secrets.seal(gw, secret)
    async with gw.store.write() as conn:
        row["cursor"] = await outbox.newest_seq(conn)
        await queries.insert(conn, {**row, "secret": sealed})
    out = view(row)
    if generated:
        out["secret"] = secret  # shown once: it is the receiver's verification key
    return out


async def list_all(gw: Gateway) -> dict:
    async with gw.store.read() as conn:
        rows = await queries.all_with_counts(conn)
        failing = await queries.retrying(conn, [row["id"] for row in rows])
    return {"items": [view(row, failing.get(row["id"])) for row in rows], "next_cursor": None}


async def get(gw: Gateway, webhook_id: str) -> dict:
    async with gw.store.read() as conn:
        row = await queries.one_with_counts(conn, webhook_id)
        failing = await queries.retrying(conn, [webhook_id]) if row else {}
    if row is None:
        raise WebhookError(f"no webhook '{webhook_id}'", 404)
    return view(row, failing.get(webhook_id))


async def remove(gw: Gateway, webhook_id: str) -> None:
    async with gw.store.write() as conn:
        if not await queries.delete(conn, webhook_id):
            raise WebhookError(f"no webhook '{webhook_id}'", 404)


async def dead_letters(gw: Gateway, webhook_id: str, cursor: str | None = None,
                       limit: int = 100) -> dict:
    """Parked deliveries, oldest first, each with its event and its last error."""
    await get(gw, webhook_id)
    after = seq_cursor(cursor) or 0
    limit = max(1, min(limit, 1000))
    async with gw.store.read() as conn:
        rows = await queries.dead_letters(conn, webhook_id, after, limit + 1)
    items = [{"seq": row["seq"], "attempts": row["attempts"], "last_error": row["last_error"],
              "last_attempt_at": row["last_attempt_at"],
              "event": event_view({**row, "seq": row["seq"]})} for row in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if more else None}


async def redeliver(gw: Gateway, webhook_id: str, seqs: Any = None) -> dict:
    """Put dead letters back in line (all of them, or the seqs named) for delivery now."""
    await get(gw, webhook_id)
    if seqs is not None and (not isinstance(seqs, list) or
                             not all(isinstance(s, int) and not isinstance(s, bool)
                                     and 0 <= s <= INT64_MAX for s in seqs)):
        raise WebhookError("'seq' must be a list of event sequence numbers")
    if seqs is not None:
        if not seqs:
            return {"redelivering": 0}
        seqs = seqs[:1000]
    async with gw.store.write() as conn:
        count = await queries.requeue_dead(conn, webhook_id, gw.clock.stamp(), seqs)
    if seqs is not None and count < len(set(seqs[:1000])):
        # Some were not dead letters: say so, but keep the ones that were queued.
        return {"redelivering": count, "detail": "only dead letters can be redelivered"}
    return {"redelivering": count}

"""Authentication failures, with the reason an admin can act on, counted per provider, reason
and minute.

The IdP gets the same undetailed 401 whatever went wrong; the admin sees why:

- ``no_credential``: no Authorization header.
- ``wrong_scheme``: a scheme the provider's credential kind does not use (Basic for a bearer
  provider, Bearer for a Basic one, anything else).
- ``unknown_credential``: a secret that is not one of the provider's, or no longer is (a
  rotated or revoked credential, a wrong client secret at a token endpoint).
- ``expired_token``: an access token of the provider's that has expired.
- ``rate_limited`` / ``token_rate_limited``: refused with 429 by a limit on failed
  authentication or on token requests (gateway.accounts.throttle).

Counts are kept in memory and added to the ``auth_failures`` table every few seconds (and
when the app stops), so a flood of failures costs one upsert per provider, reason and minute,
not a write per request. Rows older than ``auth_failure_retention`` are pruned.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from gateway.accounts.credentials import Presented
from gateway.clock import format_time, parse_duration
from gateway.observability.activity import reading
from gateway.observability.flush_calls import gather
from gateway.settings import ConfigError, Settings
from gateway.store import auth_failures as queries
from gateway.store.base import Conn, CredentialRow, ProviderRow, StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.auth")

ADMIN_API = ""  # provider_id under which admin API failures are counted
UNKNOWN = "-"  # provider_id under which ids that name no provider are counted
REASONS = ("no_credential", "wrong_scheme", "unknown_credential", "expired_token",
           "rate_limited", "token_rate_limited")
FLUSH_SECONDS = 5.0
MAX_PENDING = 10_000  # distinct (provider, minute, reason) keys held between flushes


def minute_of(stamp: str) -> str:
    """'2026-01-02T03:04:05.000000Z' -> '2026-01-02T03:04Z'."""
    return stamp[:16] + "Z"


def reason_for(presented: Presented, provider: ProviderRow | None,
               matches: list[CredentialRow], now: str) -> str:
    """Why a request to an existing provider did not authenticate."""
    if not presented.scheme:
        return "no_credential"
    expected = "basic" if provider is not None and provider.auth_kind == "basic" else "bearer"
    if presented.scheme != expected:
        return "wrong_scheme"
    if any(c.revoked_at is None and not c.live(now) for c in matches):
        return "expired_token"
    return "unknown_credential"


class Tally:
    """Failure counts not yet written, by (provider_id, minute, reason)."""

    def __init__(self) -> None:
        self.pending: Counter[tuple[str, str, str]] = Counter()
        self.flushing: list[tuple[str, str, str, int]] = []  # drained, not yet stored

    def add(self, provider_id: str, reason: str, stamp: str) -> None:
        key = (provider_id, minute_of(stamp), reason)
        if key in self.pending or len(self.pending) < MAX_PENDING:
            self.pending[key] += 1

    def drain(self) -> list[tuple[str, str, str, int]]:
        rows = [(*key, count) for key, count in sorted(self.pending.items())]
        self.pending.clear()
        self.flushing = rows
        return rows

    def unstored(self) -> list[tuple[str, str, str, int]]:
        """What this process counted and the table does not hold yet."""
        return [*self.flushing, *((*key, count) for key, count in self.pending.items())]


async def flush(gw: Gateway) -> None:
    """Add the counts held in memory to the table (kept for the next try if it fails)."""
    rows = gw.auth_failures.drain()
    if not rows:
        return
    try:
        async with gw.store.write() as conn:
            await queries.add(conn, rows)
    except BaseException:
        for provider_id, minute, reason, count in rows:
            gw.auth_failures.pending[(provider_id, minute, reason)] += count
        raise
    finally:
        gw.auth_failures.flushing = []


def retention_seconds(settings: Settings) -> float:
    try:
        return parse_duration(settings.auth_failure_retention)
    except ValueError as exc:
        raise ConfigError(f"auth_failure_retention: {exc}") from None


async def prune(gw: Gateway) -> None:
    keep = retention_seconds(gw.settings)
    before = minute_of(format_time(gw.clock.now() - timedelta(seconds=keep)))
    async with gw.store.write() as conn:
        await queries.prune(conn, before)


async def run(gw: Gateway) -> None:
    """Background loop of the app: flush every few seconds, prune once an hour."""
    beats = 0
    try:
        while True:
            await anyio.sleep(FLUSH_SECONDS)
            try:
                await flush(gw)
                if beats % 720 == 0:
                    await prune(gw)
            except StoreUnavailable:
                pass  # said once by the store's outage lines
            except Exception:
                log.exception("writing authentication failures failed; will retry")
            beats += 1
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await flush(gw)
            except StoreUnavailable as exc:
                log.warning("writing authentication failures at shutdown failed: %s",
                            exc.detail)
            except Exception:
                log.exception("writing authentication failures at shutdown failed")


async def listing(gw: Gateway, provider_id: str | None, since: str = "24h",
                  limit: int = 1000) -> dict:
    """Counts from the last ``since`` (a duration), newest minute first, with totals by
    reason. ``provider_id`` None: every provider's, each row naming its provider."""
    await gather(gw)
    await flush(gw)
    start = minute_of(format_time(gw.clock.now() - timedelta(seconds=parse_duration(since))))
    async with gw.store.read() as conn:
        rows = await queries.since(conn, provider_id, start, limit)
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row["reason"]] += int(row["count"])
    items = [{"minute": r["minute"], "reason": r["reason"], "count": int(r["count"]),
              **({"provider_id": r["provider_id"]} if provider_id is None else {})}
             for r in rows]
    return {"since": start, "totals": dict(sorted(totals.items())), "items": items}


async def refused_since(gw: Gateway, provider_id: str, minute: str,
                        conn: Conn | None = None) -> dict[str, dict]:
    """The provider's refused requests from ``minute`` (YYYY-MM-DDTHH:MMZ) on, per reason:
    ``{reason: {"count", "last"}}`` (``last``: the newest minute with one), the counts not
    written yet included. For the console's connection check, read every few seconds."""
    async with reading(gw, conn) as reader:
        rows = await queries.by_reason_since(reader, provider_id, minute)
    out = {row["reason"]: {"count": int(row["count"]), "last": row["last"]} for row in rows}
    for pid, at, reason, count in gw.auth_failures.unstored():
        if pid == provider_id and at >= minute:
            entry = out.setdefault(reason, {"count": 0, "last": at})
            entry["count"] += count
            entry["last"] = max(entry["last"], at)
    return out


async def refused_by_provider(gw: Gateway, since: timedelta,
                              conn: Conn | None = None) -> dict[str, int]:
    """Every provider's refused requests over the last ``since``: {provider_id: count}."""
    minute = minute_of(format_time(gw.clock.now() - since))
    async with reading(gw, conn) as reader:
        out = await queries.by_provider_since(reader, minute)
    for pid, at, _, count in gw.auth_failures.unstored():
        if at >= minute:
            out[pid] = out.get(pid, 0) + count
    return out


async def refused_since_each(gw: Gateway, minutes: dict[str, str],
                             conn: Conn | None = None) -> dict[str, dict[str, dict]]:
    """``refused_since`` of several providers, each from its own minute, in one query:
    {provider_id: {reason: {"count", "last"}}}."""
    async with reading(gw, conn) as reader:
        rows = await queries.by_provider_reason_since(reader, minutes)
    out: dict[str, dict[str, dict]] = {}
    for row in rows:
        out.setdefault(row["provider_id"], {})[row["reason"]] = {
            "count": int(row["count"]), "last": row["last"]}
    for pid, at, reason, count in gw.auth_failures.unstored():
        if pid in minutes and at >= minutes[pid]:
            entry = out.setdefault(pid, {}).setdefault(reason, {"count": 0, "last": at})
            entry["count"] += count
            entry["last"] = max(entry["last"], at)
    return out

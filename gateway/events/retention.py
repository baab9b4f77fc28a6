"""Sync-log retention: a background task of the app prunes entries older than the setting."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from gateway.clock import format_time, parse_duration
from gateway.store import synclog
from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.retention")

BATCH = 1000
MAX_BATCHES = 1000  # per run: a huge backlog is worked off over several runs


def retention_seconds(value: str | None) -> float | None:
    """The setting as seconds; None keeps the log forever. A bad value stops startup."""
    if value in (None, ""):
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"sync_log_retention: {exc}") from None
    if seconds <= 0:
        raise ValueError("sync_log_retention must be longer than 0s (leave it out to keep "
                         "the sync log forever)")
    return seconds


async def prune(gw: Gateway, keep_seconds: float, batch: int = BATCH) -> int:
    """Delete entries older than the cutoff in short transactions; return how many went."""
    cutoff = format_time(gw.clock.now() - timedelta(seconds=keep_seconds))
    removed = 0
    for _ in range(MAX_BATCHES):
        async with gw.store.write() as conn:
            count = await synclog.prune(conn, cutoff, batch)
        removed += count
        if count < batch:
            break
        await anyio.lowlevel.checkpoint()  # let SCIM writes in between batches
    return removed


async def run(gw: Gateway) -> None:
    """For the life of the app: prune now, then every settings.retention_interval seconds."""
    keep = retention_seconds(gw.settings.sync_log_retention)
    if keep is None:
        return
    while True:
        try:
            removed = await prune(gw, keep)
            if removed:
                log.info("pruned %d sync-log entries older than %s", removed,
                         gw.settings.sync_log_retention,
                         extra={"removed": removed, "outcome": "done"})
        except StoreUnavailable:
            pass  # said once by the store's outage lines
        except Exception:  # retried on the next run
            log.exception("sync-log pruning failed", extra={"outcome": "failed"})
        await anyio.sleep(gw.settings.retention_interval)

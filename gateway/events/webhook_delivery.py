"""Webhook delivery: a background task of the app that turns outbox events into signed POSTs.

Everything it needs to resume lives in the database: each webhook's cursor into the outbox,
and one row per delivery with its attempts and next_attempt_at. A delivery is claimed by
pushing its next_attempt_at out by a lease, so a crash (or another replica) leaves it to be
retried once the lease runs out: delivery is at-least-once, the event seq is the idempotency
key. Within one webhook, the events of one resource go out one at a time in seq order; a
delivery that keeps failing holds back only its own resource, until it is dead-lettered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import httpcore
import httpx
import msgspec

from gateway.clock import format_time
from gateway.events import destinations
from gateway.events.feed import event_view
from gateway.events.webhook_secrets import unseal
from gateway.events.webhooks import WebhookError, wants
from gateway.hookspecs import hookimpl
from gateway.store import outbox
from gateway.store import webhooks as queries
from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.webhooks")
_json = msgspec.json

SIGNATURE_HEADER = "X-Gateway-Signature"
FAN_OUT_BATCH = 500
MAX_FAN_OUT_BATCHES = 20  # per wake-up, so one pass stays short
COALESCE = 0.05  # seconds: the shortest time between two delivery passes
ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer read: only its status matters


class Waker:
    """Registered as a plugin for the life of the loop: a commit wakes the loop at once."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    @hookimpl
    def after_commit(self, events: list) -> None:
        if events:
            self._event.set()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        if self._event.is_set():
            self._event = anyio.Event()

    async def wait(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._event.wait()


def receivers(gw: Gateway) -> httpcore.AsyncConnectionPool:
    """Connections to receivers, on the addresses gateway.events.destinations allows."""
    return destinations.pool(destinations.networks(tuple(gw.settings.webhook_allow_networks)))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def resource_key(row: dict) -> str:
    if row.get("resource_id"):
        return f"{row.get('resource_type') or ''}:{row['resource_id']}"
    return ""  # events about no resource are ordered among themselves


def backoff(gw: Gateway, attempts: int, rng: random.Random) -> float:
    """Exponential, capped, with jitter (between half and all of the step)."""
    s = gw.settings
    step = min(s.webhook_backoff_max, s.webhook_backoff * 2 ** max(0, attempts - 1))
    return step * (0.5 + rng.random() / 2)


def later(gw: Gateway, seconds: float) -> str:
    return format_time(gw.clock.now() + timedelta(seconds=seconds))


async def fan_out(gw: Gateway) -> int:
    """New outbox events -> delivery rows for each webhook that wants them."""
    async with gw.store.lookup() as conn:  # two indexed reads, however large the outbox
        hooks = await queries.behind(conn, await outbox.newest_seq(conn))
    queued = 0
    for hook in hooks:
        types = hook["events"]
        types = _json.decode(types) if isinstance(types, (str, bytes)) else types
        cursor = hook["cursor"]
        for _ in range(MAX_FAN_OUT_BATCHES):
            moved = await _fan_out_batch(gw, hook["id"], types, cursor)
            if moved is None:
                break
            cursor, count = moved
            queued += count
    return queued


async def _fan_out_batch(gw: Gateway, webhook_id: str, types: list[str],
                         cursor: int) -> tuple[int, int] | None:
    async with gw.store.write() as conn:
        rows = await outbox.after(conn, cursor, FAN_OUT_BATCH)
        if not rows:
            return None
        # The conditional update is the claim: a deleted webhook or another replica that
        # got there first leaves it unchanged, and then this batch writes nothing.
        if not await queries.move_cursor(conn, webhook_id, cursor, rows[-1]["seq"]):
            return None
        now = gw.clock.stamp()
        picked = [(webhook_id, row["seq"], resource_key(row), now)
                  for row in rows if wants(types, row["type"])]
        if picked:
            await queries.queue(conn, picked)
    return rows[-1]["seq"], len(picked)


async def claim_due(gw: Gateway, room: int) -> list[dict]:
    """Up to `room` deliveries that may go now (the oldest pending one of each resource),
    each claimed for a lease so nobody else sends it meanwhile."""
    if room <= 0:
        return []
    lease = later(gw, gw.settings.webhook_timeout * 2 + 1)
    now = gw.clock.stamp()
    async with gw.store.lookup() as conn:
        # Most wake-ups find nothing due (no webhooks, or all sent): no write transaction.
        if not await queries.any_due(conn, now):
            return []
    async with gw.store.write() as conn:
        claimed = [row for row in await queries.due(conn, now, room)
                   if await queries.lease(conn, row, lease, now)]
    return claimed


def signed_headers(gw: Gateway, job: dict, url: httpx.URL, body: bytes) -> dict[str, str]:
    headers = {
        "Host": url.netloc.decode("ascii"),
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(unseal(gw, job["secret"]), int(gw.clock.now().timestamp()),
                               body),
        "X-Gateway-Event": job["type"],
        "X-Gateway-Seq": str(job["seq"]),
        "X-Gateway-Webhook": job["webhook_id"],
        "User-Agent": "identity-gateway",
    }
    if url.userinfo:  # registered by an earlier version, which sent it as Basic credentials
        pair = f"{url.username}:{url.password}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    if job.get("traceparent"):  # the trace of the request that caused the event
        headers["traceparent"] = job["traceparent"]
    return headers


async def post(gw: Gateway, pool: httpcore.AsyncConnectionPool, job: dict) -> str | None:
    """Send one event; None on a 2xx answer, else what went wrong (never the secret), in
    words that say what to fix without mapping the network: a refused connection, a silent
    port and an answer that is not HTTP read the same (the server log has the cause)."""
    body = _json.encode(event_view(job))
    seconds = gw.settings.webhook_timeout
    try:
        url = httpx.URL(job["url"])
        with anyio.fail_after(seconds):
            status = await send(pool, url, signed_headers(gw, job, url, body), body, seconds)
    except destinations.Refused as exc:
        return f"the receiver's address is not allowed ({exc})"
    except destinations.Unresolved:
        return "the receiver's name does not resolve"
    except (httpx.InvalidURL, httpcore.UnsupportedProtocol):  # stored by an earlier version
        return "the receiver's URL is not valid"
    except (TimeoutError, OSError, httpcore.TimeoutException, httpcore.NetworkError,
            httpcore.ProtocolError) as exc:
        log.info("webhook %s: event %s: %s", job["webhook_id"], job["seq"],
                 type(exc).__name__, extra={"webhook": job["webhook_id"], "seq": job["seq"],
                                            "cause": f"{type(exc).__name__}: {exc}"[:500]})
        return f"could not connect, or no answer within {seconds:g}s"
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"


async def send(pool: httpcore.AsyncConnectionPool, url: httpx.URL, headers: dict[str, str],
               body: bytes, seconds: float) -> int:
    """POST and return the status. At most ANSWER_LIMIT bytes of the answer are read: read
    whole, a short answer leaves the connection open for the next delivery."""
    target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                          target=url.raw_path)
    timeout = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
    async with pool.stream("POST", target, headers=list(headers.items()), content=body,
                           extensions={"timeout": timeout}) as response:
        read = 0
        async for chunk in response.aiter_stream():
            read += len(chunk)
            if read > ANSWER_LIMIT:
                break
        return response.status


async def settle(gw: Gateway, job: dict, error: str | None, rng: random.Random) -> str:
    """Record the outcome: delivered rows go; failures wait their backoff or are parked.
    Returns it: delivered, retry or dead."""
    async with gw.store.write() as conn:
        if error is None:
            await queries.delivered(conn, job["webhook_id"], job["seq"])
            return "delivered"
        attempts = job["attempts"] + 1
        dead = attempts >= gw.settings.webhook_max_attempts
        await queries.failed(conn, job["webhook_id"], job["seq"], attempts, dead,
                             later(gw, 0 if dead else backoff(gw, attempts, rng)), error)
    return "dead" if dead else "retry"


def log_delivery(job: dict, outcome: str, error: str | None, seconds: float) -> None:
    """One line per attempt: what was sent where, and how it went (never the secret)."""
    level = logging.WARNING if outcome == "dead" else logging.INFO
    log.log(level, "webhook %s: event %s %s", job["webhook_id"], job["seq"], outcome, extra={
        "webhook": job["webhook_id"], "seq": job["seq"], "event_type": job["type"],
        "outcome": outcome, "attempt": job["attempts"] + 1, "error": error,
        "duration_ms": round(seconds * 1000, 3), "traceparent": job.get("traceparent")})


async def deliver(gw: Gateway, pool: httpcore.AsyncConnectionPool, job: dict, rng: random.Random,
                  inflight: set, waker: Waker) -> None:
    try:
        began = time.perf_counter()
        error = await post(gw, pool, job)
        seconds = time.perf_counter() - began
        with anyio.CancelScope(shield=True):
            outcome = await settle(gw, job, error, rng)
        gw.metrics.delivery(job["webhook_id"], outcome, seconds)
        log_delivery(job, outcome, error, seconds)
    except StoreUnavailable:  # the outage is logged by the store; the event stays due
        log.warning("webhook %s: the outcome of event %s was not recorded (the store is "
                    "unavailable); it will be sent again", job["webhook_id"], job["seq"])
    except Exception:
        log.exception("webhook %s: recording delivery of event %s failed",
                      job["webhook_id"], job["seq"])
    finally:
        inflight.discard((job["webhook_id"], job["seq"]))
        waker.set()  # the resource is free: its next event may go


async def run(gw: Gateway) -> None:
    """The delivery loop, for the life of the app. Woken by commits; polls otherwise."""
    waker = Waker()
    gw.hooks.register(waker, name="webhook_delivery")
    rng = random.Random()
    inflight: set[tuple[str, int]] = set()
    try:
        async with receivers(gw) as pool, anyio.create_task_group() as tasks:
            while True:
                gw.heartbeats.beat("delivery", gw.settings.webhook_poll_interval)
                waker.clear()
                try:
                    await fan_out(gw)
                    room = gw.settings.webhook_concurrency - len(inflight)
                    for job in await claim_due(gw, room):
                        inflight.add((job["webhook_id"], job["seq"]))
                        tasks.start_soon(deliver, gw, pool, job, rng, inflight, waker)
                except StoreUnavailable:
                    pass  # said once by the store's outage lines
                except Exception:  # a failed pass is retried on the next wake-up
                    log.exception("webhook delivery pass failed")
                await waker.wait(gw.settings.webhook_poll_interval)
                # Under a stream of writes every commit wakes the loop; one pass per
                # COALESCE seconds picks up all of them at a fraction of the cost.
                await anyio.sleep(min(COALESCE, gw.settings.webhook_poll_interval))
    finally:
        gw.heartbeats.stop("delivery")
        gw.hooks.unregister(waker)


TEST_EVENT = "webhook.test"


async def send_test(gw: Gateway, webhook_id: str) -> str | None:
    """POST one signed `webhook.test` event to a webhook now, outside the outbox (no other
    webhook sees it, nothing is queued); None when the receiver answered 2xx, else what
    went wrong. Raises WebhookError(404) for an unknown webhook."""
    async with gw.store.read() as conn:
        row = await queries.one_with_counts(conn, webhook_id)
    if row is None:
        raise WebhookError(f"no webhook '{webhook_id}'", 404)
    job = {**row, "webhook_id": webhook_id, "seq": 0, "type": TEST_EVENT,
           "provider_id": None, "occurred_at": gw.clock.stamp(), "resource_type": None,
           "resource_id": None, "data": {"webhook": webhook_id, "test": True}}
    async with receivers(gw) as pool:
        return await post(gw, pool, job)

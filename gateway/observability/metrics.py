"""Prometheus metrics: one CollectorRegistry per app (on the Gateway), never the library's
global one, so two apps in one process never share a counter.

Counters and histograms count what this process saw (each replica exposes its own; sum them
across replicas). Under `serve --workers N` they count what the whole serve saw: each worker
writes its values to files in the folder PROMETHEUS_MULTIPROC_DIR names (prometheus-client's
multiprocess mode, which reads that variable when it is imported: serve sets it for its
workers), and a scrape, whichever worker answers it, adds up every worker's files, those of
workers that have since exited included, so that counters never go back. The process's
own metrics (CPU, memory, garbage collection) are left out then: they would describe only
the worker that happened to answer.

What lives in the database (pending deactivations, blocked users, the webhook backlog) is
read from it at scrape time and exposed as gauges: every replica reports the same value, so
take their max, not their sum. Labels are bounded: provider, webhook and resource type ids
and route templates, never a user id or a raw path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from gateway.clock import parse_time
from gateway.store import gauges, outbox
from gateway.store import guard as guard_queries
from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.metrics")
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH = (1, 2, 4, 8, 16, 32, 64, 128)
# The outcome of a change, from its event type: `user.members_added` counts as updated.
OUTCOMES = {
    "created": "created", "restored": "created", "updated": "updated",
    "members_added": "updated", "members_removed": "updated", "deleted": "deleted",
    "deactivated": "deactivated", "reactivated": "reactivated", "blocked": "blocked",
    "unblocked": "unblocked", "deactivation_scheduled": "deactivation_scheduled",
    "deactivation_cancelled": "deactivation_cancelled",
}
RESOURCE_TYPES = {"user": "User", "group": "Group"}


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class DatabaseGauges(Collector):
    """Gauges read from the database just before each scrape (see Metrics.refresh); the
    registry calls collect() synchronously, so the async reads happen first."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)

    def describe(self) -> Iterable[Metric]:
        return []  # the families change with each scrape: nothing to check at register


def _family(name: str, doc: str, labels: list[str],
            rows: Iterable[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family


class Metrics:
    """The app's metrics. Request metrics are recorded by the middleware, outcomes by the
    event record, deliveries by the delivery loop, commits by the store."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        # What a scrape reads: this registry, or every worker's files (module docstring).
        self.exposed = CollectorRegistry() if shared else registry
        if shared:
            MultiProcessCollector(self.exposed, shared)
        else:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        self.scim_requests = Counter(
            "gateway_scim_requests", "SCIM requests by provider, resource type, operation "
            "and status class", ["provider", "resource_type", "operation", "status"],
            registry=registry)
        self.scim_latency = Histogram(
            "gateway_scim_request_duration_seconds", "SCIM request latency by operation",
            ["operation"], buckets=LATENCY, registry=registry)
        self.http_requests = Counter(
            "gateway_http_requests", "Requests outside SCIM (admin API, health, metrics) by "
            "route template, method and status class", ["route", "method", "status"],
            registry=registry)
        self.http_latency = Histogram(
            "gateway_http_request_duration_seconds", "Latency of requests outside SCIM by "
            "route template", ["route"], buckets=LATENCY, registry=registry)
        self.auth_failures = Counter(
            "gateway_auth_failures", "Requests refused for want of a valid credential (401), "
            "by API and provider ('unknown' for a provider id that does not exist)",
            ["api", "provider"], registry=registry)
        self.outcomes = Counter(
            "gateway_provisioning_outcomes", "Committed changes and refused writes by "
            "provider, resource type and outcome", ["provider", "resource_type", "outcome"],
            registry=registry)
        self.deliveries = Counter(
            "gateway_webhook_deliveries", "Webhook delivery attempts by outcome: delivered, "
            "retry (failed, tried again later) or dead (failed, dead-lettered)",
            ["webhook", "outcome"], registry=registry)
        self.delivery_latency = Histogram(
            "gateway_webhook_delivery_duration_seconds", "Time a receiver took to answer",
            buckets=LATENCY, registry=registry)
        self.commit_latency = Histogram(
            "gateway_store_commit_duration_seconds", "Time a store commit took",
            buckets=LATENCY, registry=registry)
        self.commit_batch = Histogram(
            "gateway_store_commit_writes", "Writes per commit (SQLite group commit; 1 on "
            "PostgreSQL)", buckets=BATCH, registry=registry)
        self.activity_flushes = Counter(
            "gateway_activity_flushes", "Flushes of the per-provider activity record by "
            "outcome", ["outcome"], registry=registry)
        self.database = DatabaseGauges()
        self.exposed.register(self.database)
        # Labelled children by their label values (all bounded, see the module docstring).
        self._scim: dict[tuple, tuple[Any, Any]] = {}
        self._http: dict[tuple, tuple[Any, Any]] = {}

    # Recording ---------------------------------------------------------------------------

    def scim_request(self, provider: str, resource_type: str, operation: str, status: int,
                     seconds: float) -> None:
        key = (provider, resource_type, operation, status)
        children = self._scim.get(key)
        if children is None:  # labels() takes a lock and checks its values: once per key
            children = self._scim[key] = (
                self.scim_requests.labels(provider, resource_type, operation,
                                          status_class(status)),
                self.scim_latency.labels(operation))
        children[0].inc()
        children[1].observe(seconds)

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._http.get(key)
        if children is None:
            children = self._http[key] = (
                self.http_requests.labels(route, method, status_class(status)),
                self.http_latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def committed(self, events: list[dict]) -> None:
        """Outcomes of a commit, from its events (plugins' own event types count as
        `other`)."""
        for event in events:
            kind, _, action = event["type"].partition(".")
            self.outcomes.labels(event.get("provider") or "", RESOURCE_TYPES.get(kind, ""),
                                 OUTCOMES.get(action, "other")).inc()

    def refused(self, provider: str | None, resource_type: str | None) -> None:
        self.outcomes.labels(provider or "", resource_type or "", "refused").inc()

    def delivery(self, webhook: str, outcome: str, seconds: float) -> None:
        self.deliveries.labels(webhook, outcome).inc()
        self.delivery_latency.observe(seconds)

    def commit(self, seconds: float, writes: int) -> None:
        self.commit_latency.observe(seconds)
        self.commit_batch.observe(writes)

    # Scraping ----------------------------------------------------------------------------

    async def refresh(self, gw: Gateway) -> None:
        """Read the database-backed gauges for the scrape that follows. A database that
        cannot be read leaves only `gateway_database_up 0` (and the process's own
        metrics), so the scrape itself still succeeds."""
        try:
            families = await self._read(gw)
        except StoreUnavailable:  # said once by the store's outage lines
            families = []
        except Exception:  # any failure: the scrape reports it instead of failing
            log.warning("metrics: reading the database failed", exc_info=True)
            families = []
        up = _family("gateway_database_up", "1 when the last scrape could read the database",
                     [], [([], 1 if families else 0)])
        self.database.families = [up, *families]

    async def _read(self, gw: Gateway) -> list[Metric]:
        async with gw.store.read() as conn:
            pending = await gauges.pending_deactivations(conn)
            blocked = await gauges.blocked_users(conn)
            guards = await guard_queries.all_guards(conn)
            newest = await outbox.newest_seq(conn)
            hooks = await gauges.webhook_backlog(conn)
            oldest = {}
            for row in hooks:
                first = oldest_undelivered(row, newest)
                if first is not None:
                    oldest[row["id"]] = await gauges.occurred_at(conn, first)
        now = gw.clock.now()
        families: list[Metric] = [
            _family("gateway_users_pending_deactivation", "Users whose deactivation is "
                    "scheduled, by provider", ["provider"],
                    (([r["provider_id"]], r["count"]) for r in pending)),
            _family("gateway_users_blocked", "Blocked users by provider", ["provider"],
                    (([r["provider_id"]], r["count"]) for r in blocked)),
            _family("gateway_deactivation_guard_tripped", "1 while a provider's "
                    "mass-deactivation guard holds its deactivations", ["provider"],
                    (([r["provider_id"]], 1 if r["state"] == "tripped" else 0) for r in guards)),
            _family("gateway_deactivation_guard_held", "Deactivations a provider's guard holds",
                    ["provider"], (([r["provider_id"]], r["held"]) for r in guards)),
            _family("gateway_deactivation_guard_trips", "Times a provider's guard has tripped "
                    "(a count kept in the database)", ["provider"],
                    (([r["provider_id"]], r["trips"]) for r in guards)),
            _family("gateway_outbox_newest_seq", "Sequence number of the newest event", [],
                    [([], newest)]),
            _family("gateway_webhook_lag_events", "Events from the oldest one a webhook has "
                    "not received yet to the newest (0 when it is up to date)", ["webhook"],
                    (([r["id"]], lag(r, newest)) for r in hooks)),
            _family("gateway_webhook_oldest_undelivered_seconds", "Age of the oldest event "
                    "waiting for delivery to a webhook (dead letters aside)", ["webhook"],
                    (([hook], age(now - parse_time(at))) for hook, at in oldest.items()
                     if at)),
            _family("gateway_webhook_pending_deliveries", "Deliveries waiting to be sent or "
                    "retried", ["webhook"], (([r["id"]], r["pending"]) for r in hooks)),
            _family("gateway_webhook_dead_letters", "Deliveries parked after their last "
                    "attempt", ["webhook"], (([r["id"]], r["dead"]) for r in hooks)),
        ]
        usage = getattr(gw.store, "pool_usage", None)
        if usage is not None:
            in_use, idle, size = usage()
            families.append(_family(
                "gateway_store_pool_connections", "PostgreSQL pool connections by state",
                ["state"], [(["in_use"], in_use), (["idle"], idle), (["max"], size)]))
        return families

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (Prometheus text by default,
        OpenMetrics when its Accept header says so), and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.exposed), content_type


def oldest_undelivered(row: dict[str, Any], newest: int) -> int | None:
    """The seq of a webhook's oldest pending delivery, or of the first event past its
    cursor that it has not fanned out yet, whichever is older; None when it has all."""
    candidates = [row["oldest"]] if row["oldest"] is not None else []
    if row["cursor"] < newest:
        candidates.append(row["cursor"] + 1)
    return min(candidates) if candidates else None


def lag(row: dict[str, Any], newest: int) -> int:
    """Events from the oldest undelivered one to the newest, both counted; 0 when none."""
    first = oldest_undelivered(row, newest)
    return 0 if first is None else newest - first + 1


def age(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())

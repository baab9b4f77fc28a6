"""The one middleware every request passes through (pure ASGI: no request objects, no
task per request): request id, trace context, and once the response is sent, the access
log line, the metrics and the provider's activity.

Handlers read and add to the request's ``RequestInfo`` (``request_info(scope)``): the request
id and trace for the sync log and events, the provider once it is known, the SCIM route
template and operation the dispatcher resolved, the detail of a refusal.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability.activity import UNNAMED
from gateway.observability.logs import json_lines_to, line_time
from gateway.observability.tracing import Trace, trace_for

if TYPE_CHECKING:
    from gateway.core import Gateway

SCOPE_KEY = "gateway.request"
SCIM_PREFIX = "/scim/v2/{provider}"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: logged only when they fail
MAX_AGENT = 256
LINE = "%s %s %d %.1fms"  # the request line's message
access = logging.getLogger("identity_gateway.access")


class RequestInfo:
    """What is known about one request, filled in as it is handled."""

    __slots__ = ("request_id", "trace", "provider_id", "route", "operation",
                 "resource_type", "error")

    def __init__(self, request_id: str, trace: Trace) -> None:
        self.request_id = request_id
        self.trace = trace
        self.provider_id: str | None = None  # an existing provider named by the URL
        self.route: str | None = None  # template below the SCIM base URL, e.g. /Users/{id}
        self.operation = "other"
        self.resource_type = ""
        self.error: str | None = None  # the detail of the refusal that answered it


def request_info(scope: Scope) -> RequestInfo:
    """The request's info (a fresh one for a scope the middleware did not see)."""
    info = scope.get(SCOPE_KEY)
    if info is None:
        info = scope[SCOPE_KEY] = RequestInfo(os.urandom(16).hex(), trace_for(None))
    return info


def given_request_id(value: bytes) -> str | None:
    """The client's X-Request-Id when it is a sane one (printable, at most 128 bytes)."""
    if 0 < len(value) <= 128:
        text = value.decode("latin-1")
        if text.isprintable():
            return text
    return None


def route_templates(routes: list[BaseRoute], prefix: str = "") -> dict[int, str]:
    """Every route's full path template, by the route object's id (routes compare by
    value, so they are not dict keys themselves)."""
    found: dict[int, str] = {}
    for route in routes:
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount):
            found.update(route_templates(route.routes, path))
        found[id(route)] = path
    return found


def is_error(method: str, status: int) -> bool:
    """An error as an admin sees it: any 5xx, and any 4xx but a 404 on a read (an IdP
    looking up a user it has not created yet, or one that is gone)."""
    if status >= 500:
        return True
    return status >= 400 and not (status == 404 and method in ("GET", "HEAD"))


class Observe:
    def __init__(self, app: ASGIApp, gw: Gateway, routes: list[BaseRoute]) -> None:
        self.app = app
        self.gw = gw
        self.templates = route_templates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        rid = traceparent = agent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = given_request_id(value)
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
            elif name == b"user-agent":
                agent = value[:MAX_AGENT].decode("latin-1")
        new_id = os.urandom(16).hex()
        # A request that starts its trace here has one id for both: one to grep for.
        info = RequestInfo(rid or new_id, trace_for(traceparent, new_id))
        scope[SCOPE_KEY] = info
        header = (b"x-request-id", info.request_id.encode("latin-1"))
        status, size = 500, 0  # what ServerErrorMiddleware answers if the app raises

        async def sending(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            try:
                self.finish(scope, info, status, size, time.perf_counter() - began, agent)
            except Exception:  # the answer has gone out; what observes it must not fail it
                logging.getLogger("identity_gateway").exception("observing a request failed")

    def template(self, scope: Scope, info: RequestInfo) -> str:
        prefix = self.templates.get(id(scope.get("route")))
        if prefix is None or isinstance(scope.get("route"), Mount):
            return "unmatched"
        return prefix + info.route if info.route is not None else prefix

    def finish(self, scope: Scope, info: RequestInfo, status: int, size: int,
               seconds: float, agent: str | None) -> None:
        gw = self.gw
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = self.template(scope, info)
        scim = route.startswith(SCIM_PREFIX)
        if scim and info.provider_id is None:
            named = scope.get("path_params", {}).get("provider")
            if named in gw.activity.known:
                info.provider_id = named
        if scim:
            gw.metrics.scim_request(info.provider_id or "unknown", info.resource_type,
                                    info.operation, status, seconds)
        else:
            gw.metrics.http_request(route, method, status, seconds)
        if status == 503 and gw.store.outage.down:  # counted in the outage's log lines
            gw.store.outage.refusal()
        if status == 401:
            gw.metrics.auth_failures.labels(
                "scim" if scim else "admin", (info.provider_id or "unknown") if scim else ""
            ).inc()
        if scim:  # an id that names no provider is recorded too, in a stand-in never written
            gw.activity.record(gw.clock.now(), info.provider_id or UNNAMED, method, route,
                               scope, status, is_error(method, status), info.error)
        if access.isEnabledFor(logging.INFO) and not (route in QUIET and status < 400):
            log_request(scope, info, method, route, status, size, seconds, agent)


def log_request(scope: Scope, info: RequestInfo, method: str, route: str, status: int,
                size: int, seconds: float, agent: str | None) -> None:
    ms = round(seconds * 1000, 3)
    client = scope.get("client")
    fields: dict[str, Any] = {
        "request_id": info.request_id, "trace_id": info.trace.trace_id,
        "provider": info.provider_id, "method": method, "route": route, "status": status,
        "duration_ms": ms, "bytes": size, "user_agent": agent,
        "client": client[0] if client else None,
    }
    if info.trace.parent_id is not None:  # the caller traces: name both spans
        fields["span_id"] = info.trace.span_id
        fields["parent_span_id"] = info.trace.parent_id
    json_lines = json_lines_to(access)
    if json_lines is not None:  # the line the JSON formatter would write, without a record
        json_lines.add_json({"level": "INFO", "logger": access.name,
                             "message": LINE % (method, route, status, ms),
                             **fields, "time": line_time()})
        return
    # The record is made here, not through access.info(..., extra=...): on every request,
    # the checks that call makes on each extra field cost more than the fields themselves.
    record = logging.LogRecord(access.name, logging.INFO, "", 0, LINE,
                               (method, route, status, ms), None)
    record.__dict__.update(fields)
    access.handle(record)


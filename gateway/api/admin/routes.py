"""Every route under /admin/v1: the core's, then the plugins' (`extra_routes`)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from gateway.api import openapi
from gateway.api.admin import (
    auth_failures,
    custom_attributes,
    events,
    guard,
    providers,
    users,
)
from gateway.api.admin.endpoint import plugin_endpoint


def routes(extra: list[Route]) -> list[BaseRoute]:
    return [
        Route("/providers", providers.provider_list, methods=["GET", "POST"]),
        Route("/providers/{id}", providers.provider_one, methods=["GET", "PATCH", "DELETE"]),
        Route("/providers/{id}/rotate", providers.provider_rotate, methods=["POST"]),
        Route("/providers/{id}/auth-failures", auth_failures.provider_failures,
              methods=["GET"]),
        Route("/auth-failures", auth_failures.all_failures, methods=["GET"]),
        Route("/providers/{id}/deactivation-guard", guard.guard_one, methods=["GET", "PATCH"]),
        Route("/providers/{id}/deactivation-guard/release", guard.guard_release,
              methods=["POST"]),
        Route("/providers/{id}/deactivation-guard/discard", guard.guard_discard,
              methods=["POST"]),
        Route("/providers/{id}/deactivation-guard/held", guard.guard_held, methods=["GET"]),
        Route("/providers/{id}/activity", providers.provider_activity, methods=["GET"]),
        Route("/providers/{id}/connection", providers.provider_connection, methods=["GET"]),
        Route("/providers/{id}/custom-attributes", custom_attributes.attribute_list,
              methods=["GET", "POST"]),
        Route("/providers/{id}/custom-attributes/{path}", custom_attributes.attribute_one,
              methods=["PATCH", "DELETE"]),
        Route("/providers/{id}/undeclared-attributes/{path}/declare",
              custom_attributes.declare_seen, methods=["POST"]),
        Route("/plugins", providers.plugin_list, methods=["GET"]),
        Route("/users", users.user_list, methods=["GET", "POST"]),
        Route("/users/{id}", users.user_one, methods=["GET"]),
        Route("/users/{id}/{action}", users.user_action, methods=["POST"]),
        Route("/sync-log", events.sync_log, methods=["GET"]),
        Route("/sync-log/export", events.sync_log_export, methods=["GET"]),
        Route("/events", events.event_feed, methods=["GET"]),
        Route("/webhooks", events.webhook_list, methods=["GET", "POST"]),
        Route("/webhooks/{id}", events.webhook_one, methods=["GET", "DELETE"]),
        Route("/webhooks/{id}/dead-letters", events.dead_letters, methods=["GET"]),
        Route("/webhooks/{id}/redeliver", events.redeliver, methods=["POST"]),
        Route("/openapi.json", openapi.admin_openapi, methods=["GET"]),
        *[Route(r.path, plugin_endpoint(r.endpoint), methods=list(r.methods or []))
          for r in extra],
    ]

"""The Gateway: what one running app holds (settings, store, plugins, schemas, clock).

It lives on ``app.state.gateway``; there is no global state outside it.
"""

from __future__ import annotations

import msgspec
import pluggy

from gateway.clock import Clock
from gateway.plugins import Hooks
from gateway.scim.schema import Registry
from gateway.settings import Settings
from gateway.store.base import Store


class Gateway:
    def __init__(self, settings: Settings, store: Store, pm: pluggy.PluginManager,
                 registry: Registry, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.pm = pm
        self.hooks = Hooks(pm)
        self.registry = registry
        self.clock = clock

    def base_url(self, provider_id: str) -> str:
        return f"{self.settings.public_url}/scim/v2/{provider_id}"


class RequestContext(msgspec.Struct, kw_only=True):
    """Who is changing what, for the sync log and events."""

    provider: object | None  # ProviderRow, or None for the admin acting on local users
    actor: str  # "provider:<id>" or "admin"
    request_id: str | None = None
    method: str | None = None
    path: str | None = None

"""The Gateway: what one running app holds (settings, store, plugins, schemas, clock).

It lives on ``app.state.gateway``; there is no global state outside it.
"""

from __future__ import annotations

from typing import Any

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

    # The public surface for plugins (documented in docs/plugins.md). --------------------

    async def record(self, conn: Any, *, actor: str, provider_id: str | None,
                     event_type: str, resource_type: str, resource_id: str, operation: str,
                     data: dict, before: Any = None, after: Any = None,
                     reason: str | None = None) -> dict:
        """Write a sync-log entry and an outbox event through ``conn`` (the caller's
        transaction) and return the event. For plugins that change what they own."""
        from gateway import events

        ctx = RequestContext(provider=None, provider_id=provider_id, actor=actor)
        return await events.record(self, conn, ctx, operation=operation,
                                   event_type=event_type, resource_type=resource_type,
                                   resource_id=resource_id, before=before, after=after,
                                   data=data, reason=reason)

    async def user_action(self, user_id: str, action: str, actor: str = "admin",
                          reason: str | None = None, conn: Any = None) -> dict | None:
        """block / unblock / deactivate / reactivate a user now, in its own transaction (or
        in the caller's, given ``conn``); returns the admin view of the user, or None when
        there is no such user. Raises ``gateway.users.ActionRefused`` (409) for a reactivation
        the user's provider contradicts."""
        from gateway import users

        return await users.admin_action(self, user_id, action, actor=actor, reason=reason,
                                        conn=conn)

    async def user_view(self, user_id: str, conn: Any = None) -> dict | None:
        """The admin view of a user (state, source, profile, plugin fields)."""
        from gateway import users

        return await users.user_view(self, user_id, conn)

    async def provider_credentials(self, provider_id: str) -> tuple[Any, list]:
        """The provider (``ProviderRow``) and its live credentials (``CredentialRow``s, hashes
        only: not revoked, not expired), or (None, []) when there is no such provider."""
        from gateway.store import providers as queries

        async with self.store.read() as conn:
            provider = await queries.get_provider(conn, provider_id)
            if provider is None:
                return None, []
            return provider, await queries.live_credentials(conn, provider_id,
                                                            self.clock.stamp())

    async def add_credential(self, provider_id: str, kind: str, secret_hash: str, *,
                             username: str | None = None,
                             expires_in: float | None = None) -> str:
        """Store one more credential for a provider (for example a short-lived access token
        issued by a plugin's token endpoint), valid for ``expires_in`` seconds from now on
        the gateway's clock (None: until revoked); returns its id. Rotating the provider
        revokes it with the others."""
        import secrets
        from datetime import timedelta

        from gateway.clock import format_time
        from gateway.store import providers as queries
        from gateway.store.base import CredentialRow

        now = self.clock.now()
        expires_at = None if expires_in is None else format_time(
            now + timedelta(seconds=expires_in))
        cred = CredentialRow(id=secrets.token_hex(8), provider_id=provider_id, kind=kind,
                             username=username, secret_hash=secret_hash,
                             created_at=format_time(now), expires_at=expires_at)
        async with self.store.write() as conn:
            await queries.insert_credential(conn, cred)
        return cred.id


class RequestContext(msgspec.Struct, kw_only=True):
    """Who is changing what, for the sync log and events."""

    provider: Any  # ProviderRow, or None for the admin and the gateway's own actions
    actor: str  # "provider:<id>", "admin", "scheduler" or a plugin's name
    provider_id: str | None = None  # the provider concerned when provider is None
    refusal_logged: bool = False  # a refused write already has its sync-log entry
    request_id: str | None = None
    method: str | None = None
    path: str | None = None

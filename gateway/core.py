"""The Gateway: what one running app holds (settings, store, plugins, schemas, clock), and
the methods plugins call on it (documented in docs/plugins.md).

It lives on ``app.state.gateway``; there is no global state outside it. This module is the
top of the service layer: it imports the services whose functions its methods call, and
they name ``Gateway`` only in type annotations.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pluggy

from gateway.accounts import actions, custom_attributes, users
from gateway.accounts.auth_failures import Tally
from gateway.accounts.credentials import CheckedCredentials
from gateway.accounts.oidc import Issuer
from gateway.accounts.password_checks import PasswordChecks
from gateway.accounts.throttle import Throttle
from gateway.clock import Clock, format_time
from gateway.context import RequestContext, current_batch
from gateway.events import synclog_write as records
from gateway.hooks import Hooks
from gateway.ids import new_id
from gateway.observability.activity import ActivityBuffer
from gateway.observability.flush_calls import FlushCalls
from gateway.observability.health import Heartbeats
from gateway.observability.metrics import Metrics
from gateway.scim.schema import Registry, ResourceType
from gateway.settings import Settings
from gateway.store import providers as queries
from gateway.store.base import Conn, CredentialRow, ProviderRow, Store

PRUNE_AFTER = 3600.0  # seconds an expired credential is kept, to tell "expired" from "unknown"
PRUNE_BATCH = 100  # expired credentials deleted per new one, at most


class Gateway:
    def __init__(self, settings: Settings, store: Store, pm: pluggy.PluginManager,
                 registry: Registry, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.pm = pm
        self.hooks = Hooks(pm, trace=settings.trace_hooks)
        self.registry = registry
        # Each provider's schema (the registry and its custom attributes), by schema tag.
        self.provider_schemas: dict[str, tuple[str, Registry]] = {}
        self.clock = clock
        self.throttle = Throttle(settings)  # limits on failed auth and token requests
        self.auth_failures = Tally()  # failure counts not yet written
        self.checked_credentials = CheckedCredentials()  # lookups that let requests in
        self.metrics = Metrics()  # this app's own registry
        self.activity = ActivityBuffer()  # per-provider activity not yet flushed
        # serve's workers: where a reader asks every worker to flush those buffers
        self.flush_calls = FlushCalls(str(Path(settings.worker_dir) / "flush-calls"),
                                      settings.worker_slot, settings.workers or 1) \
            if settings.worker_dir else None
        self.heartbeats = Heartbeats()  # the background loops' last passes
        # argon2 for console passwords: a bound, and threads of lower priority
        self.password_checks = PasswordChecks(settings.console_password_checks)
        self.oidc: dict[str, Issuer] = {}  # the console's SSO issuers, discovered and keys
        store.on_commit = self.metrics.commit

    def base_url(self, provider_id: str) -> str:
        return f"{self.settings.public_url}/scim/v2/{provider_id}"

    # The public surface for plugins (documented in docs/plugins.md). --------------------

    def plugin_config(self, name: str) -> dict[str, Any]:
        """A plugin's own section of the config file (``[name]``), or {} when it has none."""
        section = self.settings.config.get(name)
        return dict(section) if isinstance(section, dict) else {}

    async def record(self, conn: Conn, *, actor: str, provider_id: str | None,
                     event_type: str, resource_type: str, resource_id: str, operation: str,
                     data: dict[str, Any], before: Any = None, after: Any = None,
                     reason: str | None = None, batch: str | None = None
                     ) -> dict[str, Any]:
        """Write a sync-log entry and an outbox event through ``conn`` (the caller's
        transaction) and return the event. For plugins that change what they own.
        ``batch`` (from ``new_batch()``, the same for every entry of one run of the
        plugin, across transactions) lists the run's entries as one row in the console;
        without it, an entry written while a batch is in progress (a hook reacting to a
        Bulk request's changes) joins that batch."""
        ctx = RequestContext(provider=None, provider_id=provider_id, actor=actor,
                             batch=batch or current_batch())
        return await records.record(self, conn, ctx, operation=operation,
                                    event_type=event_type, resource_type=resource_type,
                                    resource_id=resource_id, before=before, after=after,
                                    data=data, reason=reason)

    def new_batch(self) -> str:
        """A new batch id for ``record(batch=...)``: one per run of a plugin's job."""
        return new_id()

    async def user_action(self, user_id: str, action: str, actor: str = "admin",
                          reason: str | None = None, conn: Conn | None = None
                          ) -> dict[str, Any] | None:
        """block / unblock / deactivate / reactivate a user now, in its own transaction (or
        in the caller's, given ``conn``); returns the admin view of the user, or None when
        there is no such user. Raises ``gateway.plugin.ActionRefused`` (409) for a
        reactivation the user's provider contradicts."""
        return await actions.admin_action(self, user_id, action, actor=actor, reason=reason,
                                          conn=conn)

    async def resource_type(self, provider: ProviderRow | str | None, name: str = "User",
                            conn: Conn | None = None) -> ResourceType:
        """The resource type ``name`` as a provider's requests see it: the app's schemas
        with the custom attributes the admin declared for the provider (``provider``: the
        ProviderRow a hook was given, or its id; None for the app's own). Give it to
        ``parse_path``, ``path_values`` and the evaluators to reach custom attributes."""
        return (await custom_attributes.registry_of(self, provider, conn)).types[name]

    async def user_view(self, user_id: str, conn: Conn | None = None
                        ) -> dict[str, Any] | None:
        """The admin view of a user (state, source, profile, plugin fields)."""
        return await users.user_view(self, user_id, conn)

    async def provider_credentials(self, provider_id: str, kinds: list[str] | None = None
                                   ) -> tuple[ProviderRow | None, list[CredentialRow]]:
        """The provider and its live credentials (hashes only: not revoked, not expired) of
        ``kinds`` (all kinds when None), or (None, []) when there is no such provider."""
        async with self.store.lookup() as conn:
            provider = await queries.get_provider(conn, provider_id)
            if provider is None:
                return None, []
            return provider, await queries.live_credentials(conn, provider_id,
                                                            self.clock.stamp(), kinds)

    async def add_credential(self, provider_id: str, kind: str, secret_hash: str, *,
                             username: str | None = None,
                             expires_in: float | None = None) -> str:
        """Store one more credential for a provider (for example a short-lived access token
        issued by a plugin's token endpoint), valid for ``expires_in`` seconds from now on
        the gateway's clock (None: until revoked); returns its id. Rotating the provider
        revokes it with the others."""
        now = self.clock.now()
        expires_at = None if expires_in is None else format_time(
            now + timedelta(seconds=expires_in))
        cred = CredentialRow(id=secrets.token_hex(8), provider_id=provider_id, kind=kind,
                             username=username, secret_hash=secret_hash,
                             created_at=format_time(now), expires_at=expires_at)
        async with self.store.write() as conn:
            await queries.insert_credential(conn, cred)
            if expires_in is not None:
                # Expired ones of the same kind go as new ones come, a bounded batch at a
                # time, so a client that asks for a token an hour never builds a pile. They
                # stay a while past expiry so that a late request says "expired".
                await queries.prune_expired(
                    conn, provider_id, kind, format_time(now - timedelta(seconds=PRUNE_AFTER)),
                    PRUNE_BATCH)
        return cred.id

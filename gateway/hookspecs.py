"""Every extension point of the gateway, one docstring each.

A plugin is a plain module (or object) with functions decorated by ``@hookimpl`` whose names
and parameters match the specs below; it may accept any subset of a spec's parameters.
Plugins are registered through the entry-point group ``identity_gateway.plugins`` and enabled
in the config file (``[plugins] enabled = [...]``).

Every hook is called through ``gateway.hooks.Hooks``, one documented way:

- A hook may return an awaitable instead of a value (or be an ``async def``); the gateway
  awaits it. The exception are the *direct* hooks (marked so below): the *startup* hooks,
  which run while the app or the command line is being built, and ``provider_defaults``,
  which is asked for a value in code that cannot wait. They must return their answer
  directly, and an ``async def`` implementation of one is refused when the plugin is
  registered.
- A hook marked ``firstresult`` stops at the first implementation whose answer (awaited) is
  not None; an implementation abstains by returning None, or an awaitable that resolves to
  None. Any other hook's answers are collected, None left out.
- A hook marked ``scoped`` (the provider's dialect: its credentials, the bodies its IdP
  sends, its settings and its users' profiles) calls an implementation only for the
  providers whose ``plugin`` is the implementing plugin's name (the name it is enabled by);
  not for other IdPs' providers nor for local users (``provider`` None). An implementation
  marked ``@every_provider`` is called for every provider, as the hooks not marked
  ``scoped`` are; one marked ``@own_providers`` is scoped on a hook that is not.
- pluggy's wrapper implementations (``wrapper=True``, ``hookwrapper=True``) are not run by
  the gateway and are refused when the plugin is registered.
- Hooks called while the app runs get ``gateway``, the running ``gateway.core.Gateway``
  (its settings, store, clock, ``plugin_config(name)``); take it only if you need it.

Hooks that receive ``conn`` run inside the transaction of the change: whatever they write
through ``conn`` (their own tables, see ``migrations``) commits or rolls back with it.

The annotations are the public types (``gateway.plugin`` exports each); ``Answer[T]`` is
what a hook that may be awaited returns: ``T``, None, or an awaitable of either.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import pluggy
from starlette.requests import Request
from starlette.routing import BaseRoute

from gateway.scim.schema import Registry
from gateway.store.base import Conn, CredentialRow, Migration, ProviderRow

if TYPE_CHECKING:
    from gateway.accounts.credentials import IssuedCredential, Principal
    from gateway.accounts.lifecycle import Decision
    from gateway.accounts.users import UserColumn
    from gateway.console.extension import (
        ConsoleIdp,
        ConsolePage,
        ConsolePanel,
        ConsoleUserFilter,
    )
    from gateway.core import Gateway

hookspec = pluggy.HookspecMarker("identity_gateway")
hookimpl = pluggy.HookimplMarker("identity_gateway")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

Answer: TypeAlias = T | Awaitable[T | None] | None
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
CommonOptions: TypeAlias = Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
GatewayCommand: TypeAlias = "Callable[[Gateway, argparse.Namespace], Awaitable[int]]"
ConsoleItem: TypeAlias = "ConsolePage | ConsolePanel | ConsoleIdp | ConsoleUserFilter"

SCOPE = "identity_gateway_scope"  # an implementation's own scope: "own" or "every"


def direct(spec: F) -> F:
    """Marks a hook whose answer is needed at once (not awaited): the startup hooks, and
    the few asked in code that cannot wait."""
    spec.direct = True  # type: ignore[attr-defined]  # read by gateway.hooks
    return spec


def scoped(spec: F) -> F:
    """Marks a hook called only for the providers of the implementing plugin."""
    spec.scoped = True  # type: ignore[attr-defined]  # read by gateway.hooks
    return spec


def every_provider(function: F) -> F:
    """On an implementation of a scoped hook: call it for every provider (and for local
    users, with ``provider`` None), not only for the plugin's own."""
    setattr(function, SCOPE, "every")
    return function


def own_providers(function: F) -> F:
    """On an implementation of a hook that is not scoped: call it only for the plugin's own
    providers."""
    setattr(function, SCOPE, "own")
    return function


@hookspec
@direct
def gateway_config(config: dict[str, Any]) -> None:
    """Startup. Called once with the whole parsed config file (a dict), before the store
    opens: check your own section here and raise ``gateway.plugin.ConfigError`` (with what
    is wrong) to stop startup.

    Keep no module state: read your section when you need it with
    ``gateway.plugin_config("my_plugin")``.
    """


@hookspec
@direct
def register_schemas(registry: Registry) -> None:
    """Startup. Called once with the app's schema registry (``gateway.plugin.Registry``).

    Add schema extensions with ``registry.extend("User", schema)``; they appear in /Schemas and
    /ResourceTypes and are accepted, stored, filtered and returned like the built-in ones.
    """


@hookspec
def migrations(dialect: str) -> Answer[list[Migration]]:
    """Called when the store opens and by ``identity-gateway migrate``.

    Return a list of ``gateway.plugin.Migration(component, version, name, sql)`` for the
    plugin's own tables in this dialect ("sqlite" or "postgres"). ``component`` is the plugin's
    name; versions are applied in order, each once, and recorded.
    """


@hookspec
def credential_kinds() -> Answer[list[str]]:
    """Called when the admin creates a provider or lists what is possible.

    Return the names of the credential kinds this plugin can issue and check
    (the core offers ``bearer`` and ``basic``).
    """


@hookspec(firstresult=True)
@scoped
def issue_credential(provider: ProviderRow, kind: str, secret: str, username: str | None,
                     gateway: Gateway) -> Answer[IssuedCredential]:
    """Scoped. Called when one of your providers is created or its credential rotated.

    ``secret`` is a fresh random secret (32 bytes, URL-safe base64) that the gateway will show
    once; ``username`` is the provider's current username or client id when it has one (kept
    across rotations). Return a ``gateway.plugin.IssuedCredential`` describing what to store
    and what to show, or None when ``kind`` is not yours.
    """


@hookspec
@scoped
def validate_provider_settings(provider: ProviderRow, settings: dict[str, Any],
                               gateway: Gateway) -> Answer[None]:
    """Scoped. Called when one of your providers is created or its settings change, before
    they are saved.

    ``settings`` are the provider's settings as they would be stored (``provider`` already
    carries them). Check the ones your plugin reads, and raise
    ``gateway.plugin.GatewayError`` (400) saying what is wrong to refuse the change; nothing
    is saved then.
    """


@hookspec
@direct
@scoped
def provider_defaults(provider: ProviderRow) -> dict[str, Any] | None:
    """Direct and scoped: answered at once (an ``async def`` implementation is refused),
    whenever the gateway reads a setting of one of your providers that its admin has not
    set: when it shows the provider and when a write depends on the setting.

    Return the defaults your plugin gives its providers (for example
    ``{"unique_group_names": True}``), or None. A value the admin saved wins over yours;
    yours wins over the core's default. Keep it cheap: no I/O.
    """


@hookspec
@direct
@scoped
def request_probes(provider: ProviderRow) -> list[tuple[str, str]] | None:
    """Direct and scoped: answered at once (an ``async def`` implementation is refused),
    whenever one of your providers' connection state is read: the admin API, the CLI and
    the console's connection check name the request that arrived in words.

    Return what the IdP's own tests send: a list of (a regular expression searched in the
    request as the gateway shows it, ``GET /Users?filter=userName eq "abc…"``, what that
    request is, for example "Okta's Test API Credentials: the first page of users"), or
    None. Keep it cheap: no I/O.
    """


@hookspec
def event_types() -> Answer[list[str]]:
    """Called when a webhook subscribes to events. Return the event types your plugin records
    with ``gateway.record`` (for example ``["user.legal_hold_placed"]``): a webhook may
    subscribe to those and to the core's, and to nothing else.
    """


@hookspec(firstresult=True)
@scoped
def authenticate(request: Request, provider: ProviderRow, credentials: list[CredentialRow],
                 gateway: Gateway) -> Answer[Principal]:
    """Scoped. Called on every SCIM request to one of your providers (the one the URL names).

    ``credentials`` are that provider's live ``CredentialRow``s (hashes only) that can be
    the request's: its standing ones (no expiry: those ``issue_credential`` made), and the
    expiring ones (such as access tokens stored with ``gw.add_credential``) whose hash is
    ``hash_secret`` of the secret the request presents as a Bearer token or Basic password:
    an expiring credential is found by its hash, never by a scan. Return a
    ``gateway.plugin.Principal`` when the request's credential is valid, None when this
    plugin does not handle the provider's credential kind or the request's scheme. Compare
    secrets only with ``gateway.plugin.verify_secret`` (constant time). When every plugin
    returns None the request is answered 401. For an id that names no provider the
    implementations marked ``@every_provider`` are still called, with a stand-in provider
    (id "") and stand-in credentials that match no secret, so that the refusal takes as
    long as for a known provider.
    """


@hookspec
@scoped
def normalize_request(
    provider: ProviderRow | None, resource_type: str, operation: str, body: Any,
    current: dict[str, Any] | None, gateway: Gateway,
) -> Answer[Any]:
    """Scoped. Called before a SCIM body from one of your providers is parsed, for POST, PUT
    and PATCH, and for each of those inside a /Bulk request.

    Turn an IdP's dialect into canonical SCIM and return the new body, or None to leave it.
    Implementations are chained: each sees the previous one's result. ``operation`` is
    "create", "replace" or "patch"; ``current`` is the stored resource as SCIM JSON for
    replace and patch (None for create). An ``@every_provider`` implementation also sees
    the local users the admin creates, with ``provider`` None.
    """


@hookspec
@scoped
def validate_resource(provider: ProviderRow | None, resource_type: str,
                      resource: dict[str, Any], operation: str, gateway: Gateway
                      ) -> Answer[None]:
    """Scoped. Called with the canonical resource one of your providers is about to write
    (create, replace, patch), after ``normalize_request`` and the core's own parsing and
    checks.

    Raise ``gateway.plugin.ScimError`` to refuse it; nothing is written then. An
    ``@every_provider`` implementation also sees local users (``provider`` None).
    """


@hookspec(firstresult=True)
def lifecycle_decision(provider: ProviderRow | None, user: dict[str, Any], change: str,
                       conn: Conn, gateway: Gateway) -> Answer[Decision]:
    """Called for every provider (a policy, not a dialect; ``@own_providers`` limits an
    implementation to yours) when a provider deactivates a user (``change`` is "deactivate"
    or "delete"; again when the admin releases a deactivation the mass-deactivation guard
    held) and whenever a deactivation is about to take effect (``change`` is "due"): a
    scheduled one comes due, the provider's delay is 0, the admin deactivates the user, or
    unblocks one its provider wants inactive.

    ``user`` is the user's SCIM JSON with its ``id``. Return a ``gateway.plugin.Decision``
    (deactivate now, schedule after a delay, block, keep), or None to let the next plugin or
    the core decide (the core schedules after the provider's ``deactivation_delay`` and
    deactivates when due).
    """


@hookspec
@scoped
def canonical_profile(provider: ProviderRow | None, resource: dict[str, Any],
                      profile: dict[str, Any], gateway: Gateway) -> Answer[dict[str, Any]]:
    """Scoped. Called whenever the canonical profile of one of your providers' users is
    derived from its SCIM data.

    ``profile`` is the core's derivation (work email and address, else the primary ones);
    return a dict of fields to override, or None.
    """


@hookspec
def after_change(event: dict[str, Any], conn: Conn, gateway: Gateway) -> Answer[None]:
    """Called inside the transaction of a change, once its resource, sync-log entry and
    outbox event are written. ``event`` is the outbox event (with its ``seq``).

    Writes made through ``conn`` commit with the change; raising aborts the whole change.
    ``gateway`` is the running Gateway: ``gateway.record(conn, ...)`` logs a plugin's own
    change in the same transaction (its event reaches ``after_change`` too: ignore your own
    event types).
    """


@hookspec
def after_commit(events: list[dict[str, Any]], gateway: Gateway) -> Answer[None]:
    """Called after a transaction has committed, with the events it wrote.

    For side effects outside the database (waking a delivery loop, metrics). Must not block.
    """


@hookspec
def user_view(user: dict[str, Any], conn: Conn, gateway: Gateway) -> Answer[dict[str, Any]]:
    """Called when the admin API, the CLI or an event renders the admin view of a user.

    ``user`` is ``{"id", "provider_id", "state", "data"}`` (``data``: its canonical SCIM
    JSON). Return a dict of the fields your plugin adds to every user, with the same keys
    for every user (for example ``{"legal_hold": None}`` when there is no hold), or None.
    """


@hookspec
@direct
def user_columns() -> list[UserColumn] | None:
    """Startup. The columns your plugin adds to user lists (the CLI's ``user list``).

    Return a list of ``gateway.plugin.UserColumn(header, value)``, where ``value(view)``
    turns the admin view of a user into the column's short text ("" when empty).
    """


@hookspec
@direct
def extra_routes() -> list[BaseRoute] | None:
    """Startup. Return Starlette ``Route``s to mount under ``/admin/v1``
    (they get admin authentication) or an empty list."""


@hookspec
@direct
def provider_routes() -> list[BaseRoute] | None:
    """Startup. Return Starlette ``Route``s to mount under each provider's
    base URL ``/scim/v2/{provider}`` without SCIM authentication (for example an OAuth token
    endpoint). ``request.path_params["provider"]`` names the provider."""


@hookspec
@direct
def cli_commands(subparsers: Subcommands, common: CommonOptions) -> None:
    """Startup. Called when the ``identity-gateway`` command line is built, with its argparse
    subparsers (only enabled plugins are asked).

    Add commands with ``subparsers.add_parser(...)``; give each
    ``set_defaults(gateway_command=fn)`` where ``async fn(gw, args) -> int`` runs with the
    Gateway open on the configured database and returns the exit status. Pass each command's
    parser to ``common(parser)`` so it accepts ``--database`` and ``--config`` like the core's.
    """


@hookspec
@direct
def console_pages() -> list[ConsoleItem] | None:
    """Startup. What your plugin adds to the web console under ``/console``: a list of
    ``gateway.plugin.ConsolePage`` (a page, listed in the navigation when it has a title),
    ``ConsolePanel`` (a block on the user or the provider page; ``shows`` names the keys of
    your ``user_view`` that it shows in words, which the user page's Application section
    then leaves out), ``ConsoleIdp`` (an identity provider "Add provisioning provider"
    offers, with its credential types, field names and next steps) and
    ``ConsoleUserFilter`` (a filter of the user list).

    Pages get the console's checks before your endpoint runs: a signed-in account, and for
    a change a valid CSRF token and an account that may change things (not an auditor).
    Render with ``console_page`` / ``console_fragment``; record changes with
    ``console_actor(request)`` as the actor.
    """

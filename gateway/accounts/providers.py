"""Providers and their credentials: create, rotate, change. The admin API and CLI share it."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from gateway.accounts import auth_failures
from gateway.accounts.connection import in_words
from gateway.accounts.credentials import ADMIN, IssuedCredential, hash_secret, new_secret
from gateway.accounts.lifecycle import DEFAULT_DELAY
from gateway.clock import parse_duration
from gateway.context import admin_context
from gateway.errors import GatewayError, did_you_mean
from gateway.events.synclog_write import log_entry
from gateway.observability import activity
from gateway.store import custom_attributes as custom_queries
from gateway.store import guard as guard_queries
from gateway.store import providers as queries
from gateway.store.base import Conn, CredentialRow, ProviderRow
from gateway.store.resources import duplicate_group_names, owned_counts

if TYPE_CHECKING:
    from gateway.core import Gateway

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
UNIQUE_GROUP_NAMES = "unique_group_names"
# Settings the admin API and CLI take at the top level of a provider (kept in `settings`).
TOP_SETTINGS = ("deactivation_delay", "block_during_delay", UNIQUE_GROUP_NAMES,
                "undeclared_attributes")
# What a provider's writes do with attributes it has not declared (gateway.scim.custom):
# keep them as sent (the default) or refuse them.
SETTING = "undeclared_attributes"
KEEP, REFUSE = "keep", "refuse"


class ProviderError(GatewayError):
    """An admin's request about providers that cannot be carried out (a 4xx, not a crash)."""


async def resolve(conn: Conn, ref: str, status: int = 404) -> ProviderRow:
    """The provider a command or filter names, by id or by name (ignoring case); an unknown
    one is refused with the known names and the closest one."""
    found = await queries.find_provider(conn, ref)
    if found is not None:
        return found
    names = [p.name for p in await queries.list_providers(conn)]
    hint = did_you_mean(ref, names)
    listed = ", ".join(names) if names else "none yet"
    raise ProviderError(f"no provider '{ref}'{hint} (providers: {listed})", status)


async def provider_filter(gw: Gateway, ref: str | None) -> str | None:
    """A list filter's provider (id or name) as its id; None for no filter. An unknown one
    answers 400: a filter that matches nothing because of a typo must not look empty."""
    if not ref:
        return None
    async with gw.store.read() as conn:
        return (await resolve(conn, ref, 400)).id


async def credential_kinds(gw: Gateway) -> list[str]:
    kinds: list[str] = []
    for found in await gw.hooks.call("credential_kinds"):
        kinds += [k for k in found if k not in kinds]
    return kinds


MAX_DELAY = 365 * 86400  # a deactivation waits at most a year


def setting(gw: Gateway, provider: Any, name: str, default: Any) -> Any:
    """A provider setting as it applies: the admin's value, else the default the provider's
    plugin gives it (the provider_defaults hook), else the core's `default`."""
    settings = getattr(provider, "settings", None) or {}
    if name in settings:
        return settings[name]
    if provider is not None:
        for given in gw.hooks.call_sync("provider_defaults", provider=provider):
            if name in given:
                return given[name]
    return default


def unique_group_names(gw: Gateway, provider: Any) -> bool:
    """Whether the provider's groups must have distinct names (off unless its admin or its
    plugin turns it on)."""
    return setting(gw, provider, UNIQUE_GROUP_NAMES, False) is True


async def check_settings(gw: Gateway, provider: ProviderRow, settings: dict) -> dict:
    """A provider's settings, checked when they are saved (not when the IdP next pushes):
    the core's own, then every plugin's through the validate_provider_settings hooks."""
    out = dict(settings)
    if "deactivation_delay" in out:
        try:
            delay = parse_duration(out["deactivation_delay"])
        except ValueError as exc:
            raise ProviderError(f"deactivation_delay: {exc}") from None
        if delay > MAX_DELAY:
            raise ProviderError("deactivation_delay: at most 365d")
    if not isinstance(out.get("block_during_delay", True), bool):
        raise ProviderError("block_during_delay must be true or false")
    if out.get(SETTING, KEEP) not in (KEEP, REFUSE):
        raise ProviderError(f"{SETTING} must be \"{KEEP}\" (store the attributes it has not "
                            f"declared as they are sent) or \"{REFUSE}\" (answer 400)")
    if not isinstance(out.get(UNIQUE_GROUP_NAMES, False), bool):
        raise ProviderError(f"{UNIQUE_GROUP_NAMES} must be true or false")
    candidate = ProviderRow(id=provider.id, name=provider.name, plugin=provider.plugin,
                            auth_kind=provider.auth_kind, settings=out,
                            created_at=provider.created_at, schema_tag=provider.schema_tag)
    await gw.hooks.call("validate_provider_settings", provider=candidate, settings=out,
                        gateway=gw)
    return out


async def issue(gw: Gateway, conn: Conn, provider: ProviderRow,
                username: str | None = None) -> list[tuple[str, str]]:
    """A fresh credential of the provider's kind; returns the lines to show once."""
    issued: IssuedCredential | None = await gw.hooks.call(
        "issue_credential", provider=provider, kind=provider.auth_kind, secret=new_secret(),
        username=username, gateway=gw,
    )
    if issued is None:
        raise ProviderError(
            f"no enabled plugin issues credentials of kind '{provider.auth_kind}' to a "
            f"provider with plugin '{provider.plugin or 'none'}' (kinds offered: "
            f"{', '.join(await credential_kinds(gw))}; a plugin's own kind needs --plugin "
            "NAME)"
        )
    await queries.insert_credential(conn, CredentialRow(
        id=secrets.token_hex(8), provider_id=provider.id, kind=issued.kind,
        username=issued.username, secret_hash=issued.secret_hash,
        created_at=gw.clock.stamp(), expires_at=issued.expires_at,
    ))
    return issued.shown


async def logged(gw: Gateway, conn: Conn, actor: str | None, operation: str,
                 provider: ProviderRow, before: dict | None, after: dict | None,
                 reason: str | None = None) -> None:
    """The sync-log entry of a named admin's change to a provider (never with its
    secrets). Without an actor (the admin token's API and the CLI) nothing is written, as
    before named accounts existed."""
    if actor is None:
        return
    await log_entry(gw, conn, admin_context(actor, provider.id), operation=operation,
                    resource_type="Provider", resource_id=provider.id, before=before,
                    after=after, reason=reason)


def settings_view(provider: ProviderRow) -> dict:
    return {"name": provider.name, "plugin": provider.plugin, "auth": provider.auth_kind,
            "settings": dict(provider.settings)}


async def create_provider(gw: Gateway, name: str, auth: str = "bearer",
                          plugin: str | None = None, settings: dict | None = None,
                          provider_id: str | None = None,
                          actor: str | None = None) -> tuple[ProviderRow, list]:
    if not NAME.match(name or ""):
        raise ProviderError("a provider name is 1-64 letters, digits, spaces, . _ or -")
    kinds = await credential_kinds(gw)
    if auth not in kinds:
        raise ProviderError(f"unknown auth '{auth}' (available: {', '.join(kinds)})")
    if plugin is not None and gw.pm.get_plugin(plugin) is None:
        raise ProviderError(f"plugin '{plugin}' is not enabled in this gateway's config")
    provider = ProviderRow(
        id=provider_id or secrets.token_hex(8), name=name, plugin=plugin, auth_kind=auth,
        settings={"deactivation_delay": DEFAULT_DELAY, "block_during_delay": True,
                  **(settings or {})},
        created_at=gw.clock.stamp(),
    )
    provider.settings = await check_settings(gw, provider, provider.settings)
    async with gw.store.write() as conn:
        if await queries.find_provider(conn, name):
            raise ProviderError(f"a provider named '{name}' already exists", 409)
        await queries.insert_provider(conn, provider)
        shown = await issue(gw, conn, provider)
        await logged(gw, conn, actor, "create", provider, None, settings_view(provider))
    return provider, shown


async def rotate_provider(gw: Gateway, id_or_name: str,
                          actor: str | None = None) -> tuple[ProviderRow, list]:
    """Revoke every secret of the provider at once and issue a new one."""
    async with gw.store.write() as conn:
        provider = await resolve(conn, id_or_name)
        old = await queries.live_credentials(conn, provider.id, gw.clock.stamp())
        username = next((c.username for c in old if c.kind == provider.auth_kind), None)
        await queries.revoke_all(conn, provider.id, gw.clock.stamp())
        shown = await issue(gw, conn, provider, username)
        await logged(gw, conn, actor, "rotate", provider, None, None,
                     reason=f"{len(old)} credential(s) revoked, a new one issued")
    return provider, shown


async def update_provider(gw: Gateway, id_or_name: str, changes: dict[str, Any],
                          actor: str | None = None) -> ProviderRow:
    async with gw.store.write() as conn:
        provider = await resolve(conn, id_or_name)
        before = settings_view(provider)
        unknown = set(changes) - {"name", "plugin", "settings", *TOP_SETTINGS}
        if unknown:
            raise ProviderError(f"cannot change: {', '.join(sorted(unknown))}")
        if "name" in changes:
            if not NAME.match(str(changes["name"])):
                raise ProviderError("a provider name is 1-64 letters, digits, spaces, . _ or -")
            other = await queries.find_provider(conn, changes["name"])
            if other and other.id != provider.id:
                raise ProviderError(f"a provider named '{changes['name']}' already exists", 409)
            provider.name = changes["name"]
        if "plugin" in changes:
            provider.plugin = changes["plugin"]
        settings = dict(provider.settings)
        settings.update(changes.get("settings") or {})
        settings.update({k: changes[k] for k in TOP_SETTINGS if k in changes})
        provider.settings = await check_settings(gw, provider, settings)
        await queries.update_provider(conn, provider)
        after = settings_view(provider)
        if after != before:
            await logged(gw, conn, actor, "update", provider, before, after)
    return provider


async def delete_provider(gw: Gateway, id_or_name: str,
                          actor: str | None = None) -> ProviderRow:
    async with gw.store.write() as conn:
        provider = await resolve(conn, id_or_name)
        count = await queries.owned_count(conn, provider.id)
        if count:
            raise ProviderError(
                f"provider '{provider.name}' still owns {count} users or groups; "
                "unassign them in the IdP first", 409)
        await queries.delete_provider(conn, provider.id)
        await guard_queries.forget_provider(conn, provider.id)
        await custom_queries.forget_provider(conn, provider.id)
        await logged(gw, conn, actor, "delete", provider, settings_view(provider), None)
    return provider


async def has_admin(gw: Gateway) -> bool:
    async with gw.store.read() as conn:
        return await queries.has_kind(conn, ADMIN, "admin")


async def create_admin_token(gw: Gateway) -> str:
    """A new admin token; earlier ones are revoked. Shown once."""
    token = new_secret()
    async with gw.store.write() as conn:
        await queries.revoke_credentials(conn, ADMIN, ["admin"], gw.clock.stamp())
        await queries.insert_credential(conn, CredentialRow(
            id=secrets.token_hex(8), provider_id=ADMIN, kind="admin", username=None,
            secret_hash=hash_secret(token), created_at=gw.clock.stamp(),
        ))
    return token


async def provider_details(gw: Gateway, conn: Conn, provider: ProviderRow) -> dict:
    """The provider view with what it owns, what it last sent and whether its IdP is
    connected: what an admin checks before and after an IdP connects (`GET
    /admin/v1/providers/{id}`, `provider show`)."""
    seen = await activity.summary(gw, provider.id, conn)
    return {**provider_view(gw, provider), "owned": await owned_counts(conn, provider.id),
            "duplicate_group_names": await duplicate_group_names(conn, provider.id),
            "last_request": {"at": seen["last_request_at"], "request": seen["last_request"],
                             "status": seen["last_status"]} if seen["last_request_at"] else None,
            "last_success_at": seen["last_success_at"],
            "last_error": {"at": seen["last_error_at"], "status": seen["last_error_status"],
                           "detail": seen["last_error_detail"]} if seen["last_error_at"]
            else None,
            "requests_24h": seen["requests_24h"], "errors_24h": seen["errors_24h"],
            "connection": await connection(gw, provider, conn)}


REFUSED_STATUSES = (401, 429)  # answers that say the request did not authenticate


def _at_or_after(moment: str | None, since: str) -> bool:
    return moment is not None and moment >= since


async def connection(gw: Gateway, provider: ProviderRow, conn: Conn | None = None) -> dict:
    """Whether the provider's IdP has reached the gateway with its current credential,
    issued at ``since`` (the provider's creation or its last rotation):

    - ``connected``: a request authenticated since then (``request``: the provider's last
      request, ``success_at``: its last success);
    - ``refused``: requests arrived since then but their credential was refused (a wrong
      secret, or one from before the rotation): ``refused`` counts them by reason;
    - ``waiting``: nothing has arrived since then.

    In words too (gateway.accounts.connection). What the console's connection check shows
    and polls, the admin API and the CLI: two index reads, and what this process has not
    written yet."""
    async with activity.reading(gw, conn) as reader:
        since = await queries.credential_issued_at(reader, provider.id) or provider.created_at
        last = await activity.last_seen(gw, provider.id, reader)
        reasons = await auth_failures.refused_since(gw, provider.id,
                                                    auth_failures.minute_of(since), reader)
    return in_words(gw, provider, connection_state(provider.id, since, last, reasons))


async def connections(gw: Gateway, found: list[ProviderRow]) -> dict[str, dict]:
    """``connection`` of every provider in ``found``, in three queries whatever their
    number (the console's overview)."""
    async with gw.store.read() as conn:
        issued = await queries.credentials_issued(conn)
        since = {p.id: issued.get(p.id) or p.created_at for p in found}
        last = await activity.last_seen_all(gw, conn)
        reasons = await auth_failures.refused_since_each(
            gw, {pid: auth_failures.minute_of(at) for pid, at in since.items()}, conn)
    return {p.id: in_words(gw, p, connection_state(p.id, since[p.id], last.get(p.id, {}),
                                                   reasons.get(p.id, {}))) for p in found}


def connection_state(provider_id: str, since: str, last: dict,
                     reasons: dict[str, dict]) -> dict:
    """The connection from what was read: ``last`` (activity.last_seen) and the refused
    requests per reason from the minute of ``since`` on."""
    request = None
    if _at_or_after(last.get("request_at"), since):
        request = {"at": last["request_at"], "request": last["excerpt"],
                   "method": last["method"], "route": last["route"],
                   "status": last["status"]}
    success_at = last.get("success_at") if _at_or_after(last.get("success_at"), since) \
        else None
    authenticated = request is not None and request["status"] not in REFUSED_STATUSES \
        and request["status"] < 500
    # Failures are counted per minute: those of the minute the credential was issued may
    # predate it, so they count only when the request log saw one after it.
    seen_refused = (_at_or_after(last.get("error_at"), since)
                    and last.get("error_status") in REFUSED_STATUSES)
    if not seen_refused:
        reasons = {r: v for r, v in reasons.items() if v["last"] > auth_failures.minute_of(since)}
    refused = None
    if reasons or seen_refused:
        refused = {"count": max(sum(v["count"] for v in reasons.values()), 1),
                   "reasons": {r: v["count"] for r, v in sorted(reasons.items())},
                   "at": last["error_at"] if seen_refused
                   else max(v["last"] for v in reasons.values())}
    state = ("connected" if success_at or authenticated
             else "refused" if refused else "waiting")
    return {"provider_id": provider_id, "state": state, "since": since, "request": request,
            "success_at": success_at, "refused": refused}


def provider_view(gw: Gateway, provider: ProviderRow) -> dict:
    return {
        "id": provider.id, "name": provider.name, "plugin": provider.plugin,
        "auth": provider.auth_kind,
        "deactivation_delay": provider.settings.get("deactivation_delay", DEFAULT_DELAY),
        "block_during_delay": provider.settings.get("block_during_delay", True) is not False,
        SETTING: provider.settings.get(SETTING, KEEP),
        UNIQUE_GROUP_NAMES: unique_group_names(gw, provider),
        "settings": provider.settings, "base_url": gw.base_url(provider.id),
        "created_at": provider.created_at,
    }

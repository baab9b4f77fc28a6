"""Providers and their credentials: create, rotate, change. The admin API and CLI share it."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from gateway.accounts.credentials import ADMIN, IssuedCredential, hash_secret, new_secret
from gateway.accounts.lifecycle import DEFAULT_DELAY
from gateway.clock import parse_duration
from gateway.errors import GatewayError
from gateway.store import guard as guard_queries
from gateway.store import providers as queries
from gateway.store.base import Conn, CredentialRow, ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
# Settings the admin API and CLI take at the top level of a provider (kept in `settings`).
TOP_SETTINGS = ("deactivation_delay", "block_during_delay")


class ProviderError(GatewayError):
    """An admin's request about providers that cannot be carried out (a 4xx, not a crash)."""


async def credential_kinds(gw: Gateway) -> list[str]:
    kinds: list[str] = []
    for found in await gw.hooks.call("credential_kinds"):
        kinds += [k for k in found if k not in kinds]
    return kinds


def check_settings(settings: dict) -> dict:
    out = dict(settings)
    if "deactivation_delay" in out:
        try:
            parse_duration(out["deactivation_delay"])
        except ValueError as exc:
            raise ProviderError(f"deactivation_delay: {exc}") from None
    if not isinstance(out.get("block_during_delay", True), bool):
        raise ProviderError("block_during_delay must be true or false")
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


async def create_provider(gw: Gateway, name: str, auth: str = "bearer",
                          plugin: str | None = None, settings: dict | None = None,
                          provider_id: str | None = None) -> tuple[ProviderRow, list]:
    if not NAME.match(name or ""):
        raise ProviderError("a provider name is 1-64 letters, digits, spaces, . _ or -")
    kinds = await credential_kinds(gw)
    if auth not in kinds:
        raise ProviderError(f"unknown auth '{auth}' (available: {', '.join(kinds)})")
    if plugin is not None and gw.pm.get_plugin(plugin) is None:
        raise ProviderError(f"plugin '{plugin}' is not enabled in this gateway's config")
    provider = ProviderRow(
        id=provider_id or secrets.token_hex(8), name=name, plugin=plugin, auth_kind=auth,
        settings=check_settings({"deactivation_delay": DEFAULT_DELAY,
                                 "block_during_delay": True, **(settings or {})}),
        created_at=gw.clock.stamp(),
    )
    async with gw.store.write() as conn:
        if await queries.find_provider(conn, name):
            raise ProviderError(f"a provider named '{name}' already exists", 409)
        await queries.insert_provider(conn, provider)
        shown = await issue(gw, conn, provider)
    return provider, shown


async def rotate_provider(gw: Gateway, id_or_name: str) -> tuple[ProviderRow, list]:
    """Revoke every secret of the provider at once and issue a new one."""
    async with gw.store.write() as conn:
        provider = await queries.find_provider(conn, id_or_name)
        if provider is None:
            raise ProviderError(f"no provider '{id_or_name}'", 404)
        old = await queries.live_credentials(conn, provider.id, gw.clock.stamp())
        username = next((c.username for c in old if c.kind == provider.auth_kind), None)
        await queries.revoke_all(conn, provider.id, gw.clock.stamp())
        shown = await issue(gw, conn, provider, username)
    return provider, shown


async def update_provider(gw: Gateway, id_or_name: str, changes: dict[str, Any]) -> ProviderRow:
    async with gw.store.write() as conn:
        provider = await queries.find_provider(conn, id_or_name)
        if provider is None:
            raise ProviderError(f"no provider '{id_or_name}'", 404)
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
        provider.settings = check_settings(settings)
        await queries.update_provider(conn, provider)
    return provider


async def delete_provider(gw: Gateway, id_or_name: str) -> None:
    async with gw.store.write() as conn:
        provider = await queries.find_provider(conn, id_or_name)
        if provider is None:
            raise ProviderError(f"no provider '{id_or_name}'", 404)
        count = await queries.owned_count(conn, provider.id)
        if count:
            raise ProviderError(
                f"provider '{provider.name}' still owns {count} users or groups; "
                "unassign them in the IdP first", 409)
        await queries.delete_provider(conn, provider.id)
        await guard_queries.forget_provider(conn, provider.id)


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


def provider_view(gw: Gateway, provider: ProviderRow) -> dict:
    return {
        "id": provider.id, "name": provider.name, "plugin": provider.plugin,
        "auth": provider.auth_kind,
        "deactivation_delay": provider.settings.get("deactivation_delay", DEFAULT_DELAY),
        "block_during_delay": provider.settings.get("block_during_delay", True) is not False,
        "settings": provider.settings, "base_url": gw.base_url(provider.id),
        "created_at": provider.created_at,
    }

"""A provider's custom attributes: what the admin declares (the admin API, the CLI and the
console call these functions), the schema the provider's requests see, and the attributes
its IdP sent that nothing declares.

The schema a provider sees is the app's registry with its declared extensions, built once
per change and kept per process, keyed by the provider's schema tag: the tag is read with
the provider on every request and changes with every declaration, so a process notices a
change made through another one at its next request, without a query of its own.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.accounts.providers import KEEP, REFUSE, SETTING, logged, resolve
from gateway.errors import Conflict, GatewayError, NotFound
from gateway.scim import custom
from gateway.scim.custom import Declaration, Undeclared
from gateway.scim.schema import Registry
from gateway.store import custom_attributes as queries
from gateway.store.base import Conn, ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

MAX_UNDECLARED = 200  # undeclared attribute names listed per provider
EXAMPLE_CHARS = 200  # of an undeclared attribute's example value, as JSON
NOTED = 10  # undeclared attributes named in one sync-log entry

_json = msgspec.json


# The schema a provider's requests see --------------------------------------------------------

async def registry_of(gw: Gateway, provider: ProviderRow | str | None,
                      conn: Conn | None = None) -> Registry:
    """The app's registry with the provider's custom extensions (the app's own when it has
    none). ``provider`` is the provider a request authenticated (its tag says whether what
    this process built is current), or its id (the tag is read, through ``conn`` when
    given)."""
    if provider is None or provider == "":
        return gw.registry
    if isinstance(provider, ProviderRow):
        pid, tag = provider.id, provider.schema_tag
        if not tag:
            return gw.registry  # nothing declared
    else:
        pid, tag = provider, None
    hit = gw.provider_schemas.get(pid)
    if hit is not None and hit[0] == tag:
        return hit[1]
    if conn is None:
        async with gw.store.lookup() as own:
            found = await queries.schema_of(own, pid)
    else:
        found = await queries.schema_of(conn, pid)
    if found is None or not found[0]:
        return gw.registry
    current, declared = found
    if hit is not None and hit[0] == current:
        return hit[1]  # a request that read the provider before the change: same schema
    built = custom.registry_with(gw.registry, declared)
    gw.provider_schemas[pid] = (current, built)
    return built


def policy(gw: Gateway, provider: ProviderRow | None) -> Undeclared | None:
    """What a write of this provider does with undeclared attributes (None for the admin's
    own writes: local users keep the strict schema)."""
    if provider is None:
        return None
    if provider.settings.get(SETTING, KEEP) == KEEP:
        return Undeclared(keep=True)
    return Undeclared(keep=False, where=(
        f" ({SETTING} = \"{REFUSE}\"). Declare it on the provider's page in the console "
        f"(Custom attributes), with POST {gw.settings.public_url}/admin/v1/providers/"
        f"{provider.id}/custom-attributes, or with `identity-gateway provider attributes "
        f"'{provider.name}' declare URN NAME --type TYPE`"))


def example_of(value: Any) -> str:
    """A value as the provider page shows it: its JSON, cut short (still JSON)."""
    text = _json.encode(value).decode()
    if len(text) <= EXAMPLE_CHARS:
        return text
    return _json.encode(text[:EXAMPLE_CHARS] + "…").decode()


async def tally(gw: Gateway, conn: Conn, pid: str, resource_type: str,
                undeclared: Undeclared | None) -> None:
    """Count the undeclared attributes a write kept (in the write's transaction)."""
    if undeclared is None or not undeclared.seen:
        return
    seen = [(path, custom.kinds_of(value), example_of(value))
            for path, value in undeclared.seen.values()]
    await queries.tally(conn, pid, resource_type, seen, gw.clock.stamp(), MAX_UNDECLARED)


def note(undeclared: Undeclared | None) -> str | None:
    """What a write's sync-log entry says of the undeclared attributes it kept."""
    if undeclared is None or not undeclared.seen:
        return None
    paths = undeclared.paths
    named = ", ".join(paths[:NOTED]) + (f" and {len(paths) - NOTED} more"
                                         if len(paths) > NOTED else "")
    return f"Kept as received, not declared for this provider: {named}"


# The admin's declarations -------------------------------------------------------------------

def view(decl: Declaration) -> dict:
    return {"path": decl.path, **msgspec.to_builtins(decl)}


def declaration(body: Any) -> Declaration:
    """A declaration from a request's JSON; a body of another shape says what is wrong."""
    if not isinstance(body, dict):
        raise GatewayError("A custom attribute must be a JSON object")
    try:
        return msgspec.convert(body, Declaration)
    except msgspec.ValidationError as exc:
        raise GatewayError(f"The custom attribute is not valid: {exc}") from None


def _find(declared: list[Declaration], path: str) -> Declaration:
    for decl in declared:
        if decl.key == path.lower():
            return decl
    known = ", ".join(d.path for d in declared) or "none yet"
    raise NotFound(f"no custom attribute '{path}' is declared for this provider (declared: "
                   f"{known})")


async def _changed(gw: Gateway, conn: Conn, provider: ProviderRow, actor: str | None,
                   before: dict | None, after: dict | None, what: str) -> None:
    remaining = await queries.declared(conn, provider.id)
    await queries.retag(conn, provider.id, secrets.token_hex(8) if remaining else "")
    await logged(gw, conn, actor, "update", provider, before, after, reason=what)


async def listing(gw: Gateway, ref: str) -> dict:
    """The provider's declarations, and the undeclared attributes its IdP sent, each with
    how often, an example value and the declaration its values suggest."""
    async with gw.store.read() as conn:
        provider = await resolve(conn, ref)
        declared = await queries.declared(conn, provider.id)
        seen = await queries.undeclared(conn, provider.id, MAX_UNDECLARED)
    return {"provider": provider.id,
            SETTING: provider.settings.get(SETTING, KEEP),
            "declared": [view(d) for d in declared],
            "undeclared": [undeclared_view(row) for row in seen]}


def undeclared_view(row: dict) -> dict:
    example = _json.decode(row["example"])
    suggested = custom.suggest(row["path"], int(row["kinds"]), example, row["resource_type"])
    return {"path": row["path"], "resource_type": row["resource_type"],
            "count": int(row["count"]), "example": example,
            "first_seen": row["first_seen"], "last_seen": row["last_seen"],
            "suggested": view(suggested)}


async def declare(gw: Gateway, ref: str, decl: Declaration,
                  actor: str | None = None) -> dict:
    """Declare one custom attribute of the provider; it is no longer listed as undeclared.
    Values its IdP sent before are kept as they were stored until it sends them again."""
    async with gw.store.write() as conn:
        provider = await resolve(conn, ref)
        declared = await queries.declared(conn, provider.id)
        if any(d.key == decl.key for d in declared):
            raise custom.duplicate(decl)
        if len(declared) >= custom.MAX_DECLARED:
            raise Conflict(f"a provider has at most {custom.MAX_DECLARED} custom attributes; "
                           "remove one first")
        checked = custom.check(decl, gw.registry, declared)
        await queries.insert(conn, provider.id, checked, gw.clock.stamp())
        await queries.forget_undeclared(conn, provider.id, checked.path)
        await _changed(gw, conn, provider, actor, None, {"custom_attribute": view(checked)},
                       f"custom attribute {checked.path} declared")
    return view(checked)


async def declare_seen(gw: Gateway, ref: str, path: str, kind: str | None = None,
                       actor: str | None = None) -> dict:
    """Declare an undeclared attribute the IdP sent, with the type its values suggest (or
    ``kind``)."""
    async with gw.store.read() as conn:
        provider = await resolve(conn, ref)
        row = await queries.one_undeclared(conn, provider.id, path)
    if row is None:
        raise NotFound(f"'{path}' is not among the undeclared attributes this provider sent")
    suggested = custom.suggest(row["path"], int(row["kinds"]), _json.decode(row["example"]),
                               row["resource_type"])
    if kind:
        suggested = msgspec.structs.replace(
            suggested, type=custom.type_name(kind, "type"),
            sub_attributes=suggested.sub_attributes if kind.lower() == "complex" else ())
    return await declare(gw, provider.id, suggested, actor)


CHANGEABLE = {"type", "multi_valued", "case_exact", "description", "sub_attributes"}


async def change(gw: Gateway, ref: str, path: str, changes: dict,
                 actor: str | None = None) -> dict:
    """Change a declaration's type, multi_valued, case_exact, description or sub_attributes.
    Its URN, name and resource type stay: values stored under them would be left behind
    (remove it and declare the new one). Values stored before keep their old shape until
    the IdP sends them again; reads and filters take them as they are."""
    fixed = set(changes) - CHANGEABLE
    if fixed:
        raise GatewayError(f"cannot change {', '.join(sorted(fixed))} of a custom attribute "
                           "(values stored under it would be left behind): remove it and "
                           "declare the new one")
    async with gw.store.write() as conn:
        provider = await resolve(conn, ref)
        declared = await queries.declared(conn, provider.id)
        current = _find(declared, path)
        fields = {**msgspec.to_builtins(current), **changes}
        if str(fields.get("type", "")).lower() != "complex" and "sub_attributes" not in changes:
            fields["sub_attributes"] = []  # no longer complex: its sub-attributes go with it
        wanted = declaration(fields)
        checked = custom.check(wanted, gw.registry, declared)
        if checked != current:
            await queries.update(conn, provider.id, checked, gw.clock.stamp())
            await _changed(gw, conn, provider, actor, {"custom_attribute": view(current)},
                           {"custom_attribute": view(checked)},
                           f"custom attribute {checked.path} changed")
    return view(checked)


async def remove(gw: Gateway, ref: str, path: str, actor: str | None = None) -> dict:
    """Remove a declaration. Users keep the values stored under it, now undeclared."""
    async with gw.store.write() as conn:
        provider = await resolve(conn, ref)
        current = _find(await queries.declared(conn, provider.id), path)
        await queries.delete(conn, provider.id, current.key)
        await _changed(gw, conn, provider, actor, {"custom_attribute": view(current)}, None,
                       f"custom attribute {current.path} removed")
    return view(current)

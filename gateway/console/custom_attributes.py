"""The provider page's custom attributes card: the declared ones (remove), a form to declare
one, and the undeclared attributes the IdP sent, each with a "Declare" action and the type
its values suggest; and the user page's custom attributes. The same functions as
/admin/v1/providers/{id}/custom-attributes (gateway.accounts.custom_attributes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import admins, custom_attributes
from gateway.accounts.sessions import Session
from gateway.console.auth import form_of, redirect
from gateway.scim.custom import TYPES, extension_data
from gateway.store.base import ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway


async def card(gw: Gateway, provider: ProviderRow) -> dict:
    """What the provider page shows: ``attributes`` (the admin API's listing) and the
    types an admin may choose."""
    return {"attributes": await custom_attributes.listing(gw, provider.id), "types": TYPES}


async def user_attributes(gw: Gateway, provider: ProviderRow | None, data: dict) -> list:
    """A user's custom attributes for its page: (path, value, declared type or None)."""
    registry = await custom_attributes.registry_of(gw, provider)
    rtype = registry.types["User"]
    rows = []
    for urn, values in extension_data(data, gw.registry.types["User"]).items():
        schema = rtype.schema_by_urn(urn)
        for name, value in values.items():
            attr = schema.attribute(name) if schema is not None else None
            kind = None if attr is None else attr.type + ("[]" if attr.multi_valued else "")
            rows.append({"path": f"{urn}:{name}", "value": value, "type": kind})
    return rows


def sub_attributes(text: str) -> list[dict]:
    """`number:integer, site` -> sub_attributes (a name, then its type; string by default)."""
    out = []
    for part in text.split(","):
        name, _, kind = part.strip().partition(":")
        if name:
            out.append({"name": name.strip(), "type": kind.strip() or "string"})
    return out


def declared_body(form: Any) -> dict:
    def field(name: str) -> str:
        return str(form.get(name) or "").strip()

    return {"schema": field("schema"), "name": field("name"),
            "resource_type": field("resource_type") or "User",
            "type": field("type") or "string",
            "multi_valued": form.get("multi_valued") is not None,
            "case_exact": form.get("case_exact") is not None,
            "description": field("description"),
            "sub_attributes": sub_attributes(field("sub_attributes"))}


async def attribute_declare(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    decl = custom_attributes.declaration(declared_body(await form_of(request)))
    made = await custom_attributes.declare(gw, pid, decl, actor=admins.actor(session.admin))
    return redirect(gw, f"/providers/{pid}/attributes",
                    f"Declared {made['path']} ({made['type']})")


async def attribute_declare_seen(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    form = await form_of(request)
    made = await custom_attributes.declare_seen(
        gw, pid, str(form.get("path") or ""), str(form.get("type") or "") or None,
        actor=admins.actor(session.admin))
    return redirect(gw, f"/providers/{pid}/attributes",
                    f"Declared {made['path']} ({made['type']}): its values are checked by "
                    "type from now on; those stored before stay as they are until the IdP "
                    "sends them again")


async def attribute_remove(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    form = await form_of(request)
    gone = await custom_attributes.remove(gw, pid, str(form.get("path") or ""),
                                          actor=admins.actor(session.admin))
    return redirect(gw, f"/providers/{pid}/attributes",
                    f"Removed {gone['path']}: users keep its values, now undeclared")


def routes(page: Any) -> list[BaseRoute]:
    return [
        page("/providers/{id}/attributes", attribute_declare, ("POST",)),
        page("/providers/{id}/attributes/declare-seen", attribute_declare_seen, ("POST",)),
        page("/providers/{id}/attributes/remove", attribute_remove, ("POST",)),
    ]

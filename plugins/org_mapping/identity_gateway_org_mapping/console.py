"""The console's organization pages: organizations and the roles catalogue; on each
provider's page the organization mapping, the role mapping (its group picker lists only
unmapped groups) and "Apply org and role settings"; an organization filter on the user list.
Every change goes through the same functions as the admin API, with the signed-in account
as the actor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.plugin import (
    ConsolePage,
    ConsolePanel,
    ConsoleUserFilter,
    ScimError,
    console_actor,
    console_form,
    console_fragment,
    console_page,
    console_redirect,
)
from identity_gateway_org_mapping import catalogue, mappings, placement, schema, store

TEMPLATES = Path(__file__).parent / "templates"
PICK = 500  # choices a picker lists
NO_GROUPS = "There are no SCIM groups available"
ATTRIBUTES = [  # suggestions for the attribute method; any string attribute path is accepted
    (schema.ORG_NAME, "orgName (the gateway's own User extension)"),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
     "enterprise organization"),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
     "enterprise department"),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
     "enterprise division"),
]


def gateway(request: Request) -> Any:
    return request.app.state.gateway


async def all_orgs(conn: Any) -> list[dict]:
    return (await catalogue.list_orgs(conn, "", PICK))["items"]


async def organizations_page(request: Request) -> Response:
    gw = gateway(request)
    async with gw.store.read() as conn:
        page = await catalogue.list_orgs(conn, request.query_params.get("after", ""), 100)
        known = await catalogue.roles(gw, conn)
        orgs = await all_orgs(conn)
    return console_page(request, "org_mapping/organizations.html", {
        "page": page, "roles": list(known.values()), "orgs": orgs})


async def organization_new(request: Request) -> Response:
    gw = gateway(request)
    form = await console_form(request)
    body: dict[str, Any] = {"name": str(form.get("name") or ""),
                            "default_roles": [str(r) for r in form.getlist("default_roles")]}
    if form.get("parent"):
        body["parent"] = str(form["parent"])
    try:
        async with gw.store.write() as conn:
            created = await catalogue.create_from_body(gw, conn, body,
                                                       actor=console_actor(request))
    except ScimError as error:
        return console_redirect(request, "/organizations", f"Not created: {error.detail}")
    return console_redirect(request, "/organizations",
                            f"Organization '{created['name']}' created")


async def role_new(request: Request) -> Response:
    gw = gateway(request)
    form = await console_form(request)
    body = {"name": str(form.get("name") or ""),
            "description": str(form.get("description") or "")}
    try:
        async with gw.store.write() as conn:
            role = await catalogue.add_role(gw, conn, body, actor=console_actor(request))
    except ScimError as error:
        return console_redirect(request, "/organizations", f"Not added: {error.detail}")
    return console_redirect(request, "/organizations", f"Role '{role['name']}' added")


async def provider_panel(request: Request, provider: dict) -> Any:
    gw = gateway(request)
    pid = provider["id"]
    async with gw.store.read() as conn:
        mapping = await mappings.require(conn, pid)
        org = await mappings.org_view(conn, mapping)
        role = await mappings.role_view(conn, mapping)
        total, unmapped = await store.count_groups(conn, pid)
        groups = await store.provider_groups(conn, pid, PICK)
        orgs = await all_orgs(conn)
        known = await catalogue.roles(gw, conn)
    status = NO_GROUPS if total == 0 else role["status"]
    return console_fragment(request, "org_mapping/provider_panel.html", {
        "provider": provider, "org": org, "role": role, "groups": groups, "orgs": orgs,
        "roles": list(known.values()), "status": status, "total_groups": total,
        "attributes": ATTRIBUTES, "unmapped": unmapped})


def group_rows(form: Any) -> list[dict]:
    """The scim_groups rows of the form: group_N, organization_N, priority_N (a row
    without a group, or ticked remove_N, is left out)."""
    rows = []
    for key in form.keys():
        if not key.startswith("group_"):
            continue
        n = key.removeprefix("group_")
        gid = str(form.get(key) or "")
        if not gid or form.get(f"remove_{n}"):
            continue
        raw = str(form.get(f"priority_{n}") or "").strip()
        try:
            priority = int(raw)
        except ValueError:
            raise ScimError(400, f"the priority of every group must be a whole number, not "
                                 f"'{raw}'") from None
        rows.append({"group": gid, "organization": str(form.get(f"organization_{n}") or ""),
                     "priority": priority})
    return rows


async def org_mapping_save(request: Request) -> Response:
    gw = gateway(request)
    pid = request.path_params["id"]
    form = await console_form(request)
    method = str(form.get("method") or "")
    body: dict[str, Any] = {"method": method}
    if method == "single":
        body["organization"] = str(form.get("organization") or "")
    elif method == "attribute":
        body["attribute"] = str(form.get("attribute_other") or "").strip() or \
            str(form.get("attribute") or "")
    elif method == "scim_groups":
        body["groups"] = group_rows(form)
    if form.get("default_organization"):
        body["default_organization"] = str(form["default_organization"])
    try:
        async with gw.store.write() as conn:
            await mappings.put_org_mapping(gw, conn, pid, body, actor=console_actor(request))
    except ScimError as error:
        return console_redirect(request, f"/providers/{pid}",
                                f"Organization mapping not saved: {error.detail}")
    return console_redirect(request, f"/providers/{pid}", "Organization mapping saved")


async def role_mapping_save(request: Request) -> Response:
    """Add one group's roles (from the unmapped list), or remove one group's mapping."""
    gw = gateway(request)
    pid = request.path_params["id"]
    form = await console_form(request)
    try:
        async with gw.store.write() as conn:
            current = await mappings.role_view(conn, await mappings.require(conn, pid))
            wanted = [{"group": m["group"], "roles": m["roles"]} for m in current["mappings"]]
            removed = str(form.get("remove") or "")
            if removed:
                wanted = [m for m in wanted if m["group"] != removed]
            else:
                wanted.append({"group": str(form.get("group") or ""),
                               "roles": [str(r) for r in form.getlist("roles")]})
            after = await mappings.put_role_mapping(gw, conn, pid, {"mappings": wanted},
                                                    actor=console_actor(request))
    except ScimError as error:
        return console_redirect(request, f"/providers/{pid}",
                                f"Role mapping not saved: {error.detail}")
    return console_redirect(request, f"/providers/{pid}",
                            f"Role mapping saved. {after['status']}")


async def apply(request: Request) -> Response:
    gw = gateway(request)
    pid = request.path_params["id"]
    report = await placement.apply_all(gw, pid)
    if report is None:
        raise ScimError(404, f"no provider '{pid}'")
    return console_redirect(
        request, f"/providers/{pid}",
        f"Org and role settings applied to {report['users']} users: "
        f"{report['organization_changed']} changed organization, "
        f"{report['roles_changed']} changed roles")


async def org_options(request: Request) -> list[tuple[str, str]]:
    async with gateway(request).store.read() as conn:
        return [(o["id"], o["name"]) for o in await all_orgs(conn)]


def in_org(value: str) -> tuple[str, list]:
    return "id IN (SELECT user_id FROM org_mapping_users WHERE organization_id = ?)", [value]


def console_items() -> list:
    return [
        ConsolePage(path="/organizations", endpoint=organizations_page,
                    title="Organizations and roles", templates=TEMPLATES),
        ConsolePage(path="/organizations/new", endpoint=organization_new, methods=("POST",)),
        ConsolePage(path="/roles/new", endpoint=role_new, methods=("POST",)),
        ConsolePage(path="/org-mapping/{id}/organizations", endpoint=org_mapping_save,
                    methods=("POST",)),
        ConsolePage(path="/org-mapping/{id}/roles", endpoint=role_mapping_save,
                    methods=("POST",)),
        ConsolePage(path="/org-mapping/{id}/apply", endpoint=apply, methods=("POST",)),
        ConsolePanel(on="provider", title="Organization and role mapping",
                     render=provider_panel, templates=TEMPLATES),
        ConsoleUserFilter(name="organization", label="Organization", options=org_options,
                          condition=in_org),
    ]

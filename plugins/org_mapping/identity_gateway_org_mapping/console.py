"""The console's organization pages: organizations (create, and each one's page to rename,
move or change its default roles) and the catalogues of roles and watchlists; on each
provider's page the organization mapping, the role and watchlist mappings (their group
pickers list only groups not mapped yet) and "Apply org and role settings"; organization
and watchlist filters on the user list. Every change goes through the same functions as the
admin API, with the signed-in account as the actor."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.plugin import (
    INT64_MAX,
    ConsolePage,
    ConsolePanel,
    ConsoleUserFilter,
    GatewayError,
    JsonResponse,
    ScimError,
    console_actor,
    console_form,
    console_fragment,
    console_page,
    console_redirect,
    parse_int,
)
from identity_gateway_org_mapping import catalogue, mappings, placement, schema, store

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
PICK = 500  # choices a picker lists
NO_GROUPS = "There are no SCIM groups available"
ORGANIZATION = "organization"  # the organization mapping's groups (store.unmapped_groups)
METHODS = {"single": "Single organization",
           "attribute": "Organization name from an attribute (creates organizations)",
           "scim_groups": "SCIM groups, by priority (the highest number wins)"}
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
        watchlists = await catalogue.entries(gw, conn, catalogue.WATCHLISTS)
        orgs = await all_orgs(conn)
    return console_page(request, "org_mapping/organizations.html", {
        "page": page, "roles": list(known.values()), "orgs": orgs,
        "watchlists": list(watchlists.values())})


async def organization_page(request: Request) -> Response:
    """One organization: its users, and (for an admin) the form that renames it, moves it
    under another parent and sets its default roles (the admin API's PATCH)."""
    gw = gateway(request)
    oid = request.path_params["id"]
    async with gw.store.read() as conn:
        row = await store.org_by_id(conn, oid)
        if row is None:
            raise ScimError(404, f"There is no organization '{oid}'")
        org = await catalogue.org_view(conn, row)
        known = await catalogue.roles(gw, conn)
        parents = [o for o in await all_orgs(conn) if o["id"] != oid]
    return console_page(request, "org_mapping/organization.html", {
        "org": org, "roles": list(known.values()), "parents": parents})


async def organization_save(request: Request) -> Response:
    gw = gateway(request)
    oid = request.path_params["id"]
    form = await console_form(request)
    body = {"name": str(form.get("name") or ""),
            "parent": str(form.get("parent") or "") or None,
            "default_roles": [str(r) for r in form.getlist("default_roles")]}
    try:
        async with gw.store.write() as conn:
            after = await catalogue.update_org(gw, conn, oid, body,
                                               actor=console_actor(request))
    except ScimError as error:
        if error.status == 404:
            raise
        return console_redirect(request, f"/organizations/{oid}",
                                f"Not saved: {error.detail}")
    return console_redirect(request, f"/organizations/{oid}",
                            f"Organization '{after['name']}' saved")


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


def entry_new(kind: catalogue.Kind) -> Any:
    """POST: add a role or a watchlist (name, description) to its catalogue."""

    async def endpoint(request: Request) -> Response:
        gw = gateway(request)
        form = await console_form(request)
        body = {"name": str(form.get("name") or ""),
                "description": str(form.get("description") or "")}
        try:
            async with gw.store.write() as conn:
                entry = await catalogue.add_entry(gw, conn, kind, body,
                                                  actor=console_actor(request))
        except ScimError as error:
            return console_redirect(request, "/organizations", f"Not added: {error.detail}")
        return console_redirect(request, "/organizations",
                                f"{kind.singular.title()} '{entry['name']}' added")

    endpoint.__name__ = f"{kind.singular}_new"
    return endpoint


async def provider_panel(request: Request, provider: dict) -> Any:
    """The Mappings section of the provider's page; `?method=` shows that method's fields
    (chosen before it is saved)."""
    gw = gateway(request)
    pid = provider["id"]
    async with gw.store.read() as conn:
        mapping = await mappings.require(conn, pid)
        org = await mappings.org_view(conn, mapping)
        role = await mappings.role_view(conn, mapping)
        watch = await mappings.watchlist_view(conn, mapping)
        total, unmapped = await store.count_groups(conn, pid)
        _, unwatched = await store.count_groups(conn, pid, catalogue.WATCHLISTS.singular)
        _, unplaced = await store.count_groups(conn, pid, ORGANIZATION)
        watch_groups = await store.unmapped_groups(conn, pid, "", PICK,
                                                   catalogue.WATCHLISTS.singular)
        org_unmapped = await store.unmapped_groups(conn, pid, "", PICK, ORGANIZATION)
        orgs = await all_orgs(conn)
        known = await catalogue.roles(gw, conn)
        watchlists = await catalogue.entries(gw, conn, catalogue.WATCHLISTS)
        run = await store.apply_run(conn, pid)
    status = NO_GROUPS if total == 0 else role["status"]
    watch_status = NO_GROUPS if total == 0 else watchlist_status(total, unwatched)
    wanted = request.query_params.get("method")
    chosen = wanted if wanted in METHODS else org["method"] or "single"
    return console_fragment(request, "org_mapping/provider_panel.html", {
        "provider": provider, "org": org, "role": role, "orgs": orgs,
        "roles": list(known.values()), "status": status, "total_groups": total,
        "attributes": ATTRIBUTES + await custom_attributes(gw, pid), "unmapped": unmapped,
        "org_unmapped": org_unmapped, "org_status": org_status(total, unplaced),
        "methods": list(METHODS.items()), "chosen": chosen,
        "current_method": METHODS.get(org["method"], "no method yet").lower(),
        "watch": watch, "watch_groups": watch_groups, "watch_status": watch_status,
        "watchlists": list(watchlists.values()), **run_values(gw, run)})


def org_status(total: int, unplaced: int) -> str:
    if total == 0:
        return NO_GROUPS
    if unplaced == 0:
        return "All SCIM groups are mapped to organizations"
    return f"{unplaced} of {total} SCIM groups are not mapped to organizations"


async def custom_attributes(gw: Any, pid: str) -> list[tuple[str, str]]:
    """The provider's declared custom string attributes, as suggestions too."""
    rtype = await gw.resource_type(pid, "User")
    return [(f"{schema.id}:{attr.name}", f"{attr.name} ({schema.name}, a custom attribute)")
            for schema, _required in rtype.extensions if schema.custom
            for attr in schema.attributes if attr.type == "string" and not attr.multi_valued]


def watchlist_status(total: int, unmapped: int) -> str:
    if unmapped == 0:
        return "All SCIM groups are mapped to watchlists"
    return f"{unmapped} of {total} SCIM groups are not mapped to watchlists"


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
            priority = parse_int(raw, "priority", low=-INT64_MAX)
        except GatewayError:
            raise ScimError(400, f"the priority of every group must be a whole number from "
                                 f"-{INT64_MAX} to {INT64_MAX}, not '{raw[:40]}'") from None
        rows.append({"group": gid, "organization": str(form.get(f"organization_{n}") or ""),
                     "priority": priority})
    return rows


async def org_mapping_save(request: Request) -> Response:
    """POST: save the organization mapping; SCIM groups with no group mapped are saved only
    once confirmed (`confirmed`), after a page that says what that does."""
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
    if method == "scim_groups" and not body["groups"] and not form.get("confirmed"):
        return await confirm_no_groups(request, pid, body)
    try:
        async with gw.store.write() as conn:
            await mappings.put_org_mapping(gw, conn, pid, body, actor=console_actor(request))
    except ScimError as error:
        if error.status == 404:
            raise
        return console_redirect(request, section(pid),
                                f"Organization mapping not saved: {error.detail}")
    return console_redirect(request, section(pid), "Organization mapping saved")


def section(pid: str) -> str:
    """The provider page's section that shows the mappings."""
    return f"/providers/{pid}/mappings"


async def confirm_no_groups(request: Request, pid: str, body: dict) -> Response:
    """What saving SCIM groups with no group mapped does, before it is saved: every user
    goes to the default organization."""
    gw = gateway(request)
    async with gw.store.read() as conn:
        current = await mappings.org_view(conn, await mappings.require(conn, pid))
        chosen = await store.org_by_id(conn, body.get("default_organization") or "")
        provider = await store.provider_name(conn, pid)
    default = chosen["name"] if chosen else current["default_organization"]
    return console_page(request, "org_mapping/confirm_no_groups.html", {
        "provider": {"id": pid, "name": provider}, "default": default,
        "default_id": body.get("default_organization") or ""})


def group_mapping_save(kind: catalogue.Kind, view: Any, put: Any) -> Any:
    """POST: map one more SCIM group to roles or watchlists (`group`, ticked `roles` or
    `watchlists`), or remove one group's mapping (`remove`); the provider's whole mapping
    is then replaced, as the admin API's PUT does."""
    what = kind.singular.title()

    async def endpoint(request: Request) -> Response:
        gw = gateway(request)
        pid = request.path_params["id"]
        form = await console_form(request)
        try:
            async with gw.store.write() as conn:
                current = await view(conn, await mappings.require(conn, pid))
                wanted = [{"group": m["group"], kind.plural: m[kind.plural]}
                          for m in current["mappings"]]
                removed = str(form.get("remove") or "")
                if removed:
                    wanted = [m for m in wanted if m["group"] != removed]
                else:
                    wanted.append({"group": str(form.get("group") or ""),
                                   kind.plural: [str(r) for r in form.getlist(kind.plural)]})
                after = await put(gw, conn, pid, {"mappings": wanted},
                                  actor=console_actor(request))
        except ScimError as error:
            if error.status == 404:
                raise
            return console_redirect(request, section(pid),
                                    f"{what} mapping not saved: {error.detail}")
        notice = f"{what} mapping saved."
        if "status" in after:
            notice += f" {after['status']}"
        return console_redirect(request, section(pid), notice)

    endpoint.__name__ = f"{kind.singular}_mapping_save"
    return endpoint


def run_values(gw: Any, run: dict | None) -> dict:
    """What the provider page says about its last apply: `running` (the page polls while
    it is), the sentence of the status line, and when and by whom."""
    if run is None:
        return {"running": False, "run_text": "", "run_by": None, "run_at": None,
                "run_finished": False}
    counts = (f"{run['organization_changed']:,} changed organization, "
              f"{run['roles_changed']:,} changed roles, "
              f"{run['watchlists_changed']:,} changed watchlists")
    progress = f"{run['done']:,} of {run['total']:,} users"
    running = run["state"] == "running" and not placement.abandoned(gw, run)
    if running:
        text = (f"Applying org and role settings: {progress} (changed: "
                f"{run['organization_changed']:,} organization, {run['roles_changed']:,} "
                f"roles, {run['watchlists_changed']:,} watchlists)")
    elif run["state"] == "done":
        text = f"Org and role settings applied to {run['done']:,} users: {counts}"
    else:
        reason = run["error"] or "the gateway stopped during the run; apply again"
        text = f"Applying org and role settings stopped after {progress}: {reason}"
    finished = run["state"] == "done" and not running
    return {"running": running, "run_text": text, "run_by": run["actor"],
            "run_finished": finished,
            "run_at": run["finished_at"] if finished else run["started_at"]}


def background(request: Request) -> set:
    """The applies running in the background of this app (kept so that none is collected
    before it ends)."""
    state = request.app.state
    if not hasattr(state, "org_mapping_applies"):
        state.org_mapping_applies = set()
    tasks: set = state.org_mapping_applies
    return tasks


async def apply_in_background(gw: Any, pid: str, run: dict) -> None:
    try:
        await placement.apply_all(gw, pid, run)
    except Exception:  # the run row says it failed, and why
        log.exception("applying org and role settings to provider %s failed", pid)


async def apply(request: Request) -> Response:
    """POST: start "Apply org and role settings" in the background and go back to the
    provider's page, which shows its progress; refused while a run is going."""
    gw = gateway(request)
    pid = request.path_params["id"]
    try:
        run = await placement.start_run(gw, pid, console_actor(request))
    except ScimError as error:
        return console_redirect(request, section(pid), f"Not applied: {error.detail}")
    if run is None:
        raise ScimError(404, f"no provider '{pid}'")
    tasks = background(request)
    task = asyncio.get_running_loop().create_task(apply_in_background(gw, pid, run))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return console_redirect(request, section(pid) + "#apply")


async def apply_status(request: Request) -> Response:
    """GET (polled by the provider page while a run is going): the apply section's markup
    and the run as stored."""
    gw = gateway(request)
    pid = request.path_params["id"]
    async with gw.store.read() as conn:
        if await store.provider_name(conn, pid) is None:
            raise ScimError(404, f"There is no provider '{pid}'")
        run = await store.apply_run(conn, pid)
    values = run_values(gw, run)
    markup = console_fragment(request, "org_mapping/apply_status.html",
                              {"provider": {"id": pid}, **values})
    return JsonResponse({"html": str(markup), "done": not values["running"],
                         "state": run["state"] if run else None, "run": run})


async def org_options(request: Request) -> list[tuple[str, str]]:
    async with gateway(request).store.read() as conn:
        return [(o["id"], o["name"]) for o in await all_orgs(conn)]


async def watchlist_options(request: Request) -> list[tuple[str, str]]:
    gw = gateway(request)
    async with gw.store.read() as conn:
        found = await catalogue.entries(gw, conn, catalogue.WATCHLISTS)
    return [(w["name"], w["name"]) for w in found.values()]


def console_items() -> list:
    return [
        ConsolePage(path="/organizations", endpoint=organizations_page,
                    title="Organizations and roles", templates=TEMPLATES),
        ConsolePage(path="/organizations/new", endpoint=organization_new, methods=("POST",)),
        ConsolePage(path="/organizations/{id}", endpoint=organization_page),
        ConsolePage(path="/organizations/{id}/edit", endpoint=organization_save,
                    methods=("POST",)),
        ConsolePage(path="/roles/new", endpoint=entry_new(catalogue.ROLES), methods=("POST",)),
        ConsolePage(path="/watchlists/new", endpoint=entry_new(catalogue.WATCHLISTS),
                    methods=("POST",)),
        ConsolePage(path="/org-mapping/{id}/organizations", endpoint=org_mapping_save,
                    methods=("POST",)),
        ConsolePage(path="/org-mapping/{id}/roles", methods=("POST",),
                    endpoint=group_mapping_save(catalogue.ROLES, mappings.role_view,
                                                mappings.put_role_mapping)),
        ConsolePage(path="/org-mapping/{id}/watchlists", methods=("POST",),
                    endpoint=group_mapping_save(catalogue.WATCHLISTS,
                                                mappings.watchlist_view,
                                                mappings.put_watchlist_mapping)),
        ConsolePage(path="/org-mapping/{id}/apply", endpoint=apply, methods=("POST",)),
        ConsolePage(path="/org-mapping/{id}/apply-status", endpoint=apply_status),
        ConsolePanel(on="provider", title="Organization, role and watchlist mapping",
                     render=provider_panel, templates=TEMPLATES, section="mappings"),
        ConsoleUserFilter(name="organization", label="Organization", options=org_options,
                          condition=store.in_organization),
        ConsoleUserFilter(name="watchlist", label="Watchlist", options=watchlist_options,
                          condition=store.on_watchlist),
    ]

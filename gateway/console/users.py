"""Console pages for users: the list (search and filters, by id pages), a user's page
(profile, raw SCIM data, groups, what plugins add, lifecycle, sync log), the admin actions,
and creating a local user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import actions, admins, lifecycle, users
from gateway.accounts.sessions import Session
from gateway.accounts.users import view
from gateway.console.auth import form_of, redirect
from gateway.console.custom_attributes import user_attributes
from gateway.console.diff import diff
from gateway.console.render import console_of
from gateway.errors import GatewayError, NotFound
from gateway.events import synclog
from gateway.events.synclog_write import UNCHANGED
from gateway.provisioning.local import create_local
from gateway.store import console as reads
from gateway.store import names, resources
from gateway.store import providers as queries

if TYPE_CHECKING:
    from gateway.core import Gateway

PAGE = 50
HISTORY = 20  # timeline entries per page of a user's history
STATES = (lifecycle.ACTIVE, lifecycle.PENDING, lifecycle.HELD, lifecycle.BLOCKED,
          lifecycle.DEACTIVATED)
# The admin view's own keys; anything else in it was added by a plugin (user_view hook).
CORE_KEYS = {"id", "state", "deactivate_at", "can_sign_in", "blocked", "block_reason",
             "cold_storage", "source", "provider_state", "deleted_by_provider", "profile",
             "custom_attributes", "created", "last_modified"}
# The core's block reasons in words; a policy's own reason (a plugin's) is shown as it is.
BLOCK_REASONS = {lifecycle.ADMIN_BLOCK: "by an admin",
                 lifecycle.PENDING_BLOCK: "deactivation pending",
                 lifecycle.HELD_BLOCK: "deactivation held by the mass-deactivation guard"}
BLOCKED_CHOICES = (("true", "Blocked"), ("false", "Not blocked"))

ACTION_LABELS = {"block": "Block", "unblock": "Unblock", "deactivate": "Deactivate now",
                 "reactivate": "Reactivate"}


def block_text(user: dict) -> str:
    """'Blocked — deactivation pending', 'Not blocked'."""
    if not user.get("blocked"):
        return "Not blocked"
    reason = user.get("block_reason")
    return f"Blocked — {BLOCK_REASONS.get(reason, reason)}" if reason else "Blocked"


def available_actions(user: dict) -> list[str]:
    state = user["state"]
    out = []
    if state != lifecycle.BLOCKED:
        out.append("block")
    if state == lifecycle.BLOCKED:
        out.append("unblock")
    if state != lifecycle.DEACTIVATED:
        out.append("deactivate")
    if state == lifecycle.DEACTIVATED:
        out.append("reactivate")
    return out


async def user_list(request: Request, gw: Gateway, session: Session) -> Response:
    params = request.query_params
    console = console_of(request)
    provider = params.get("provider") or None
    state = params.get("state") or None
    q = (params.get("q") or "").strip()[:200] or None
    blocked = params.get("blocked") or None
    if blocked not in (None, "true", "false"):
        raise GatewayError("'blocked' must be true or false")
    extra, chosen = [], {}
    for item in console.user_filters:
        value = params.get(item.name)
        if value:
            extra.append(item.condition(value))
            chosen[item.name] = value
    listed = await users.list_users(gw, provider=provider, state=state, q=q,
                                    cursor=params.get("after") or None, limit=PAGE,
                                    conditions=extra,
                                    blocked=None if blocked is None else blocked == "true")
    items = listed["items"]
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
    next_url = None
    if listed["next_cursor"]:
        query = {k: v for k, v in params.items() if k != "after" and v}
        next_url = "/console/users?" + urlencode({**query, "after": listed["next_cursor"]})
    filters = [{"name": f.name, "label": f.label, "options": await f.options(request),
                "value": chosen.get(f.name, "")} for f in console.user_filters]
    names = {p.id: p.name for p in found}
    columns = [c.header for c in console.user_columns]
    return console.page(request, "users.html", {
        "users": [{"view": u, "provider": names.get(u["source"], u["source"]),
                   "columns": [c.value(u) for c in console.user_columns]} for u in items],
        "columns": columns, "providers": found, "states": STATES, "filters": filters,
        "q": q or "", "provider": provider or "", "state": state or "", "next_url": next_url,
        "blocked": blocked or "", "blocked_choices": BLOCKED_CHOICES,
    })


async def user_page(request: Request, gw: Gateway, session: Session) -> Response:
    uid = request.path_params["id"]
    console = console_of(request)
    async with gw.store.read() as conn:
        row = await resources.get_any(conn, uid)
        if row is None or row.type != "User":
            raise NotFound(f"There is no user '{uid}'")
        user = await view(gw, conn, row)
        groups = await reads.groups_of(conn, uid)
        found = await queries.list_providers(conn)
        manager = user["profile"].get("manager_id")
        managers = await names.resource_names(conn, [manager] if manager else [])
    provider = next((p for p in found if p.id == row.provider_id), None)
    older = request.query_params.get("history") or None
    log = await synclog.query(gw, limit=HISTORY, user=uid, cursor=older)
    panels, shown = [], set()
    for panel in console.panels_on("user"):
        markup = await panel.render(request, user)
        if markup:
            panels.append({"title": panel.title, "markup": markup})
            shown.update(panel.shows)
    added = {k: v for k, v in user.items() if k not in CORE_KEYS and k not in shown}
    return console.page(request, "user.html", {
        "user": user, "raw": row.data, "provider": provider,
        "groups": [{"id": g["id"], "name": g["display_name"] or g["display_key"] or g["id"]}
                   for g in groups],
        "manager": managers.get(manager) if manager else None,
        "custom": await user_attributes(gw, provider, row.data),
        "added": added, "panels": panels, "block": block_text(user),
        "history": [timeline_entry(e) for e in log["items"]],
        "older": f"/console/users/{uid}?history={log['next_cursor']}#history"
        if log["next_cursor"] else None,
        "provider_names": {p.id: p.name for p in found},
        "actions": [(a, ACTION_LABELS[a]) for a in available_actions(user)],
    })


def timeline_entry(entry: dict) -> dict:
    """A sync-log entry as the user's history shows it: the entry, and its changed
    attributes (what was received, for a write that changed nothing)."""
    received = entry["outcome"] == UNCHANGED
    has_data = entry["before"] is not None or entry["after"] is not None
    return {**entry, "rows": diff(entry["before"], entry["after"], received=received)
            if has_data else []}


async def user_action(request: Request, gw: Gateway, session: Session) -> Response:
    uid = request.path_params["id"]
    form = await form_of(request)
    action = str(form.get("action") or "")
    if action not in actions.ACTIONS:
        raise GatewayError(f"Unknown action '{action}'")
    reason = str(form.get("reason") or "").strip()[:500] or None
    done = await actions.admin_action(gw, uid, action, actor=admins.actor(session.admin),
                                      reason=reason)
    if done is None:
        raise NotFound(f"There is no user '{uid}'")
    return redirect(gw, f"/users/{uid}",
                    f"{ACTION_LABELS[action]}: the user is now {done['state']}")


def local_body(form: Any) -> dict:
    """A SCIM User from the form's fields (empty ones left out)."""
    def field(name: str) -> str:
        return str(form.get(name) or "").strip()

    body: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": field("userName"), "active": True}
    name = {k: field(k) for k in ("givenName", "familyName") if field(k)}
    if name:
        body["name"] = name
    if field("displayName"):
        body["displayName"] = field("displayName")
    if field("email"):
        body["emails"] = [{"value": field("email"), "type": "work", "primary": True}]
    return body


async def user_new(request: Request, gw: Gateway, session: Session) -> Response:
    values: dict[str, Any] = {"error": None, "form": {}}
    if request.method == "POST":
        form = await form_of(request)
        values["form"] = dict(form)
        try:
            created = await create_local(gw, local_body(form),
                                         actor=admins.actor(session.admin))
        except GatewayError as error:
            values["error"] = error.detail
            return console_of(request).page(request, "user_new.html", values,
                                            status=error.status)
        return redirect(gw, f"/users/{created['id']}", "Local user created")
    return console_of(request).page(request, "user_new.html", values)


def routes(page: Any) -> list[BaseRoute]:
    return [
        page("/users", user_list),
        page("/users/new", user_new, ("GET", "POST")),
        page("/users/{id}", user_page),
        page("/users/{id}/action", user_action, ("POST",)),
    ]

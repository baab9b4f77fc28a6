"""Console pages for providers: the list, "Add provisioning provider" and its one-time
result, saving a provider's settings, rotate and delete (its page's sections are
provider_page), and what those pages poll: the connection check and the activity chart."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.accounts import admins, auth_failures, providers
from gateway.accounts.sessions import Session
from gateway.console import activity as traffic
from gateway.console import guard
from gateway.console.auth import form_of, redirect
from gateway.console.extension import ConsoleIdp
from gateway.console.render import console_of
from gateway.errors import GatewayError, NotFound
from gateway.observability import activity
from gateway.store import console as reads
from gateway.store import providers as queries
from gateway.store.base import ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

GENERIC = ConsoleIdp(
    plugin=None, title="Other SCIM 2.0 client",
    kinds=[("bearer", "Bearer token"), ("basic", "HTTP Basic (username and password)")],
    steps=["In the SCIM client, set the SCIM base URL and the credential shown above.",
           "Send a request (for example GET {base_url}/Users?count=1): this page's "
           "connection check shows it when it arrives."])


def idps(request: Request) -> list[ConsoleIdp]:
    """What "Add provisioning provider" offers: the plugins' IdPs that are enabled, then
    any SCIM 2.0 client."""
    return [*console_of(request).idps, GENERIC]


def idp_for(request: Request, provider: ProviderRow) -> ConsoleIdp:
    return next((i for i in idps(request) if i.plugin == provider.plugin), GENERIC)


def kind_label(idp: ConsoleIdp, kind: str) -> str:
    return next((label for k, label in idp.kinds if k == kind), kind)


async def provider_or_404(gw: Gateway, pid: str) -> ProviderRow:
    async with gw.store.read() as conn:
        found = await queries.get_provider(conn, pid)
    if found is None:
        raise NotFound(f"There is no provider '{pid}'")
    return found


HOUR = timedelta(hours=1)


def seen_view(seen: dict) -> dict | None:
    """The provider's last request as the console lists it, with how it ended."""
    if not seen.get("request_at"):
        return None
    return {"at": seen["request_at"], "request": seen["excerpt"], "status": seen["status"],
            "outcome": traffic.outcome(seen["method"], seen["status"],
                                     providers.REFUSED_STATUSES)}


async def summaries(gw: Gateway, found: list[ProviderRow]) -> dict[str, dict]:
    """Per provider: users and groups owned, its newest sync-log entry (its last change),
    its last request, the requests answered with an error in the last hour (the activity
    record, as GET /admin/v1/providers/{id}/activity counts them) and the refused
    credentials among them. An index range or two each."""
    async with gw.store.read() as conn:
        owned = await reads.owned_counts(conn)
        refused = await auth_failures.refused_by_provider(gw, HOUR, conn)
        out = {}
        for p in found:
            hour = await activity.series(gw, p.id, 60, conn)
            out[p.id] = {
                "owned": owned.get(p.id, {"User": 0, "Group": 0}),
                "last": await reads.last_entry(conn, p.id),
                "seen": seen_view(await activity.last_seen(gw, p.id, conn)),
                "errors_hour": sum(m["errors"] for m in hour),
                "refused_hour": refused.get(p.id, 0),
            }
    return out


async def provider_list(request: Request, gw: Gateway, session: Session) -> Response:
    async with gw.store.read() as conn:
        found = await queries.list_providers(conn)
    about = await summaries(gw, found)
    rows = []
    for p in found:
        idp = idp_for(request, p)
        rows.append({"provider": p, "idp": idp.title, "kind": kind_label(idp, p.auth_kind),
                     **about[p.id]})
    return console_of(request).page(request, "providers.html", {
        "rows": rows, "tripped": await guard.tripped(gw),
        "provider_names": {p.id: p.name for p in found}})


def choice(idp_list: list[ConsoleIdp], form: Any) -> tuple[ConsoleIdp, str]:
    """The IdP and credential kind the form names; the kind must be one the IdP offers."""
    wanted = str(form.get("idp") or "")
    idp = next((i for i in idp_list if (i.plugin or "") == wanted), None)
    if idp is None:
        raise GatewayError("Choose the identity provider")
    kind = str(form.get("kind") or "")
    if kind not in [k for k, _ in idp.kinds]:
        offered = ", ".join(label for _, label in idp.kinds)
        raise GatewayError(f"{idp.title} connects with: {offered}; choose one of them")
    return idp, kind


async def provider_new(request: Request, gw: Gateway, session: Session) -> Response:
    idp_list = idps(request)
    values: dict[str, Any] = {"idps": idp_list, "error": None, "form": {}}
    if request.method == "POST":
        form = await form_of(request)
        values["form"] = dict(form)
        try:
            idp, kind = choice(idp_list, form)
            settings = {}
            if str(form.get("deactivation_delay") or "").strip():
                settings["deactivation_delay"] = str(form["deactivation_delay"]).strip()
            provider, shown = await providers.create_provider(
                gw, str(form.get("name") or "").strip(), kind, idp.plugin, settings,
                actor=admins.actor(session.admin))
        except GatewayError as error:
            values["error"] = error.detail
            return console_of(request).page(request, "provider_new.html", values,
                                            status=error.status)
        return await shown_once(request, gw, provider, shown, "created")
    return console_of(request).page(request, "provider_new.html", values)


async def shown_once(request: Request, gw: Gateway, provider: ProviderRow,
                     shown: list[tuple[str, str]], what: str) -> Response:
    """The base URL and the new secret(s), on this answer only (never stored, never
    cached), each under the name of the IdP field it goes into; and the connection check,
    waiting for the IdP's first request with them."""
    idp = idp_for(request, provider)
    base_url = gw.base_url(provider.id)
    lines = [("SCIM base URL", base_url), *shown]
    fields = [{"label": label, "value": value, "field": idp.fields.get(label, label)}
              for label, value in lines]
    steps = [step.replace("{base_url}", base_url) for step in idp.steps]
    return console_of(request).page(request, "provider_secret.html", {
        "provider": provider, "idp": idp, "fields": fields, "steps": steps, "what": what,
        **await connection_values(request, gw, provider)})


async def connection_values(request: Request, gw: Gateway, provider: ProviderRow) -> dict:
    """What the connection check shows: the state, the last request in words, why
    credentials were refused."""
    idp = idp_for(request, provider)
    found = await providers.connection(gw, provider)
    refused = found["refused"] or {"reasons": {}, "explained": {}}
    return {"connection": found,
            "described": found["request"]["described"] if found["request"] else "",
            "idp_name": idp.title if idp.plugin else "the SCIM client",
            "reasons": [(refused["explained"][r], n) for r, n in refused["reasons"].items()]}


async def provider_connection(request: Request, gw: Gateway, session: Session) -> Response:
    """The connection check, polled by the provider's pages until it says "Connected":
    its state and its markup."""
    provider = await provider_or_404(gw, request.path_params["id"])
    values = await connection_values(request, gw, provider)
    markup = console_of(request).fragment(request, "provider_connection.html",
                                          {"provider": provider, **values})
    state = values["connection"]["state"]
    return JSONResponse({"state": state, "done": state == "connected", "html": str(markup),
                         "connection": values["connection"]})


CHART_EVERY, CHART_BUSY_EVERY = 15_000, 5_000  # ms between refreshes: idle, busy


async def chart_values(gw: Gateway, provider: ProviderRow) -> dict:
    """The chart of the provider's last 24 hours (the admin API's activity series)."""
    series = await activity.series(gw, provider.id, activity.MAX_MINUTES)
    busy = any(m["requests"] for m in series[-5:])
    return {"chart": traffic.chart(series, gw.clock.now()),
            "chart_summary": traffic.summary_text(traffic.totals(series)),
            "chart_numbers": traffic.numbers(series, gw.clock.now()),
            "chart_every": CHART_BUSY_EVERY if busy else CHART_EVERY}


async def provider_activity(request: Request, gw: Gateway, session: Session) -> Response:
    """The activity chart, polled while the provider's page is open: sooner while requests
    are arriving."""
    provider = await provider_or_404(gw, request.path_params["id"])
    values = await chart_values(gw, provider)
    markup = console_of(request).fragment(request, "provider_activity.html", values)
    return JSONResponse({"html": str(markup), "every": values["chart_every"]})


async def provider_settings(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    form = await form_of(request)
    changes: dict[str, Any] = {}
    if form.get("name") is not None:
        changes["name"] = str(form["name"]).strip()
    if form.get("deactivation_delay") is not None:
        changes["deactivation_delay"] = str(form["deactivation_delay"]).strip()
    if form.get("block_during_delay") is not None:
        changes["block_during_delay"] = "on" in form.getlist("block_during_delay")
    if form.get("undeclared_attributes") is not None:
        changes["undeclared_attributes"] = str(form["undeclared_attributes"])
    if form.get("unique_group_names") is not None:
        changes["unique_group_names"] = "on" in form.getlist("unique_group_names")
    raw = str(form.get("plugin_settings") or "").strip()
    if raw:
        try:
            extra = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise GatewayError("Plugin settings must be a JSON object, for example "
                               '{"key": "value"}') from None
        if not isinstance(extra, dict) or set(extra) & set(providers.TOP_SETTINGS):
            raise GatewayError("Plugin settings must be a JSON object (the deactivation "
                               "delay, blocking during it, unique group names and "
                               "undeclared attributes have their own fields)")
        changes["settings"] = extra
    await providers.update_provider(gw, pid, changes, actor=admins.actor(session.admin))
    return redirect(gw, f"/providers/{pid}/settings", "Settings saved")


async def provider_rotate(request: Request, gw: Gateway, session: Session) -> Response:
    provider = await provider_or_404(gw, request.path_params["id"])
    if request.method == "GET":
        return console_of(request).page(request, "provider_rotate.html",
                                        {"provider": provider,
                                         "idp": idp_for(request, provider)})
    provider, shown = await providers.rotate_provider(gw, provider.id,
                                                      actor=admins.actor(session.admin))
    return await shown_once(request, gw, provider, shown, "rotated")


async def provider_delete(request: Request, gw: Gateway, session: Session) -> Response:
    provider = await provider_or_404(gw, request.path_params["id"])
    await providers.delete_provider(gw, provider.id, actor=admins.actor(session.admin))
    return redirect(gw, "/providers", f"Provider '{provider.name}' deleted")

"""Console pages for webhooks: the list and "Register webhook" (a generated secret shown
once), a webhook's page (queue, dead letters, redeliver, test event, remove)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts.sessions import Session
from gateway.console.auth import form_of, redirect
from gateway.console.render import console_of
from gateway.errors import GatewayError
from gateway.events import webhook_delivery, webhooks
from gateway.params import parse_int

if TYPE_CHECKING:
    from gateway.core import Gateway


def wake(gw: Gateway) -> None:
    waker = gw.pm.get_plugin("webhook_delivery")
    if waker is not None:
        waker.set()


async def webhook_list(request: Request, gw: Gateway, session: Session) -> Response:
    listed = await webhooks.list_all(gw)
    return console_of(request).page(request, "webhooks.html", {
        "items": listed["items"], "types": webhooks.CORE_EVENT_TYPES, "error": None,
        "form": {}})


async def webhook_new(request: Request, gw: Gateway, session: Session) -> Response:
    form = await form_of(request)
    types = [str(t) for t in form.getlist("events") if str(t).strip()]
    extra = [t.strip() for t in str(form.get("other_events") or "").split(",") if t.strip()]
    body: dict[str, Any] = {"url": str(form.get("url") or "").strip(),
                            "events": (types + extra) or None}
    if str(form.get("secret") or ""):
        body["secret"] = str(form["secret"])
    try:
        created = await webhooks.create(gw, body)
    except GatewayError as error:
        listed = await webhooks.list_all(gw)
        return console_of(request).page(request, "webhooks.html", {
            "items": listed["items"], "types": webhooks.CORE_EVENT_TYPES,
            "error": error.detail, "form": {"url": body["url"]}}, status=error.status)
    return console_of(request).page(request, "webhook_created.html", {"webhook": created})


async def webhook_page(request: Request, gw: Gateway, session: Session) -> Response:
    wid = request.path_params["id"]
    hook = await webhooks.get(gw, wid)
    dead = await webhooks.dead_letters(gw, wid, request.query_params.get("cursor"), 50)
    return console_of(request).page(request, "webhook.html", {"webhook": hook,
                                                              "dead": dead})


async def webhook_redeliver(request: Request, gw: Gateway, session: Session) -> Response:
    wid = request.path_params["id"]
    form = await form_of(request)
    seqs = [parse_int(str(s), "seq") for s in form.getlist("seq")] or None
    result = await webhooks.redeliver(gw, wid, seqs)
    wake(gw)
    return redirect(gw, f"/webhooks/{wid}", f"{result['redelivering']} event(s) queued again")


async def webhook_test(request: Request, gw: Gateway, session: Session) -> Response:
    wid = request.path_params["id"]
    problem = await webhook_delivery.send_test(gw, wid)
    message = "Test event delivered: the receiver answered 2xx" if problem is None \
        else f"Test event not delivered: {problem}"
    return redirect(gw, f"/webhooks/{wid}", message)


async def webhook_remove(request: Request, gw: Gateway, session: Session) -> Response:
    await webhooks.remove(gw, request.path_params["id"])
    return redirect(gw, "/webhooks", "Webhook removed")


def routes(page: Any) -> list[BaseRoute]:
    return [
        page("/webhooks", webhook_list),
        page("/webhooks/new", webhook_new, ("POST",)),
        page("/webhooks/{id}", webhook_page),
        page("/webhooks/{id}/redeliver", webhook_redeliver, ("POST",)),
        page("/webhooks/{id}/test", webhook_test, ("POST",)),
        page("/webhooks/{id}/remove", webhook_remove, ("POST",)),
    ]

"""The console's legal-hold page (every hold with its matter, who placed it and when, and
the user; release from the list) and the panel on each user's page (place a hold with its
matter, or release it). The actor is the signed-in account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.plugin import (
    ConsolePage,
    ConsolePanel,
    ScimError,
    console_actor,
    console_form,
    console_fragment,
    console_page,
    console_redirect,
)
from identity_gateway_legal_hold import holds

TEMPLATES = Path(__file__).parent / "templates"


def by(request: Request) -> str:
    """Who placed or released a hold, as the hold records it: the account's name."""
    return console_actor(request).split(":", 1)[-1]


async def holds_page(request: Request) -> Response:
    """Active holds, or all of them (`all=1`); one user's (`user=`), as the admin API's
    GET /legal-holds lists them."""
    gw = request.app.state.gateway
    params = request.query_params
    released = params.get("all") == "1"
    user = (params.get("user") or "").strip()[:200] or None
    page = await holds.list_holds(gw, user=user, include_released=released,
                                  cursor=params.get("cursor"), limit=100)
    names = await holds.user_names(gw, [h["user"] for h in page["items"]])
    return console_page(request, "legal_hold/holds.html", {
        "page": page, "all": released, "user": user or "", "names": names})


async def place(request: Request) -> Response:
    gw = request.app.state.gateway
    form = await console_form(request)
    uid = str(form.get("user") or "")
    try:
        await holds.place(gw, {"user": uid, "matter": str(form.get("matter") or ""),
                               "placed_by": by(request)}, actor=console_actor(request))
    except ScimError as error:
        return console_redirect(request, f"/users/{uid}", f"Not placed: {error.detail}")
    return console_redirect(request, f"/users/{uid}", "Legal hold placed")


async def release(request: Request) -> Response:
    """Release a user's hold; back to the list when it was released there (`from=list`),
    to the user's page otherwise."""
    gw = request.app.state.gateway
    uid = request.path_params["user_id"]
    form = await console_form(request)
    back = "/legal-holds" if form.get("from") == "list" else f"/users/{uid}"
    try:
        done = await holds.release(gw, uid, by(request), actor=console_actor(request))
    except ScimError as error:
        return console_redirect(request, back, f"Not released: {error.detail}")
    return console_redirect(request, back,
                            f"Legal hold released; the user is {done['user_state']}")


async def user_panel(request: Request, user: dict) -> Any:
    return console_fragment(request, "legal_hold/panel.html",
                            {"user": user, "hold": user.get("legal_hold")})


def console_items() -> list:
    return [
        ConsolePage(path="/legal-holds", endpoint=holds_page, title="Legal holds",
                    templates=TEMPLATES),
        ConsolePage(path="/legal-holds/place", endpoint=place, methods=("POST",)),
        ConsolePage(path="/legal-holds/{user_id}/release", endpoint=release,
                    methods=("POST",)),
        ConsolePanel(on="user", title="Legal hold", render=user_panel, templates=TEMPLATES,
                     shows=("legal_hold",)),
    ]

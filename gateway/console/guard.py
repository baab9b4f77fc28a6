"""The provider page's mass-deactivation guard card: its state, threshold and window, the
deactivations it holds (with links to the users), the form that changes it, and release and
discard once it has tripped; the banner of a tripped guard on the provider pages. The same
functions as /admin/v1/providers/{id}/deactivation-guard (gateway.accounts.guard)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from gateway.accounts import admins, guard
from gateway.accounts.sessions import Session
from gateway.console.auth import form_of, redirect
from gateway.errors import GatewayError
from gateway.params import INT64_MAX, ParamError, parse_int
from gateway.store import names
from gateway.store import providers as queries
from gateway.store.base import ProviderRow

if TYPE_CHECKING:
    from gateway.core import Gateway

HELD_SHOWN = 50  # held users listed on the card; the count says how many there are in all


async def tripped(gw: Gateway) -> list[dict]:
    """The providers whose guard has tripped, with what each holds (for the banner)."""
    states = [s for s in await guard.guard_states(gw) if s["state"] == guard.TRIPPED]
    if not states:
        return []
    async with gw.store.read() as conn:
        names = {p.id: p.name for p in await queries.list_providers(conn)}
    return [{"id": s["provider_id"], "name": names.get(s["provider_id"], s["provider_id"]),
             "held": s["held"]} for s in states if s["provider_id"] in names]


async def card(gw: Gateway, provider: ProviderRow) -> dict:
    """What the provider page shows of its guard: ``guard`` (the admin API's view),
    ``held_users`` (the first held, each with its userName) and ``tripped`` (the banner)."""
    held = await guard.held_list(gw, provider.id, None, HELD_SHOWN)
    async with gw.store.read() as conn:
        view = await guard.view(gw, conn, provider.id)
        found = await names.resource_names(conn, [item["user"] for item in held["items"]])
    users = [{**item, "name": names.name_of(found.get(item["user"])),
              "display": (found.get(item["user"]) or {}).get("display_name")}
             for item in held["items"]]
    banner = [{"id": provider.id, "name": provider.name, "held": view["held"]}] \
        if view["state"] == guard.TRIPPED else []
    return {"guard": view, "held_users": users, "tripped": banner}


def whole_number(form: Any, name: str, label: str) -> int:
    raw = str(form.get(name) or "").strip()
    try:
        return parse_int(raw, name)
    except ParamError:
        raise GatewayError(f"{label} must be a whole number from 0 to {INT64_MAX} (not "
                           f"'{raw[:40]}')") from None


def percent(form: Any) -> float | int:
    raw = str(form.get("percent") or "").strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise GatewayError(f"The percentage must be a number from 0 to 100 (not '{raw}')") \
            from None
    if not math.isfinite(value):
        raise GatewayError("The percentage must be a number from 0 to 100")
    return int(value) if value.is_integer() else value


def settings_body(form: Any) -> dict:
    """The admin API's PATCH body from the card's form (its checks are the API's)."""
    return {"enabled": form.get("enabled") is not None,
            "threshold": {"users": whole_number(form, "users", "The number of users"),
                          "percent": percent(form)},
            "window": str(form.get("window") or "").strip()}


async def guard_settings(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    body = settings_body(await form_of(request))
    after = await guard.configure(gw, pid, body, actor=admins.actor(session.admin))
    what = {guard.OFF: "off", guard.ARMED: "armed", guard.TRIPPED: "tripped"}[after["state"]]
    return redirect(gw, f"/providers/{pid}/guard",
                    f"Deactivation guard saved: {what}, more than "
                    f"{after['threshold']['users']} users and "
                    f"{after['threshold']['percent']}% within {after['window']}")


def counted(n: int) -> str:
    return f"{n} user" if n == 1 else f"{n} users"


async def guard_release(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    done = await guard.release(gw, pid, actor=admins.actor(session.admin))
    return redirect(gw, f"/providers/{pid}/guard",
                    f"Released {done['released']} held deactivations: {counted(done['released'])}"
                    " now follow the provider's deactivation delay; the guard is "
                    f"{done['guard']['state']} again")


async def guard_discard(request: Request, gw: Gateway, session: Session) -> Response:
    pid = request.path_params["id"]
    done = await guard.discard(gw, pid, actor=admins.actor(session.admin))
    return redirect(gw, f"/providers/{pid}/guard",
                    f"Discarded {done['discarded']} held deactivations: "
                    f"{counted(done['discarded'])} active and unblocked again; the guard is "
                    f"{done['guard']['state']} again")


def routes(page: Any) -> list[BaseRoute]:
    return [
        page("/providers/{id}/guard", guard_settings, ("POST",)),
        page("/providers/{id}/guard/release", guard_release, ("POST",)),
        page("/providers/{id}/guard/discard", guard_discard, ("POST",)),
    ]

"""The mass-deactivation guard: a provider that deactivates (active=false) or deletes more
users within a sliding window than its threshold allows is stopped.

Every provider deactivation that would take a user out of use passes ``screen`` in the
change's own transaction. Armed, the guard notes the user in the window and compares: more
than ``max_users`` users AND more than ``max_percent`` % of the users that were active when
the window began trips it. The change that trips it and every later deactivation from the
provider are held: the IdP gets its usual answer, the user is blocked (state
``deactivation_held``), nothing is scheduled. The trip raises one alert (a sync-log entry and
the event ``provider.deactivation_guard_tripped``, delivered like any event). The admin then
releases the held deactivations (each proceeds as a fresh one, with the provider's delay) or
discards them (each user is restored as it was before), which re-arms the guard with an
empty window. A provider's reactivation of a held user drops its held deactivation.

Docs: docs/lifecycle.md, "The mass-deactivation guard".
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gateway.accounts import lifecycle, providers
from gateway.clock import format_time, parse_duration
from gateway.context import RequestContext, in_batch
from gateway.errors import Conflict, GatewayError
from gateway.events.payload import event_data
from gateway.events.synclog_write import committed, emit, record
from gateway.ids import new_id
from gateway.params import INT64_MAX
from gateway.scim.resource import copy_data
from gateway.store import guard as queries
from gateway.store import resources
from gateway.store.base import Conn, ProviderRow, ResourceRow
from gateway.store.providers import find_provider

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.guard")
ACTOR = "deactivation_guard"
OFF, ARMED, TRIPPED = "off", "armed", "tripped"
BATCH = 200  # held users released or discarded per transaction
MAX_WINDOW = 30 * 86400.0
LEASE = 60.0  # seconds a release or discard holds off another one, renewed every batch


class GuardError(GatewayError):
    """A request about a deactivation guard that cannot be carried out (a 4xx)."""


# The check on every provider deactivation -------------------------------------------------

async def screen(gw: Gateway, conn: Conn, provider: Any, row: ResourceRow,
                 decision: lifecycle.Decision, change: str
                 ) -> tuple[lifecycle.Decision, list[dict]]:
    """The decision as the guard lets it stand, and the events the guard wrote (its alert).

    `change` is "deactivate" or "delete". Only a decision that takes the user out of use is
    screened; one the guard holds comes back as ``lifecycle.HOLD``, its held row written.
    """
    if provider is None or not lifecycle.deactivates(decision):
        return decision, []
    now = gw.clock.now()
    stamp = format_time(now)
    guard = await queries.locked_row(conn, provider.id, stamp)
    if not guard["enabled"]:
        return decision, []
    if guard["state"] == TRIPPED:
        await hold(conn, provider.id, row, guard["trips"], change, stamp)
        return lifecycle.HOLD, []
    since = format_time(now - timedelta(seconds=parse_duration(guard["window_length"])))
    count = await queries.note_change(conn, provider.id, row.id, stamp, since)
    if count <= guard["max_users"]:
        return decision, []
    base = await window_base(conn, guard, count, stamp, since)
    if count * 100 <= guard["max_percent"] * base:
        return decision, []
    trip = await queries.trip(conn, provider.id, stamp, count, base, row.id)
    if trip is None:  # not armed after all; the row lock makes this unreachable
        return decision, []
    await hold(conn, provider.id, row, trip, change, stamp)
    alert = await raise_alert(gw, conn, provider, guard, trip, count, base, row.id)
    return lifecycle.HOLD, [alert]


async def window_base(conn: Conn, guard: dict, count: int, now: str, since: str) -> int:
    """The users that were active when the window began: those active now plus those
    deactivated within it (this one is still active). Counted once per window, on an
    index, the first time the absolute threshold is passed."""
    if guard["base_at"] is not None and guard["base_at"] > since:
        return int(guard["base_users"])
    base = await queries.active_users(conn, guard["provider_id"]) + count - 1
    await queries.save_base(conn, guard["provider_id"], base, now)
    return base


async def hold(conn: Conn, provider_id: str, row: ResourceRow, trip: int, change: str,
               now: str) -> None:
    groups = [g["value"] for g in (await resources.groups_of(conn, [row.id]))[row.id]]
    await queries.hold(conn, provider_id, row.id, trip, change, now, groups)


async def held_deleted(conn: Conn, row: ResourceRow) -> None:
    """The provider deletes a user whose deactivation is held: a discard restores it with
    the groups the delete takes it out of."""
    groups = [g["value"] for g in (await resources.groups_of(conn, [row.id]))[row.id]]
    await queries.held_delete(conn, row.id, groups)


async def drop(conn: Conn, row: ResourceRow) -> None:
    """The user leaves the held set (a reactivation, or an admin's own action)."""
    if row.state == lifecycle.HELD:
        await queries.claim_held(conn, row.id)


def context(provider: Any, actor: str = ACTOR, batch: str | None = None) -> RequestContext:
    return RequestContext(provider=provider, actor=actor, batch=batch)


async def raise_alert(gw: Gateway, conn: Conn, provider: ProviderRow, guard: dict, trip: int,
                      count: int, base: int, first: str) -> dict:
    data = {
        "provider": {"id": provider.id, "name": provider.name}, "trip": trip,
        "window": guard["window_length"], "threshold": threshold(guard),
        "counts": {"deactivations_in_window": count, "active_users": base, "held": 1},
        "first_held": first, "last_held": first, "tripped_at": gw.clock.stamp(),
    }
    log.warning("deactivation guard of provider %s (%s) tripped: %d users deactivated within "
                "%s, of %d active; later deactivations are held until an admin releases or "
                "discards them", provider.name, provider.id, count, guard["window_length"],
                base)
    return await record(
        gw, conn, context(provider), operation="deactivation_guard_trip",
        event_type="provider.deactivation_guard_tripped", resource_type="Provider",
        resource_id=provider.id, before={"state": ARMED},
        after={"state": TRIPPED, **data["counts"], "first_held": first},
        reason="mass_deactivation", data=data)


# What the admin sees ---------------------------------------------------------------------

def threshold(guard: dict) -> dict:
    percent = float(guard["max_percent"])
    return {"users": int(guard["max_users"]),
            "percent": int(percent) if percent.is_integer() else percent}


def state_of(guard: dict) -> str:
    if guard["state"] == TRIPPED:
        return TRIPPED
    return ARMED if guard["enabled"] else OFF


async def view(gw: Gateway, conn: Conn, provider_id: str) -> dict:
    guard = await queries.guard_row(conn, provider_id) or \
        {**queries.DEFAULTS, "provider_id": provider_id}
    since = format_time(gw.clock.now() -
                        timedelta(seconds=parse_duration(guard["window_length"])))
    return {
        "provider": provider_id, "state": state_of(guard),
        "held": await queries.held_count(conn, provider_id),
        "threshold": threshold(guard), "window": guard["window_length"],
        "tripped_at": guard["tripped_at"] if guard["state"] == TRIPPED else None,
        "recent": await queries.recent(conn, provider_id, since) if guard["enabled"] else 0,
        "trips": guard["trips"],
        "last_trip": None if not guard["trips"] else {
            "tripped_at": guard["tripped_at"], "deactivations_in_window": guard["trip_count"],
            "active_users": guard["trip_base"], "first_held": guard["first_held"],
            "last_held": guard["last_held"]},
    }


async def provider_or_404(conn: Conn, id_or_name: str) -> ProviderRow:
    """The provider by id or name; 404 naming the known ones and the closest."""
    return await providers.resolve(conn, id_or_name)


async def guard_state(gw: Gateway, provider_id: str) -> dict | None:
    """The guard of a provider (id or name) as the admin API shows it: ``state`` ("off",
    "armed", "tripped"), ``held`` (deactivations held now), threshold, window, trips...; None
    when there is no such provider. Metrics read ``state`` and ``held`` as gauges."""
    async with gw.store.read() as conn:
        provider = await find_provider(conn, provider_id)
        return None if provider is None else await view(gw, conn, provider.id)


async def guard_states(gw: Gateway) -> list[dict]:
    """Every provider's guard state and held count in one query, for gauges:
    ``[{"provider_id", "state", "held", "trips"}]``."""
    async with gw.store.read() as conn:
        rows = await queries.all_guards(conn)
    return [{"provider_id": r["provider_id"], "state": state_of(r), "held": int(r["held"]),
             "trips": int(r["trips"])} for r in rows]


async def held_list(gw: Gateway, id_or_name: str, cursor: str | None, limit: int) -> dict:
    """The held deactivations in the order they were held: ``{"user", "change", "held_at",
    "trip"}``; the cursor is the last item's ``held_at|user``."""
    limit = max(1, min(limit, 1000))
    held_at, _, user = (cursor or "").partition("|")
    async with gw.store.read() as conn:
        provider = await provider_or_404(conn, id_or_name)
        rows = await queries.held_page(conn, provider.id, (held_at, user) if user else None,
                                       limit + 1)
    items = [{"user": r["resource_id"], "change": r["change"], "held_at": r["held_at"],
              "trip": r["trip"]} for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items,
            "next_cursor": f"{items[-1]['held_at']}|{items[-1]['user']}" if more else None}


# The admin's settings --------------------------------------------------------------------

def checked_settings(guard: dict, body: Any) -> dict:
    """The guard's settings after a PATCH body: {"enabled", "threshold": {"users",
    "percent"}, "window"}, each optional; 400 for anything else."""
    if not isinstance(body, dict):
        raise GuardError("The body must be a JSON object")
    unknown = set(body) - {"enabled", "threshold", "window"}
    if unknown:
        raise GuardError(f"unknown field(s) {', '.join(sorted(unknown))}; the guard takes "
                         "enabled, threshold {users, percent} and window")
    out = {k: guard[k] for k in queries.SETTINGS}
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise GuardError("'enabled' must be true or false")
        out["enabled"] = int(body["enabled"])
    if "threshold" in body:
        limits = body["threshold"]
        if not isinstance(limits, dict) or not limits or set(limits) - {"users", "percent"}:
            raise GuardError("'threshold' is an object with 'users' and/or 'percent'")
        if "users" in limits:
            users = limits["users"]
            if not isinstance(users, int) or isinstance(users, bool) or \
                    not 0 <= users <= INT64_MAX:
                raise GuardError("'threshold.users' must be a whole number from 0 to "
                                 f"{INT64_MAX}")
            out["max_users"] = users
        if "percent" in limits:
            percent = limits["percent"]
            if not isinstance(percent, (int, float)) or isinstance(percent, bool) or \
                    not math.isfinite(percent) or not 0 <= percent <= 100:
                raise GuardError("'threshold.percent' must be a number from 0 to 100")
            out["max_percent"] = float(percent)
    if "window" in body:
        out["window_length"] = checked_window(body["window"])
    return out


def checked_window(value: Any) -> str:
    if not isinstance(value, str):
        raise GuardError("'window' must be a duration such as 60m, 2h or 1d")
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise GuardError(f"'window': {exc}") from None
    if not 0 < seconds <= MAX_WINDOW:
        raise GuardError("'window' must be longer than 0s and at most 30d")
    return value.strip()


async def configure(gw: Gateway, id_or_name: str, body: Any, actor: str = "admin") -> dict:
    """Change a provider's guard (threshold, window, on or off); answers its view. A tripped
    guard cannot be turned off: release or discard its held deactivations first."""
    async with gw.store.write() as conn:
        provider = await provider_or_404(conn, id_or_name)
        now = gw.clock.stamp()
        guard = await queries.locked_row(conn, provider.id, now)
        wanted = checked_settings(guard, body)
        if guard["state"] == TRIPPED and not wanted["enabled"]:
            raise Conflict(f"the deactivation guard of provider '{provider.name}' has tripped "
                           "and holds deactivations; release or discard them first")
        before = await view(gw, conn, provider.id)
        await queries.save_settings(conn, provider.id, wanted, now)
        if wanted["enabled"] and not guard["enabled"]:
            await queries.rearm(conn, provider.id, now)  # the window starts empty
        after = await view(gw, conn, provider.id)
        settings = ("state", "threshold", "window")
        event = await record(
            gw, conn, context(provider, actor), operation="deactivation_guard_update",
            event_type="provider.deactivation_guard_changed", resource_type="Provider",
            resource_id=provider.id, before={k: before[k] for k in settings},
            after={k: after[k] for k in settings},
            data={"provider": {"id": provider.id, "name": provider.name},
                  "before": {k: before[k] for k in settings},
                  "after": {k: after[k] for k in settings}})
    await committed(gw, [event])
    return after


# Ending a trip ---------------------------------------------------------------------------

async def release(gw: Gateway, id_or_name: str, actor: str = "admin") -> dict:
    """Let every held deactivation proceed as a fresh one (the provider's delay, the
    lifecycle_decision hooks) and re-arm the guard; answers ``{"released": n, "guard"}``."""
    return await end_trip(gw, id_or_name, "release", actor)


async def discard(gw: Gateway, id_or_name: str, actor: str = "admin") -> dict:
    """Undo every held deactivation (the user is active and unblocked, `active` is true
    again and a held DELETE is undone, with its groups) and re-arm the guard; answers
    ``{"discarded": n, "guard"}``."""
    return await end_trip(gw, id_or_name, "discard", actor)


async def end_trip(gw: Gateway, id_or_name: str, how: str, actor: str) -> dict:
    """Re-arm first (so the provider's next change counts afresh), then carry out the held
    deactivations of this trip and the earlier ones, a batch per transaction, under a lease
    that a second call meanwhile is refused by. Should the process stop half-way, the rest
    stay held and a call once the lease has run out finishes them."""
    async with gw.store.write() as conn:
        provider = await provider_or_404(conn, id_or_name)
        now = gw.clock.now()
        guard = await queries.locked_row(conn, provider.id, format_time(now))
        if guard["state"] != TRIPPED:
            if not await queries.held_count(conn, provider.id):
                raise Conflict(f"the deactivation guard of provider '{provider.name}' has "
                               "not tripped; nothing is held")
            if guard["ending_until"] and guard["ending_until"] > format_time(now):
                raise Conflict(f"the held deactivations of provider '{provider.name}' are "
                               "being released or discarded already")
        if guard["state"] == TRIPPED:
            await queries.rearm(conn, provider.id, format_time(now))
        await queries.ending(conn, provider.id, lease(gw))
    step = release_one if how == "release" else discard_one
    batch = new_id()  # the entries of this release or discard, listed as one
    done = 0
    while True:
        events: list[dict] = []
        async with gw.store.write() as conn:
            ids = await queries.held_ids(conn, provider.id, guard["trips"], BATCH)
            for rid in ids:
                with in_batch(batch):  # and what hooks record meanwhile
                    written = await step(gw, conn, provider, rid,
                                         context(provider, actor, batch))
                if written:
                    done += 1
                    events += written
            await queries.ending(conn, provider.id, lease(gw))
        await committed(gw, events)
        if len(ids) < BATCH:
            break
    counted = "released" if how == "release" else "discarded"
    async with gw.store.write() as conn:
        await queries.ending(conn, provider.id, None)
        after = await view(gw, conn, provider.id)
        event = await record(
            gw, conn, context(provider, actor, batch), operation=f"deactivation_guard_{how}",
            event_type=f"provider.deactivation_guard_{counted}", resource_type="Provider",
            resource_id=provider.id, before={"state": state_of(guard)},
            after={"state": after["state"], counted: done},
            data={"provider": {"id": provider.id, "name": provider.name},
                  "trip": guard["trips"], counted: done})
    await committed(gw, [event])
    return {counted: done, "guard": after}


def lease(gw: Gateway) -> str:
    return format_time(gw.clock.now() + timedelta(seconds=LEASE))


async def claim(conn: Conn, rid: str) -> tuple[ResourceRow, dict] | None:
    """The user (locked first: every writer locks the user before its held row) and its
    held deactivation, taken out of the set; None when another transaction took it, or the
    user is no longer held."""
    row = await resources.get_any(conn, rid, lock=True)
    held = await queries.claim_held(conn, rid)
    if row is None or held is None or row.state != lifecycle.HELD:
        return None
    return row, held


async def save(gw: Gateway, conn: Conn, row: ResourceRow) -> None:
    row.version += 1
    row.last_modified = gw.clock.stamp()
    await resources.update(conn, row, row.version - 1)


async def release_one(gw: Gateway, conn: Conn, provider: ProviderRow, rid: str,
                      ctx: RequestContext) -> list[dict]:
    claimed = await claim(conn, rid)
    if claimed is None:
        return []
    row, held = claimed
    before, marks = (row.state, row.block_reason), lifecycle.marks(row)
    decision = await lifecycle.decide(gw, conn, provider, lifecycle.hook_user(row),
                                      held["change"])
    event_type = lifecycle.apply_deactivation(
        gw, row, decision, block=lifecycle.blocks_during_delay(provider))
    await save(gw, conn, row)
    await lifecycle.schedule_row(conn, row, decision.reason)
    written = [await record(
        gw, conn, ctx, operation="deactivation_guard_release", event_type=event_type,
        resource_type="User", resource_id=rid, before=marks, after=lifecycle.marks(row),
        reason=decision.reason,
        data=await event_data(gw, provider, row, row.data, {"reason": decision.reason},
                              conn=conn))]
    extra = lifecycle.block_change(before, row, event_type, "deactivation_guard_released")
    if extra:
        written.append(await emit(
            gw, conn, ctx, extra[0], resource_type="User", resource_id=rid,
            data=await event_data(gw, provider, row, row.data, {"reason": extra[1]},
                                  conn=conn)))
    return written


async def discard_one(gw: Gateway, conn: Conn, provider: ProviderRow, rid: str,
                      ctx: RequestContext) -> list[dict]:
    """The held change is undone: the user is active, `active` reads true to the IdP again
    and a deleted user is visible to it again, back in the groups the delete took it out
    of, so that the provider's next deactivation of it is a change like any other."""
    claimed = await claim(conn, rid)
    if claimed is None:
        return []
    row, held = claimed
    reason = "deactivation_guard_discarded"
    before_data, marks = copy_data(row.data), lifecycle.marks(row)
    gone = row.hidden
    if row.data.get("active") is False:
        row.data = {**row.data, "active": True}
    row.state, row.block_reason, row.deactivate_at, row.hidden = \
        lifecycle.ACTIVE, None, None, False
    await save(gw, conn, row)
    written = [await record(
        gw, conn, ctx, operation="deactivation_guard_discard", event_type="user.unblocked",
        resource_type="User", resource_id=rid,
        before={**marks, "provider_state": "deleted" if gone else "inactive"},
        after={**lifecycle.marks(row), "provider_state": "active"}, reason=reason,
        data=await event_data(gw, provider, row, before_data, {"reason": reason}, conn=conn))]
    for gid in held["groups"] if gone else ():
        group = await resources.get(conn, provider.id, "Group", gid)
        if group is None or not await resources.add_members(conn, provider.id, gid, [rid]):
            continue
        written.append(await record(
            gw, conn, ctx, operation="deactivation_guard_discard",
            event_type="group.members_added", resource_type="Group", resource_id=gid,
            before=None, after={"members_added": [rid]}, reason=reason,
            data=await event_data(gw, provider, group, group.data,
                                  {"members_added": [rid]})))
    return written

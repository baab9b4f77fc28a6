"""SCIM writes, free of HTTP: normalize -> validate -> lifecycle -> one transaction.

Each write stores the resource, its membership rows, its sync-log entry and its outbox event
in one transaction; a refused write is logged as a failure and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import msgspec

from gateway.accounts import custom_attributes, guard, lifecycle
from gateway.context import RequestContext
from gateway.events.payload import event_data
from gateway.events.synclog_write import committed, emit, log_failure, log_unchanged, record
from gateway.ids import new_id
from gateway.provisioning import group_names
from gateway.provisioning.members import apply_member_changes, check_members, take_members
from gateway.provisioning.render import etag, render
from gateway.scim.custom import Undeclared
from gateway.scim.errors import ScimError
from gateway.scim.patch import (
    MemberChange,
    PatchOperation,
    PatchResult,
    apply_patch,
    parse_patch_request,
)
from gateway.scim.resource import canonical_resource, copy_data
from gateway.scim.schema import ResourceType
from gateway.store import resources
from gateway.store.base import Conn, IntegrityError, ResourceRow
from gateway.store.resources import LOCAL

if TYPE_CHECKING:
    from gateway.core import Gateway

T = TypeVar("T")


def owner(ctx: RequestContext) -> str:
    return getattr(ctx.provider, "id", LOCAL)


def check_version(row: ResourceRow, if_match: str | None) -> None:
    """RFC 7644 3.14: a stale If-Match answers 412 and nothing is written."""
    if not if_match or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    current = etag(row.version)
    if current not in wanted and current.removeprefix("W/") not in wanted:
        raise ScimError(412, f"The resource has changed: its version is now {current}")


def require(data: dict, rtype: ResourceType) -> None:
    for attr in rtype.schema.attributes:
        if attr.required and attr.name not in data:
            raise ScimError(400, f"'{attr.name}' is required for a {rtype.name}", "invalidValue")


async def normalize(gw: Gateway, ctx: RequestContext, rtype: ResourceType, operation: str,
                    body: Any, current: dict | None) -> Any:
    return await gw.hooks.chain(
        "normalize_request", "body", body, provider=ctx.provider,
        resource_type=rtype.name, operation=operation, current=current, gateway=gw,
    )


async def validate(gw: Gateway, ctx: RequestContext, rtype: ResourceType, data: dict,
                   operation: str) -> None:
    await gw.hooks.call("validate_resource", provider=ctx.provider, resource_type=rtype.name,
                        resource=data, operation=operation, gateway=gw)


async def log_refusal(gw: Gateway, ctx: RequestContext, operation: str, rtype: ResourceType,
                      rid: str | None, error: ScimError, attempted: Any = None) -> None:
    await log_failure(gw, ctx, operation=operation, resource_type=rtype.name,
                             resource_id=rid, status=error.status, detail=error.detail,
                             attempted=attempted)


async def _conflict(conn: Conn, pid: str, data: dict) -> ScimError:
    if pid != LOCAL and await resources.find_by_name(conn, LOCAL, data["userName"]):
        return ScimError(409, f"userName '{data['userName']}' belongs to a local user of this "
                              "application; identity providers cannot create or change it",
                         "uniqueness")
    return ScimError(409, f"A User with userName '{data['userName']}' already exists",
                     "uniqueness")


async def _local_name(conn: Conn, pid: str, data: dict, old_key: str | None) -> bool:
    """A provider renaming its user to a local user's userName (those are reserved)."""
    name = data.get("userName")
    return pid != LOCAL and isinstance(name, str) and name.lower() != old_key \
        and await resources.find_by_name(conn, LOCAL, name) is not None


async def logged(gw: Gateway, ctx: RequestContext, operation: str, rtype: ResourceType,
                 rid: str | None, attempted: Any, write: Awaitable[T]) -> T:
    """The write's answer; a refusal is also written to the sync log, in a transaction of its
    own (the write's rolled back)."""
    try:
        return await write
    except ScimError as error:
        await log_refusal(gw, ctx, operation, rtype, rid, error, attempted)
        raise


async def create(gw: Gateway, ctx: RequestContext, rtype: ResourceType, body: Any) -> dict:
    return await logged(gw, ctx, "create", rtype, None, body, _create(gw, ctx, rtype, body))


async def _create(gw: Gateway, ctx: RequestContext, rtype: ResourceType, body: Any) -> dict:
    pid = owner(ctx)
    body = await normalize(gw, ctx, rtype, "create", body, None)
    undeclared = custom_attributes.policy(gw, ctx.provider)
    data = canonical_resource(body, rtype, gw.settings.max_attribute_values, undeclared)
    member_ids = take_members(data, rtype)
    require(data, rtype)
    await validate(gw, ctx, rtype, data, "create")
    now = gw.clock.stamp()
    external_id, name_key, display_key = resources.keys_for(rtype.name, data)
    async with gw.store.write() as conn:
        await custom_attributes.tally(gw, conn, pid, rtype.name, undeclared)
        if rtype.name == "User":
            # A local user's name is reserved; a deleted user of the provider comes back.
            local, deleted = await resources.before_create(
                conn, pid, data["userName"], data.get("externalId"), reserved=pid != LOCAL)
            if local:
                raise await _conflict(conn, pid, data)
            reclaimed = await reclaim(gw, conn, ctx, pid, data, deleted,
                                      custom_attributes.note(undeclared))
            if reclaimed is not None:
                return render(reclaimed, rtype, gw.base_url(pid), [])
        else:
            await group_names.claim(gw, conn, ctx, data)
        row = ResourceRow(
            provider_id=pid, id=new_id(), type=rtype.name, external_id=external_id,
            name_key=name_key, display_key=display_key, data=data, version=1, created=now,
            last_modified=now,
            state=lifecycle.DEACTIVATED if data.get("active") is False else lifecycle.ACTIVE,
        )
        if not await resources.insert_new(conn, row):
            raise await _conflict(conn, pid, data)
        members = []
        if member_ids:
            await check_members(conn, pid, member_ids)
            await resources.add_members(conn, pid, row.id, member_ids)
            members = (await resources.members_of(conn, [row.id]))[row.id]
        kind = rtype.name.lower()
        event = await record(
            gw, conn, ctx, operation="create", event_type=f"{kind}.created",
            resource_type=rtype.name, resource_id=row.id, before=None,
            after={**data, **({"members": member_ids} if member_ids else {})},
            data=await event_data(gw, ctx.provider, row, None,
                                  {"members": member_ids} if member_ids else None, conn=conn),
            detail=custom_attributes.note(undeclared),
        )
    await committed(gw, [event])
    return render(row, rtype, gw.base_url(pid), members)


async def reclaim(gw: Gateway, conn: Conn, ctx: RequestContext, pid: str, data: dict,
                  found: str | None, detail: str | None = None) -> ResourceRow | None:
    """A POST for a user this provider deleted (``found``, from resources.before_create):
    the same user comes back (same id)."""
    if found is None:
        return None
    row = await resources.get(conn, pid, "User", found, include_hidden=True, lock=True)
    if row is None or not row.hidden:  # another request brought it back first
        return None
    before = copy_data(row.data)
    old_state, status = row.state, (row.state, row.block_reason)
    row.data = data
    row.external_id, row.name_key, row.display_key = resources.keys_for("User", data)
    row.hidden, row.version, row.last_modified = False, row.version + 1, gw.clock.stamp()
    if old_state != lifecycle.BLOCKED and data.get("active") is not False:
        await guard.drop(conn, row)
        row.state, row.deactivate_at, row.block_reason = lifecycle.ACTIVE, None, None
    try:
        await resources.update(conn, row, row.version - 1)
    except IntegrityError:
        raise await _conflict(conn, pid, data) from None
    await lifecycle.schedule_row(conn, row, None)
    await record(
        gw, conn, ctx, operation="create", event_type="user.restored", resource_type="User",
        resource_id=row.id, before={"state": old_state, **before},
        after={"state": row.state, **data}, reason="reclaimed_by_create",
        data=await event_data(gw, ctx.provider, row, before, conn=conn), detail=detail,
    )
    unblocked = lifecycle.block_change(status, row, "user.restored", "reclaimed_by_create")
    if unblocked:
        await emit(gw, conn, ctx, unblocked[0], resource_type="User", resource_id=row.id,
                   data=await event_data(gw, ctx.provider, row, before,
                                         {"reason": unblocked[1]}, conn=conn))
    return row


async def load(conn: Conn, pid: str, rtype: ResourceType, rid: str) -> ResourceRow:
    row = await resources.get(conn, pid, rtype.name, rid, lock=True)
    if row is None:
        raise ScimError(404, f"{rtype.name} {rid} not found")
    return row


async def replace(gw: Gateway, ctx: RequestContext, rtype: ResourceType, rid: str, body: Any,
                  if_match: str | None = None) -> dict:
    return await logged(gw, ctx, "replace", rtype, rid, body,
                        _update(gw, ctx, rtype, rid, "replace", body, if_match))


async def patch(gw: Gateway, ctx: RequestContext, rtype: ResourceType, rid: str, body: Any,
                if_match: str | None = None) -> dict:
    return await logged(gw, ctx, "patch", rtype, rid, body,
                        _update(gw, ctx, rtype, rid, "patch", body, if_match))


def _immutable(rtype: ResourceType, old: dict, new: dict) -> None:
    for attr in rtype.schema.attributes:
        if attr.mutability == "immutable" and attr.name in old and \
                new.get(attr.name) != old[attr.name]:
            raise ScimError(400, f"'{attr.name}' is immutable", "mutability")


async def _update(gw: Gateway, ctx: RequestContext, rtype: ResourceType, rid: str,
                  operation: str, body: Any, if_match: str | None) -> dict:
    pid = owner(ctx)
    undeclared = custom_attributes.policy(gw, ctx.provider)
    async with gw.store.write() as conn:
        row = await load(conn, pid, rtype, rid)
        check_version(row, if_match)
        before = copy_data(row.data)
        scheduled = (row.state, row.deactivate_at)
        old_block = row.block_reason
        new_data, changes = await _read_update(gw, ctx, rtype, row, operation, body, before,
                                               undeclared)
        await _check_update(gw, conn, ctx, rtype, row, new_data, operation, undeclared)
        added, removed = await apply_member_changes(conn, pid, rid, changes)
        change = Change(f"{rtype.name.lower()}.updated")
        if rtype.name == "User":
            change = await _active_change(gw, conn, ctx, row, before, new_data)
        if new_data == before and not added and not removed and \
                change.event_type.endswith(".updated"):
            await log_unchanged(gw, conn, ctx, operation=operation, resource_type=rtype.name,
                                resource_id=rid, received=body,
                                detail=custom_attributes.note(undeclared))
            return await _respond(conn, gw, rtype, row, pid, operation)
        await _write_update(gw, conn, rtype, row, pid, new_data, scheduled, change.reason)
        written = await _update_events(gw, conn, ctx, rtype, operation, row, before, old_block,
                                       change, added, removed, undeclared)
        response = await _respond(conn, gw, rtype, row, pid, operation)
    await committed(gw, written)
    return response


async def _read_update(gw: Gateway, ctx: RequestContext, rtype: ResourceType,
                       row: ResourceRow, operation: str, body: Any, before: dict,
                       undeclared: Undeclared | None) -> tuple[dict, list[MemberChange]]:
    """The body, normalized by the plugins, as the resource's new data and its membership
    changes."""
    if gw.hooks.wanted("normalize_request", ctx.provider):  # the current state, for them
        body = await normalize(gw, ctx, rtype, operation, body,
                               render(row, rtype, gw.base_url(owner(ctx))))
    if operation == "patch":
        result = await patched(gw, row, rtype, body, undeclared)
        return result.data, result.member_changes
    new_data = canonical_resource(body, rtype, gw.settings.max_attribute_values, undeclared)
    listed = take_members(new_data, rtype)
    changes = [MemberChange(action="replace", ids=tuple(listed or ()))] \
        if rtype.name == "Group" else []
    _immutable(rtype, before, new_data)
    return new_data, changes


async def _check_update(gw: Gateway, conn: Conn, ctx: RequestContext, rtype: ResourceType,
                        row: ResourceRow, new_data: dict, operation: str,
                        undeclared: Undeclared | None) -> None:
    """Everything that may refuse the new data before it is written."""
    pid = owner(ctx)
    require(new_data, rtype)
    await validate(gw, ctx, rtype, new_data, operation)
    if rtype.name == "User" and await _local_name(conn, pid, new_data, row.name_key):
        raise await _conflict(conn, pid, new_data)
    await custom_attributes.tally(gw, conn, pid, rtype.name, undeclared)
    if rtype.name == "Group":
        await group_names.claim(gw, conn, ctx, new_data, row.id, row.display_key)


async def _write_update(gw: Gateway, conn: Conn, rtype: ResourceType, row: ResourceRow,
                        pid: str, new_data: dict, scheduled: tuple[str, str | None],
                        reason: str | None) -> None:
    """The row with its new data and version, and its lifecycle schedule when it moved."""
    row.data = new_data
    old_name = row.name_key
    row.external_id, row.name_key, row.display_key = resources.keys_for(rtype.name, new_data)
    row.version += 1
    row.last_modified = gw.clock.stamp()
    try:
        await resources.update(conn, row, row.version - 1, same_name=row.name_key == old_name)
    except IntegrityError:
        raise await _conflict(conn, pid, new_data) from None
    if (row.state, row.deactivate_at) != scheduled:
        await lifecycle.schedule_row(conn, row, reason)


async def _update_events(gw: Gateway, conn: Conn, ctx: RequestContext, rtype: ResourceType,
                         operation: str, row: ResourceRow, before: dict,
                         old_block: str | None, change: Change, added: set[str],
                         removed: set[str], undeclared: Undeclared | None) -> list[dict]:
    """The update's sync-log entries and events: the change itself, a block it brought or
    lifted, the guard's alerts, the members added and removed."""
    rid, new_data = row.id, row.data
    event_type, reason = change.event_type, change.reason
    written = list(change.alerts)
    if new_data != before or event_type != f"{rtype.name.lower()}.updated":
        written.append(await record(
            gw, conn, ctx, operation=operation, event_type=event_type,
            resource_type=rtype.name, resource_id=rid,
            before=before if rtype.name == "Group" else
            {"state": _state(before), **_blocked(old_block), **before},
            after=new_data if rtype.name == "Group" else
            {"state": row.state, **_blocked(row.block_reason), **new_data},
            data=await event_data(gw, ctx.provider, row, before,
                                  {"reason": reason} if reason else None, conn=conn),
            reason=reason, detail=custom_attributes.note(undeclared),
        ))
    if change.also:
        written.append(await emit(
            gw, conn, ctx, change.also[0], resource_type="User", resource_id=rid,
            data=await event_data(gw, ctx.provider, row, before, {"reason": change.also[1]},
                                  conn=conn)))
    for kind, ids in (("members_added", added), ("members_removed", removed)):
        if ids:
            written.append(await record(
                gw, conn, ctx, operation=operation, event_type=f"group.{kind}",
                resource_type="Group", resource_id=rid, before=None,
                after={kind: sorted(ids)},
                data=await event_data(gw, ctx.provider, row, row.data, {kind: sorted(ids)}),
            ))
    return written


# A PATCH past these sizes is applied on a worker thread: the event loop keeps answering
# other providers, the admin API and /healthz meanwhile (the write lock stays held).
INLINE_OPERATIONS = 8
INLINE_VALUES = 32
INLINE_PATH = 256


async def patched(gw: Gateway, row: ResourceRow, rtype: ResourceType, body: Any,
                  undeclared: Undeclared | None = None) -> PatchResult:
    ops = parse_patch_request(body, gw.settings.patch_max_operations)
    apply = partial(apply_patch, row.data, ops, rtype, resource_id=row.id,
                    max_values=gw.settings.max_attribute_values, undeclared=undeclared)
    if _small(ops, row.data):  # what IdPs send: a few operations on a few values
        return apply()
    return await anyio.to_thread.run_sync(partial(apply, between=Yielder(YIELD_EVERY)))


YIELD_EVERY = 0.001  # seconds of a PATCH's work on its thread between two yields


class Yielder:
    """Called between a PATCH's operations on its worker thread: every ``seconds`` it lets go
    of the interpreter, so that the event loop does not wait a whole switch interval (5 ms)
    each time it wants it back. Not after every operation: a hundred member removals take
    well under a millisecond each, and a yield after each cost more than the operations."""

    __slots__ = ("seconds", "last")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last = time.perf_counter()

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self.last >= self.seconds:
            time.sleep(0)
            self.last = time.perf_counter()


def _small(ops: list[PatchOperation], data: dict) -> bool:
    if len(ops) > INLINE_OPERATIONS:
        return False
    for op in ops:
        if op.path is not None and len(op.path) > INLINE_PATH or _values(op.value) > INLINE_VALUES:
            return False
    return _values(data) <= INLINE_VALUES


def _values(value: Any, depth: int = 2) -> int:
    """The length of the longest list within two levels of `value`."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and depth:
        return max((_values(item, depth - 1) for item in value.values()), default=0)
    return 0


def _state(data: dict) -> str:
    return "inactive" if data.get("active") is False else "active"


def _blocked(block_reason: str | None) -> dict:
    """A sync-log entry names the block reason of a blocked user."""
    return {} if block_reason is None else {"block_reason": block_reason}


async def _respond(conn: Conn, gw: Gateway, rtype: ResourceType, row: ResourceRow, pid: str,
                   operation: str) -> dict:
    """The resource after a write. A Group PATCH answers without its member list (204 at the
    HTTP layer) so that editing a large group never reads all of its rows."""
    if rtype.name == "Group":
        if operation == "patch":
            return render(row, rtype, gw.base_url(pid))
        multi = (await resources.members_of(conn, [row.id]))[row.id]
    else:
        multi = (await resources.groups_of(conn, [row.id]))[row.id]
    return render(row, rtype, gw.base_url(pid), multi)


class Change(msgspec.Struct):
    """What a provider's write means for the user's lifecycle."""

    event_type: str = "user.updated"
    reason: str | None = None
    also: tuple[str, str | None] | None = None  # user.blocked / user.unblocked beside it
    alerts: list[dict] = []  # events the deactivation guard wrote


async def _active_change(gw: Gateway, conn: Conn, ctx: RequestContext, row: ResourceRow,
                         before: dict, after: dict) -> Change:
    """A provider changed `active`: the state the user moves to, and its events."""
    was = before.get("active") is not False
    now = after.get("active") is not False
    if was == now or row.state == lifecycle.BLOCKED:
        return Change()
    status = (row.state, row.block_reason)
    if not now:
        if row.state in (lifecycle.DEACTIVATED, lifecycle.HELD):  # already out of use
            return Change()
        decision = await lifecycle.decide(gw, conn, ctx.provider,
                                          lifecycle.hook_user(row, after), "deactivate")
        decision, alerts = await guard.screen(gw, conn, ctx.provider, row, decision,
                                              "deactivate")
        event = lifecycle.apply_deactivation(gw, row, decision,
                                             lifecycle.blocks_during_delay(ctx.provider))
        return Change(event, decision.reason, lifecycle.block_change(status, row, event, None),
                      alerts)
    await guard.drop(conn, row)
    back = lifecycle.reactivation(row)
    if back is None:
        return Change()
    why = "provider_reactivation"
    return Change(back, why, lifecycle.block_change(status, row, back, why))


async def delete(gw: Gateway, ctx: RequestContext, rtype: ResourceType, rid: str,
                 if_match: str | None = None) -> None:
    await logged(gw, ctx, "delete", rtype, rid, None, _delete(gw, ctx, rtype, rid, if_match))


async def _delete(gw: Gateway, ctx: RequestContext, rtype: ResourceType, rid: str,
                  if_match: str | None) -> None:
    pid = owner(ctx)
    async with gw.store.write() as conn:
        row = await load(conn, pid, rtype, rid)
        check_version(row, if_match)
        before = copy_data(row.data)
        if rtype.name == "Group":
            # The event names the former members: their rows go with the group.
            former = await resources.member_ids(conn, rid)
            await resources.delete(conn, rid)
            event = await record(
                gw, conn, ctx, operation="delete", event_type="group.deleted",
                resource_type="Group", resource_id=rid, before=before, after=None,
                data=await event_data(gw, ctx.provider, row, before,
                                      {"members_removed": sorted(former)} if former else None),
            )
            written = [event]
        else:
            written = await _delete_user(gw, conn, ctx, row, before)
    await committed(gw, written)


async def _delete_user(gw: Gateway, conn: Conn, ctx: RequestContext, row: ResourceRow,
                       before: dict) -> list[dict]:
    """The IdP sees the user gone at once; the account follows the lifecycle decision and its
    data is kept (cold storage), so a POST of the same user during the delay reclaims it."""
    old_state, status = row.state, (row.state, row.block_reason)
    event_type, reason = "user.updated", None
    alerts: list[dict] = []
    if row.state in (lifecycle.ACTIVE, lifecycle.PENDING):
        decision = await lifecycle.decide(gw, conn, ctx.provider, lifecycle.hook_user(row),
                                          "delete")
        if row.state == lifecycle.PENDING and decision.action == "schedule":
            event_type, reason = "user.deactivation_scheduled", decision.reason
        else:
            if row.state == lifecycle.ACTIVE:  # a pending user was screened already
                decision, alerts = await guard.screen(gw, conn, ctx.provider, row, decision,
                                                      "delete")
            event_type = lifecycle.apply_deactivation(
                gw, row, decision, lifecycle.blocks_during_delay(ctx.provider))
            reason = decision.reason
    elif row.state == lifecycle.HELD:
        await guard.held_deleted(conn, row)
    row.hidden = True
    row.version += 1
    row.last_modified = gw.clock.stamp()
    await resources.update(conn, row, row.version - 1)
    await resources.leave_all_groups(conn, row.id)
    await lifecycle.schedule_row(conn, row, reason)
    written = [*alerts, await record(
        gw, conn, ctx, operation="delete", event_type="user.deleted", resource_type="User",
        resource_id=row.id, before={"state": old_state, **_blocked(status[1]), **before},
        after=lifecycle.marks(row), reason=reason,
        data=await event_data(gw, ctx.provider, row, before, conn=conn),
    )]
    if event_type != "user.updated" and row.state != old_state:
        written.append(await emit(
            gw, conn, ctx, event_type, resource_type="User", resource_id=row.id,
            data=await event_data(gw, ctx.provider, row, before, {"reason": reason}, conn=conn),
        ))
    also = lifecycle.block_change(status, row, event_type, None)
    if also:
        written.append(await emit(
            gw, conn, ctx, also[0], resource_type="User", resource_id=row.id,
            data=await event_data(gw, ctx.provider, row, before, {"reason": also[1]}, conn=conn),
        ))
    return written

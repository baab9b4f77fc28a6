"""Group membership as rows: the member ids a body names, and PATCH membership edits whose
cost follows the ids named, never the size of the group."""

from __future__ import annotations

from gateway.scim.errors import ScimError
from gateway.scim.patch import MemberChange
from gateway.scim.schema import ResourceType
from gateway.store import resources
from gateway.store.base import Conn


def take_members(data: dict, rtype: ResourceType) -> list[str] | None:
    """Group members leave the data here: they are stored as rows."""
    if rtype.name != "Group" or "members" not in data:
        return None
    ids = []
    for member in data.pop("members"):
        value = member.get("value")
        if not isinstance(value, str) or not value:
            raise ScimError(400, "Each member needs a 'value' with a resource id", "invalidValue")
        ids.append(value)
    return ids


async def check_members(conn: Conn, pid: str, ids: list[str]) -> None:
    missing = set(ids) - await resources.existing_ids(conn, pid, ids)
    if missing:
        raise ScimError(
            400, f"Unknown member id(s): {', '.join(sorted(missing)[:5])}", "invalidValue"
        )


async def apply_member_changes(conn: Conn, pid: str, group_id: str,
                               changes: list[MemberChange]) -> tuple[set[str], set[str]]:
    """Apply PATCH membership edits in order; return the net (added, removed) ids.

    The cost follows the ids named, except for a whole-list replace or remove-all.
    """
    added: set[str] = set()
    removed: set[str] = set()

    def note(now_in: list[str], now_out: list[str]) -> None:
        for mid in now_in:
            if mid in removed:
                removed.discard(mid)
            else:
                added.add(mid)
        for mid in now_out:
            if mid in added:
                added.discard(mid)
            else:
                removed.add(mid)

    for change in merged(changes):
        ids = list(change.ids)
        if change.action in ("replace", "remove_all"):
            keep = set(ids) if change.action == "replace" else set()
            old = set(await resources.member_ids(conn, group_id))
            note([], await resources.remove_members(
                conn, group_id, [mid for mid in old if mid not in keep]))
            ids = [mid for mid in dict.fromkeys(ids) if mid not in old]
            if not ids:
                continue
            change = MemberChange(action="add", ids=tuple(ids))
        if change.action == "add":
            if group_id in ids:
                raise ScimError(400, "A group cannot be a member of itself", "invalidValue")
            await check_members(conn, pid, ids)
            note(await resources.add_members(conn, pid, group_id, ids), [])
        elif change.action == "remove":
            note([], await resources.remove_members(conn, group_id, ids))
    return added, removed


def merged(changes: list[MemberChange]) -> list[MemberChange]:
    """Consecutive adds as one add and consecutive removes as one remove: the same outcome,
    in one lookup and one statement for the run instead of two statements per operation
    (Entra and Okta remove members one ``members[value eq "..."]`` operation at a time,
    a hundred to a PATCH)."""
    out: list[MemberChange] = []
    for change in changes:
        last = out[-1] if out else None
        if last is not None and change.action == last.action and change.action in ("add",
                                                                                   "remove"):
            out[-1] = MemberChange(action=change.action, ids=last.ids + change.ids)
        else:
            out.append(change)
    return out

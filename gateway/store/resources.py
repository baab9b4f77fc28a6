"""Users, groups and membership rows: the queries, shared by both stores.

Callers scope every query by provider; '' is the owner of local users.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from gateway.store.base import Conn, ResourceRow, json_column

LOCAL = ""
_COLUMNS = (
    "provider_id, id, type, external_id, name_key, display_key, data, version, created,"
    " last_modified, state, deactivate_at, hidden, block_reason"
)
RESOURCE_TYPES = frozenset({"User", "Group"})
_R_COLUMNS = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
_json = msgspec.json


def encode(data: dict) -> str:
    return _json.encode(data).decode()


def to_row(row: dict) -> ResourceRow:
    return ResourceRow(
        provider_id=row["provider_id"], id=row["id"], type=row["type"],
        external_id=row["external_id"], name_key=row["name_key"],
        display_key=row["display_key"],
        data=json_column(row["data"]),
        version=row["version"], created=row["created"], last_modified=row["last_modified"],
        state=row["state"], deactivate_at=row["deactivate_at"], hidden=bool(row["hidden"]),
        block_reason=row["block_reason"],
    )


def keys_for(rtype: str, data: dict) -> tuple[str | None, str | None, str | None]:
    """The indexed columns derived from data: external_id, name_key, display_key."""
    user_name = data.get("userName") if rtype == "User" else None
    display = data.get("displayName")
    return (
        data.get("externalId"),
        user_name.lower() if isinstance(user_name, str) else None,
        display.lower() if isinstance(display, str) else None,
    )


def _locking(conn: Conn, lock: bool, mode: str = "UPDATE") -> str:
    """Row lock for a row this transaction is about to change (PostgreSQL; SQLite already
    runs one write transaction at a time)."""
    return f" FOR {mode}" if lock and conn.dialect == "postgres" else ""


async def get(conn: Conn, provider_id: str, rtype: str, rid: str,
              include_hidden: bool = False, lock: bool = False) -> ResourceRow | None:
    """The resource if this provider owns it. Another provider's id costs what a missing one
    does: the owner and type are conditions of the query, so no row comes back for either.
    They are written as expressions (``|| ''``) so that no planner walks the list index
    instead of the primary key."""
    row = await conn.fetchone(
        f"SELECT {_COLUMNS} FROM resources WHERE id = ? AND provider_id || '' = ?"
        " AND type || '' = ?" + _locking(conn, lock), (rid, provider_id, rtype))
    if row is None or (row["hidden"] and not include_hidden):
        return None
    return to_row(row)


async def get_user(conn: Conn, provider_id: str,
                   rid: str) -> tuple[ResourceRow, list[dict]] | None:
    """`get` of a visible user, with its direct groups (as `groups_of` gives them) read in
    the same statement: one round trip for what a GET answers."""
    row = await conn.fetchone(
        f"SELECT {_R_COLUMNS}, {_member_of(conn)} FROM resources r WHERE r.id = ?"
        " AND r.provider_id || '' = ? AND r.type || '' = 'User'", (rid, provider_id))
    if row is None or row["hidden"]:
        return None
    return to_row(row), groups_column(row["member_of"])


def _member_of(conn: Conn) -> str:
    """A user's direct groups as one JSON array (NULL on PostgreSQL for none), beside the
    user's own columns: the groups_of query as a column of the user's row."""
    if conn.dialect == "postgres":
        return ("(SELECT json_agg(json_build_object('value', m.group_id, 'display',"
                " g.data->>'displayName')) FROM members m JOIN resources g"
                " ON g.id = m.group_id WHERE m.member_id = r.id) AS member_of")
    return ("(SELECT json_group_array(json_object('value', m.group_id, 'display',"
            " json_extract(g.data, '$.displayName'))) FROM members m JOIN resources g"
            " ON g.id = m.group_id WHERE m.member_id = r.id) AS member_of")


def groups_column(value: Any) -> list[dict]:
    """The member_of column as SCIM `groups` values, ordered by group id as groups_of
    orders them."""
    return [_direct(item["value"], item.get("display"))
            for item in sorted(json_column(value) or (), key=lambda found: found["value"])]


def _direct(group_id: str, display: str | None) -> dict:
    """A user's `groups` value for a group it is a direct member of."""
    group = {"value": group_id, "type": "direct"}
    if display:
        group["display"] = display
    return group


async def get_any(conn: Conn, rid: str, lock: bool = False) -> ResourceRow | None:
    row = await conn.fetchone(
        f"SELECT {_COLUMNS} FROM resources WHERE id = ?" + _locking(conn, lock), (rid,)
    )
    return to_row(row) if row else None


async def find_by_name(conn: Conn, provider_id: str, user_name: str) -> ResourceRow | None:
    row = await conn.fetchone(
        f"SELECT {_COLUMNS} FROM resources WHERE provider_id = ? AND type = 'User'"
        " AND name_key = ?",
        (provider_id, user_name.lower()),
    )
    return to_row(row) if row else None


_INSERT = f"INSERT INTO resources ({_COLUMNS}) VALUES ({', '.join('?' * 14)})"


def _values(res: ResourceRow) -> tuple:
    return (res.provider_id, res.id, res.type, res.external_id, res.name_key,
            res.display_key, encode(res.data), res.version, res.created, res.last_modified,
            res.state, res.deactivate_at, int(res.hidden), res.block_reason)


async def insert(conn: Conn, res: ResourceRow) -> None:
    await conn.execute(_INSERT, _values(res))


async def insert_new(conn: Conn, res: ResourceRow) -> bool:
    """`insert`, or nothing when the row would break a unique index (its userName or
    group name taken, as another request may have just done): whether it was inserted.
    Nothing to roll back either way, so PostgreSQL needs no savepoint around it."""
    return await conn.execute(_INSERT + " ON CONFLICT DO NOTHING", _values(res)) == 1


async def update(conn: Conn, res: ResourceRow, expected_version: int,
                 same_name: bool = False) -> bool:
    """Write res if the stored version is still expected_version (optimistic check).

    ``same_name``: the caller knows the name key did not change. The row then cannot
    collide with another on the one unique index a write can break (resources_name), and
    the statement says so by leaving name_key out: it starts `UPDATE resources SET data`,
    which PostgreSQL puts no savepoint around (UNIQUE_FREE in store/postgres.py)."""
    name_sql, name = ("", ()) if same_name else ("name_key = ?, ", (res.name_key,))
    count = await conn.execute(
        f"UPDATE resources SET {name_sql}data = ?, external_id = ?, display_key = ?,"
        " version = ?, last_modified = ?, state = ?, deactivate_at = ?, hidden = ?,"
        " block_reason = ? WHERE id = ? AND version = ?",
        (*name, encode(res.data), res.external_id, res.display_key, res.version,
         res.last_modified, res.state, res.deactivate_at, int(res.hidden), res.block_reason,
         res.id, expected_version),
    )
    return count == 1


async def delete(conn: Conn, rid: str) -> None:
    await conn.execute("DELETE FROM members WHERE group_id = ? OR member_id = ?", (rid, rid))
    await conn.execute("DELETE FROM lifecycle WHERE resource_id = ?", (rid,))
    await conn.execute("DELETE FROM resources WHERE id = ?", (rid,))


async def page(conn: Conn, provider_id: str, rtype: str, where: str, params: list,
               order: str, offset: int, limit: int) -> tuple[int, list[ResourceRow]]:
    """One page of a filtered, ordered list and the exact total."""
    total, rows = await _page(conn, provider_id, rtype, where, params, order, offset, limit,
                              "")
    return total, [to_row(row) for row in rows]


async def page_of_users(conn: Conn, provider_id: str, where: str, params: list, order: str,
                        offset: int, limit: int
                        ) -> tuple[int, list[ResourceRow], dict[str, list[dict]]]:
    """`page` of users, with each user's direct groups read in the same statement."""
    total, rows = await _page(conn, provider_id, "User", where, params, order, offset, limit,
                              ", " + _member_of(conn))
    return total, [to_row(row) for row in rows], \
        {row["id"]: groups_column(row["member_of"]) for row in rows}


async def _page(conn: Conn, provider_id: str, rtype: str, where: str, params: list,
                order: str, offset: int, limit: int, extra: str) -> tuple[int, list[dict]]:
    # The type is written into the statement, not bound: with `type = ?` SQLite's
    # `externalId eq` lookup read its index entry five times slower (77 against 15 µs at
    # 300 users), and it is one of two names, never the client's text.
    if rtype not in RESOURCE_TYPES:
        raise ValueError(f"unknown resource type {rtype!r}")
    base = f"FROM resources r WHERE r.provider_id = ? AND r.type = '{rtype}' AND r.hidden = 0"
    args: list[Any] = [provider_id]
    if where:
        base += f" AND ({where})"
        args += params
    rows = []
    if limit > 0:
        rows = await conn.fetchall(
            f"SELECT {_R_COLUMNS}{extra} {base} ORDER BY {order} LIMIT ? OFFSET ?",
            [*args, limit, offset])
    if offset == 0 and len(rows) < limit:
        return len(rows), rows  # the page holds every match
    return await conn.fetchval(f"SELECT count(*) {base}", args), rows


# Membership -----------------------------------------------------------------------------

async def existing_ids(conn: Conn, provider_id: str, ids: Iterable[str]) -> set[str]:
    """Which of ids are visible users or groups of this provider (members must be).

    Looked up by primary key alone and checked on the rows: naming the provider in the
    query lets a planner walk all of the provider's rows instead. On PostgreSQL the rows
    found are share-locked until commit, so a concurrent DELETE of a user cannot slip between
    this check and the membership row that relies on it.
    """
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    for chunk in chunks(wanted):
        marks = ", ".join("?" for _ in chunk)
        rows = await conn.fetchall(
            f"SELECT id, provider_id, hidden FROM resources WHERE id IN ({marks})"
            + _locking(conn, True, "SHARE"), chunk)
        found.update(row["id"] for row in rows
                     if row["provider_id"] == provider_id and not row["hidden"])
    return found


def chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _ids(conn: Conn, ids: list[str]) -> tuple[str, Any]:
    """A list of ids as one parameter and the rows it stands for, so that a statement over
    100 members is one statement of one text whatever their number: a JSON array read by
    json_each on SQLite, a text[] unnested on PostgreSQL."""
    if conn.dialect == "sqlite":
        return "SELECT value FROM json_each(?)", msgspec.json.encode(ids).decode()
    return "SELECT unnest(CAST(? AS text[]))", ids


async def current_members(conn: Conn, group_id: str, ids: list[str]) -> set[str]:
    """Which of ids are members of the group now, in one query."""
    rows, param = _ids(conn, ids)
    found = await conn.fetchall(
        f"SELECT member_id FROM members WHERE group_id = ? AND member_id IN ({rows})",
        [group_id, param])
    return {row["member_id"] for row in found}


async def add_members(conn: Conn, provider_id: str, group_id: str, ids: list[str]) -> list[str]:
    """Insert membership rows; return the ids that were not members before.

    The cost follows the ids named: a lookup of those ids and one insert of them all.
    """
    wanted = list(dict.fromkeys(ids))
    present = await current_members(conn, group_id, wanted)
    fresh = [mid for mid in wanted if mid not in present]
    if fresh:
        rows, param = _ids(conn, fresh)
        await conn.execute(
            "INSERT INTO members (provider_id, group_id, member_id)"
            f" SELECT CAST(? AS TEXT), CAST(? AS TEXT), m.* FROM ({rows}) m",
            [provider_id, group_id, param])
    return fresh


async def remove_members(conn: Conn, group_id: str, ids: list[str]) -> list[str]:
    """Delete membership rows, in one statement; return the ids that were members."""
    wanted = list(dict.fromkeys(ids))
    present = await current_members(conn, group_id, wanted)
    gone = [mid for mid in wanted if mid in present]
    if gone:
        rows, param = _ids(conn, gone)
        await conn.execute(
            f"DELETE FROM members WHERE group_id = ? AND member_id IN ({rows})",
            [group_id, param])
    return gone


async def clear_members(conn: Conn, group_id: str) -> int:
    return await conn.execute("DELETE FROM members WHERE group_id = ?", (group_id,))


async def members_of(conn: Conn, group_ids: list[str]) -> dict[str, list[dict]]:
    """Each group's members as SCIM member values (value, display, type)."""
    out: dict[str, list[dict]] = {gid: [] for gid in group_ids}
    if not group_ids:
        return out
    marks = ", ".join("?" for _ in group_ids)
    rows = await conn.fetchall(
        "SELECT m.group_id, m.member_id, r.type, r.data FROM members m"
        " JOIN resources r ON r.id = m.member_id"
        f" WHERE m.group_id IN ({marks}) ORDER BY m.group_id, m.member_id",
        group_ids,
    )
    for row in rows:
        data = json_column(row["data"])
        display = data.get("userName") if row["type"] == "User" else data.get("displayName")
        member = {"value": row["member_id"], "type": row["type"]}
        if display:
            member["display"] = display
        out[row["group_id"]].append(member)
    return out


async def groups_of(conn: Conn, member_ids: list[str]) -> dict[str, list[dict]]:
    """Each user's direct groups as SCIM `groups` values."""
    out: dict[str, list[dict]] = {mid: [] for mid in member_ids}
    if not member_ids:
        return out
    marks = ", ".join("?" for _ in member_ids)
    rows = await conn.fetchall(
        "SELECT m.member_id, m.group_id, r.display_key, r.data FROM members m"
        " JOIN resources r ON r.id = m.group_id"
        f" WHERE m.member_id IN ({marks}) ORDER BY m.member_id, m.group_id",
        member_ids,
    )
    for row in rows:
        display = json_column(row["data"]).get("displayName")
        out[row["member_id"]].append(_direct(row["group_id"], display))
    return out


async def page_where(conn: Conn, provider_id: str, where: str, params: list, order: str,
                     offset: int, limit: int) -> tuple[int, list[ResourceRow]]:
    """Like `page`, for a condition that picks the types itself (a search at the root)."""
    base = f"FROM resources r WHERE r.provider_id = ? AND r.hidden = 0 AND ({where})"
    args: list[Any] = [provider_id, *params]
    total = await conn.fetchval(f"SELECT count(*) {base}", args)
    if limit <= 0 or offset >= total:
        return total, []
    rows = await conn.fetchall(
        f"SELECT {_R_COLUMNS} {base} ORDER BY {order} LIMIT ? OFFSET ?", [*args, limit, offset]
    )
    return total, [to_row(row) for row in rows]


async def member_ids(conn: Conn, group_id: str) -> list[str]:
    """Every member id of a group (a whole-list replace, or the members a delete removes)."""
    rows = await conn.fetchall("SELECT member_id FROM members WHERE group_id = ?", (group_id,))
    return [row["member_id"] for row in rows]


async def leave_all_groups(conn: Conn, member_id: str) -> None:
    await conn.execute("DELETE FROM members WHERE member_id = ?", (member_id,))


async def before_create(conn: Conn, provider_id: str, user_name: str,
                        external_id: str | None, reserved: bool) -> tuple[bool, str | None]:
    """What a provider's POST of a user must know first, in one statement: whether a local
    user holds the userName (with ``reserved``; local users' names are theirs), and the id
    of the provider's most recently deleted user with this userName or externalId, if any
    (the POST reclaims that user).

    Indexed lookups side by side: one condition with OR would walk all of the provider's
    deleted users, on every POST."""
    name = user_name.lower()
    sql = ("SELECT 1 AS deleted, id, last_modified FROM resources WHERE provider_id = ?"
           " AND type = 'User' AND name_key = ? AND hidden = 1"
           " UNION ALL SELECT 1, id, last_modified FROM resources WHERE provider_id = ?"
           " AND type = 'User' AND external_id = ? AND hidden = 1")
    params: list[Any] = [provider_id, name, provider_id, external_id]
    if reserved:
        sql += (" UNION ALL SELECT 0, id, last_modified FROM resources WHERE provider_id = ?"
                " AND type = 'User' AND name_key = ?")
        params += [LOCAL, name]
    rows = await conn.fetchall(sql, params)
    deleted = [row for row in rows if row["deleted"]]
    newest = max(deleted, key=lambda row: row["last_modified"], default=None)
    return len(deleted) < len(rows), newest["id"] if newest else None


Condition = tuple[str, list[Any]]  # SQL over `resources r`, and its parameters


# Characters JSON text escapes: a search for them cannot be looked for in the raw document.
_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def raw_text_condition(text: str, dialect: str) -> Condition | None:
    """A first pass for a search over a user's own values: rows whose JSON text (or the
    lowered userName and displayName columns) contain `text`, case-insensitively. A row that
    meets a `co` on any of its string values meets this, so it may go in front of such a
    search to skip the rows that cannot match without reading their JSON paths (at 10,000
    users, 12 against 75 ms on SQLite). None for text that JSON would escape."""
    if not text or _ESCAPED.search(text):
        return None
    find = "strpos" if dialect == "postgres" else "instr"
    document = "lower(r.data::text)" if dialect == "postgres" else "lower(r.data)"
    lowered = text.lower()
    return (f"({find}({document}, lower(?)) > 0 OR {find}(r.name_key, ?) > 0"
            f" OR {find}(r.display_key, ?) > 0)", [text, lowered, lowered])


def blocked_condition(blocked: bool) -> Condition:
    """Users blocked from signing in (the state `blocked`, or a block reason), or the rest."""
    test = "(r.state = 'blocked' OR r.block_reason IS NOT NULL)"
    return (test if blocked else f"NOT {test}", [])


def _user_filter(provider_id: str | None, state: str | None,
                 conditions: list[Condition]) -> tuple[list[str], list[Any]]:
    where: list[str] = ["r.type = 'User'"]
    args: list[Any] = []
    if provider_id is not None:
        where.append("r.provider_id = ?")
        args.append(provider_id)
    if state:
        where.append("r.state = ?")
        args.append(state)
    for sql, params in conditions:
        where.append(f"({sql})")
        args += params
    return where, args


async def user_page(conn: Conn, *, provider_id: str | None, state: str | None,
                    conditions: list[Condition], after: str | None,
                    limit: int) -> list[ResourceRow]:
    """The admin's list of users, by id: of one provider ('' for local users) or all, in
    one state or all, meeting each condition (a search, plugins' filters)."""
    where, args = _user_filter(provider_id, state, conditions)
    if after:
        where.append("r.id > ?")
        args.append(after)
    rows = await conn.fetchall(
        f"SELECT {_R_COLUMNS} FROM resources r WHERE " + " AND ".join(where)
        + " ORDER BY r.id LIMIT ?", [*args, limit])
    return [to_row(row) for row in rows]


async def user_count(conn: Conn, *, provider_id: str | None, state: str | None,
                     conditions: list[Condition]) -> int:
    """How many users `user_page` walks through in all, for the same filters."""
    where, args = _user_filter(provider_id, state, conditions)
    return int(await conn.fetchval(
        "SELECT count(*) FROM resources r WHERE " + " AND ".join(where), args))


async def owned_counts(conn: Conn, provider_id: str) -> dict[str, int]:
    """The users and groups a provider owns and can see (its deleted users left out)."""
    rows = await conn.fetchall(
        "SELECT type, count(*) AS n FROM resources WHERE provider_id = ? AND hidden = 0"
        " GROUP BY type", (provider_id,))
    counts = {row["type"]: int(row["n"]) for row in rows}
    return {"users": counts.get("User", 0), "groups": counts.get("Group", 0)}


# Group names ------------------------------------------------------------------------------
# No unique index: whether a provider's group names must differ is a provider setting, and a
# provider may hold duplicates from before it required them. A name is claimed under a lock.

DUPLICATE_NAMES = 100  # duplicate names listed for the admin, at most
DUPLICATE_GROUPS = 1000  # groups listed under them, at most


async def lock_group_name(conn: Conn, provider_id: str, display_key: str) -> None:
    """Hold one group name of one provider until the transaction ends: two writers of the
    same name take turns, and the second one's next statement sees the first's group
    (PostgreSQL at READ COMMITTED; SQLite runs one write transaction at a time)."""
    if conn.dialect == "postgres":
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))",
                           (f"identity-gateway:group-name:{provider_id}:{display_key}",))


async def group_named(conn: Conn, provider_id: str, display_key: str,
                      other_than: str | None = None) -> dict | None:
    """The provider's oldest group whose display_key is this one, other than `other_than`:
    its id and displayName."""
    row = await conn.fetchone(
        "SELECT id, data FROM resources WHERE provider_id = ? AND type = 'Group'"
        " AND display_key = ? AND hidden = 0 AND id <> ? ORDER BY created, id LIMIT 1",
        (provider_id, display_key, other_than or ""))
    if row is None:
        return None
    return {"id": row["id"], "displayName": json_column(row["data"]).get("displayName")}


async def duplicate_group_names(conn: Conn, provider_id: str) -> list[dict]:
    """The names (compared as display_key) that more than one of the provider's groups
    hold, in name order: each with how many groups hold it and those groups, oldest first."""
    keys = await conn.fetchall(
        "SELECT display_key, count(*) AS n FROM resources WHERE provider_id = ?"
        " AND type = 'Group' AND hidden = 0 AND display_key IS NOT NULL"
        " GROUP BY display_key HAVING count(*) > 1 ORDER BY display_key LIMIT ?",
        (provider_id, DUPLICATE_NAMES))
    if not keys:
        return []
    found: dict[str, dict[str, Any]] = {
        row["display_key"]: {"name": None, "count": int(row["n"]), "groups": []}
        for row in keys}
    marks = ", ".join("?" for _ in found)
    rows = await conn.fetchall(
        "SELECT id, display_key, data FROM resources WHERE provider_id = ? AND type = 'Group'"
        f" AND hidden = 0 AND display_key IN ({marks}) ORDER BY display_key, created, id"
        " LIMIT ?", [provider_id, *found, DUPLICATE_GROUPS])
    for row in rows:
        entry = found[row["display_key"]]
        name = json_column(row["data"]).get("displayName")
        entry["name"] = entry["name"] or name
        entry["groups"].append({"id": row["id"], "displayName": name})
    return list(found.values())

"""A provider's custom attributes and the undeclared attributes its IdP sent: the queries,
shared by both stores."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.scim.custom import Declaration
from gateway.store.base import Conn

_json = msgspec.json
_DEFINITION = ("type", "multi_valued", "case_exact", "description", "sub_attributes")


def _declaration(row: dict) -> Declaration:
    fields = _json.decode(row["definition"])
    return msgspec.convert({"schema": row["schema_urn"], "name": row["name"],
                            "resource_type": row["resource_type"], **fields}, Declaration)


def _definition(decl: Declaration) -> str:
    fields = msgspec.to_builtins(decl)
    return _json.encode({k: fields[k] for k in _DEFINITION if k in fields}).decode()


async def declared(conn: Conn, provider_id: str) -> list[Declaration]:
    """The provider's declarations in the order they were made."""
    rows = await conn.fetchall(
        "SELECT resource_type, schema_urn, name, definition FROM custom_attributes"
        " WHERE provider_id = ? ORDER BY created_at, attr_key", (provider_id,))
    return [_declaration(row) for row in rows]


async def schema_of(conn: Conn, provider_id: str) -> tuple[str, list[Declaration]] | None:
    """The provider's schema tag and its declarations, read together (one statement, so the
    two agree), or None when there is no such provider."""
    rows = await conn.fetchall(
        "SELECT p.schema_tag, c.resource_type, c.schema_urn, c.name, c.definition"
        " FROM providers p LEFT JOIN custom_attributes c ON c.provider_id = p.id"
        " WHERE p.id = ? ORDER BY c.created_at, c.attr_key", (provider_id,))
    if not rows:
        return None
    return rows[0]["schema_tag"] or "", [_declaration(r) for r in rows
                                         if r["schema_urn"] is not None]


async def insert(conn: Conn, provider_id: str, decl: Declaration, now: str) -> None:
    await conn.execute(
        "INSERT INTO custom_attributes (provider_id, attr_key, resource_type, schema_urn, name,"
        " definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (provider_id, decl.key, decl.resource_type, decl.schema, decl.name,
         _definition(decl), now, now))


async def update(conn: Conn, provider_id: str, decl: Declaration, now: str) -> int:
    return await conn.execute(
        "UPDATE custom_attributes SET definition = ?, updated_at = ?"
        " WHERE provider_id = ? AND attr_key = ?",
        (_definition(decl), now, provider_id, decl.key))


async def delete(conn: Conn, provider_id: str, key: str) -> int:
    return await conn.execute(
        "DELETE FROM custom_attributes WHERE provider_id = ? AND attr_key = ?",
        (provider_id, key))


async def retag(conn: Conn, provider_id: str, tag: str) -> None:
    """A new schema tag: every process rebuilds the provider's schema at its next request."""
    await conn.execute("UPDATE providers SET schema_tag = ? WHERE id = ?", (tag, provider_id))


async def forget_provider(conn: Conn, provider_id: str) -> None:
    await conn.execute("DELETE FROM custom_attributes WHERE provider_id = ?", (provider_id,))
    await conn.execute("DELETE FROM undeclared_attributes WHERE provider_id = ?",
                       (provider_id,))


# Undeclared attributes ------------------------------------------------------------------------

_TALLY = (
    "INSERT INTO undeclared_attributes (provider_id, attr_key, resource_type, path, count,"
    " kinds, example, first_seen, last_seen)"
    " SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), 1,"
    " CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)"
    # A new name is listed while the provider has fewer than `limit`; a listed one always
    # counts.
    " WHERE (SELECT count(*) FROM undeclared_attributes WHERE provider_id = ?) < ?"
    " OR EXISTS (SELECT 1 FROM undeclared_attributes WHERE provider_id = ? AND attr_key = ?)"
    " ON CONFLICT (provider_id, attr_key) DO UPDATE SET"
    " count = undeclared_attributes.count + 1,"
    " kinds = undeclared_attributes.kinds | excluded.kinds,"
    " example = excluded.example, last_seen = excluded.last_seen"
)


async def tally(conn: Conn, provider_id: str, resource_type: str,
                seen: list[tuple[str, int, str]], now: str, limit: int) -> None:
    """One more write carried each of these undeclared attributes: (path, kinds of its
    value, its value as JSON). Each is counted by one statement, in the write's own
    transaction, whatever other writes and replicas do at the same time."""
    await conn.executemany(_TALLY, [
        (provider_id, path.lower(), resource_type, path, kinds, example, now, now,
         provider_id, limit, provider_id, path.lower())
        for path, kinds, example in seen])


async def undeclared(conn: Conn, provider_id: str, limit: int) -> list[dict[str, Any]]:
    """The provider's undeclared attributes, the most often seen first."""
    return await conn.fetchall(
        "SELECT path, resource_type, count, kinds, example, first_seen, last_seen"
        " FROM undeclared_attributes WHERE provider_id = ?"
        " ORDER BY count DESC, attr_key LIMIT ?", (provider_id, limit))


async def one_undeclared(conn: Conn, provider_id: str, path: str) -> dict[str, Any] | None:
    return await conn.fetchone(
        "SELECT path, resource_type, count, kinds, example, first_seen, last_seen"
        " FROM undeclared_attributes WHERE provider_id = ? AND attr_key = ?",
        (provider_id, path.lower()))


async def forget_undeclared(conn: Conn, provider_id: str, path: str) -> None:
    """A declared attribute is no longer listed as undeclared."""
    await conn.execute(
        "DELETE FROM undeclared_attributes WHERE provider_id = ? AND attr_key = ?",
        (provider_id, path.lower()))


async def undeclared_by_provider(conn: Conn) -> dict[str, dict[str, Any]]:
    """Per provider: how many undeclared attributes it sent, and when the last was seen."""
    rows = await conn.fetchall(
        "SELECT provider_id, count(*) AS n, max(last_seen) AS last_seen"
        " FROM undeclared_attributes GROUP BY provider_id")
    return {row["provider_id"]: {"count": int(row["n"]), "last_seen": row["last_seen"]}
            for row in rows}

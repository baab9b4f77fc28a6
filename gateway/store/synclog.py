"""The sync log's SQL: one row per change or refusal, newest-first pages (each batch as one
row, or every entry), oldest-first export pages, pruning by age. Shared by both stores.

Names are resolved here, in the query: a user by userName or email address and a group by
displayName through the `resources` table (as they are now), or through the entry's own
`subject` (the name it had when the entry was written, which a deleted resource keeps)."""

from __future__ import annotations

import re
from typing import Any

from gateway.store.base import Conn

COLUMNS = ("subject", "batch", "at", "provider_id", "actor", "request_id", "method", "path",
           "resource_type", "resource_id", "operation", "before", "after", "outcome",
           "status", "detail", "reason")
_INSERT = (f"INSERT INTO sync_log ({', '.join(COLUMNS)})"
           f" VALUES ({', '.join('?' for _ in COLUMNS)})")
# Filter name -> the column it compares for equality.
EQUALS = {"provider": "provider_id", "user": "resource_id", "operation": "operation",
          "batch": "batch"}
Terms = tuple[list[str], list[Any]]
ESCAPED_IN_JSON = re.compile(r'["\\\x00-\x1f]')  # not found as written in JSON text


async def insert(conn: Conn, entry: dict[str, Any]) -> None:
    await conn.execute(_INSERT, [entry[c] for c in COLUMNS])


def where(filters: dict[str, Any], dialect: str, alias: str = "s") -> Terms:
    """WHERE terms for checked filters on `sync_log {alias}`: equality on EQUALS, `outcome`
    one of a list, `since` / `until` as stored times (inclusive / exclusive), and the
    names: `who` (a user's userName or email address), `group` (a group's displayName),
    `actor` (as stored, an admin's or a provider's name, or a plugin's)."""
    a = alias
    terms: list[str] = []
    args: list[Any] = []
    for name, column in EQUALS.items():
        if filters.get(name):
            # Within a batch (alias n), an expression: the batch index is the way in.
            terms.append(f"{a}.{column} || '' = ?" if a == "n" else f"{a}.{column} = ?")
            args.append(filters[name])
    if filters.get("outcome"):
        terms.append(f"{a}.outcome IN ({', '.join('?' for _ in filters['outcome'])})")
        args.extend(filters["outcome"])
    if filters.get("since"):
        terms.append(f"{a}.at >= ?")
        args.append(filters["since"])
    if filters.get("until"):
        terms.append(f"{a}.at < ?")
        args.append(filters["until"])
    for name, term in (("who", user_term), ("group", group_term), ("actor", actor_term)):
        if filters.get(name):
            sql, params = term(str(filters[name]), dialect, a)
            terms.append(sql)
            args.extend(params)
    return terms, args


# Each provider's own index (provider_id, type, name or display key), and local users.
_OWNERS = "r.provider_id IN (SELECT p.id FROM providers p UNION ALL SELECT '')"


def user_term(text: str, dialect: str, a: str) -> tuple[str, list[Any]]:
    """Entries about the users whose userName or one of whose email addresses is `text`
    (any case), or that were written about a user of that userName (since deleted). Only
    text with an @ is looked for among email addresses: that reads every user's JSON."""
    ids = f"SELECT r.id FROM resources r WHERE {_OWNERS} AND r.type = 'User' AND r.name_key = ?"
    params: list[Any] = [text.lower()]
    if "@" in text:
        first = in_document(text, dialect)
        if dialect == "postgres":
            emails = ("EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN"
                      " jsonb_typeof(r.data->'emails') = 'array' THEN r.data->'emails'"
                      " ELSE '[]'::jsonb END) e WHERE lower(e->>'value') = lower(?))")
        else:
            emails = ("EXISTS (SELECT 1 FROM json_each(r.data, '$.emails') e"
                      " WHERE json_type(e.value) = 'object'"
                      " AND lower(json_extract(e.value, '$.value')) = lower(?))")
        ids += " UNION SELECT r.id FROM resources r WHERE r.type = 'User' AND "
        if first is not None:  # skips the JSON of the users that cannot match
            ids += f"{first[0]} AND "
            params += first[1]
        ids += emails
        params.append(text)
    return (f"({a}.resource_type = 'User' AND ({a}.resource_id IN ({ids})"
            f" OR lower({a}.subject) = lower(?)))", [*params, text])


def in_document(text: str, dialect: str) -> tuple[str, list[Any]] | None:
    """Users whose JSON text holds `text` in any case: a first pass that reads no JSON path
    (SQLite's LIKE ignores ASCII case and, at 10,000 users, takes a third of lower()'s
    time). None for text that JSON would escape."""
    if ESCAPED_IN_JSON.search(text):
        return None
    if dialect == "postgres":
        return "strpos(lower(r.data::text), lower(?)) > 0", [text]
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "r.data LIKE ? ESCAPE '\\'", [f"%{pattern}%"]


def group_term(text: str, dialect: str, a: str) -> tuple[str, list[Any]]:
    """Entries about the groups whose displayName is `text` (any case), now or when the
    entry was written."""
    return (f"({a}.resource_type = 'Group' AND ({a}.resource_id IN (SELECT r.id FROM"
            f" resources r WHERE {_OWNERS} AND r.type = 'Group' AND r.display_key = ?)"
            f" OR lower({a}.subject) = lower(?)))", [text.lower(), text])


def actor_term(text: str, dialect: str, a: str) -> tuple[str, list[Any]]:
    """The actor as stored (`console:alice`, `org_mapping`), an admin's name (`alice`: in
    the console or through the API) or a provider's name or id (its IdP's requests)."""
    return (f"({a}.actor IN (?, 'console:' || ?, 'admin:' || ?) OR {a}.actor IN"
            " (SELECT 'provider:' || p.id FROM providers p WHERE lower(p.name) = lower(?)"
            " OR p.id = ?))", [text, text, text, text, text])


def _sql(terms: list[str]) -> str:
    return " WHERE " + " AND ".join(terms) if terms else ""


async def newest(conn: Conn, filters: dict[str, Any], before_seq: int | None,
                 limit: int, grouped: bool = False, after_seq: int | None = None
                 ) -> list[dict]:
    """Up to `limit` entries, newest first, older than `before_seq` and newer than
    `after_seq` when given. `grouped`:
    a batch comes once, as its newest matching entry (the others are skipped on the
    batch index, so a batch of thousands takes one row of the page)."""
    terms, args = where(filters, conn.dialect)
    if grouped:
        inner, inner_args = where(filters, conn.dialect, "n")
        terms.append("(s.batch IS NULL OR NOT EXISTS (SELECT 1 FROM sync_log n WHERE"
                     " n.batch = s.batch AND n.seq > s.seq"
                     + "".join(f" AND {t}" for t in inner) + "))")
        args.extend(inner_args)
    if before_seq is not None:
        terms.append("s.seq < ?")
        args.append(before_seq)
    if after_seq is not None:
        terms.append("s.seq > ?")
        args.append(after_seq)
    return await conn.fetchall(f"SELECT s.* FROM sync_log s{_sql(terms)}"
                               " ORDER BY s.seq DESC LIMIT ?", [*args, limit])


async def batches(conn: Conn, filters: dict[str, Any], ids: list[str]) -> dict[str, dict]:
    """Per batch: how many of its entries match, how many of those are errors, and its
    first matching entry's seq."""
    if not ids:
        return {}
    terms, args = where({**filters, "batch": None}, conn.dialect)
    terms.insert(0, f"s.batch IN ({', '.join('?' for _ in ids)})")
    rows = await conn.fetchall(
        "SELECT s.batch, count(*) AS entries, min(s.seq) AS first_seq,"
        " sum(CASE WHEN s.outcome = 'error' THEN 1 ELSE 0 END) AS errors"
        f" FROM sync_log s{_sql(terms)} GROUP BY s.batch", [*ids, *args])
    return {r["batch"]: {"entries": int(r["entries"]), "errors": int(r["errors"] or 0),
                         "first_seq": int(r["first_seq"])} for r in rows}


async def by_seq(conn: Conn, seqs: list[int]) -> list[dict]:
    if not seqs:
        return []
    return await conn.fetchall(f"SELECT * FROM sync_log WHERE seq IN"
                               f" ({', '.join('?' for _ in seqs)})", seqs)


async def count(conn: Conn, filters: dict[str, Any]) -> int:
    terms, args = where(filters, conn.dialect)
    return int(await conn.fetchval(f"SELECT count(*) FROM sync_log s{_sql(terms)}", args))


async def oldest_after(conn: Conn, filters: dict[str, Any], after_seq: int,
                       limit: int) -> list[dict]:
    """Up to `limit` entries after `after_seq`, oldest first."""
    terms, args = where(filters, conn.dialect)
    return await conn.fetchall(f"SELECT s.* FROM sync_log s{_sql([*terms, 's.seq > ?'])}"
                               " ORDER BY s.seq LIMIT ?", [*args, after_seq, limit])


async def prune(conn: Conn, cutoff: str, limit: int) -> int:
    """Delete up to `limit` of the oldest entries written before `cutoff`."""
    return await conn.execute(
        "DELETE FROM sync_log WHERE seq IN (SELECT seq FROM sync_log WHERE at < ?"
        " ORDER BY seq LIMIT ?)", (cutoff, limit))

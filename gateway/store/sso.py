"""The console's single sign-on: sign-ins on their way through the identity provider, and
the settings saved on the Settings page. Tables of the ``console`` migration component."""

from __future__ import annotations

import msgspec

from gateway.store.base import Conn


class StateRow(msgspec.Struct, kw_only=True):
    state_hash: str
    browser_hash: str
    nonce: str
    verifier: str
    next: str
    admin: str | None  # set for an admin's test sign-in
    expires_at: str


async def insert_state(conn: Conn, row: StateRow, now: str) -> None:
    await conn.execute("DELETE FROM sso_states WHERE expires_at <= ?", (now,))
    await conn.execute(
        "INSERT INTO sso_states (state_hash, browser_hash, nonce, verifier, next, admin,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row.state_hash, row.browser_hash, row.nonce, row.verifier, row.next, row.admin,
         row.expires_at))


async def take_state(conn: Conn, state_hash: str) -> StateRow | None:
    """The sign-in a state belongs to, deleted by the same statement: of two callbacks with
    one state, one gets the row and the other None."""
    row = await conn.fetchone(
        "DELETE FROM sso_states WHERE state_hash = ? RETURNING *", (state_hash,))
    return None if row is None else StateRow(**row)


async def get_config(conn: Conn) -> dict | None:
    row = await conn.fetchone("SELECT settings, updated_at, updated_by FROM sso_config"
                              " WHERE id = 1")
    if row is None:
        return None
    return {**row, "settings": msgspec.json.decode(row["settings"])}


async def put_config(conn: Conn, settings: dict, now: str, actor: str) -> None:
    await conn.execute(
        "INSERT INTO sso_config (id, settings, updated_at, updated_by) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET settings = excluded.settings,"
        " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        (msgspec.json.encode(settings).decode(), now, actor))


async def delete_config(conn: Conn) -> None:
    await conn.execute("DELETE FROM sso_config WHERE id = 1")

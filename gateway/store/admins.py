"""Console accounts, their sessions and failed sign-ins: the queries, shared by both stores.

The tables are their own migration component (``console``), so their versions never meet
the core's."""

from __future__ import annotations

from importlib import resources

import msgspec

from gateway.store.base import Conn, Migration, migrations_in

COMPONENT = "console"


class AdminRow(msgspec.Struct, kw_only=True):
    name: str
    password_hash: str
    role: str
    created_at: str
    password_set_at: str
    last_sign_in_at: str | None = None


class SessionRow(msgspec.Struct, kw_only=True):
    id_hash: str
    admin: str
    csrf: str
    created_at: str
    last_seen: str
    expires_at: str


def migrations(dialect: str) -> list[Migration]:
    folder = resources.files("gateway.store") / "migrations" / COMPONENT / dialect
    return migrations_in(folder, COMPONENT)


# Accounts ---------------------------------------------------------------------------------

async def get_admin(conn: Conn, name: str) -> AdminRow | None:
    row = await conn.fetchone("SELECT * FROM admins WHERE name = ?", (name,))
    return None if row is None else AdminRow(**row)


async def list_admins(conn: Conn) -> list[AdminRow]:
    return [AdminRow(**row) for row in await conn.fetchall("SELECT * FROM admins ORDER BY name")]


async def count_admins(conn: Conn, role: str | None = None) -> int:
    if role is None:
        return int(await conn.fetchval("SELECT count(*) FROM admins"))
    return int(await conn.fetchval("SELECT count(*) FROM admins WHERE role = ?", (role,)))


async def insert_admin(conn: Conn, admin: AdminRow) -> bool:
    """False when an account of that name exists already."""
    added = await conn.execute(
        "INSERT INTO admins (name, password_hash, role, created_at, password_set_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (admin.name, admin.password_hash, admin.role, admin.created_at, admin.password_set_at))
    return bool(added)


async def set_password(conn: Conn, name: str, password_hash: str, now: str) -> bool:
    return bool(await conn.execute(
        "UPDATE admins SET password_hash = ?, password_set_at = ? WHERE name = ?",
        (password_hash, now, name)))


async def set_role(conn: Conn, name: str, role: str) -> bool:
    return bool(await conn.execute("UPDATE admins SET role = ? WHERE name = ?", (role, name)))


async def signed_in(conn: Conn, name: str, now: str) -> None:
    await conn.execute("UPDATE admins SET last_sign_in_at = ? WHERE name = ?", (now, name))


async def delete_admin(conn: Conn, name: str) -> bool:
    await conn.execute("DELETE FROM sessions WHERE admin = ?", (name,))
    return bool(await conn.execute("DELETE FROM admins WHERE name = ?", (name,)))


# Sessions ---------------------------------------------------------------------------------

async def insert_session(conn: Conn, session: SessionRow) -> None:
    await conn.execute(
        "INSERT INTO sessions (id_hash, admin, csrf, created_at, last_seen, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (session.id_hash, session.admin, session.csrf, session.created_at, session.last_seen,
         session.expires_at))


async def get_session(conn: Conn, id_hash: str) -> SessionRow | None:
    row = await conn.fetchone("SELECT * FROM sessions WHERE id_hash = ?", (id_hash,))
    return None if row is None else SessionRow(**row)


async def touch_session(conn: Conn, id_hash: str, now: str) -> None:
    await conn.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, id_hash))


async def delete_session(conn: Conn, id_hash: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))


async def delete_sessions_of(conn: Conn, name: str) -> int:
    return await conn.execute("DELETE FROM sessions WHERE admin = ?", (name,))


async def prune_sessions(conn: Conn, now: str, idle_before: str) -> int:
    """Sessions past their lifetime or idle since before `idle_before`."""
    return await conn.execute("DELETE FROM sessions WHERE expires_at <= ? OR last_seen < ?",
                              (now, idle_before))


# Failed sign-ins --------------------------------------------------------------------------

async def failures(conn: Conn, name: str) -> dict | None:
    return await conn.fetchone("SELECT * FROM sign_in_failures WHERE name = ?", (name,))


async def record_failure(conn: Conn, name: str, count: int, now: str,
                         locked_until: str | None) -> None:
    await conn.execute(
        "INSERT INTO sign_in_failures (name, failures, last_failure, locked_until)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET failures = excluded.failures,"
        " last_failure = excluded.last_failure, locked_until = excluded.locked_until",
        (name, count, now, locked_until))


async def clear_failures(conn: Conn, name: str) -> None:
    await conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))


async def prune_failures(conn: Conn, before: str) -> int:
    return await conn.execute("DELETE FROM sign_in_failures WHERE last_failure < ?", (before,))

"""Console accounts, their sessions and the counts that limit sign-ins: the queries, shared
by both stores.

The tables are their own migration component (``console``), so their versions never meet
the core's."""

from __future__ import annotations

from importlib import resources

import msgspec

from gateway.store.base import Conn, Migration, migrations_in

COMPONENT = "console"


LOCAL, SSO = "local", "sso"  # where an account comes from: a password, or the IdP


class AdminRow(msgspec.Struct, kw_only=True):
    name: str
    password_hash: str  # '' for an SSO account: it has no password
    role: str
    created_at: str
    password_set_at: str
    last_sign_in_at: str | None = None
    source: str = LOCAL
    issuer: str | None = None  # an SSO account's ID token `iss` and `sub`
    subject: str | None = None
    disabled_at: str | None = None


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


async def get_admin_by_identity(conn: Conn, issuer: str, subject: str) -> AdminRow | None:
    row = await conn.fetchone("SELECT * FROM admins WHERE issuer = ? AND subject = ?",
                              (issuer, subject))
    return None if row is None else AdminRow(**row)


async def insert_admin(conn: Conn, admin: AdminRow) -> bool:
    """False when an account of that name (or that SSO identity) exists already."""
    added = await conn.execute(
        "INSERT INTO admins (name, password_hash, role, created_at, password_set_at, source,"
        " issuer, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (admin.name, admin.password_hash, admin.role, admin.created_at, admin.password_set_at,
         admin.source, admin.issuer, admin.subject))
    return bool(added)


async def set_disabled(conn: Conn, name: str, disabled_at: str | None) -> bool:
    return bool(await conn.execute("UPDATE admins SET disabled_at = ? WHERE name = ?",
                                   (disabled_at, name)))


async def count_enabled_admins(conn: Conn) -> int:
    """Accounts with the role admin that are not disabled."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM admins WHERE role = 'admin' AND disabled_at IS NULL"))


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
    await conn.execute("DELETE FROM sign_in_devices WHERE name = ?", (name,))
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


# Sign-in limits --------------------------------------------------------------------------
# Each count is taken by one statement that increments and returns, so concurrent attempts
# each see their own number. Within a write transaction rows are taken in one order
# (client, then failure, then name), so two transactions never wait on each other in a
# circle on PostgreSQL.

class Counted(msgspec.Struct, frozen=True):
    """A failure count with this attempt in it, and the lock (or slowdown) already in
    place before it (None, or an end that may be past)."""

    failures: int
    until: str | None


async def count_attempt(conn: Conn, client: str, minute: int) -> int:
    """Count an attempt from a client address; its attempts this minute, this one included."""
    return int(await conn.fetchval(
        "INSERT INTO sign_in_clients (client, minute, attempts) VALUES (?, ?, 1)"
        " ON CONFLICT (client) DO UPDATE SET attempts = CASE WHEN sign_in_clients.minute ="
        " excluded.minute THEN sign_in_clients.attempts + 1 ELSE 1 END,"
        " minute = excluded.minute RETURNING attempts", (client, minute)))


async def count_failure(conn: Conn, name: str, client: str, now: str) -> Counted:
    row = await conn.fetchone(
        "INSERT INTO sign_in_failures (name, client, failures, last_failure)"
        " VALUES (?, ?, 1, ?) ON CONFLICT (name, client) DO UPDATE SET"
        " failures = sign_in_failures.failures + 1, last_failure = excluded.last_failure"
        " RETURNING failures, locked_until", (name, client, now))
    assert row is not None, "an upsert returns its row"
    return Counted(int(row["failures"]), row["locked_until"])


async def lock_out(conn: Conn, name: str, client: str, until: str) -> None:
    await conn.execute("UPDATE sign_in_failures SET locked_until = ? WHERE name = ?"
                       " AND client = ?", (until, name, client))


async def uncount_failure(conn: Conn, name: str, client: str, counted: Counted) -> None:
    """Take back a failure counted for an attempt that was not checked after all, unless
    another attempt has been counted since."""
    await conn.execute(
        "UPDATE sign_in_failures SET failures = failures - 1, locked_until = ?"
        " WHERE name = ? AND client = ? AND failures = ?",
        (counted.until, name, client, counted.failures))


async def clear_failure(conn: Conn, name: str, client: str) -> None:
    await conn.execute("DELETE FROM sign_in_failures WHERE name = ? AND client = ?",
                       (name, client))


async def count_name_failure(conn: Conn, name: str, now: str) -> Counted:
    row = await conn.fetchone(
        "INSERT INTO sign_in_names (name, failures, last_failure) VALUES (?, 1, ?)"
        " ON CONFLICT (name) DO UPDATE SET failures = sign_in_names.failures + 1,"
        " last_failure = excluded.last_failure RETURNING failures, slowed_until", (name, now))
    assert row is not None, "an upsert returns its row"
    return Counted(int(row["failures"]), row["slowed_until"])


async def slow_down(conn: Conn, name: str, until: str) -> None:
    await conn.execute("UPDATE sign_in_names SET slowed_until = ? WHERE name = ?",
                       (until, name))


async def uncount_name_failure(conn: Conn, name: str, counted: Counted | None = None) -> None:
    """Take back a failure counted for an attempt that succeeded (``counted`` None) or was
    not checked (then only if no other attempt has been counted since)."""
    if counted is None:
        await conn.execute("UPDATE sign_in_names SET failures = failures - 1"
                           " WHERE name = ? AND failures > 0", (name,))
        return
    await conn.execute(
        "UPDATE sign_in_names SET failures = failures - 1, slowed_until = ?"
        " WHERE name = ? AND failures = ?", (counted.until, name, counted.failures))


async def clear_failures(conn: Conn, name: str) -> None:
    """Every count for a name (its password changed: whatever was guessed is moot)."""
    await conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))
    await conn.execute("DELETE FROM sign_in_names WHERE name = ?", (name,))


async def prune_sign_in_counts(conn: Conn, minute: int, before: str, now: str) -> None:
    """Counts of past minutes, failures last seen before ``before``, expired devices."""
    await conn.execute("DELETE FROM sign_in_clients WHERE minute < ?", (minute,))
    await conn.execute("DELETE FROM sign_in_failures WHERE last_failure < ?", (before,))
    await conn.execute("DELETE FROM sign_in_names WHERE last_failure < ?", (before,))
    await conn.execute("DELETE FROM sign_in_devices WHERE expires_at <= ?", (now,))


async def add_device(conn: Conn, id_hash: str, name: str, expires_at: str) -> None:
    await conn.execute("INSERT INTO sign_in_devices (id_hash, name, expires_at)"
                       " VALUES (?, ?, ?)", (id_hash, name, expires_at))


async def forget_device(conn: Conn, id_hash: str) -> None:
    await conn.execute("DELETE FROM sign_in_devices WHERE id_hash = ?", (id_hash,))


async def known_device(conn: Conn, id_hash: str, name: str, now: str) -> bool:
    """Whether the device cookie of that hash signed in as that name and has not expired."""
    return await conn.fetchone(
        "SELECT 1 AS found FROM sign_in_devices WHERE id_hash = ? AND name = ?"
        " AND expires_at > ?", (id_hash, name, now)) is not None

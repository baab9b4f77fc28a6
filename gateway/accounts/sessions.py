"""Console sessions: a random id in an HttpOnly cookie, only its hash in the store.

A session ends when it has been idle longer than ``console_idle_timeout``, when it is older
than ``console_session_lifetime``, at sign-out, and when its account's password changes or
the account is removed or disabled. Each sign-in starts a new session (a new id), so an id planted
before sign-in is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

import msgspec

from gateway.clock import format_time, parse_duration, parse_time
from gateway.store import admins as queries
from gateway.store.admins import SessionRow

if TYPE_CHECKING:
    from gateway.core import Gateway

TOUCH_EVERY = timedelta(seconds=30)  # last_seen is written at most this often


class Session(msgspec.Struct, frozen=True):
    """A live session: whose it is, what the account may do, and its CSRF token."""

    id_hash: str
    admin: str
    role: str
    csrf: str


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_matches(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())


async def start(gw: Gateway, admin: str) -> tuple[str, Session]:
    """A new session for the account: its id (for the cookie, never stored) and itself."""
    session_id = secrets.token_urlsafe(32)
    now = gw.clock.now()
    lifetime = timedelta(seconds=parse_duration(gw.settings.console_session_lifetime))
    row = SessionRow(id_hash=id_hash(session_id), admin=admin, csrf=secrets.token_urlsafe(32),
                     created_at=format_time(now), last_seen=format_time(now),
                     expires_at=format_time(now + lifetime))
    async with gw.store.write() as conn:
        await queries.insert_session(conn, row)
        await queries.prune_sessions(conn, format_time(now), format_time(now - idle(gw)))
        account = await queries.get_admin(conn, admin)
    assert account is not None, "a session starts for an account that exists"
    return session_id, Session(row.id_hash, admin, account.role, row.csrf)


def idle(gw: Gateway) -> timedelta:
    return timedelta(seconds=parse_duration(gw.settings.console_idle_timeout))


async def resume(gw: Gateway, session_id: str | None) -> Session | None:
    """The live session a cookie names, its last use noted; None when it has ended."""
    if not session_id or len(session_id) > 128:
        return None
    hashed = id_hash(session_id)
    now = gw.clock.now()
    async with gw.store.lookup() as conn:
        row = await queries.get_session(conn, hashed)
        account = await queries.get_admin(conn, row.admin) if row else None
    if row is None or account is None:
        return None
    if account.disabled_at:
        await end(gw, session_id)
        return None
    last_seen = parse_time(row.last_seen)
    if parse_time(row.expires_at) <= now or last_seen + idle(gw) <= now:
        await end(gw, session_id)
        return None
    if now - last_seen >= TOUCH_EVERY:
        async with gw.store.write() as conn:
            await queries.touch_session(conn, hashed, format_time(now))
    return Session(hashed, account.name, account.role, row.csrf)


async def end(gw: Gateway, session_id: str) -> None:
    async with gw.store.write() as conn:
        await queries.delete_session(conn, id_hash(session_id))

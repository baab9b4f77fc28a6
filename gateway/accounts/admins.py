"""Named console accounts: add, list, change the password, remove, and sign in.

Passwords are people's, so unlike the gateway's own random secrets they are stored as argon2
hashes (argon2-cffi's defaults) and checked off the event loop. Repeated failed sign-ins for
one name lock that name out for a while, doubling each time; names that do not exist are
treated the same way, so a lock-out says nothing about which accounts exist.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.clock import format_time, parse_duration, parse_time
from gateway.errors import GatewayError
from gateway.store import admins as queries
from gateway.store.admins import AdminRow
from gateway.store.base import Conn

if TYPE_CHECKING:
    from gateway.core import Gateway

ADMIN, AUDITOR = "admin", "auditor"
ACCESS = (ADMIN, AUDITOR)  # what an account may do: everything, or read only
NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
LOCK_MAX = timedelta(minutes=15)
FORGET_FAILURES = timedelta(days=1)
_hasher = PasswordHasher()
# Checked when the name is unknown, so that answer takes as long as a wrong password.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class AdminError(GatewayError):
    """A request about console accounts that cannot be carried out."""


class SignInRefused(GatewayError):
    """Wrong name or password, or a name locked out for now (the message says which)."""

    status = 401


def actor(name: str) -> str:
    """How the sync log names a change made by this account from the console."""
    return f"console:{name}"


def new_password() -> str:
    return secrets.token_urlsafe(18)


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise AdminError("an account name is 1-64 lower-case letters, digits, . _ @ or -, "
                         "starting with a letter or digit")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AdminError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    return password


def check_access(role: str) -> str:
    if role not in ACCESS:
        raise AdminError(f"the role of an account is one of {', '.join(ACCESS)}, not '{role}'")
    return role


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def password_matches(password: str, stored: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)


async def add_admin(gw: Gateway, name: str, role: str = ADMIN,
                    password: str | None = None) -> tuple[AdminRow, str | None]:
    """A new account; returns it and the password generated for it (None when one was
    given), to be shown once."""
    check_name(name)
    check_access(role)
    generated = None
    if password is None:
        password = generated = new_password()
    check_password(password)
    now = gw.clock.stamp()
    row = AdminRow(name=name, password_hash=await hash_password(password), role=role,
                   created_at=now, password_set_at=now)
    async with gw.store.write() as conn:
        if not await queries.insert_admin(conn, row):
            raise AdminError(f"an account named '{name}' already exists", 409)
    return row, generated


async def list_admins(gw: Gateway) -> list[AdminRow]:
    async with gw.store.read() as conn:
        return await queries.list_admins(conn)


async def has_accounts(gw: Gateway) -> bool:
    async with gw.store.read() as conn:
        return await queries.count_admins(conn) > 0


async def change_password(gw: Gateway, name: str, password: str | None = None) -> str | None:
    """A new password for the account (generated when None: returned to be shown once). Its
    sessions end: whoever knew the old password is signed out."""
    generated = None
    if password is None:
        password = generated = new_password()
    check_password(password)
    hashed = await hash_password(password)
    async with gw.store.write() as conn:
        if not await queries.set_password(conn, name, hashed, gw.clock.stamp()):
            raise AdminError(f"no account '{name}'", 404)
        await queries.delete_sessions_of(conn, name)
        await queries.clear_failures(conn, name)
    return generated


async def remove_admin(gw: Gateway, name: str) -> None:
    """Remove an account and end its sessions; the last full admin stays."""
    async with gw.store.write() as conn:
        found = await queries.get_admin(conn, name)
        if found is None:
            raise AdminError(f"no account '{name}'", 404)
        if found.role == ADMIN and await queries.count_admins(conn, ADMIN) == 1:
            raise AdminError(f"'{name}' is the last account with the role admin; add another "
                             "one first", 409)
        await queries.delete_admin(conn, name)


async def sign_in(gw: Gateway, name: str, password: str) -> AdminRow:
    """The account, if the password is its own and the name is not locked out."""
    key = name.strip().lower()[:64]
    now = gw.clock.now()
    async with gw.store.read() as conn:
        failed = await queries.failures(conn, key)
        found = await queries.get_admin(conn, key) if key else None
    if failed and failed["locked_until"] and parse_time(failed["locked_until"]) > now:
        wait = int((parse_time(failed["locked_until"]) - now).total_seconds()) + 1
        raise SignInRefused(f"Too many failed sign-ins for this name; try again in {wait} "
                            "seconds", 429, headers={"Retry-After": str(wait)})
    matches = await password_matches(password[:MAX_PASSWORD],
                                     found.password_hash if found else _DUMMY)
    async with gw.store.write() as conn:
        if found is not None and matches:
            await queries.clear_failures(conn, key)
            await queries.signed_in(conn, key, format_time(now))
            return found
        await note_failure(gw, conn, key, failed)
    raise SignInRefused("Wrong name or password")


async def note_failure(gw: Gateway, conn: Conn, key: str, failed: dict | None) -> None:
    count = (failed["failures"] if failed else 0) + 1
    allowed = gw.settings.console_lockout_after
    locked_until = None
    if count >= allowed:
        first = timedelta(seconds=parse_duration(gw.settings.console_lockout))
        lock = min(first * 2 ** (count - allowed), LOCK_MAX)
        locked_until = format_time(gw.clock.now() + lock)
    await queries.record_failure(conn, key, count, gw.clock.stamp(), locked_until)
    await queries.prune_failures(conn, format_time(gw.clock.now() - FORGET_FAILURES))

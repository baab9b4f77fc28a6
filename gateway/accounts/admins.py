"""Named console accounts: add, list, change the password, disable, remove, and sign in.

An account is local (a password) or comes from single sign-on (gateway.accounts.sso: no
password; it signs in only through the identity provider). A disabled account cannot sign
in and its sessions end.

Passwords are people's, so unlike the gateway's own random secrets they are stored as argon2
hashes (argon2-cffi's defaults), hashed and checked off the event loop within the process's
bound (gateway.accounts.password_checks). How often sign-ins may be tried, and by whom, is
gateway.accounts.sign_in_limits.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.accounts import sign_in_limits
from gateway.accounts.password_checks import Busy
from gateway.context import admin_context
from gateway.errors import GatewayError
from gateway.events.synclog_write import log_entry
from gateway.store import admins as queries
from gateway.store.admins import LOCAL, AdminRow

if TYPE_CHECKING:
    from gateway.core import Gateway

ADMIN, AUDITOR = "admin", "auditor"
ACCOUNT = "ConsoleAccount"  # the sync log's resource type for console accounts
ACCESS = (ADMIN, AUDITOR)  # what an account may do: everything, or read only
NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
CHECK_WAIT = 5.0  # seconds a sign-in waits for a password check to start, then 429
_hasher = PasswordHasher()
# Checked when the name is unknown, so that answer takes as long as a wrong password (and,
# through the same bound, no more memory at once).
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class AdminError(GatewayError):
    """A request about console accounts that cannot be carried out."""


class SignInRefused(GatewayError):
    """Wrong name or password."""

    status = 401


class Disabled(GatewayError):
    """The right password for an account that is disabled."""

    status = 403


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


async def hash_password(gw: Gateway, password: str) -> str:
    return await gw.password_checks.run(functools.partial(_hasher.hash, password))


async def password_matches(gw: Gateway, password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` is the hash of; Busy when no check comes
    free within CHECK_WAIT seconds."""
    def verify() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await gw.password_checks.run(verify, CHECK_WAIT)


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
    row = AdminRow(name=name, password_hash=await hash_password(gw, password), role=role,
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
    hashed = await hash_password(gw, password)
    async with gw.store.write() as conn:
        found = await queries.get_admin(conn, name)
        if found is not None and found.source != LOCAL:
            raise AdminError(f"'{name}' signs in with single sign-on: it has no password", 409)
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


async def set_disabled(gw: Gateway, name: str, disabled: bool,
                       actor: str | None = None) -> AdminRow:
    """Disable an account (its sessions end; it cannot sign in) or enable it again. The last
    enabled account with the role admin stays enabled. A change from the console is in the
    sync log with its actor."""
    async with gw.store.write() as conn:
        found = await queries.get_admin(conn, name)
        if found is None:
            raise AdminError(f"no account '{name}'", 404)
        if disabled and found.disabled_at is None and found.role == ADMIN \
                and await queries.count_enabled_admins(conn) == 1:
            raise AdminError(f"'{name}' is the last enabled account with the role admin; "
                             "enable or add another one first", 409)
        if disabled == (found.disabled_at is not None):
            return found
        found.disabled_at = gw.clock.stamp() if disabled else None
        await queries.set_disabled(conn, name, found.disabled_at)
        if disabled:
            await queries.delete_sessions_of(conn, name)
        if actor is not None:
            await log_entry(gw, conn, admin_context(actor), operation="disable" if disabled
                            else "enable", resource_type=ACCOUNT, resource_id=name,
                            before={"disabled": not disabled}, after={"disabled": disabled})
    return found


async def sign_in(gw: Gateway, name: str, password: str, client: str,
                  device: str | None = None) -> tuple[AdminRow, str]:
    """The account and a new device cookie for the browser, if the password is the account's
    own and no limit holds the attempt back. ``client`` is the client's address as the
    limits count it; ``device`` the device cookie the browser sent."""
    key = name.strip().lower()[:64]
    attempt = await sign_in_limits.begin(gw, key, client, device)
    async with gw.store.lookup() as conn:
        found = await queries.get_admin(conn, key) if key else None
    if found is not None and found.source != LOCAL:
        found = None  # no password: checked against the dummy, so it takes as long
    try:
        matches = await password_matches(gw, password[:MAX_PASSWORD],
                                         found.password_hash if found else _DUMMY)
    except Busy:
        await sign_in_limits.not_checked(gw, attempt)
        raise
    if found is None or not matches:
        raise SignInRefused("Wrong name or password")  # its failure is counted already
    if found.disabled_at:
        raise Disabled(f"The account '{found.name}' is disabled; an admin can enable it")
    async with gw.store.write() as conn:
        cookie = await sign_in_limits.succeeded(gw, conn, attempt)
        await queries.signed_in(conn, key, gw.clock.stamp())
    return found, cookie

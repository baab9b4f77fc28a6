"""Webhook signing secrets, encrypted at rest.

The gateway signs each delivery with the secret it shares with the receiver, so it must be
able to read that secret back: unlike the credentials it checks, it cannot be stored as a
hash. It is stored encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``) under a key that is never in the database: the environment variable
IDENTITY_GATEWAY_SECRET_KEYS, one or more Fernet keys separated by commas. The first key
encrypts; every key listed decrypts (MultiFernet), so a key is rotated by putting the new
key first, running ``identity-gateway secrets rekey`` (which re-encrypts every secret with
it), and then dropping the old key.

A key in the environment, not a key file in the run directory, because the run directory is
what gets backed up with the database: a backup must not hold both the lock and the key.
Without a key, creating a webhook is refused, and a gateway whose database has webhooks
refuses to start, saying which variable to set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import GatewayError
from gateway.settings import KEYS_VARIABLE, ConfigError
from gateway.store import webhooks as queries

if TYPE_CHECKING:
    from gateway.core import Gateway
    from gateway.settings import Settings

PREFIX = "fernet:"  # a stored secret without it is from before encryption (plain text)


def new_key() -> str:
    return Fernet.generate_key().decode()


def box(settings: Settings) -> MultiFernet | None:
    """The keys of ``secret_keys`` (a ConfigError names a malformed one), or None."""
    if not settings.secret_keys:
        return None
    fernets = []
    for number, key in enumerate(settings.secret_keys, 1):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError:
            raise ConfigError(f"{KEYS_VARIABLE}: key {number} is not a Fernet key (32 "
                              "url-safe base64 bytes; `identity-gateway secrets new-key` "
                              "makes one)") from None
    return MultiFernet(fernets)


def no_key(what: str) -> GatewayError:
    return GatewayError(f"{what}: webhook secrets are stored encrypted and this gateway has no "
                        f"key; set {KEYS_VARIABLE} (`identity-gateway secrets new-key` makes "
                        "one)", 409)


def seal(gw: Gateway, secret: str) -> str:
    keys = box(gw.settings)
    if keys is None:
        raise no_key("cannot store a webhook secret")
    return PREFIX + keys.encrypt(secret.encode()).decode()


def unseal(gw: Gateway, stored: str) -> str:
    """The secret as given; a ConfigError when no key listed can decrypt it."""
    if not stored.startswith(PREFIX):
        return stored  # from before encryption; `secrets rekey` or the next start seals it
    keys = box(gw.settings)
    if keys is None:
        raise no_key("cannot read a webhook secret")
    try:
        return keys.decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise ConfigError(f"a webhook secret cannot be decrypted with any key in "
                          f"{KEYS_VARIABLE} (was the key it was sealed with removed?)") from None


async def rekey(gw: Gateway) -> int:
    """Re-encrypt every webhook secret with the first key (and seal plain ones); returns how
    many were rewritten."""
    keys = box(gw.settings)
    if keys is None:
        raise no_key("cannot re-encrypt webhook secrets")
    changed = 0
    async with gw.store.write() as conn:
        for row in await queries.secrets(conn):
            stored = row["secret"]
            if stored.startswith(PREFIX):
                try:
                    token = keys.rotate(stored[len(PREFIX):].encode()).decode()
                except InvalidToken:
                    raise ConfigError(f"webhook {row['id']}: its secret cannot be decrypted "
                                      f"with any key in {KEYS_VARIABLE}") from None
            else:
                token = keys.encrypt(stored.encode()).decode()
            await queries.set_secret(conn, row["id"], PREFIX + token)
            changed += 1
    return changed


async def check_at_startup(gw: Gateway) -> None:
    """Stop startup when webhooks exist and no key can read their secrets; seal secrets
    stored in plain text by an earlier version."""
    async with gw.store.read() as conn:
        rows = await queries.secrets(conn)
    if not rows:
        box(gw.settings)  # a malformed key still stops startup
        return
    if box(gw.settings) is None:
        raise ConfigError(f"the database has {len(rows)} webhook(s) whose signing secrets are "
                          f"stored encrypted; set {KEYS_VARIABLE} to the key(s) they were "
                          "sealed with (see docs/deploy.md, 'Webhook secret keys')")
    for row in rows:
        unseal(gw, row["secret"])  # a key that cannot decrypt stops startup here
    if any(not row["secret"].startswith(PREFIX) for row in rows):
        await rekey(gw)

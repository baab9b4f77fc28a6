"""Webhook signing secrets, encrypted at rest.

The gateway signs each delivery with the secret it shares with the receiver, so it must be
able to read that secret back: unlike the credentials it checks, it cannot be stored as a
hash. It is stored encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``) under a key that is never in the database: the environment variable
IDENTITY_GATEWAY_SECRET_KEYS (one or more Fernet keys separated by commas), else the key
file (``secret_keys_file``, by default in the user's config folder), which the first start
creates, owner-only. The first key encrypts; every key listed decrypts (MultiFernet), so a
key is rotated by putting the new key first, running ``identity-gateway secrets rekey``
(which re-encrypts every secret with it), and then dropping the old key.

Never a key beside the database: its folder is what gets backed up, and a backup must not
hold both the lock and the key (settings refuse a key file there). Without a key, creating
a webhook is refused, and a gateway whose database has webhooks refuses to start, saying
which key it needs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import GatewayError
from gateway.settings import KEYS_VARIABLE, ConfigError, read_key_file
from gateway.store import webhooks as queries

if TYPE_CHECKING:
    from gateway.core import Gateway
    from gateway.settings import Settings

PREFIX = "fernet:"  # a stored secret without it is from before encryption (plain text)
HEADER = """\
# identity-gateway: the keys webhook signing secrets are encrypted with (Fernet), one a
# line. The first encrypts, every one decrypts. Keep this file out of the database's
# backups and back it up apart: without it the webhooks' secrets cannot be read.
# docs/deploy.md, "Webhook secret keys".
"""


def new_key() -> str:
    return Fernet.generate_key().decode()


def origin(settings: Settings) -> str:
    """Where the keys come from, as messages name it."""
    return settings.secret_keys_file or KEYS_VARIABLE


def box(settings: Settings) -> MultiFernet | None:
    """The keys of ``secret_keys`` (a ConfigError names a malformed one), or None."""
    if not settings.secret_keys:
        return None
    fernets = []
    for number, key in enumerate(settings.secret_keys, 1):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError:
            raise ConfigError(f"{origin(settings)}: key {number} is not a Fernet key (32 "
                              "url-safe base64 bytes; `identity-gateway secrets new-key` "
                              "makes one)") from None
    return MultiFernet(fernets)


def no_key(settings: Settings, what: str) -> GatewayError:
    where = (f"the key file {settings.secret_keys_file} does not exist yet (the first start "
             "of `identity-gateway serve` creates it; `identity-gateway secrets new-key --add` "
             f"does too), and {KEYS_VARIABLE} is not set" if settings.secret_keys_file
             else f"set {KEYS_VARIABLE} (`identity-gateway secrets new-key` makes one)")
    return GatewayError(f"{what}: webhook secrets are stored encrypted and this gateway has no "
                        f"key; {where}", 409)


def seal(gw: Gateway, secret: str) -> str:
    keys = box(gw.settings)
    if keys is None:
        raise no_key(gw.settings, "cannot store a webhook secret")
    return PREFIX + keys.encrypt(secret.encode()).decode()


def unseal(gw: Gateway, stored: str) -> str:
    """The secret as given; a ConfigError when no key listed can decrypt it."""
    if not stored.startswith(PREFIX):
        return stored  # from before encryption; `secrets rekey` or the next start seals it
    keys = box(gw.settings)
    if keys is None:
        raise no_key(gw.settings, "cannot read a webhook secret")
    try:
        return keys.decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise ConfigError(f"a webhook secret cannot be decrypted with any key in "
                          f"{origin(gw.settings)} (was the key it was sealed with removed?)"
                          ) from None


async def rekey(gw: Gateway) -> int:
    """Re-encrypt every webhook secret with the first key (and seal plain ones); returns how
    many were rewritten."""
    keys = box(gw.settings)
    if keys is None:
        raise no_key(gw.settings, "cannot re-encrypt webhook secrets")
    changed = 0
    async with gw.store.write() as conn:
        for row in await queries.secrets(conn):
            stored = row["secret"]
            if stored.startswith(PREFIX):
                try:
                    token = keys.rotate(stored[len(PREFIX):].encode()).decode()
                except InvalidToken:
                    raise ConfigError(f"webhook {row['id']}: its secret cannot be decrypted "
                                      f"with any key in {origin(gw.settings)}") from None
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
        put = (f" (or put them in {gw.settings.secret_keys_file})"
               if gw.settings.secret_keys_file else "")
        raise ConfigError(f"the database has {len(rows)} webhook(s) whose signing secrets are "
                          f"stored encrypted; set {KEYS_VARIABLE} to the key(s) they were "
                          f"sealed with{put} (see docs/deploy.md, 'Webhook secret keys')")
    for row in rows:
        unseal(gw, row["secret"])  # a key that cannot decrypt stops startup here
    if any(not row["secret"].startswith(PREFIX) for row in rows):
        await rekey(gw)


async def first_key(gw: Gateway) -> Path | None:
    """On a start without a key, the key file, made with a new key (owner-only, its folder
    too) unless the database holds secrets sealed with keys this start lacks, which
    check_at_startup then asks for. Returns its path when this start made it; an OSError
    when it cannot be written."""
    settings = gw.settings
    if settings.secret_keys or not settings.secret_keys_file:
        return None
    async with gw.store.read() as conn:
        rows = await queries.secrets(conn)
    if any(row["secret"].startswith(PREFIX) for row in rows):
        return None
    path = Path(settings.secret_keys_file)
    try:
        write_key_file(path, [new_key()], replace=False)
        made: Path | None = path
    except FileExistsError:  # another process's first start made it meanwhile
        made = None
    settings.secret_keys = read_key_file(path)
    return made


def add_key(settings: Settings) -> Path:
    """A new key first in the key file (made if there is none), the others kept after it:
    the first step of a rotation."""
    if not settings.secret_keys_file:
        raise GatewayError(f"the keys come from {KEYS_VARIABLE}, not from a key file: put the "
                           "new key first there (docs/deploy.md, 'Webhook secret keys')")
    path = Path(settings.secret_keys_file)
    write_key_file(path, [new_key(), *read_key_file(path)], replace=True)
    return path


def write_key_file(path: Path, keys: list[str], replace: bool) -> None:
    """Write the whole file at once, owner-only: a reader sees the old file or the new one,
    never part of one. Without ``replace``, FileExistsError if there is one already."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(HEADER + "".join(f"{key}\n" for key in keys))
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # refuses an existing file, where a rename would replace it
    finally:
        temp.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the new name survives a power loss, like the secrets it decrypts
    finally:
        os.close(folder)

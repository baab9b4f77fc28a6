"""The Store protocol both backends implement, and the row types that cross it.

A store hands out connections: ``read()`` for queries and ``write()`` for one transaction
that commits when the block exits normally and rolls back when it raises. SQL is written
once with ``?`` placeholders; each backend adapts it to its driver. Everything that changes
data goes through ``write()``, so a resource, its membership rows, its sync-log entry and its
outbox event always commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Protocol

import msgspec

from gateway.errors import GatewayError
from gateway.params import ParamError, parse_int
from gateway.store.outage import Outage


class NulText(GatewayError):
    """Text with the NUL character reached a store that cannot keep it (PostgreSQL): a value
    no stored row can hold, so the request is refused, whatever route it came by."""

    scim_type = "invalidValue"

    def __init__(self) -> None:
        super().__init__("Text may not contain the NUL character (\\u0000)", 400)


class Migration(msgspec.Struct, frozen=True):
    component: str  # "core" or a plugin's name
    version: int
    name: str
    sql: str


class Conn(Protocol):
    dialect: str

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None: ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


class Store(Protocol):
    dialect: str
    url: str
    # Called after each commit with its duration in seconds and the writes it stored.
    on_commit: Callable[[float, int], None] | None
    outage: Outage

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def read(self) -> AbstractAsyncContextManager[Conn]: ...

    def write(self) -> AbstractAsyncContextManager[Conn]: ...

    def lookup(self) -> AbstractAsyncContextManager[Conn]:
        """A read-only connection for short indexed point reads (primary key, unique index)
        on the hot path; a backend may run them without leaving the event loop."""

    async def check_writable(self) -> None:
        """Raise StoreUnavailable, with what to do, when this process cannot write the
        database (serve and migrate check before they start)."""

    async def problem(self) -> str | None:
        """Why the store cannot take writes now (for readiness), or None."""

    async def pending(self, migrations: list[Migration]) -> list[Migration]:
        """The migrations not yet applied to this database."""

    async def migrate(self, migrations: list[Migration]) -> list[Migration]:
        """Apply the pending ones in order, each in its own transaction; return them."""


class IntegrityError(Exception):
    """A uniqueness constraint refused a write (both backends raise this)."""


RETRY_AFTER = 10  # seconds a client refused during an outage is asked to wait


class StoreUnavailable(GatewayError):
    """The database cannot be reached, opened or written. At startup the message stops the
    gateway; on a request it is answered 503 with Retry-After, in the route's own shape."""

    status = 503

    def __init__(self, detail: str, why: str = "") -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER)})
        self.why = why or detail  # the cause alone, for readiness


def unavailable_error(why: str) -> StoreUnavailable:
    """What a request is answered during an outage. `why` is shown to any client: the
    driver's reason, never a host, an address or a path."""
    return StoreUnavailable(f"The database is unavailable ({why}); try again later", why)


class ProviderRow(msgspec.Struct, kw_only=True):
    id: str
    name: str
    plugin: str | None
    auth_kind: str
    settings: dict[str, Any]
    created_at: str
    # Changes whenever the provider's custom attributes do (gateway.accounts.custom).
    schema_tag: str = ""


class CredentialRow(msgspec.Struct, kw_only=True):
    id: str
    provider_id: str
    kind: str
    username: str | None
    secret_hash: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None

    def live(self, now: str) -> bool:
        """Neither revoked nor expired at ``now`` (a timestamp string)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ResourceRow(msgspec.Struct, kw_only=True):
    provider_id: str
    id: str
    type: str
    external_id: str | None
    name_key: str | None
    display_key: str | None
    data: dict
    version: int
    created: str
    last_modified: str
    state: str = "active"
    deactivate_at: str | None = None
    hidden: bool = False
    block_reason: str | None = None  # why a live account cannot sign in; None: it can


def json_column(value: Any) -> Any:
    """A JSON column's value as Python: JSON text on SQLite; JSONB on PostgreSQL, which the
    driver hands over as text or already decoded. None stays None."""
    if isinstance(value, (str, bytes)):
        return msgspec.json.decode(value)
    return value


def keyset_page(rows: list[dict[str, Any]], limit: int, key: str,
                view: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """The admin API's page shape from `limit + 1` rows read in `key` order:
    ``{"items": [...], "next_cursor": <key of the last item> or None}``. ``view`` turns a
    row into an item (default: the row itself)."""
    more = len(rows) > limit
    rows = rows[:limit]
    items = [view(row) for row in rows] if view else list(rows)
    return {"items": items, "next_cursor": str(rows[-1][key]) if more and rows else None}


def seq_cursor(cursor: str | None) -> int | None:
    """A page cursor that is a sequence number (what `keyset_page` hands out for seq-ordered
    lists): ASCII digits within 64 bits; None when absent. Anything else answers 400 rather
    than being read as the start (a client that mangled its cursor would loop forever)."""
    if cursor is None or cursor == "":
        return None
    try:
        return parse_int(cursor, "cursor")
    except ParamError:
        raise GatewayError(f"'cursor' must be the next_cursor of a previous page, not "
                           f"'{cursor[:40]}'") from None


def migrations_in(folder: Traversable | Path, component: str) -> list[Migration]:
    """The numbered `NNNN_name.sql` files of a folder (a Traversable or Path), in order.

    Plugins call it with their own package's folder:
    ``migrations_in(importlib.resources.files(__package__) / "migrations" / dialect, "name")``.
    """
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(component, int(number), rest[:-4], entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def core_migrations(dialect: str) -> list[Migration]:
    """The core's numbered SQL files for a dialect, in order."""
    return migrations_in(resources.files("gateway.store") / "migrations" / dialect, "core")

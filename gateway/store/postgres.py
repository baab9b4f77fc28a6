"""The shared store: PostgreSQL through asyncpg, for several gateway replicas on one database.

Each ``write()`` is one transaction at READ COMMITTED on a pooled connection. That level is
enough because nothing relies on a snapshot staying still while other replicas commit:

* uniqueness (userName per provider, provider names) is enforced by unique indexes, which
  make a concurrent duplicate wait for the first writer and then fail;
* a resource that is about to change is loaded ``FOR UPDATE`` (``resources.get(lock=True)``),
  so two replicas changing one resource take turns, and the version check in
  ``resources.update`` sees the latest committed row;
* outbox sequence numbers are handed out by a one-row counter locked until commit (see the
  0001 migration), so events become visible in sequence order, without gaps;
* a due lifecycle action is claimed with ``FOR UPDATE SKIP LOCKED``: replicas skip the rows
  another one is working on instead of waiting for them.

SERIALIZABLE would give the same results but turn every conflict into a retry of the whole
request, which a SCIM write (hooks, events) cannot be replayed for.

A server that cannot be reached or cannot take work now (see ``unavailable``) is raised as
StoreUnavailable: answered 503 with Retry-After, and logged once by the store's Outage.

SQL is shared with SQLite and written with ``?`` placeholders; they are numbered ``$1..$n``
here. ``?`` inside quoted literals or identifiers is left alone, and shared SQL never uses
the jsonb ``?`` operators (``jsonb_exists`` does the same job).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import asyncpg

from gateway.clock import Clock
from gateway.store.base import (
    IntegrityError,
    Migration,
    NulText,
    StoreUnavailable,
    unavailable_error,
)
from gateway.store.outage import Outage

POOL_SIZE = 10
ACQUIRE_TIMEOUT = 10.0  # seconds a request waits for a pooled connection (or a new one)
STATS_EVERY = 1.0  # seconds between checks for stale planner statistics (one catalog query)
# The tables whose plans go wrong on stale statistics, and how many changed rows make them
# stale: 500 plus a fifth of the rows there were at the last ANALYZE.
STATS_TABLES = ("resources", "members")
STATS_BASE, STATS_FRACTION = 500, 0.2
_STALE = (
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
    " WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])"
    " AND s.n_mod_since_analyze > $2 + $3 * greatest(c.reltuples, 0)"
)
# Per schema, so replicas of one deployment take turns and unrelated schemas do not.
LOCK_KEY = "hashtext('identity-gateway:migrate:' || current_schema())"


@lru_cache(maxsize=2048)
def numbered(sql: str) -> str:
    """`?` placeholders -> `$1..$n`, skipping quoted literals and identifiers."""
    out: list[str] = []
    count, i, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote: still inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i:end + 1])
            i = end + 1
            continue
        if ch == "?":
            count += 1
            out.append(f"${count}")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# Statements with no unique index to break, so no savepoint (two round trips) around
# them: appends keyed by a sequence, and a resource's update that leaves its name key alone
# (resources.update with same_name).
UNIQUE_FREE = ("INSERT INTO SYNC_LOG ", "UPDATE RESOURCES SET DATA = ")


@lru_cache(maxsize=2048)
def _writes(sql: str) -> bool:
    """Statements that can break a unique index and that callers may recover from."""
    text = sql.lstrip().upper()
    return text[:6] in ("INSERT", "UPDATE") and "ON CONFLICT" not in text and \
        not text.startswith(UNIQUE_FREE)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection goes through on its way back to the pool, besides asyncpg's own
    rollback of a transaction left open: nothing. asyncpg's default reset (advisory locks,
    cursors, LISTEN, session settings) costs a round trip on every release, two for each
    read of a request, for state that nothing run on a pooled connection leaves behind:
    settings are SET LOCAL, cursors live in transactions, nothing listens, and `migrate`
    gives back its advisory lock and resets its connection itself."""


# What PostgreSQL answers for text it cannot hold: NUL in text, `\u0000` in jsonb.
_UNSTORABLE = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)


def unavailable(exc: BaseException) -> bool:
    """Whether an error says the server cannot be reached or cannot take work now, rather
    than that a statement is wrong: the network, a lost connection (SQLSTATE class 08),
    insufficient resources (53: disk full, too many connections), a shutdown or a server
    starting up (57P), a system error (58), a read-only server (25006)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state[:2] in ("08", "53", "58") or state[:3] == "57P" or state == "25006"
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc)
    return isinstance(exc, (OSError, TimeoutError))


def _why(exc: BaseException) -> str:
    """An outage's cause for a client: no host or address in it."""
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return os.strerror(exc.errno) if exc.errno else type(exc).__name__
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    return str(exc) or type(exc).__name__


def _count(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1] if status else ""
    return int(tail) if tail.isdigit() else 0


class PostgresConn:
    dialect = "postgres"

    def __init__(self, conn: asyncpg.Connection, in_transaction: bool,
                 store: PostgresStore) -> None:
        self._c = conn
        self._tx = in_transaction
        self._store = store

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        # A failed statement aborts the whole PostgreSQL transaction; a savepoint keeps the
        # caller's transaction usable after an IntegrityError, as it is on SQLite. Only
        # plain INSERT/UPDATE get one: savepoints are not free (subtransaction ids).
        try:
            if self._tx and _writes(sql):
                async with self._c.transaction():
                    status = await self._c.execute(numbered(sql), *params)
            else:
                status = await self._c.execute(numbered(sql), *params)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc
        except _UNSTORABLE:
            raise NulText() from None
        except Exception as exc:
            self._store.check(exc)
            raise
        return _count(status)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            if self._tx and _writes(sql):
                async with self._c.transaction():
                    await self._c.executemany(numbered(sql), list(rows))
            else:
                await self._c.executemany(numbered(sql), list(rows))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc
        except _UNSTORABLE:
            raise NulText() from None
        except Exception as exc:
            self._store.check(exc)
            raise

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        try:
            return [dict(row) for row in await self._c.fetch(numbered(sql), *params)]
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc
        except _UNSTORABLE:
            raise NulText() from None
        except Exception as exc:
            self._store.check(exc)
            raise

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else next(iter(row.values()))


def where(dsn: str) -> str:
    """host:port/database of a URL, without its user or password (for messages)."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def pool_options(url: str) -> tuple[str, int]:
    """The URL without our own `pool_size` parameter, and the pool size it asks for."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    size = POOL_SIZE
    kept = []
    for key, value in query:
        if key == "pool_size":
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"pool_size must be a positive integer, not {value!r}")
            size = int(value)
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), size


class PostgresStore:
    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._dsn, self._size = pool_options(url)
        self._pool: asyncpg.Pool | None = None
        self._statistics: asyncio.Task | None = None
        self.on_commit: Callable[[float, int], None] | None = None
        self.outage = Outage()

    async def open(self) -> None:
        # No floor of idle connections: asyncpg restores one with a traceback per retry
        # while the server is down, and the outage is said once already. So the pool opens
        # none: the first connection is made here, and a server that cannot be reached
        # stops startup with this one line.
        self._pool = asyncpg.create_pool(
            self._dsn, min_size=0, max_size=self._size, timeout=10,
            server_settings={"application_name": "identity-gateway"}, reset=_keep_session,
        )
        try:
            await self._pool
            async with self._pool.acquire() as c:
                await _create_migrations_table(c)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {where(self._dsn)}: "
                                   f"{exc or type(exc).__name__}") from None
        self._statistics = asyncio.get_running_loop().create_task(self._keep_statistics())

    async def _keep_statistics(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY)
            try:
                await self.refresh_statistics()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                pass  # busy or closing: the next round tries again

    async def refresh_statistics(self) -> list[str]:
        """ANALYZE the tables that changed a lot since their last ANALYZE; return their names.

        The planner reads these statistics to choose an index. Autovacuum refreshes them, but
        only on its own schedule (a minute apart by default): after a fast initial sync it
        still believes a table nearly empty, and answers `externalId eq` or a group member
        check by walking every row of the provider or the group. One cheap catalog query a
        second (``STATS_EVERY``) keeps the plans right while the data grows.
        """
        async with self._open_pool().acquire() as c:
            stale = [row["relname"] for row in await c.fetch(
                _STALE, list(STATS_TABLES), STATS_BASE, STATS_FRACTION)]
            for table in stale:
                await c.execute(f"ANALYZE {table}")  # a name from STATS_TABLES, never input
        return stale

    async def close(self) -> None:
        if self._statistics is not None:
            self._statistics.cancel()
            self._statistics = None
        if self._pool is not None:
            await self._pool.close()
        self._pool = None

    def pool_usage(self) -> tuple[int, int, int]:
        """Connections in use, idle, and the pool's maximum (for the metrics)."""
        pool = self._open_pool()
        size, idle = pool.get_size(), pool.get_idle_size()
        return size - idle, idle, pool.get_max_size()

    def _open_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    def check(self, exc: BaseException) -> None:
        """Raise StoreUnavailable for an error that says the server cannot be used now (and
        tell the outage); return for any other, which the caller raises as it is."""
        if unavailable(exc):
            why = _why(exc)
            self.outage.failed(f"PostgreSQL at {where(self._dsn)}: {type(exc).__name__}: "
                               f"{exc}", why)
            raise unavailable_error(why) from exc

    async def check_writable(self) -> None:
        """Nothing to check ahead: a server that refuses writes is an outage per request."""

    async def problem(self) -> str | None:
        """None: readiness reads through the pool, which is what an outage stops."""
        return None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._open_pool()
        try:
            # A timer, not acquire(timeout=), which wraps each acquire in a task of its own.
            async with asyncio.timeout(ACQUIRE_TIMEOUT):
                c = await pool.acquire()
        except Exception as exc:
            self.check(exc)
            raise
        try:
            yield c
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await pool.release(c)
                except Exception as exc:  # a lost connection: the pool has dropped it
                    if not unavailable(exc):
                        raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresConn]:
        async with self._connection() as c:
            yield PostgresConn(c, in_transaction=False, store=self)
        self.outage.recovered()

    def lookup(self) -> AbstractAsyncContextManager[PostgresConn]:
        """Point reads: on PostgreSQL the same pool as any read."""
        return self.read()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[PostgresConn]:
        async with self._connection() as c:
            tx = c.transaction()  # READ COMMITTED, the server default; see the module doc
            try:
                await tx.start()
            except Exception as exc:
                self.check(exc)
                raise
            try:
                yield PostgresConn(c, in_transaction=True, store=self)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._rollback(c, tx)
                raise
            began = time.perf_counter()
            try:
                with anyio.CancelScope(shield=True):
                    await tx.commit()
            except Exception as exc:
                self.check(exc)
                raise
            if self.on_commit is not None:
                self.on_commit(time.perf_counter() - began, 1)
        self.outage.recovered()

    async def _rollback(self, c: asyncpg.Connection, tx: Any) -> None:
        """Roll back after a failure; a connection lost on the way took the transaction
        with it, and the failure that is being raised already says so."""
        if c.is_closed():
            return
        try:
            await tx.rollback()
        except Exception as exc:
            if not unavailable(exc):
                raise

    async def pending(self, migrations: list[Migration]) -> list[Migration]:
        async with self._open_pool().acquire() as c:
            return await _pending(c, migrations)

    async def migrate(self, migrations: list[Migration]) -> list[Migration]:
        """Apply what is pending, each migration in its own transaction.

        A session advisory lock makes replicas that start together take turns: the second
        finds the work done and applies nothing.
        """
        applied = []
        async with self._open_pool().acquire() as c:
            await c.execute(f"SELECT pg_advisory_lock({LOCK_KEY})")
            try:
                for migration in await _pending(c, migrations):
                    async with c.transaction():
                        await c.execute(migration.sql)
                        await c.execute(
                            "INSERT INTO schema_migrations (component, version, name,"
                            " applied_at) VALUES ($1, $2, $3, $4)",
                            migration.component, migration.version, migration.name,
                            Clock().stamp(),
                        )
                    applied.append(migration)
            finally:
                with anyio.CancelScope(shield=True):
                    await c.execute(f"SELECT pg_advisory_unlock({LOCK_KEY})")
                    await c.reset()  # whatever a migration's SQL set for its session
        return applied


async def _create_migrations_table(c: asyncpg.Connection) -> None:
    async with c.transaction():
        # Two replicas starting at once must not both create the table.
        await c.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
        await c.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL,"
            " version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,"
            " PRIMARY KEY (component, version))"
        )


async def _pending(c: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    rows = await c.fetch("SELECT component, version FROM schema_migrations")
    done = {(row["component"], row["version"]) for row in rows}
    return [m for m in migrations if (m.component, m.version) not in done]

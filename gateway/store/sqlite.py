"""The embedded store: one SQLite file in WAL mode, through aiosqlite.

SQLite allows one writer at a time, so writes share one connection behind a lock; the writes
of one turn of the event loop share a ``BEGIN IMMEDIATE`` transaction, each in a savepoint
(group commit, see ``write``). Reads use connections of their own, which WAL lets proceed
while a write is under way.

Point reads (``lookup()``: a primary-key or unique-index lookup, such as a credential check)
and write transactions run inline on the event loop through plain sqlite3 connections: a
SCIM write is a handful of indexed statements of a few microseconds each, far less than
handing each to a thread and back. Scans (lists, exports, long member lists) keep to the
reader threads. The inline writer never waits on a lock while holding the loop: a database
busy with another process is retried asynchronously, and WAL checkpoints run on a reader's
thread instead of at commit.

Durability: the writer runs ``synchronous=FULL`` by default, so every commit fsyncs the WAL
before the writes it holds are acknowledged: an IdP told that a deactivation succeeded does
not send it again, and a power loss must not take it back. Group commit makes that one fsync
per batch, not per write, and that COMMIT runs on a worker thread (holding the write lock):
the loop goes on answering reads and reading the requests that form the next batch while
the disk works. ``synchronous="normal"`` (the ``sqlite_synchronous`` setting) fsyncs only at
checkpoints and commits inline: a crash of the process loses nothing, a crash of the machine
can lose the last commits.

Several processes (``serve --workers N``) share one file: each keeps its own group commit,
and a batch takes the write turn across processes first, with an ``flock`` on the file
``<database>-lock`` (``shared=True``, see _Turn): taken at once when free, else waited for
in line on a worker thread. The kernel wakes the process that waits when the turn is given
back, and the one that gave it back queues behind it, so a process with writes queued
cannot keep the turn from another, and SQLite's own lock then never makes a writer wait.
A process killed while it holds the turn gives it back with its file descriptors; its
transaction, never committed, is rolled back by SQLite. Other clients of the file (the
CLI's short commands) still take SQLite's lock as before.

Availability: an error that says the database cannot be read or written now (disk full,
read-only, I/O error, cannot open, held by another process past BUSY_TIMEOUT) is raised as
StoreUnavailable (503 with Retry-After, logged once by the store's Outage); any other is a
bug. Before and after each commit the path is checked against the file the connections
hold (a stat): writes committed into a file deleted or replaced under the process would be
lost at the next start, so they are refused instead of acknowledged.

The WAL is bounded: when it passes WAL_LIMIT a checkpoint copies it into the database under
the write lock and restarts it (``journal_size_limit`` then cuts the file back), waiting at
most CHECKPOINT_WAIT for readers still on it. Passive checkpoints alone never catch up with
sustained writes: the log is only restarted when a checkpoint has copied all of it and no
reader or writer is using it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from gateway.clock import Clock
from gateway.store.base import IntegrityError, Migration, StoreUnavailable, unavailable_error
from gateway.store.outage import Outage

READERS = 2
BUSY_TIMEOUT = 10.0  # seconds a write waits for another process's write to finish
CHECKPOINT_EVERY = 2.0  # seconds between WAL checkpoints
BATCH_WRITES = 64  # a group commit takes at most this many writes
BATCH_SECONDS = 0.02  # and stays open at most this long
WAL_LIMIT = 4 * 1024 * 1024  # bytes of WAL that make a checkpoint restart it
CHECKPOINT_WAIT = 0.2  # seconds that checkpoint (holding the write lock) waits for readers
# Primary result codes that say the database cannot be used now, not that a statement is
# wrong: busy, read-only, I/O error, corrupt, full, cannot open, not a database.
UNAVAILABLE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
                         sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
                         sqlite3.SQLITE_NOTADB})
PERMISSIONS = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN})


def unavailable(exc: sqlite3.Error) -> bool:
    """Whether an error means the database cannot be used now (see UNAVAILABLE)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in UNAVAILABLE


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> dict:
    # One value per column by construction: no strict check on every row read.
    return {col[0]: value for col, value in zip(cursor.description, row, strict=False)}


class SqliteConn:
    """A reader's connection (its own thread): for scans that should not hold the loop."""

    dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection, store: SqliteStore) -> None:
        self._db = db
        self._store = store

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise TypeError("read() connections are read-only; write through write()")

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise TypeError("read() connections are read-only; write through write()")

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        try:
            # Rows are dicts: every connection's row_factory is _dict_row.
            return list(await self._db.execute_fetchall(sql, params))  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            self._store.check(exc)
            raise

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else next(iter(row.values()))


class InlineConn:
    """The Conn interface over a sqlite3 connection used on the event loop's own thread."""

    dialect = "sqlite"

    def __init__(self, db: sqlite3.Connection, store: SqliteStore) -> None:
        self._db = db
        self._store = store

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._db.execute(sql, params).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.Error as exc:
            self._store.check(exc)
            raise

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._db.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except sqlite3.Error as exc:
            self._store.check(exc)
            raise

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.IntegrityError as exc:  # INSERT ... RETURNING
            raise IntegrityError(str(exc)) from exc
        except sqlite3.Error as exc:
            self._store.check(exc)
            raise

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else next(iter(row.values()))


class _Ready:
    """`async with` around a connection that needs no setup or teardown: point reads run
    on every request, and a generator-based context manager costs more than the read."""

    __slots__ = ("conn",)

    def __init__(self, conn: InlineConn) -> None:
        self.conn = conn

    async def __aenter__(self) -> InlineConn:
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Batch:
    """The open transaction that concurrent writes share until it commits."""

    def __init__(self) -> None:
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        self.writes = 0
        self.began = time.monotonic()
        self.scheduled = False  # a commit task is on its way


SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}


def _inline_connection(path: str, *, read_only: bool, synchronous: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    db.row_factory = _dict_row
    db.execute(f"PRAGMA synchronous={SYNCHRONOUS[synchronous]}")
    db.execute("PRAGMA foreign_keys=ON")
    # The hot path's pages stay in memory: 64 MiB each (SQLite's default is 2 MiB).
    db.execute("PRAGMA cache_size=-65536")
    # A write's savepoint journal (and any temporary table or sort) stays in memory: on disk
    # every savepoint wrote a file of its own, a system call per page, for nothing a crash
    # could use (the WAL holds what is committed).
    db.execute("PRAGMA temp_store=MEMORY")
    if read_only:
        db.execute("PRAGMA query_only=ON")
    else:
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run off the loop
        db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")  # the WAL's size once restarted
    return db


async def _begin(db: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting asynchronously while another process holds the write lock."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    delay = 0.001
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.05)


class _Turn:
    """The write turn across the processes that share the file: an exclusive flock on
    ``<database>-lock``, held from a batch's BEGIN to its COMMIT or ROLLBACK; and the place
    in line for it, a POSIX lock on the file's first byte, held by the process waiting for
    the turn. A process that has just given the turn back finds the line taken and waits
    behind it, so under contention the turn goes from one process to the next."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def try_take(self) -> bool:
        """The turn, now, when no process holds it or waits in line for it (never waits:
        on the event loop)."""
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        except OSError:  # another process waits in line
            return False
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:  # another process holds the turn
            return False
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, 0)

    def take(self) -> None:
        """Wait in line, then for the turn (on a worker thread)."""
        fcntl.lockf(self.fd, fcntl.LOCK_EX, 1, 0)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, 0)

    def give_back(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)


class SqliteStore:
    dialect = "sqlite"

    def __init__(self, path: str, synchronous: str = "full", shared: bool = False) -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {', '.join(SYNCHRONOUS)}, "
                             f"not {synchronous!r}")
        self.url = path
        self.synchronous = synchronous
        self.shared = shared and path != ":memory:"  # other serve workers write the file too
        self._turn: _Turn | None = None
        self._holds_turn = False
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._free: list[aiosqlite.Connection] = []
        self._inline: sqlite3.Connection | None = None
        self._inline_writer: sqlite3.Connection | None = None
        self._write_lock = anyio.Lock()
        self._batch: _Batch | None = None
        self._committers: set[asyncio.Task] = set()  # pending commits (kept referenced)
        self._checkpointer: asyncio.Task | None = None
        self._reader_slots = anyio.Semaphore(READERS)
        self._wal_full = asyncio.Event()  # a commit saw the WAL pass WAL_LIMIT
        self._frame = 4096 + 24  # bytes of a WAL frame: a page and its header
        self._file: tuple[int, int] | None = None  # (device, inode) of the file opened
        self._tried = 0  # writes tried: readiness probes when none was since it last looked
        self._tried_seen = 0
        self.on_commit: Callable[[float, int], None] | None = None
        self.outage = Outage()

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.url, isolation_level=None)
        # aiosqlite types row_factory as a class, but hands it to sqlite3, which takes any
        # callable (cursor, row) -> row.
        db.row_factory = _dict_row  # type: ignore[assignment]
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={SYNCHRONOUS[self.synchronous]}")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=10000")
        except BaseException:  # its thread would keep the process from exiting
            await db.close()
            raise
        return db

    async def open(self) -> None:
        try:
            await self._open()
        except (OSError, sqlite3.Error) as exc:
            await self.close()  # what did open holds threads that would outlive the error
            reason = getattr(exc, "strerror", None) or str(exc)
            raise StoreUnavailable(f"cannot open the SQLite database '{self.url}': "
                                   f"{reason}{self._hint(exc)}") from None

    def _hint(self, exc: BaseException) -> str:
        """What to do about a database this process may not write."""
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in PERMISSIONS:
            return ""
        name = Path(self.url).name
        return (f" (the user the gateway runs as needs write access to the file and to its "
                f"folder, where SQLite keeps {name}-wal and {name}-shm)")

    async def _open(self) -> None:
        self._wal_full = asyncio.Event()
        if self.url != ":memory:":
            Path(self.url).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        page = await self._writer.execute_fetchall("PRAGMA page_size")
        self._frame = next(iter(page))["page_size"] + 24
        if self.url != ":memory:":
            opened = os.stat(self.url)
            self._file = (opened.st_dev, opened.st_ino)
        await self._writer.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL,"
            " version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,"
            " PRIMARY KEY (component, version))"
        )
        for _ in range(READERS):
            self._readers.append(await self._connect())
        self._free = list(self._readers)
        self._inline = _inline_connection(self.url, read_only=True,
                                          synchronous=self.synchronous)
        self._inline_writer = _inline_connection(self.url, read_only=False,
                                                 synchronous=self.synchronous)
        if self.shared:
            self._turn = _Turn(self.url + "-lock")
        self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoints())

    async def _checkpoints(self) -> None:
        """Fold the WAL back into the database every CHECKPOINT_EVERY seconds, or as soon as
        a commit sees it pass WAL_LIMIT, on a thread of its own; restart it when the frames
        it holds pass the limit."""
        restarted = -1  # the log's frames at the last restart: the next write starts over
        while True:
            try:
                await asyncio.wait_for(self._wal_full.wait(), CHECKPOINT_EVERY)
            except TimeoutError:
                pass
            self._wal_full.clear()
            if self._writer is None:
                continue
            try:
                # Copies what it can while writes go on, so the restart has little left.
                passive = await self._writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
                log = next(iter(passive))["log"]
                if log * self._frame > WAL_LIMIT and log != restarted:
                    restarted = await self._restart_wal()
            except sqlite3.Error:  # busy or closing: the next round tries again
                pass

    async def _restart_wal(self) -> int:
        """A RESTART checkpoint, holding the write lock: the open batch commits first, so no
        writer holds the WAL; readers still on it get CHECKPOINT_WAIT to finish. Runs on a
        worker thread: the loop goes on answering reads meanwhile. Returns the log's frames
        when it restarted, -1 when readers kept it from it (the next round tries again)."""
        async with self._write_lock:
            if self._batch is not None:
                await self._commit(self._batch)
            db = self._inline_writer
            if db is None:
                return -1
            return await anyio.to_thread.run_sync(_restart, db, self._turn)

    def _wal_size(self) -> int:
        try:
            return os.stat(self.url + "-wal").st_size
        except OSError:
            return 0

    async def close(self) -> None:
        async with self._write_lock:  # a commit on its way to the disk finishes first
            if self._batch is not None:  # writes that ended just now still get their commit
                self._finish(self._batch)
        self._file = None
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            self._checkpointer = None
        for inline in (self._inline, self._inline_writer):
            if inline is not None:
                inline.close()
        self._inline = self._inline_writer = None
        if self._turn is not None:
            self._turn.close()  # gives the turn back too, should this process hold it
            self._turn = None
        for db in self._readers:
            await db.close()
        if self._writer is not None:
            await self._writer.close()
        self._readers, self._free, self._writer = [], [], None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteConn]:
        async with self._reader_slots:
            db = self._free.pop()
            try:
                yield SqliteConn(db, self)
            finally:
                self._free.append(db)

    def lookup(self) -> _Ready:
        assert self._inline is not None, "store is not open"
        return _Ready(InlineConn(self._inline, self))

    def check(self, exc: sqlite3.Error) -> None:
        """Raise StoreUnavailable for an error that says the database cannot be used now
        (and tell the outage); return for any other, which the caller raises as it is."""
        if unavailable(exc):
            raise self._unavailable(str(exc), exc.sqlite_errorname) from exc

    def _unavailable(self, why: str, code: str = "") -> StoreUnavailable:
        self.outage.failed(f"SQLite database '{self.url}': {why}" +
                           (f" ({code})" if code else ""), why)
        return unavailable_error(why)

    def moved(self) -> str | None:
        """Why the path no longer names the file the connections hold, or None. Writes
        into a deleted or replaced file are lost at the next start."""
        if self._file is None:
            return None
        try:
            now = os.stat(self.url)
        except FileNotFoundError:
            return "the database file was deleted under the running gateway"
        except OSError as exc:
            return f"the database file cannot be checked: {exc.strerror}"
        if (now.st_dev, now.st_ino) != self._file:
            return "the database file was replaced under the running gateway"
        return None

    async def problem(self) -> str | None:
        """The database file deleted or replaced, or the last write failed. A failure that
        no write has retried since the last look is retried here, with a write that changes
        nothing, so that readiness comes back without traffic once the cause is gone."""
        moved = self.moved()
        if moved is not None:
            return f"{moved}: writes are refused; restore the file and restart the gateway"
        if self.outage.down and self._tried == self._tried_seen:
            try:
                async with self.write() as conn:
                    version = int(await conn.fetchval("PRAGMA user_version"))
                    await conn.execute(f"PRAGMA user_version={version}")
            except StoreUnavailable:
                pass
        self._tried_seen = self._tried
        return f"the store is unavailable ({self.outage.why})" if self.outage.down else None

    async def check_writable(self) -> None:
        """A write that changes nothing (the header's user_version set to itself), committed
        past the outage log: at startup its failure is the one line that stops it."""
        db = self._inline_writer
        assert db is not None, "store is not open"
        async with self._write_lock:
            try:
                await self._begin(db)
                version = db.execute("PRAGMA user_version").fetchone()["user_version"]
                db.execute(f"PRAGMA user_version={int(version)}")
                db.execute("COMMIT")
                self._give_back()
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._give_back()
                raise StoreUnavailable(f"the SQLite database '{self.url}' cannot be written "
                                       f"by this process: {exc}{self._hint(exc)}") from None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[InlineConn]:
        """One write, atomic on its own, committed together with the writes that run in the
        same turn of the event loop (group commit); returns once its commit is done.

        Each write is a savepoint in the batch's transaction: a failed write rolls back to
        its savepoint and leaves the others alone. The commit writes each touched page once
        for the whole batch instead of once per write. Should the commit itself fail, every
        write of the batch fails with it, so none reports success without being stored.
        """
        db = self._inline_writer
        assert db is not None, "store is not open"
        self._tried += 1
        async with self._write_lock:
            batch = self._batch
            if batch is None:
                try:
                    await self._begin(db)
                except sqlite3.Error as exc:
                    self.check(exc)
                    raise
                batch = self._batch = _Batch()
            db.execute("SAVEPOINT write")
            try:
                yield InlineConn(db, self)
            except BaseException as exc:
                if not db.in_transaction:  # the error took the whole transaction with it
                    self._finish(batch, exc)
                    raise
                db.execute("ROLLBACK TO write")
                db.execute("RELEASE write")
                with anyio.CancelScope(shield=True):  # the others still wait for a commit
                    await self._ended(batch)
                raise
            db.execute("RELEASE write")
            batch.writes += 1
            await self._ended(batch)
        await asyncio.shield(batch.done)

    async def _begin(self, db: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, after taking the write turn from the other processes that share
        the file (shared=True). Shielded: a write cancelled while it waits still takes the
        turn, and gives it back with the batch it opened."""
        if self._turn is not None and not self._holds_turn:
            if not self._turn.try_take():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._turn.take)
            self._holds_turn = True
        try:
            await _begin(db)
        except BaseException:
            self._give_back()
            raise

    def _give_back(self) -> None:
        """The batch's transaction has ended: the other processes may write."""
        if self._holds_turn and self._turn is not None:
            self._holds_turn = False
            self._turn.give_back()

    async def _ended(self, batch: _Batch) -> None:
        """A write has left the batch (the write lock is held): commit now if the batch is
        full or old, else soon."""
        if batch.writes >= BATCH_WRITES or time.monotonic() - batch.began > BATCH_SECONDS:
            await self._commit(batch)
        elif not batch.scheduled:
            batch.scheduled = True
            # A task: it runs after those that were ready when this write ended, and waits
            # for the lock behind the writes already queued for it. They join the batch.
            task = asyncio.get_running_loop().create_task(self._commit_soon(batch))
            self._committers.add(task)
            task.add_done_callback(self._committers.discard)

    async def _commit_soon(self, batch: _Batch) -> None:
        async with self._write_lock:
            if self._batch is batch:  # else a full batch committed already
                await self._commit(batch)

    async def _commit(self, batch: _Batch) -> None:
        """COMMIT the batch, holding the write lock. With synchronous=FULL the commit waits
        for the fsync of the WAL: it runs on a worker thread, so the event loop keeps
        answering reads (and reading the requests that form the next batch) meanwhile."""
        if self.synchronous != "full":
            self._finish(batch)
            return
        db = self._inline_writer
        assert db is not None, "a batch exists only while the store is open"
        self._batch = None
        moved = self._moved_refusal()
        if moved is not None:
            self._settle(batch, moved)
            return
        with anyio.CancelScope(shield=True):  # the batch's writes are settled either way
            began = time.perf_counter()
            try:
                await anyio.to_thread.run_sync(db.execute, "COMMIT")
            except BaseException as exc:  # whatever it was, no write of the batch succeeded
                self._settle(batch, exc)
                if not isinstance(exc, sqlite3.Error):
                    raise
            else:
                self._committed(batch, began)
                self._settle(batch, self._stored(batch))

    def _finish(self, batch: _Batch, failure: BaseException | None = None) -> None:
        """COMMIT on the event loop's thread (or roll back after `failure`)."""
        db = self._inline_writer
        assert db is not None, "a batch exists only while the store is open"
        self._batch = None
        if failure is None:
            failure = self._moved_refusal()
        if failure is None:
            began = time.perf_counter()
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                failure = exc
            else:
                self._committed(batch, began)
                failure = self._stored(batch)
        self._settle(batch, failure)

    def _moved_refusal(self) -> StoreUnavailable | None:
        """Checked before a commit (the batch then rolls back) and after it (a file
        deleted meanwhile): a refusal when the path no longer names the file written."""
        moved = self.moved()
        return None if moved is None else self._unavailable(moved)

    def _stored(self, batch: _Batch) -> StoreUnavailable | None:
        """After a commit: a refusal when the file was deleted or replaced meanwhile. A batch
        that stored a write ends an outage (one whose writes all failed proves nothing).
        Wakes the checkpointer when the WAL has passed its limit."""
        moved = self._moved_refusal()
        if moved is not None:
            return moved
        if batch.writes:
            self.outage.recovered()
        if self._wal_size() > WAL_LIMIT:
            self._wal_full.set()
        return None

    def _committed(self, batch: _Batch, began: float) -> None:
        """Tell the app's metrics how long a commit took and how many writes it carried."""
        if self.on_commit is not None:
            self.on_commit(time.perf_counter() - began, batch.writes)

    def _settle(self, batch: _Batch, failure: BaseException | None) -> None:
        db = self._inline_writer
        assert db is not None, "a batch exists only while the store is open"
        if failure is not None:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(failure, sqlite3.Error) and unavailable(failure):
                failure = self._unavailable(str(failure), failure.sqlite_errorname)
            if not isinstance(failure, StoreUnavailable):
                failure = RuntimeError(f"the write was not stored: {failure}")
            self._give_back()
            batch.done.set_exception(failure)
            batch.done.exception()  # a batch nobody waits for any more is not an error
        else:
            self._give_back()
            batch.done.set_result(None)

    async def pending(self, migrations: list[Migration]) -> list[Migration]:
        async with self.read() as conn:
            rows = await conn.fetchall("SELECT component, version FROM schema_migrations")
        done = {(row["component"], row["version"]) for row in rows}
        return [m for m in migrations if (m.component, m.version) not in done]

    async def migrate(self, migrations: list[Migration]) -> list[Migration]:
        applied = []
        todo = await self.pending(migrations)
        if todo:  # a database it cannot write stops here, in one line
            await self.check_writable()
        for migration in todo:
            assert self._writer is not None
            async with self._write_lock:
                # executescript commits on its own, so the record goes in the same script,
                # first: another process applying the same migration at the same moment
                # then fails on its primary key before running any of the SQL.
                script = (
                    "BEGIN IMMEDIATE;\nINSERT INTO schema_migrations VALUES (" + ", ".join(
                        _literal(v) for v in (
                            migration.component, migration.version, migration.name,
                            Clock().stamp(),
                        )
                    ) + ");\n" + migration.sql + "\n;\nCOMMIT;"
                )
                try:
                    await self._writer.executescript(script)
                except BaseException as exc:
                    if self._writer.in_transaction:
                        await self._writer.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.IntegrityError) and \
                            not await self.pending([migration]):
                        continue  # applied by another process meanwhile
                    raise
            applied.append(migration)
        return applied


def _restart(db: sqlite3.Connection, turn: _Turn | None) -> int:
    """RESTART checkpoint on the writer (whose busy timeout is otherwise 0, for the loop),
    holding the write turn when other processes share the file: their writers would
    otherwise keep it from ever finding the log unused."""
    if turn is not None:
        turn.take()
    db.execute(f"PRAGMA busy_timeout={int(CHECKPOINT_WAIT * 1000)}")
    try:
        done = db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    finally:
        db.execute("PRAGMA busy_timeout=0")
        if turn is not None:
            turn.give_back()
    return -1 if done["busy"] else done["log"]


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"

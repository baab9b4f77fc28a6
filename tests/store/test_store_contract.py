"""The Store contract, one suite run on both backends (the `database` fixture: SQLite file and
PostgreSQL schema): transactions, uniqueness, row locks, migrations, the outbox order and the
lifecycle claim."""

from __future__ import annotations

import sqlite3

import anyio
import anyio.lowlevel
import asyncpg
import msgspec
import pytest

from gateway.store import open_store, resources
from gateway.store.base import IntegrityError, Migration, ResourceRow, Store, core_migrations
from gateway.store.lifecycle import claim_next

pytestmark = pytest.mark.anyio
T = "2024-01-01T00:00:00.000000Z"


def user(rid: str, user_name: str, **data: object) -> ResourceRow:
    return ResourceRow(provider_id="p", id=rid, type="User", external_id=None,
                       name_key=user_name.lower(), display_key=None,
                       data={"userName": user_name, **data}, version=1, created=T,
                       last_modified=T)


async def event(conn, kind: str) -> int:
    if conn.dialect == "postgres":
        return await conn.fetchval(
            "INSERT INTO outbox (type, occurred_at, data) VALUES (?, ?, ?) RETURNING seq",
            (kind, T, "{}"))
    await conn.execute("INSERT INTO outbox (type, occurred_at, data) VALUES (?, ?, ?)",
                       (kind, T, "{}"))
    return await conn.fetchval("SELECT last_insert_rowid()")


async def test_write_commits_and_a_raise_rolls_everything_back(store):
    async with store.write() as conn:
        await resources.insert(conn, user("u1", "kept@example.com"))
        await event(conn, "user.created")
    with pytest.raises(RuntimeError):
        async with store.write() as conn:
            await resources.insert(conn, user("u2", "lost@example.com"))
            await event(conn, "user.created")
            raise RuntimeError("half-way")
    async with store.read() as conn:
        ids = [r["id"] for r in await conn.fetchall("SELECT id FROM resources ORDER BY id")]
        events = await conn.fetchval("SELECT count(*) FROM outbox")
    assert ids == ["u1"] and events == 1


async def test_json_data_round_trips(store):
    data = {"name": {"givenName": "Zoë 李"}, "emails": [{"value": "a@b.c", "primary": True}],
            "n": 1.5, "quote": "it's a \"?\"", "empty": {}}
    async with store.write() as conn:
        await resources.insert(conn, user("u1", "Zoë@example.com", **data))  # type: ignore[arg-type]
    async with store.read() as conn:
        row = await resources.get(conn, "p", "User", "u1")
    assert row is not None and row.data == {"userName": "Zoë@example.com", **data}


async def test_unique_name_raises_integrity_error_and_the_transaction_goes_on(store):
    async with store.write() as conn:
        await resources.insert(conn, user("u1", "Same@example.com"))
    async with store.write() as conn:
        with pytest.raises(IntegrityError):
            await resources.insert(conn, user("u2", "same@EXAMPLE.com"))
        # The caller can still look up the winner and write in the same transaction.
        found = await resources.find_by_name(conn, "p", "same@example.com")
        assert found is not None and found.id == "u1"
        await resources.insert(conn, user("u3", "other@example.com"))
    async with store.read() as conn:
        assert await conn.fetchval("SELECT count(*) FROM resources") == 2


async def test_execute_answers_the_rows_changed(store):
    async with store.write() as conn:
        for i in range(3):
            await resources.insert(conn, user(f"u{i}", f"u{i}@example.com"))
        assert await conn.execute("UPDATE resources SET state = ? WHERE id <> ?",
                                  ("blocked", "u0")) == 2
        assert await conn.execute("DELETE FROM resources WHERE id = ?", ("nope",)) == 0
        assert await resources.add_members(conn, "p", "g", ["u1", "u1", "u2"]) == ["u1", "u2"]
        assert await resources.add_members(conn, "p", "g", ["u1"]) == []


async def test_question_marks_inside_literals_are_not_placeholders(store):
    async with store.write() as conn:
        await conn.execute("INSERT INTO outbox (type, occurred_at, data) VALUES ('a?''b?', ?, ?)",
                           (T, '{"q": "?"}'))
    async with store.read() as conn:
        row = await conn.fetchone("SELECT type FROM outbox WHERE type = 'a?''b?' AND seq > ?",
                                  (0,))
    assert row == {"type": "a?'b?"}


async def test_locked_read_modify_write_loses_no_update(store, database):
    """Two writers (two pools on PostgreSQL, like two replicas) each add 1 ten times."""
    async with store.write() as conn:
        await resources.insert(conn, user("u1", "count@example.com", count=0))
    other = open_store(database)
    await other.open()

    async def bump(s: Store) -> None:
        for _ in range(10):
            async with s.write() as conn:
                row = await resources.get(conn, "p", "User", "u1", lock=True)
                assert row is not None
                await anyio.lowlevel.checkpoint()  # let the other writer run in between
                row.data = {**row.data, "count": row.data["count"] + 1}
                row.version += 1
                assert await resources.update(conn, row, row.version - 1)

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(bump, store)
            tasks.start_soon(bump, other)
    finally:
        await other.close()
    async with store.read() as conn:
        row = await resources.get(conn, "p", "User", "u1")
    assert row is not None and row.data["count"] == 20 and row.version == 21


async def test_outbox_numbers_have_no_gaps_after_a_rollback(store):
    async with store.write() as conn:
        first = await event(conn, "a")
    with pytest.raises(RuntimeError):
        async with store.write() as conn:
            await event(conn, "rolled back")
            raise RuntimeError
    async with store.write() as conn:
        second = await event(conn, "b")
        third = await event(conn, "c")
    assert (second, third) == (first + 1, first + 2)


async def test_concurrent_writes_one_failing_leave_the_others_stored(store):
    """Writes running at the same moment may share a commit (SQLite); each stays atomic."""
    outcome: dict[int, str] = {}

    async def write(i: int) -> None:
        try:
            async with store.write() as conn:
                await resources.insert(conn, user(f"u{i}", f"u{i}@example.com"))
                await event(conn, f"e{i}")
                if i == 5:
                    raise RuntimeError("half-way")
        except RuntimeError:
            outcome[i] = "raised"
            return
        async with store.read() as conn:  # seen by another connection once it returns
            seen = await conn.fetchval("SELECT count(*) FROM resources WHERE id = ?", (f"u{i}",))
        outcome[i] = "stored" if seen == 1 else "returned unstored"

    async with anyio.create_task_group() as tasks:
        for i in range(12):
            tasks.start_soon(write, i)
    assert outcome == {i: "raised" if i == 5 else "stored" for i in range(12)}
    async with store.read() as conn:
        ids = {r["id"] for r in await conn.fetchall("SELECT id FROM resources")}
        kinds = {r["type"] for r in await conn.fetchall("SELECT type FROM outbox")}
    assert ids == {f"u{i}" for i in range(12) if i != 5}
    assert kinds == {f"e{i}" for i in range(12) if i != 5}


async def test_a_failing_write_after_a_good_one_does_not_hold_up_its_commit(store):
    """The last write of a batch fails: the one before it still returns, stored."""
    done: list[str] = []

    async def good() -> None:
        async with store.write() as conn:
            await resources.insert(conn, user("u1", "good@example.com"))
            await anyio.sleep(0.005)  # the failing write queues up meanwhile
        done.append("good")

    async def bad() -> None:
        with pytest.raises(RuntimeError):
            async with store.write() as conn:
                await resources.insert(conn, user("u2", "bad@example.com"))
                raise RuntimeError("refused")
        done.append("bad")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(good)
            tasks.start_soon(bad)
    assert sorted(done) == ["bad", "good"]
    async with store.read() as conn:
        ids = [r["id"] for r in await conn.fetchall("SELECT id FROM resources")]
    assert ids == ["u1"]


async def test_a_write_reports_success_only_when_its_commit_stored_it(store):
    """A commit can fail after every statement succeeded (here: a deferred foreign key).
    Whatever the store batches together, a write that returned is stored and a write that
    raised is not."""
    async with store.write() as conn:
        await conn.execute("CREATE TABLE parent (id TEXT PRIMARY KEY)")
        await conn.execute("CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT"
                           " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
    raised: dict[str, bool] = {}

    async def write(name: str, parent: str, pause: float) -> None:
        try:
            async with store.write() as conn:
                await conn.execute("INSERT INTO child (id, parent_id) VALUES (?, ?)",
                                   (name, parent))
                await anyio.sleep(pause)  # the other write queues up meanwhile
            raised[name] = False
        except Exception:
            raised[name] = True

    async with store.write() as conn:
        await conn.execute("INSERT INTO parent (id) VALUES ('p1')")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(write, "orphan", "missing", 0.005)
        tasks.start_soon(write, "good", "p1", 0)
    async with store.read() as conn:
        stored = {r["id"] for r in await conn.fetchall("SELECT id FROM child")}
    assert raised["orphan"] and "orphan" not in stored
    assert raised["good"] == ("good" not in stored)
    async with store.write() as conn:  # the store goes on working
        await conn.execute("INSERT INTO child (id, parent_id) VALUES ('later', 'p1')")
    async with store.read() as conn:
        assert await conn.fetchval("SELECT count(*) FROM child WHERE id = 'later'") == 1


async def test_a_due_action_is_claimed_once(store, database):
    async with store.write() as conn:
        await conn.execute("INSERT INTO lifecycle (resource_id, provider_id, action, due_at)"
                           " VALUES ('u1', 'p', 'deactivate', ?)",
                           ("2024-01-01T00:00:10.000000Z",))
    async with store.write() as conn:
        assert await claim_next(conn, "2024-01-01T00:00:09.999999Z") is None  # not due yet
    other = open_store(database)
    await other.open()
    try:
        if store.dialect == "postgres":
            # A claim held by one replica's open transaction is skipped by the other at once.
            async with store.write() as conn:
                assert await claim_next(conn, T.replace("00:00:00", "00:01:00")) == "u1"
                async with other.write() as conn2:
                    assert await claim_next(conn2, T.replace("00:00:00", "00:01:00")) is None
        else:
            async with store.write() as conn:
                assert await claim_next(conn, T.replace("00:00:00", "00:01:00")) == "u1"
        async with other.write() as conn2:  # and once committed it is gone
            assert await claim_next(conn2, T.replace("00:00:00", "00:01:00")) is None
    finally:
        await other.close()


async def test_a_claim_rolled_back_stays_due(store):
    async with store.write() as conn:
        await conn.execute("INSERT INTO lifecycle (resource_id, provider_id, action, due_at)"
                           " VALUES ('u1', 'p', 'deactivate', ?)", (T,))
    with pytest.raises(RuntimeError):
        async with store.write() as conn:
            assert await claim_next(conn, T) == "u1"
            raise RuntimeError("crashed while running it")
    async with store.write() as conn:
        assert await claim_next(conn, T) == "u1"


async def test_migrations_apply_once_and_pending_says_what_is_left(database):
    extra = Migration("contract", 1, "extra", "CREATE TABLE contract_extra (id TEXT PRIMARY KEY)")
    a, b = open_store(database), open_store(database)
    await a.open()
    await b.open()
    try:
        wanted = core_migrations(a.dialect) + [extra]
        assert await a.pending(wanted) == wanted
        # Two replicas migrating at the same moment: each migration is applied exactly once.
        results: list[list[Migration]] = []

        async def run(s: Store) -> None:
            results.append(await s.migrate(wanted))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run, a)
            tasks.start_soon(run, b)
        applied = sorted((m.component, m.version) for batch in results for m in batch)
        assert applied == sorted((m.component, m.version) for m in wanted)
        assert await a.pending(wanted) == [] and await b.migrate(wanted) == []
    finally:
        await a.close()
        await b.close()


async def test_a_failing_migration_leaves_nothing_behind(database):
    broken = Migration("contract", 1, "broken",
                       "CREATE TABLE half_done (id TEXT);\nTHIS IS NOT SQL;")
    s = open_store(database)
    await s.open()
    try:
        await s.migrate(core_migrations(s.dialect))
        with pytest.raises((sqlite3.Error, asyncpg.PostgresError)):
            await s.migrate([broken])
        assert await s.pending([broken]) == [broken]
        async with s.write() as conn:  # the table of the failed migration does not exist
            await conn.execute("CREATE TABLE half_done (id TEXT)")
    finally:
        await s.close()


def test_rows_cross_the_store_as_plain_values() -> None:
    row = user("u1", "a@example.com")
    assert msgspec.to_builtins(row)["data"] == {"userName": "a@example.com"}


async def test_a_taken_name_is_refused_by_insert_new_and_an_update_keeps_its_version_check(store):
    async with store.write() as conn:
        assert await resources.insert_new(conn, user("u1", "Taken@example.com"))
        assert not await resources.insert_new(conn, user("u2", "taken@EXAMPLE.com"))
        row = await resources.get(conn, "p", "User", "u1")
        assert row is not None
        row.data = {**row.data, "title": "Lead"}
        row.version += 1
        assert await resources.update(conn, row, row.version - 1, same_name=True)
        assert not await resources.update(conn, row, row.version - 1, same_name=True)  # stale
    async with store.read() as conn:
        assert await conn.fetchval("SELECT count(*) FROM resources") == 1
        got = await resources.get(conn, "p", "User", "u1")
    assert got is not None and got.version == 2 and got.data["title"] == "Lead"

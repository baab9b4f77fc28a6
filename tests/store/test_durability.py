"""An acknowledged SQLite write is on disk before its answer: the writer runs
synchronous=FULL unless the admin opts into "normal", and each commit fsyncs (counted with
strace on a real `serve`)."""

import os
import shutil
import signal
import subprocess
import time

import httpx
import pytest
from serving import EXE, LINE, LineReader, _readers, free_port, read_lines, wait_ready

from gateway.store.sqlite import SqliteStore
from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("setting", "level"), [("full", 2), ("normal", 1)])
async def test_the_writer_runs_the_synchronous_level_it_is_given(tmp_path, setting, level):
    from gateway.testing import running

    async with running(tmp_path / "gw.db", sqlite_synchronous=setting) as gw:
        store = gw.gw.store
        assert isinstance(store, SqliteStore)
        async with store.write() as conn:
            assert await conn.fetchval("PRAGMA synchronous") == level
        idp = await gw.provider("idp")
        assert (await gw.scim(idp, "POST", "/Users", user_body())).status_code == 201


async def test_full_is_the_default(tmp_path):
    from gateway.testing import running

    async with running(tmp_path / "gw.db") as gw:
        async with gw.gw.store.write() as conn:
            assert await conn.fetchval("PRAGMA synchronous") == 2


def fsyncs_for_writes(tmp_path, setting: str, writes: int) -> tuple[int, float]:
    """fsync/fdatasync calls a real `serve` makes while it acknowledges `writes` creates,
    one after another (so each is a batch of its own)."""
    config = tmp_path / f"{setting}.toml"
    config.write_text(f'[gateway]\nsqlite_synchronous = "{setting}"\n')
    trace = tmp_path / f"{setting}.trace"
    port = free_port()
    proc = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(trace), str(EXE),
         "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port), "--database",
         str(tmp_path / f"{setting}.db"), "--config", str(config), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _readers[proc.pid] = LineReader(proc)
    try:
        lines = read_lines(proc, 2)
        base, token = LINE.match(lines[0]).group(1), lines[1].split(": ", 1)[1]
        wait_ready(base)
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=30) as client:
            time.sleep(2.5)  # past the first checkpoint, whose fsyncs are not counted
            before = trace.read_text().count("fsync(") + trace.read_text().count("fdatasync(")
            began = time.monotonic()
            for i in range(writes):
                r = client.post(f"{base}/Users", headers=auth, json=user_body(f"u{i}@x.com"))
                assert r.status_code == 201, r.text
            took = time.monotonic() - began
        text = trace.read_text()
        return text.count("fsync(") + text.count("fdatasync(") - before, took
    finally:
        # strace ends when the gateway does: stop the gateway, its child.
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
        for child in children:
            os.kill(int(child), signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_each_acknowledged_write_was_fsynced(tmp_path):
    writes = 20
    durable, _ = fsyncs_for_writes(tmp_path, "full", writes)
    assert durable >= writes, durable
    # With "normal" only checkpoints fsync: fewer than one per write.
    normal, took = fsyncs_for_writes(tmp_path, "normal", writes)
    assert normal < writes, (normal, took)

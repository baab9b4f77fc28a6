"""`serve --workers 2` as an operator runs it, on both stores: both workers answer, the
metrics add up whichever worker is scraped, a worker killed under concurrent writes loses no
acknowledged write and is replaced, and serve leaves no worker behind however it ends.
(What replicas guarantee, workers guarantee too: tests/store/test_replicas.py runs there on
one serve's two workers as well.)"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import httpx
from serving import LINE, free_port, read_lines, start, stop, wait_ready

from gateway.testing import scim_user

CREATED = re.compile(r'^gateway_scim_requests_total\{operation="create".*status="2xx"\} (\S+)$',
                     re.M)


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def until(check, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and \
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


class Serve:
    def __init__(self, database: str, tmp_path: Path) -> None:
        self.port = free_port()
        self.proc = start(database, self.port, os.devnull, "--workers", "2")
        lines = read_lines(self.proc, 3)
        assert len(lines) == 3 and LINE.match(lines[0]), lines
        self.base = LINE.match(lines[0]).group(1)
        self.scim = {"Authorization": f"Bearer {lines[1].split(': ', 1)[1]}"}
        self.admin = {"Authorization": f"Bearer {lines[2].split(': ', 1)[1]}"}
        self.root = f"http://127.0.0.1:{self.port}"
        wait_ready(self.base)
        until(lambda: len(children(self.proc.pid)) == 2)

    def created_total(self) -> float:
        scraped = httpx.get(f"{self.root}/metrics", headers=self.admin, timeout=30)
        assert scraped.status_code == 200
        return sum(float(n) for n in CREATED.findall(scraped.text))


async def post_users(base: str, headers: dict, names: list[str]) -> list[tuple[str, int]]:
    """Concurrent creates over 16 connections; (userName, status) of each answer received
    (a request whose connection was cut gets status 0)."""
    async with httpx.AsyncClient(timeout=30, headers=headers,
                                 limits=httpx.Limits(max_connections=16)) as client:
        async def one(name: str) -> tuple[str, int]:
            try:
                answer = await client.post(f"{base}/Users", json=scim_user(name))
            except httpx.TransportError:
                return name, 0
            return name, answer.status_code

        return await asyncio.gather(*(one(name) for name in names))


def test_both_workers_answer_and_the_metrics_add_up(database, tmp_path):
    served = Serve(database, tmp_path)
    try:
        workers = children(served.proc.pid)
        before = {pid: cpu_ticks(pid) for pid in workers}
        names = [f"user{i}@example.com" for i in range(300)]
        answers = asyncio.run(post_users(served.base, served.scim, names))
        assert {status for _, status in answers} == {201}
        # Each worker spent CPU on the load: the kernel gave both connections.
        assert all(cpu_ticks(pid) > before[pid] for pid in workers), \
            {pid: cpu_ticks(pid) - before[pid] for pid in workers}
        # Every scrape, whichever worker answers it, counts every create.
        assert {served.created_total() for _ in range(6)} == {300.0}
        listed = httpx.get(f"{served.base}/Users", headers=served.scim, timeout=30,
                           params={"count": 0})
        assert listed.json()["totalResults"] == 300
    finally:
        stop(served.proc)


def test_a_worker_killed_under_writes_loses_no_acknowledged_write(database, tmp_path):
    served = Serve(database, tmp_path)
    try:
        victim = children(served.proc.pid)[0]
        names = [f"kill{i}@example.com" for i in range(1500)]

        async def writes_and_a_kill() -> list[tuple[str, int]]:
            writing = asyncio.ensure_future(post_users(served.base, served.scim, names))
            await asyncio.sleep(0.5)
            assert not writing.done(), "the kill must come while the writes go on"
            os.kill(victim, signal.SIGKILL)
            return await writing

        answers = asyncio.run(writes_and_a_kill())
        acknowledged = [name for name, status in answers if status == 201]
        assert acknowledged
        assert {status for _, status in answers} <= {0, 201, 503}, answers
        # Serve starts another worker in its place and answers on.
        until(lambda: len(children(served.proc.pid)) == 2 and
              victim not in children(served.proc.pid))
        for name in acknowledged:
            found = httpx.get(f"{served.base}/Users", headers=served.scim, timeout=30,
                              params={"filter": f'userName eq "{name}"'})
            assert found.json()["totalResults"] == 1, name
        again = asyncio.run(post_users(served.base, served.scim, ["after@example.com"]))
        assert again == [("after@example.com", 201)]
    finally:
        stop(served.proc)


def test_serve_leaves_no_worker_behind(tmp_path):
    for ending in (signal.SIGTERM, signal.SIGKILL):
        database = str(tmp_path / f"{ending.name}.db")
        served = Serve(database, tmp_path)
        workers = children(served.proc.pid)
        served.proc.send_signal(ending)
        served.proc.wait(timeout=60)
        if ending == signal.SIGTERM:
            assert served.proc.returncode == 0
        until(lambda gone=workers: not any(alive(pid) for pid in gone))
        # The port is free again at once: a new serve binds it.
        again = start(database, served.port, os.devnull, "--workers", "2")
        try:
            lines = read_lines(again, 1)
            assert lines and lines[0].startswith("SCIM base URL: "), lines
            wait_ready(f"http://127.0.0.1:{served.port}/scim/v2/x")
        finally:
            stop(again)
        assert again.returncode == 0


def test_a_second_serve_on_the_port_stops_instead_of_sharing_it(tmp_path):
    """The workers' sockets share the port with each other (SO_REUSEPORT), not with
    another serve started on it by mistake."""
    served = Serve(str(tmp_path / "first.db"), tmp_path)
    try:
        second = start(str(tmp_path / "second.db"), served.port, os.devnull, "--workers", "2")
        second.wait(timeout=60)
        lines = read_lines(second, 20, within=5)
        assert second.returncode != 0
        assert any(f"cannot listen on 127.0.0.1:{served.port}" in line for line in lines), lines
    finally:
        stop(served.proc)

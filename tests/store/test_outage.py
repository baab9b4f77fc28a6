"""A store that cannot be reached or cannot write: every route answers 503 with Retry-After
in its own shape, the outage is logged once with a count (no traceback per request), and the
gateway comes back by itself once the store does.

PostgreSQL is cut off for real: the gateway reaches it through a TCP proxy on loopback that
the test closes and opens again. A full disk is SQLite's own SQLITE_FULL, made portably with
`PRAGMA max_page_count` (a small filesystem would need root)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from postgres_server import PG_URL, pg_with
from serving import LINE, free_port, launch, read_lines, rest_of_output, stop, wait_ready

from gateway.store import outage as outage_module
from gateway.store.outage import REPORT_EVERY, Outage
from gateway.testing import running, scim_user

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Proxy:
    """A TCP proxy on a loopback port to PostgreSQL: `cut` closes it and every connection
    through it (as a server that went away), `open` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        if self.listener is not None:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    netloc[-1] = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc="@".join(netloc)))


def log_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def console_client(url: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post("/console/sign-in", data={"username": "admin", "password": password,
                                              "csrf_token": token})
    assert r.status_code == 303, r.text
    return client


def test_postgresql_cut_off_answers_503_logs_once_and_recovers(postgres_schema):
    parts = urlsplit(PG_URL)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.open()
    database = pg_with(through(proxy, PG_URL), search_path=postgres_schema, pool_size="4")
    port = free_port()
    proc = launch(["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port),
                   "--database", database, "--config", "/dev/null", "--log-level", "warning",
                   "--log-format", "json", "--workers", "1"])  # one process's outage lines
    try:
        lines = read_lines(proc, 5)
        base, token = LINE.match(lines[0]).group(1), lines[1].split(": ", 1)[1]
        admin = {"Authorization": f"Bearer {lines[2].split(': ', 1)[1]}"}
        root = f"http://127.0.0.1:{port}"
        wait_ready(base)
        auth = {"Authorization": f"Bearer {token}"}
        console = console_client(root, lines[4].split(": ", 1)[1])
        assert httpx.post(f"{base}/Users", headers=auth, json=scim_user("before@example.com"),
                          timeout=30).status_code == 201

        proxy.cut()

        def refused(i: int) -> httpx.Response:
            if i % 2:
                return httpx.get(f"{base}/Users", headers=auth, timeout=30)
            return httpx.post(f"{base}/Users", headers=auth, timeout=30,
                              json=scim_user(f"during{i}@example.com"))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(refused, range(40)))
        for r in answers:
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "10"
            assert r.headers["content-type"].startswith("application/scim+json")
            body = r.json()
            assert body["schemas"] == [ERROR] and body["status"] == "503"
            assert body["detail"].startswith("The database is unavailable")
            assert "127.0.0.1" not in body["detail"]  # no address for a client
        listed = httpx.get(f"{root}/admin/v1/providers", headers=admin, timeout=30)
        assert listed.status_code == 503 and listed.headers["retry-after"] == "10"
        assert listed.json()["status"] == 503 and "unavailable" in listed.json()["detail"]
        page = console.get("/console/providers")
        assert page.status_code == 503 and page.headers["retry-after"] == "10"
        assert "text/html" in page.headers["content-type"]
        ready = httpx.get(f"{root}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["reasons"][0].startswith("the store is unavailable")
        assert httpx.get(f"{root}/healthz", timeout=30).status_code == 200

        proxy.open()
        deadline = time.monotonic() + 60  # a bound for a stuck pool, not a measure
        while httpx.post(f"{base}/Users", headers=auth, timeout=30,
                         json=scim_user("after@example.com")).status_code != 201:
            assert time.monotonic() < deadline, "writes did not come back"
            time.sleep(0.2)
        assert httpx.get(f"{root}/readyz", timeout=30).status_code == 200
        assert console.get("/console/providers").status_code == 200
    finally:
        stop(proc)
        proxy.cut()
    output = rest_of_output(proc)
    assert "Traceback" not in output
    logged = log_lines(output)
    down = [line for line in logged if line["message"].startswith("store unavailable")]
    back = [line for line in logged if line["message"].startswith("store available again")]
    assert len(down) == 1 and len(back) == 1, [line["message"] for line in logged]
    assert down[0]["logger"] == "identity_gateway.store"
    assert f"127.0.0.1:{proxy.port}" in down[0]["reason"]  # the operator's line names it
    assert back[0]["refused"] >= len(answers) + 3  # the SCIM, admin, console and probe 503s
    assert not [line for line in logged if line["level"] == "ERROR"]


async def fill_until_full(gw, idp, limit: int = 400) -> tuple[int, httpx.Response]:
    """POST users with a large attribute until one is refused; how many were created."""
    for i in range(limit):
        r = await gw.scim(idp, "POST", "/Users", scim_user(f"u{i}@example.com",
                                                            title="t" * 3000))
        if r.status_code != 201:
            return i, r
    raise AssertionError(f"{limit} users fit")


@pytest.mark.anyio
async def test_a_full_disk_answers_503_and_makes_the_gateway_unready(tmp_path):
    # The activity flush, a write of its own, stays out of the way of the checks.
    async with running(tmp_path / "gw.db", activity_flush_interval=3600) as gw:
        idp = await gw.provider("idp")
        async with gw.gw.store.write() as conn:  # no page past those it has: SQLITE_FULL
            await conn.execute("PRAGMA max_page_count = 1")
        created, r = await fill_until_full(gw, idp)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "10"
        assert r.json()["schemas"] == [ERROR] and r.json()["status"] == "503"
        assert "database or disk is full" in r.json()["detail"]
        ready = await gw.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == ["the store is unavailable (database or disk is full)"]
        listed = await gw.scim(idp, "GET", "/Users?count=1000")
        assert listed.json()["totalResults"] == created  # the refused one was not stored

        async with gw.gw.store.write() as conn:  # room again
            await conn.execute("PRAGMA max_page_count = 1073741823")
        r = await gw.scim(idp, "POST", "/Users", scim_user("later@example.com"))
        assert r.status_code == 201, r.text
        assert (await gw.client.get("/readyz")).status_code == 200


@pytest.mark.anyio
async def test_a_database_that_turns_read_only_answers_503_in_each_shape(tmp_path):
    async with running(tmp_path / "gw.db", activity_flush_interval=3600) as gw:
        idp = await gw.provider("idp")
        async with gw.gw.store.write() as conn:  # SQLite's own SQLITE_READONLY from now on
            await conn.execute("PRAGMA query_only = ON")
        r = await gw.scim(idp, "POST", "/Users", scim_user())
        assert r.status_code == 503 and r.headers["retry-after"] == "10"
        assert r.json()["status"] == "503"
        assert r.json()["detail"] == ("The database is unavailable (attempt to write a "
                                      "readonly database); try again later")
        r = await gw.admin_api("POST", "/providers", {"name": "other", "auth": "bearer"})
        assert r.status_code == 503 and r.headers["retry-after"] == "10"
        assert r.json() == {"status": 503, "detail": "The database is unavailable (attempt "
                                                     "to write a readonly database); try "
                                                     "again later"}
        # The second look finds no write tried since the first, and tries one: it fails too.
        for _ in range(2):
            ready = await gw.client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reasons"] == [
                "the store is unavailable (attempt to write a readonly database)"]
        assert (await gw.scim(idp, "GET", "/Users")).status_code == 200  # reads go on


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_one_line_then_a_count_a_minute_then_one_line(caplog):
    caplog.set_level(logging.WARNING, logger=outage_module.log.name)
    clock = Ticks()
    outage = Outage(clock)
    outage.failed("PostgreSQL at db:5432/gw: ConnectionRefusedError", "Connection refused")
    for _ in range(500):
        outage.refusal()
        outage.failed("PostgreSQL at db:5432/gw: ConnectionRefusedError", "Connection refused")
        clock.now += 0.1  # 500 refusals over 50 s
    clock.now = 1000.0 + REPORT_EVERY
    outage.refusal()  # a minute after the first line: the count
    outage.refusal()
    clock.now += 5
    outage.recovered()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "store unavailable: PostgreSQL at db:5432/gw: ConnectionRefusedError; requests are "
        "answered 503 until it recovers",
        "store still unavailable after 60s: 501 requests refused in the last 60s (PostgreSQL "
        "at db:5432/gw: ConnectionRefusedError)",
        "store available again after 65s; 1 requests refused",
    ]
    assert not any(record.exc_info for record in caplog.records)


def test_a_store_that_keeps_failing_and_working_is_not_announced_each_time(caplog):
    caplog.set_level(logging.WARNING, logger=outage_module.log.name)
    clock = Ticks()
    outage = Outage(clock)
    for _ in range(100):  # every other write fails, for 10 s
        outage.failed("SQLite database 'gw.db': database or disk is full", "full")
        outage.refusal()
        clock.now += 0.05
        outage.recovered()
        clock.now += 0.05
    assert len(caplog.records) == 2  # the first outage and its end; the rest is folded in
    clock.now += REPORT_EVERY
    outage.failed("SQLite database 'gw.db': database or disk is full", "full")
    assert caplog.records[-1].getMessage().startswith("store unavailable")
    assert caplog.records[-1].refused == 99  # the flapping's refusals, counted

"""A real `serve` on loopback: slow clients are cut off, connections are limited, and SIGTERM
ends the process in bounded time whatever is in flight."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time

import httpx
import pytest
from serving import LINE, free_port, read_lines, start, stop, wait_ready


class Served:
    def __init__(self, proc: subprocess.Popen, base: str, token: str, port: int) -> None:
        self.proc, self.base, self.token, self.port = proc, base, token, port
        self.root = base.split("/scim/")[0]

    def post_head(self, length: int) -> bytes:
        """The start of an authenticated POST /Users whose body is `length` bytes."""
        path = self.base.split("/", 3)[3]
        return (f"POST /{path}/Users HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
                f"Authorization: Bearer {self.token}\r\n"
                "Content-Type: application/json\r\n\r\n").encode()


def serve(tmp_path, **gateway: object) -> Served:
    config = tmp_path / "gw.toml"
    config.write_text("[gateway]\n" + "".join(f"{k} = {v}\n" for k, v in gateway.items()))
    port = free_port()
    proc = start(tmp_path / "gw.db", port, config)
    lines = read_lines(proc, 3)
    base = LINE.match(lines[0]).group(1)
    wait_ready(base)
    return Served(proc, base, lines[1].split(": ", 1)[1], port)


async def closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the server sent before it closed the connection (raises on the bound)."""
    data = b""
    deadline = time.monotonic() + within
    while True:
        chunk = await asyncio.wait_for(reader.read(4096), deadline - time.monotonic())
        if not chunk:
            return data
        data += chunk


async def drip_headers(port: int, within: float) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")

    async def drip() -> None:
        for _ in range(int(within / 0.2)):  # a header byte every 0.2 s, never the end
            await asyncio.sleep(0.2)
            writer.write(b"X")
            await writer.drain()

    dripping = asyncio.ensure_future(drip())
    try:
        return await closed(reader, within)
    finally:
        dripping.cancel()
        writer.close()


async def stall_body(served: Served, within: float) -> bytes:
    """An authenticated POST whose body stops a tenth of the way: the app waits for it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(served.post_head(1000) + b'{"userName":')
    await writer.drain()
    try:
        return await closed(reader, within)
    finally:
        writer.close()


def test_slow_clients_are_cut_off_and_the_rest_is_served(tmp_path):
    served = serve(tmp_path, header_timeout=1, body_timeout=2)
    try:
        async def scenario() -> tuple[list, int]:
            slow = [drip_headers(served.port, 30) for _ in range(100)]
            slow += [stall_body(served, 30) for _ in range(100)]
            held = asyncio.gather(*slow, return_exceptions=True)
            await asyncio.sleep(0.5)
            async with httpx.AsyncClient(timeout=10) as client:  # served meanwhile
                status = (await client.get(served.root + "/healthz")).status_code
            return await held, status

        started = time.monotonic()
        answers, status = asyncio.run(scenario())
        assert status == 200
        failures = [a for a in answers if isinstance(a, BaseException)]
        assert not failures, failures[:3]  # every slow connection was closed by the server
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers[:100]), answers[0]
        assert time.monotonic() - started < 30
    finally:
        stop(served.proc)


def test_connections_past_the_limit_are_refused(tmp_path):
    served = serve(tmp_path, workers=1, max_connections=5, max_connections_per_client=5,
                   header_timeout=60)
    port = served.port

    async def scenario() -> tuple[bytes, int]:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        for _, writer in held:
            writer.write(b"GET /healthz HTTP/1.1\r\n")  # half a request each
            await writer.drain()
        await asyncio.sleep(0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        refused = await closed(reader, 10)
        writer.close()
        for _, held_writer in held:
            held_writer.close()
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(timeout=10) as client:
            status = (await client.get(served.root + "/healthz")).status_code
        return refused, status

    try:
        refused, status = asyncio.run(scenario())
        assert refused.startswith(b"HTTP/1.1 503"), refused
        assert status == 200
    finally:
        stop(served.proc)


def test_sigterm_ends_serve_in_bounded_time_with_a_request_in_flight(tmp_path):
    served = serve(tmp_path, shutdown_timeout=1, body_timeout=600)
    proc = served.proc

    async def scenario() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(served.post_head(1000) + b"{")
        await writer.drain()
        await asyncio.sleep(0.5)  # the request is in flight, waiting for its body
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        await asyncio.to_thread(proc.wait, 30)
        writer.close()
        return time.monotonic() - started

    try:
        took = asyncio.run(scenario())
        assert proc.returncode is not None and took < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


ATTACKER = "127.0.0.2"  # Linux routes all of 127/8 to loopback: another client address


async def open_from(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def half_requests(port: int, count: int, source: str = ATTACKER) -> list:
    """`count` connections from `source`, each with half a request's headers sent."""
    held = []
    for _ in range(count):
        reader, writer = await open_from(source, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        held.append((reader, writer))
    return held


async def hold_slots(port: int, done: asyncio.Event, until: float) -> None:
    """One attacker: half a request's headers on a connection, until the gateway closes it,
    then again on a new one, until `done` is set (or `until`). (A flag, not cancellation:
    wait_for can swallow a cancellation that comes as its read completes.)"""
    while not done.is_set() and time.monotonic() < until:
        try:
            reader, writer = await open_from(ATTACKER, port)
        except OSError:
            await asyncio.sleep(0.25)
            continue
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            await closed(reader, max(0.1, until - time.monotonic()))
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()
        await asyncio.sleep(0.25)


async def provision_reads(served: Served, count: int) -> list:
    """`count` SCIM reads from 127.0.0.1, each on a new connection, one after the other."""
    headers = {"Authorization": f"Bearer {served.token}", "Connection": "close"}
    answers: list = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(count):
            try:
                answer = await client.get(served.base + "/Users?count=1", headers=headers)
                answers.append(answer.status_code)
            except httpx.TransportError as exc:
                answers.append(repr(exc))
            await asyncio.sleep(0.05)
    return answers


@pytest.mark.parametrize("per_client", [None, 100], ids=["default-share", "proxy-share"])
def test_one_address_cannot_starve_the_others(tmp_path, per_client):
    """150 attackers on one address hold half-sent requests open and reopen them as soon as
    they are closed, against a limit of 100 connections: the SCIM requests of another
    address keep succeeding. With per_client = 100 (what a gateway behind a proxy is given)
    the attacker may hold every connection, and a newcomer from elsewhere takes the place of
    the attacker's longest-waiting one."""
    options: dict[str, object] = {"max_connections": 100, "header_timeout": 3}
    if per_client is not None:
        options["max_connections_per_client"] = per_client
    served = serve(tmp_path, **options)
    try:
        async def scenario() -> list:
            done, until = asyncio.Event(), time.monotonic() + 60
            attack = [asyncio.ensure_future(hold_slots(served.port, done, until))
                      for _ in range(150)]
            try:
                await asyncio.sleep(1.5)  # every connection is taken by now
                readers = [provision_reads(served, 25) for _ in range(4)]
                return [a for answers in await asyncio.gather(*readers) for a in answers]
            finally:
                done.set()
                for task in attack:
                    task.cancel()
                await asyncio.gather(*attack, return_exceptions=True)

        answers = asyncio.run(scenario())
        succeeded = answers.count(200)
        assert succeeded >= 0.99 * len(answers), (succeeded, len(answers), answers[:5])
    finally:
        stop(served.proc)


def test_a_full_gateway_closes_the_busiest_address_s_oldest_waiting_connection(tmp_path):
    served = serve(tmp_path, workers=1, max_connections=20, max_connections_per_client=20,
                   header_timeout=60)

    async def scenario() -> tuple[bytes, int, list]:
        held = await half_requests(served.port, 20)
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(timeout=10) as client:
            status = (await client.get(served.root + "/healthz")).status_code
        oldest = await closed(held[0][0], 10)
        still_open = [reader.at_eof() for reader, _ in held[1:]]
        for _, writer in held:
            writer.close()
        return oldest, status, still_open

    try:
        oldest, status, still_open = asyncio.run(scenario())
        assert status == 200
        assert oldest.startswith(b"HTTP/1.1 408"), oldest
        assert not any(still_open)
    finally:
        stop(served.proc)


def test_connections_past_one_address_s_share_are_refused(tmp_path):
    served = serve(tmp_path, workers=1, max_connections=100, max_connections_per_client=10,
                   header_timeout=60)

    async def scenario() -> tuple[bytes, int]:
        held = await half_requests(served.port, 10)
        reader, writer = await open_from(ATTACKER, served.port)
        refused = await closed(reader, 10)
        writer.close()
        async with httpx.AsyncClient(timeout=10) as client:  # another address is served
            status = (await client.get(served.root + "/healthz")).status_code
        for _, held_writer in held:
            held_writer.close()
        return refused, status

    try:
        refused, status = asyncio.run(scenario())
        assert refused.startswith(b"HTTP/1.1 503"), refused
        assert status == 200
    finally:
        stop(served.proc)


def test_a_serve_s_workers_hold_the_connection_limits_for_the_host(tmp_path):
    """With two workers each keeps its share of the limits (3 of an address's 6): however
    the kernel spreads 12 connections of one address over them, no more than 6 stay open."""
    served = serve(tmp_path, workers=2, max_connections=100, max_connections_per_client=6,
                   header_timeout=60)

    async def answer(reader: asyncio.StreamReader) -> bytes:
        try:
            return await asyncio.wait_for(reader.read(4096), 3)
        except TimeoutError:
            return b""  # still waiting for the rest of its request: held open
        except ConnectionResetError:  # refused, and closed before its 503 was read
            return b"reset"

    async def scenario() -> tuple[list[bytes], int]:
        held = await half_requests(served.port, 12)
        answers = await asyncio.gather(*(answer(reader) for reader, _ in held))
        async with httpx.AsyncClient(timeout=10) as client:  # another address is served
            status = (await client.get(served.root + "/healthz")).status_code
        for _, writer in held:
            writer.close()
        return answers, status

    try:
        answers, status = asyncio.run(scenario())
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 503") or a == b"reset"]
        assert len(refused) + answers.count(b"") == 12, answers
        assert answers.count(b"") <= 6 and len(refused) >= 6
        assert status == 200
    finally:
        stop(served.proc)


async def send_head(port: int, head: bytes, piece: int) -> bytes:
    """`head` in writes of `piece` bytes; what the gateway answered before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        for at in range(0, len(head), piece):
            writer.write(head[at:at + piece])
            await writer.drain()
            await asyncio.sleep(0)

    sending = asyncio.ensure_future(send())
    try:
        return await closed(reader, 20)
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.close()


def head_of(size: int) -> bytes:
    """A GET whose request line and headers, blank line included, are `size` bytes."""
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
    return start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"


@pytest.mark.parametrize("piece", [100_000, 1000], ids=["one-write", "small-writes"])
def test_request_heads_over_16_kib_are_refused(tmp_path, piece):
    served = serve(tmp_path)

    async def scenario() -> list[bytes]:
        heads = [head_of(70_000), head_of(16 * 1024 + 1), head_of(16 * 1024)]
        return [(await send_head(served.port, head, piece))[:12] for head in heads]

    try:
        assert asyncio.run(scenario()) == [b"HTTP/1.1 431", b"HTTP/1.1 431", b"HTTP/1.1 200"]
    finally:
        stop(served.proc)


def test_the_connection_settings_are_bounded(tmp_path):
    from gateway.settings import ConfigError, Settings, load_settings

    config = tmp_path / "gw.toml"
    for line in ("max_connections_per_client = 0", "max_header_bytes = 100",
                 "max_header_bytes = 100000000"):
        config.write_text(f"[gateway]\n{line}\n")
        with pytest.raises(ConfigError):
            load_settings(str(config))
    config.write_text("[gateway]\nmax_connections_per_client = 1000\nmax_header_bytes = 32768\n")
    loaded = load_settings(str(config))
    assert loaded.max_connections_per_client == 1000 and loaded.max_header_bytes == 32768
    assert Settings().max_connections_per_client is None  # half of max_connections


def test_a_large_head_pipelined_behind_a_request_is_refused(tmp_path):
    served = serve(tmp_path)
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    try:
        answers = asyncio.run(send_head(served.port, first + second, 1_000_000))
        statuses = re.findall(rb"HTTP/1.1 \d+", answers)
        assert statuses == [b"HTTP/1.1 200", b"HTTP/1.1 431"], answers[:300]
    finally:
        stop(served.proc)


def test_requests_pipelined_behind_bodies_are_answered_in_order(tmp_path):
    """Requests sent in one write, bodies and all, are each answered, in order; a head too
    large behind them is answered 431 after them."""
    served = serve(tmp_path)

    def create(name: str) -> bytes:
        body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "userName": name}).encode()
        return served.post_head(len(body)) + body

    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    sent = create("first@example.com") + health + create("second@example.com") + big
    try:
        answers = asyncio.run(send_head(served.port, sent, 1_000_000))
        statuses = re.findall(rb"HTTP/1.1 \d+", answers)
        assert statuses == [b"HTTP/1.1 201", b"HTTP/1.1 200", b"HTTP/1.1 201",
                            b"HTTP/1.1 431"], answers[:300]
        assert b"first@example.com" in answers and b"second@example.com" in answers
    finally:
        stop(served.proc)


def test_answers_on_a_kept_alive_connection_are_not_held_back(tmp_path):
    """Without TCP_NODELAY on accepted connections, an answer written in two pieces waits
    for the client's delayed ACK: about 40 ms for every request on a kept-alive connection."""
    served = serve(tmp_path)
    path = served.base.split("/", 3)[3]
    request = (f"GET /{path}/Users?count=1 HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {served.token}\r\n\r\n").encode()

    async def timings() -> list[float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        took = []
        try:
            for _ in range(30):
                began = time.monotonic()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
                await reader.readexactly(length)
                took.append(time.monotonic() - began)
        finally:
            writer.close()
        return took

    try:
        took = sorted(asyncio.run(timings()))
        assert took[len(took) // 2] < 0.02, took
    finally:
        stop(served.proc)

"""A real `serve` on loopback: slow clients are cut off, connections are limited, and SIGTERM
ends the process in bounded time whatever is in flight."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import httpx
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
    served = serve(tmp_path, max_connections=5, header_timeout=60)
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

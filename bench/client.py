"""A small HTTP/1.1 keep-alive client on asyncio streams, light enough not to be the
bottleneck of a one-core server; loopback only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

Request = tuple[str, str, Any]  # method, path, JSON body or None
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Connection:
    def __init__(self, host: str, port: int, auth: str | None) -> None:
        if host not in LOOPBACK:
            raise ValueError("the load generator talks to loopback only")
        self.host, self.port, self.auth = host, port, auth
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        payload = b"" if body is None else msgspec.json.encode(body)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(payload)}"]
        if payload:
            head.append("Content-Type: application/scim+json")
        if self.auth:
            head.append(f"Authorization: {self.auth}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            return status, await self._chunks()
        return status, await self.reader.readexactly(length) if length else b""

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readline()).strip(), 16)
            if size == 0:
                await self.reader.readline()
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()


class Result(msgspec.Struct):
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = []

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3) if lat else 0.0

        return {"requests": self.count, "rps": round(self.count / self.seconds, 1)
                if self.seconds else 0.0, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "errors": self.errors, "seconds": round(self.seconds, 3)}


Step = Callable[[Connection], Any]  # an async callable doing one or more requests


async def run(host: str, port: int, auth: str | None, steps: Iterable[Step],
              concurrency: int, time_limit: float, ok: Callable[[int], bool]) -> Result:
    """Run steps over `concurrency` keep-alive connections; each step's latency is timed.

    Bounded by the number of steps and by time_limit seconds, whichever ends first.
    """
    result = Result(latencies=[])
    work = iter(steps)
    deadline = time.perf_counter() + time_limit

    async def worker() -> None:
        conn = Connection(host, port, auth)
        await conn.open()
        try:
            for step in work:
                if time.perf_counter() > deadline:
                    return
                began = time.perf_counter()
                try:
                    statuses = await step(conn)
                except (ConnectionError, asyncio.IncompleteReadError):
                    result.errors += 1
                    await conn.close()
                    conn = Connection(host, port, auth)
                    await conn.open()
                    continue
                result.latencies.append(time.perf_counter() - began)
                for status in statuses:
                    result.count += 1
                    if not ok(status):
                        result.errors += 1
        finally:
            await conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - began
    return result


async def single(conn: Connection, method: str, path: str, body: Any = None) -> list[int]:
    status, _ = await conn.request(method, path, body)
    return [status]


"""One address floods a real `serve` with connections that never finish their headers, and
reopens each as soon as it is closed, while another address sends SCIM requests: how many of
those succeed, and how long they take. For docs/deploy.md ("Limits and protections").

The flood comes from 127.0.0.2 (Linux routes all of 127/8 to loopback), the SCIM requests
from 127.0.0.1, each on a new connection. The gateway runs with its default limits unless
`--config` names a file with a [gateway] section.

    .venv/bin/python -m bench.connection_flood [--flood 1100] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.__main__ import first_start, free_port, start_gateway, stop

FLOODER = "127.0.0.2"
HALF_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"


async def flood_one(port: int, done: asyncio.Event, pause: float, seen: Counter) -> None:
    """Half a request's headers on a connection until the gateway closes it; again `pause`
    seconds later, until `done` is set. `seen` counts how each connection ended (its status
    line, or how it failed). (A flag, not cancellation: wait_for can swallow a cancellation
    that comes as its read completes.)"""
    while not done.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(FLOODER, 0))
        except OSError:
            seen["connect failed"] += 1
            await asyncio.sleep(0.1)
            continue
        seen["opened"] += 1
        try:
            writer.write(HALF_REQUEST)
            answer = await asyncio.wait_for(reader.read(12), 60)
            seen[answer.decode(errors="replace") or "closed"] += 1
        except (OSError, TimeoutError):
            seen["reset"] += 1
        finally:
            writer.close()
        await asyncio.sleep(pause)


async def scim_reads(base: str, token: str, count: int,
                     interval: float) -> list[tuple[object, float]]:
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    out: list[tuple[object, float]] = []
    async with httpx.AsyncClient(timeout=20) as client:
        for _ in range(count):
            started = time.monotonic()
            try:
                status: object = (await client.get(base + "/Users?count=1",
                                                   headers=headers)).status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
            out.append((status, time.monotonic() - started))
            await asyncio.sleep(interval)
    return out


async def run(base: str, token: str, port: int, args: argparse.Namespace) -> dict:
    seen: Counter = Counter()
    done = asyncio.Event()
    flood = [asyncio.ensure_future(flood_one(port, done, args.pause, seen))
             for _ in range(args.flood)]
    started = time.monotonic()
    try:
        await asyncio.sleep(args.ramp)
        per_client = args.requests // args.concurrency
        batches = await asyncio.gather(*[scim_reads(base, token, per_client, args.interval)
                                         for _ in range(args.concurrency)])
    finally:
        done.set()
        for task in flood:
            task.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
    seconds = time.monotonic() - started
    answers = [a for batch in batches for a in batch]
    ok = sorted(took for status, took in answers if status == 200)
    return {
        "scim_requests": len(answers),
        "succeeded": len(ok),
        "success_ratio": round(len(ok) / len(answers), 4),
        "statuses": dict(Counter(str(status) for status, _ in answers)),
        "p50_ms": ms(statistics.median(ok)) if ok else None,
        "p95_ms": ms(ok[int(0.95 * (len(ok) - 1))]) if ok else None,
        "max_ms": ms(ok[-1]) if ok else None,
        "flood_seconds": round(seconds, 1),
        "flood_connections_per_second": round(seen["opened"] / seconds),
        "flood": dict(seen),
    }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=1100,
                        help="connections the flooding address keeps trying to hold")
    parser.add_argument("--pause", type=float, default=1.0,
                        help="seconds the flooder waits after a connection is closed")
    parser.add_argument("--requests", type=int, default=200, help="SCIM requests to send")
    parser.add_argument("--concurrency", type=int, default=4, help="SCIM clients at once")
    parser.add_argument("--interval", type=float, default=0.25,
                        help="seconds each SCIM client waits between requests (the default "
                             "spreads them over more than one header_timeout)")
    parser.add_argument("--ramp", type=float, default=3.0,
                        help="seconds of flood before the first SCIM request")
    parser.add_argument("--config", default=os.devnull, help="the gateway's config file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = Path(tmp) / "gateway.log"
        proc = start_gateway(str(Path(tmp) / "gw.db"), port, log, request_log=False,
                             config=args.config)
        try:
            base, token = first_start(log)
            report = asyncio.run(run(base, token, port, args))
        finally:
            stop(proc)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

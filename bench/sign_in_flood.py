"""`python -m bench.sign_in_flood`: the console's sign-in under a flood, on SQLite.

Starts `identity-gateway serve` on a fresh database, then sends ATTEMPTS sign-ins at once
(wrong passwords for unknown names, from ADDRESSES loopback addresses, each attempt its
own browser with its own form, all posted together once every form is open) while another
process probes /healthz and a SCIM read every 50 ms from the moment the posts go until the
last is answered (a process of its own, so that the flood's client threads do not delay
it). Prints
the process's resident memory before and at its peak (VmHWM), the probes' latencies during
the flood, and the answers. The targets (issue: 200 concurrent attempts): peak memory under
400 MB, /healthz under 100 ms.

BENCH_FLOOD_ATTEMPTS (200) and BENCH_FLOOD_ADDRESSES (10) change the flood;
BENCH_FLOOD_CHECKS sets console_password_checks (default: the gateway's).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.__main__ import free_port, printed_values, wait_http

BIN = Path(sys.executable).parent
ATTEMPTS = int(os.environ.get("BENCH_FLOOD_ATTEMPTS", "200"))
ADDRESSES = int(os.environ.get("BENCH_FLOOD_ADDRESSES", "10"))
CHECKS = os.environ.get("BENCH_FLOOD_CHECKS")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M).group(1)) // 1024
            for key in ("VmRSS", "VmHWM")}


def attempt(url: str, address: str, name: str, gate: threading.Barrier) -> str:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=url, timeout=300, transport=transport) as client:
        token = TOKEN.search(client.get("/console/sign-in").text).group(1)
        gate.wait()
        answer = client.post("/console/sign-in", data={
            "username": name, "password": "wrong password!", "csrf_token": token})
        why = re.search(r'role="alert">([^<;]+)', answer.text)
        return f"{answer.status_code} {why.group(1) if why else ''}".strip()


def probe(url: str, scim: str, bearer: str, go: multiprocessing.synchronize.Event,
          done: multiprocessing.synchronize.Event, out: multiprocessing.Queue) -> None:
    health: list[float] = []
    reads: list[float] = []
    codes: Counter = Counter()
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(timeout=60) as client:
        client.get(url + "/healthz")  # connected before the flood
        go.wait()
        while not done.is_set():
            began = time.perf_counter()
            codes[f"healthz {client.get(url + '/healthz').status_code}"] += 1
            health.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            codes[f"scim {client.get(scim + '/Users?count=1', headers=headers).status_code}"] += 1
            reads.append((time.perf_counter() - began) * 1000)
            time.sleep(0.05)
    out.put((health, reads, codes))


def summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[int(len(ordered) * 0.95)]
    return (f"{name:8} n={len(ms):4} median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms"
            f"  max {max(ms):7.1f} ms")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-sign-in-"))
    config = folder / "identity-gateway.toml"
    config.write_text(f"[gateway]\nconsole_password_checks = {CHECKS}\n" if CHECKS else "")
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "identity-gateway"), "serve", "--migrate", "--host", "127.0.0.1", "--port",
         str(port), "--database", str(folder / "gw.db"), "--config", str(config),
         "--log-level", "warning"], stdout=subprocess.PIPE, text=True)
    try:
        values = printed_values(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz")
        before = memory(proc.pid)
        go, done = multiprocessing.Event(), multiprocessing.Event()
        out: multiprocessing.Queue = multiprocessing.Queue()
        watcher = multiprocessing.Process(target=probe, args=(
            url, values["SCIM base URL"], values["Bearer token"], go, done, out))
        gate = threading.Barrier(ATTEMPTS, action=go.set)
        addresses = [f"127.0.0.{2 + i % ADDRESSES}" for i in range(ATTEMPTS)]
        started = time.monotonic()
        watcher.start()
        try:
            with ThreadPoolExecutor(ATTEMPTS) as pool:
                answers = Counter(pool.map(
                    lambda i: attempt(url, addresses[i], f"nobody{i}", gate), range(ATTEMPTS)))
        finally:
            done.set()
            health, reads, codes = out.get()
            watcher.join()
        took = time.monotonic() - started
        after = memory(proc.pid)
        print(f"{ATTEMPTS} sign-in attempts at once from {ADDRESSES} addresses: {took:.1f}s, "
              "forms included")
        print(f"memory before: {before['VmRSS']} MiB; peak (VmHWM): {after['VmHWM']} MiB; "
              f"after: {after['VmRSS']} MiB")
        print(summary("healthz", health))
        print(summary("scim", reads))
        print("probes:", dict(codes))
        for answer, count in answers.most_common():
            print(f"{count:5}  {answer}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()

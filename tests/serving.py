"""A real `identity-gateway serve` process on a free loopback port, for the tests that need
one. Its output is read on a thread of its own, so a process that hangs without printing
fails the test at the bound instead of blocking the run."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

LINE = re.compile(r"^SCIM base URL: (http://127\.0\.0\.1:\d+/scim/v2/\S+)$")
EXE = Path(sys.executable).parent / "identity-gateway"
_readers: dict[int, LineReader] = {}


class LineReader:
    """Collects a process's output lines as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        thread.start()
        self.thread = thread

    def _pump(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def take(self, count: int, within: float) -> list[str]:
        out: list[str] = []
        deadline = time.monotonic() + within
        while len(out) < count:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)
                break
            out.append(line)
            self.seen.append(line)
        return out

    def rest(self, within: float = 30.0) -> str:
        """Everything printed after the lines already taken, once the output has ended."""
        self.thread.join(within)
        return "\n".join(self.take(1_000_000, 0.0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list[str], env: dict | None = None,
           command: list[str] | None = None) -> subprocess.Popen:
    """`identity-gateway ARGS...` with its output read on a thread (see read_lines);
    `command` runs another installation of it instead."""
    proc = subprocess.Popen(
        [*(command or [str(EXE)]), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    _readers[proc.pid] = LineReader(proc)
    return proc


def start(database: Path, port: int, config: str | os.PathLike = os.devnull,
          *extra: str, env: dict | None = None) -> subprocess.Popen:
    return launch(["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port),
                   "--database", str(database), "--config", str(config),
                   "--log-level", "warning", *extra], env=env)


def read_lines(proc: subprocess.Popen, count: int, within: float = 60.0) -> list[str]:
    """Up to `count` more lines of the process's output, waiting at most `within` seconds."""
    return _readers[proc.pid].take(count, within)


def rest_of_output(proc: subprocess.Popen) -> str:
    return _readers[proc.pid].rest()


def wait_ready(base: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            httpx.get(base.split("/scim/")[0] + "/healthz", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not start listening")


def stop(proc: subprocess.Popen, within: float = 30.0) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
